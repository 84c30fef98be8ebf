"""Running a test module against both storage backends: the GeoPackage file, and PostgreSQL + PostGIS.

`town_on(backend, path)` gives the location a service is pointed at: the file itself, or a fresh schema the file
was migrated into (dropped afterwards). PostgreSQL tests skip on a machine without a usable server with PostGIS,
but fail in CI, where `./dev test` installs it.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from onemap.settings import Settings
from store.base import is_database_url

SERVER = os.environ.get("ONEMAP_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = ("gpkg", "postgis")


def need_postgis() -> None:
    """Skip without PostgreSQL + PostGIS at SERVER (fail in CI)."""
    import psycopg

    try:
        with psycopg.connect(SERVER, connect_timeout=3, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    except psycopg.Error as exc:
        reason = f"PostgreSQL with PostGIS at {SERVER} is not usable ({str(exc).strip()[:200]})"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}: CI must install postgresql-15-postgis-3")
        pytest.skip(reason)


@contextlib.contextmanager
def fresh_schema() -> Iterator[str]:
    """A URL to a schema of its own on SERVER, dropped at the end."""
    import psycopg

    need_postgis()
    name = f"t_{uuid.uuid4().hex[:12]}"
    try:
        yield f"{SERVER}?schema={name}"
    finally:
        with psycopg.connect(SERVER, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@contextlib.contextmanager
def town_on(backend: str, path: Path) -> Iterator[str]:
    """The GeoPackage at `path` as the backend holds it: the path, or a schema it was migrated into."""
    if backend == "gpkg":
        yield str(path)
        return
    from store.transfer import migrate

    with fresh_schema() as url:
        migrate(str(path), url)
        yield url


def settings_for(location: str, **options) -> Settings:
    """Service settings over a location `town_on` gave."""
    if is_database_url(location):
        return Settings(_env_file=None, database_url=location, **options)
    return Settings(_env_file=None, data=Path(location), **options)
