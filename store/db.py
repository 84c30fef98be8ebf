"""Setting up and upgrading a PostgreSQL + PostGIS database for onemap: `onemap db init|upgrade|current`.

`init` creates the PostGIS extension and the dataset's schema, then runs every migration; `upgrade` runs the ones
not yet applied and adds the columns layers have gained since (the layer tables follow their declarations in
`layers/`). Alembic keeps its version table in the dataset's schema, so several towns can share one database.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, pool

from layers import LAYERS
from store.base import StoreError
from store.postgis import PostGISStore
from store.postgis_sql import split_url

MIGRATIONS = Path(__file__).with_name("migrations")


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head() -> str:
    """The newest migration this version of onemap knows."""
    return ScriptDirectory.from_config(_config()).get_current_head()


def _engine(url: str):
    conninfo, schema = split_url(url)
    sa_url = "postgresql+psycopg://" + conninfo.split("://", 1)[1]
    return create_engine(sa_url, poolclass=pool.NullPool), schema


def current(url: str) -> str | None:
    """The migration the dataset's schema is at (None before `init`)."""
    engine, schema = _engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn, opts={"version_table_schema": schema}).get_current_revision()
    except Exception as exc:  # SQLAlchemy wraps the driver's errors in several types
        raise StoreError(f"cannot read the migration state: {exc}") from None
    finally:
        engine.dispose()


def upgrade(url: str, revision: str = "head") -> list[str]:
    """Run the migrations not yet applied, then add declared columns the tables lack; returns what changed."""
    engine, schema = _engine(url)
    before = current(url)
    try:
        with engine.begin() as conn:
            config = _config()
            config.attributes["connection"] = conn
            config.attributes["schema"] = schema
            command.upgrade(config, revision)
    except StoreError:
        raise
    except Exception as exc:
        raise StoreError(f"migration failed, nothing was changed: {exc}") from None
    finally:
        engine.dispose()
    after = current(url)
    changes = [] if before == after else [f"migrated {before or 'empty'} → {after}"]
    return changes + PostGISStore(url).ensure_tables(LAYERS.values())


def init(url: str) -> list[str]:
    """PostGIS and the schema (both if missing), then every migration."""
    conninfo, schema = split_url(url)
    try:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    except psycopg.Error as exc:
        raise StoreError(f"cannot prepare the database (PostGIS installed? allowed to create it?): {exc}") from None
    return upgrade(url)
