"""The dataset's metadata table and one table per declared layer, with PostGIS and the spatial indexes.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from alembic import op

from layers import LAYERS
from store.postgis_sql import create_info, create_table

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade(schema: str) -> None:
    """Layer tables as the layers are declared now; columns added later come with `onemap db upgrade`."""
    op.execute(create_info(schema))
    for layer in LAYERS.values():
        for statement in create_table(layer, schema):
            op.execute(statement)


def downgrade(schema: str) -> None:
    """Drop what the upgrade made."""
    for layer in LAYERS.values():
        op.execute(f'DROP TABLE IF EXISTS "{schema}"."{layer.id}"')
    op.execute(f'DROP TABLE IF EXISTS "{schema}".onemap_info')
