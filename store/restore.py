"""Putting a backup back: `onemap restore BACKUP.gpkg [--data FILE|URL] [--force]`.

A backup is the one GeoPackage `onemap backup` writes. It is never opened itself: its bytes are copied to a temporary
file beside the target, and the copy is checked before anything else happens: it is an SQLite database, passes
`PRAGMA integrity_check`, is a GeoPackage (its gpkg_* tables) and holds an onemap town (onemap_info, and onemap
layers whose tables read to the end). A damaged or foreign file stops there, with the target untouched.

A file target is then replaced by renaming the checked copy over it, so the path holds the old file or the new one,
never half of either. A database target gets the copy through `store.transfer.migrate`, which writes and verifies
every layer and table: straight into an empty schema; over existing data (`force`) into a staging schema of the same
database first, whose rows then replace the target's in one transaction, so the target keeps its grants and is, here
too, either wholly old or wholly restored.

Existing data is replaced only with `force`, and never under a running service: a GeoPackage another process still
has open (its -wal or -shm file stays after ours closes) is refused, since renaming a file under a live connection
would leave it writing into a file nobody reads.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import uuid
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

from layers import LAYERS
from store.base import StoreError, is_database_url
from store.postgis_sql import INFO_TABLE, split_url
from store.transfer import OWN_TABLES, migrate

SQLITE_MAGIC = b"SQLite format 3\x00"
GPKG_TABLES = ("gpkg_contents", "gpkg_geometry_columns", "gpkg_spatial_ref_sys")
#: How long the final swap into a database waits for a lock held by someone else before it gives up.
LOCK_TIMEOUT = "10s"


class BadBackup(StoreError):
    """The file is not a usable onemap backup; nothing was changed."""


class TargetHoldsData(StoreError):
    """The target holds data and replacing it was not asked for; nothing was changed."""


class TargetInUse(StoreError):
    """Another process has the target GeoPackage open; nothing was changed."""


def restore(
    backup: str | Path, target: str, *, force: bool = False, progress: Callable[[str], None] = lambda _: None
) -> dict[str, int]:
    """Check `backup` and put it in place at `target` (a GeoPackage path or a postgresql:// URL); the rows of each
    layer and table restored. Raises BadBackup, TargetHoldsData or TargetInUse with the target as it was."""
    backup = Path(backup)
    if is_database_url(target):
        return _into_database(backup, target, force=force, progress=progress)
    return _into_file(backup, Path(target), force=force, progress=progress)


# -- checking a backup -------------------------------------------------------------------------------------------


def _copy(backup: Path, to: Path) -> None:
    """The backup's bytes at `to`, flushed to disk; the backup itself is only read."""
    if not backup.is_file():
        raise BadBackup(f"备份文件不存在 (no such backup file: {backup})")
    with backup.open("rb") as source:
        if source.read(len(SQLITE_MAGIC)) != SQLITE_MAGIC:
            raise BadBackup(f"{backup} 不是 GeoPackage 备份 (not a GeoPackage backup: it is not an SQLite database)")
        source.seek(0)
        with to.open("wb") as copy:
            while block := source.read(2**20):
                copy.write(block)
            copy.flush()
            os.fsync(copy.fileno())


def check(path: Path, name: str | Path) -> dict[str, int]:
    """Rows of each onemap layer and table in the GeoPackage at `path` (a copy of the backup `name`); BadBackup
    saying what is wrong when it is damaged, not a GeoPackage, or not an onemap town."""
    try:
        with closing(sqlite3.connect(path)) as db:
            problems = [row[0] for row in db.execute("PRAGMA integrity_check").fetchmany(5)]
            if problems != ["ok"]:
                raise BadBackup(
                    f"备份文件已损坏 (the backup {name} failed its integrity check: {'; '.join(problems)[:300]})"
                )
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if missing := [t for t in GPKG_TABLES if t not in tables]:
                raise BadBackup(f"{name} 不是 GeoPackage (not a GeoPackage: it lacks {', '.join(missing)})")
            contents = {row[0] for row in db.execute("SELECT table_name FROM gpkg_contents")}
            layers = [layer.id for layer in LAYERS.values() if layer.id in contents]
            if INFO_TABLE not in tables or not layers:
                raise BadBackup(
                    f"{name} 不是一张图的备份 (not an onemap backup: no onemap_info table or no onemap layer in it)"
                )
            if absent := [t for t in layers if t not in tables]:
                raise BadBackup(f"备份文件不完整 (the backup {name} lists layers it lacks: {', '.join(absent)})")
            own = [t for t in OWN_TABLES if t in tables]
            return {t: int(db.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]) for t in [*layers, *own]}
    except sqlite3.DatabaseError as exc:
        raise BadBackup(f"备份文件已损坏或不完整 (the backup {name} is damaged or cut short: {exc})") from None


# -- into a file -------------------------------------------------------------------------------------------------


