"""Which storage backend the suite runs on: the GeoPackage file, or PostgreSQL + PostGIS.

`ONEMAP_TEST_BACKEND` picks it (`gpkg`, the default, or `postgis`; `gpkg,postgis` runs both in one session), and
`./dev test` runs the whole suite once on each. Tests build their data as a GeoPackage, as a user would hand it in,
then ask `town_on(backend, path)` for the location the code under test is pointed at: the file itself, or a
PostgreSQL database holding what `onemap migrate` moved there. A file migrated once is kept as a template database,
so each further copy of it (the demo town, say) is a quick `CREATE DATABASE … TEMPLATE` rather than another
migration; every database made here is dropped when the session ends.

PostgreSQL tests skip on a machine without a usable server with PostGIS, but fail in CI, where `./dev test`
installs it.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from onemap.settings import DEMO_GPKG, Settings
from store import Store, open_store
from store.base import is_database_url

SERVER = os.environ.get("ONEMAP_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
KNOWN = ("gpkg", "postgis")
BACKENDS = tuple(b.strip() for b in os.environ.get("ONEMAP_TEST_BACKEND", "gpkg").split(",") if b.strip())
if not BACKENDS or set(BACKENDS) - set(KNOWN):
    raise RuntimeError(f"ONEMAP_TEST_BACKEND={os.environ['ONEMAP_TEST_BACKEND']!r}: use gpkg, postgis or gpkg,postgis")
#: The backend of a test that is not parametrized over BACKENDS: the first one asked for.
BACKEND = BACKENDS[0]

_made: list[str] = []  # databases made this session, dropped by drop_databases()
_templates: dict[str, str] = {}  # digest of a GeoPackage → template database holding it


def need_postgis() -> None:
    """Skip without PostgreSQL + PostGIS at SERVER (fail in CI)."""
    _usable()


@functools.cache
def _usable() -> None:
    import psycopg

    try:
        with psycopg.connect(SERVER, connect_timeout=3, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    except psycopg.Error as exc:
        reason = f"PostgreSQL with PostGIS at {SERVER} is not usable ({str(exc).strip()[:200]})"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}: CI must install postgresql-15-postgis-3")
        pytest.skip(reason)


def _server():
    """An autocommit connection to SERVER (psycopg is imported only when a database is used)."""
    import psycopg

    return psycopg.connect(SERVER, autocommit=True)


def _database_url(name: str) -> str:
    parts = urlsplit(SERVER)
    return urlunsplit(parts._replace(path=f"/{name}"))


@contextlib.contextmanager
def fresh_schema() -> Iterator[str]:
    """A URL to an empty schema of its own on SERVER, dropped at the end."""
    need_postgis()
    name = f"t_{uuid.uuid4().hex[:12]}"
    try:
        yield f"{SERVER}?schema={name}"
    finally:
        with _server() as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def _template(key: str, fill: Callable[[str], object]) -> str:
    """The template database for `key`, made and filled by `fill(url)` the first time `key` is asked for."""
    import psycopg

    if key not in _templates:
        name = f"onemap_tpl_{key}_{uuid.uuid4().hex[:6]}"
        with _server() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        _made.append(name)
        url = _database_url(name)
        with contextlib.closing(psycopg.connect(url, autocommit=True)) as conn:
            conn.execute("CREATE EXTENSION postgis")
        fill(url)
        _templates[key] = name
    return _templates[key]


def _copy_of(template: str) -> str:
    name = f"onemap_t_{uuid.uuid4().hex[:12]}"
    with _server() as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    _made.append(name)
    return _database_url(name)


def database_copy(path: Path) -> str:
    """A URL to a new database holding the GeoPackage at `path` (a copy of a template migrated from the first file
    with the same bytes)."""
    from store.transfer import migrate

    need_postgis()
    digest = hashlib.sha1(path.read_bytes()).hexdigest()[:16]
    return _copy_of(_template(digest, lambda url: migrate(str(path), url)))


def empty_location(backend: str, folder: Path, name: str = "town.gpkg") -> str:
    """Where a test starts a town from nothing: a file (`folder/name`) not made yet, or a new database after
    `onemap db init`."""
    if backend == "gpkg":
        return str(folder / name)
    from store import db

    need_postgis()
    return _copy_of(_template("empty", db.init))


def drop_databases() -> None:
    """Drop every database this session made (copies first, templates last)."""
    if not _made:
        return
    with _server() as conn:
        for name in reversed(_made):
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _made.clear()
    _templates.clear()
    demo_location.cache_clear()


@contextlib.contextmanager
def town_on(backend: str, path: Path) -> Iterator[str]:
    """The GeoPackage at `path` as the backend holds it: the path, or a database URL it was migrated into."""
    if backend == "gpkg":
        yield str(path)
        return
    url = database_copy(path)
    try:
        yield url
    finally:
        with _server() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{urlsplit(url).path[1:]}" WITH (FORCE)')
        _made.remove(urlsplit(url).path[1:])


def town_copy(backend: str, path: Path, folder: Path) -> str:
    """A writable copy of the GeoPackage at `path` for one test: a file in `folder`, or a database (dropped at the
    end of the session)."""
    if backend == "gpkg":
        folder.mkdir(parents=True, exist_ok=True)
        copy = folder / path.name
        shutil.copy(path, copy)
        return str(copy)
    return database_copy(path)


def with_account(location: str, username: str, password: str, role: str, **remit: str) -> str:
    """`location` after adding one account to it (on either backend); for fixtures that sign in."""
    from store.users import UserStore

    users = UserStore(location)
    try:
        users.add(username, password, role, **remit)
    finally:
        users.close()
    return location


@functools.cache
def demo_location(backend: str = BACKEND) -> str:
    """The shipped demo town on `backend`, to read from: the file itself, or one database copy for the session."""
    return str(DEMO_GPKG) if backend == "gpkg" else database_copy(DEMO_GPKG)


def demo_store(backend: str = BACKEND) -> Store:
    """The shipped demo town's store on `backend`, to read from."""
    return open_store(demo_location(backend))


def settings_for(location: str, **options) -> Settings:
    """Service settings over a location `town_on` gave."""
    if is_database_url(location):
        return Settings(_env_file=None, database_url=location, **options)
    return Settings(_env_file=None, data=Path(location), **options)
