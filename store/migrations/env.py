"""Alembic's entry point: run the migrations on the connection `store.db` hands over, in the dataset's schema."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
schema = context.config.attributes["schema"]
context.configure(connection=connection, version_table_schema=schema, transactional_ddl=True)
with context.begin_transaction():
    context.run_migrations(schema=schema)