def _into_file(backup: Path, target: Path, *, force: bool, progress: Callable[[str], None]) -> dict[str, int]:
    if target.exists() and not force:
        raise TargetHoldsData(
            f"{target} 已有数据；确认要用备份覆盖，请加 --force ({target} already exists: add --force to replace it)"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.restoring")
    _remove(partial)
    try:
        progress("复制 copying")
        _copy(backup, partial)
        progress("检查 checking")
        rows = check(partial, backup)
        if target.exists():
            _release(target)
        partial.replace(target)
    except BaseException:
        _remove(partial)
        raise
    for sidecar in _sidecars(target):  # left by nothing now, as _release made sure; never apply to the new file
        sidecar.unlink(missing_ok=True)
    _sync_folder(target.parent)
    return rows


def _sidecars(path: Path) -> list[Path]:
    return [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm", "-journal")]


def _remove(path: Path) -> None:
    for each in (path, *_sidecars(path)):
        each.unlink(missing_ok=True)


def _release(target: Path) -> None:
    """Fold the target's write-ahead log into it and close it; TargetInUse when another connection keeps it open
    (SQLite removes -wal and -shm when the last connection closes)."""
    if not any(p.exists() for p in _sidecars(target)):
        return
    try:
        with closing(sqlite3.connect(target, timeout=5)) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.DatabaseError:
        return  # a damaged target: nothing in it worth keeping, and its log must not outlive it
    if any(p.exists() for p in _sidecars(target)):
        raise TargetInUse(
            f"{target} 正被其他程序使用，请先停止服务 (another process has {target} open: stop the service first)"
        )


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (a power cut after it must not bring the old file back)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- into a database ---------------------------------------------------------------------------------------------


def _into_database(backup: Path, url: str, *, force: bool, progress: Callable[[str], None]) -> dict[str, int]:
    import psycopg

    conninfo, schema = split_url(url)
    with tempfile.TemporaryDirectory(prefix="onemap-restore-") as folder:
        copy = Path(folder) / "backup.gpkg"
        progress("复制 copying")
        _copy(backup, copy)
        progress("检查 checking")
        rows = check(copy, backup)
        try:
            holds = _holds_data(conninfo, schema)
        except psycopg.Error as exc:
            raise StoreError(f"cannot reach the database: {str(exc).strip()}") from None
        if not holds:
            migrate(str(copy), url, progress=progress)
            return rows
        if not force:
            raise TargetHoldsData(
                f"数据库 schema {schema} 已有数据；确认要用备份覆盖，请加 --force "
                f"(schema {schema} already holds data: add --force to replace it)"
            )
        staging = f"{schema[:40]}_restore_{uuid.uuid4().hex[:8]}"
        try:
            migrate(str(copy), _with_schema(conninfo, staging), progress=progress)
            progress("替换 replacing")
            _replace_schema_rows(conninfo, source=staging, target=schema, url=url)
        finally:
            with closing(psycopg.connect(conninfo, autocommit=True)) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{staging}" CASCADE')
    return rows


def _with_schema(conninfo: str, schema: str) -> str:
    return f"{conninfo}{'&' if '?' in conninfo else '?'}schema={schema}"


def _tables() -> list[str]:
    return [layer.id for layer in LAYERS.values()] + list(OWN_TABLES) + [INFO_TABLE]


def _holds_data(conninfo: str, schema: str) -> bool:
    """Whether any layer or table of the schema has a row (a schema not made yet holds none)."""
    import psycopg

    with closing(psycopg.connect(conninfo, autocommit=True)) as conn:
        present = _present(conn, schema)
        return any(conn.execute(f'SELECT EXISTS (SELECT 1 FROM "{schema}"."{t}")').fetchone()[0] for t in present)


def _present(conn, schema: str) -> list[str]:
    """The onemap tables the schema has."""
    rows = conn.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,))
    have = {r[0] for r in rows}
    return [t for t in _tables() if t in have]


def _columns(conn, schema: str, table: str) -> list[str]:
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s"
        " ORDER BY ordinal_position",
        (schema, table),
    )
    return [r[0] for r in rows]


def _replace_schema_rows(conninfo: str, *, source: str, target: str, url: str) -> None:
    """Every row of the target's onemap tables replaced by the staging schema's, in one transaction, identities
    moved past the largest ids; the row counts compared before it commits."""
    import psycopg

    from store import db

    db.upgrade(url)  # the target has every table and column this version writes (a no-op when up to date)
    with closing(psycopg.connect(conninfo)) as conn, conn.transaction():
        conn.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        tables = _present(conn, source)
        if tables:
            conn.execute("TRUNCATE " + ", ".join(f'"{target}"."{t}"' for t in _present(conn, target)))
        for table in tables:
            names = ", ".join(f'"{c}"' for c in _columns(conn, source, table))
            conn.execute(f'INSERT INTO "{target}"."{table}" ({names}) SELECT {names} FROM "{source}"."{table}"')
            key = {"fid", "id"} & set(_columns(conn, target, table))
            for column in key:
                conn.execute(
                    f"SELECT setval(pg_get_serial_sequence(%s, %s), "
                    f'coalesce((SELECT max("{column}") FROM "{target}"."{table}"), 0) + 1, false)',
                    (f'"{target}"."{table}"', column),
                )
            counts = [
                conn.execute(f'SELECT count(*) FROM "{schema}"."{table}"').fetchone()[0] for schema in (source, target)
            ]
            if counts[0] != counts[1]:
                raise StoreError(f"table {table}: {counts[0]} rows restored as {counts[1]}; nothing was changed")
