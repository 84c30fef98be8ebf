"""Moving a town between backends without loss: `onemap migrate --from SOURCE --to TARGET`.

Either side is a GeoPackage path or a `postgresql://` URL. Everything moves: the dataset's metadata, every layer
(features with their fids, attributes and geometries), and the tables beside the layers — the ledger's history and
photos, accounts and signing keys, public reports — with their ids. The target must be empty (a new file, or a
schema with no rows), so nothing is merged into something else. Afterwards each layer and table is read back from
the target and compared with the source, feature by feature and row by row; if anything differs or fails, what
was written is removed again and the error says why.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg
import shapely

from layers import LAYERS
from store import open_store
from store.base import Store, StoreError, is_database_url
from store.geopackage import GeoPackageStore
from store.postgis import PostGISStore
from store.sql import open_database

#: Tables beside the layers, with the column rows are ordered by (their primary key).
OWN_TABLES = {
    "hazard_events": "id",
    "hazard_photos": "id",
    "onemap_users": "username",
    "onemap_keys": "name",
    "onemap_reports": "id",
}


@dataclass(frozen=True)
class Moved:
    """One layer or table moved and checked."""

    name: str
    kind: str  # "layer" or "table"
    rows: int


def migrate(source: str, target: str, *, progress: Callable[[str], None] = lambda _: None) -> list[Moved]:
    """Copy everything from `source` to the empty `target` and verify it; returns what moved, in order."""
    src, dst = open_store(source), open_store(target)
    if not is_database_url(source) and not Path(source).exists():
        raise StoreError(f"{source} does not exist")
    _check_empty(dst)
    moved: list[Moved] = []
    try:
        if isinstance(dst, PostGISStore):
            from store import db

            db.init(target)
        for layer in LAYERS.values():
            frame = src.read(layer)
            dst.replace(layer, frame)
            progress(f"{layer.id}: {len(frame)}")
            moved.append(Moved(layer.id, "layer", len(frame)))
        dst.set_info(src.info())
        rows = {name: _rows(src, name) for name in OWN_TABLES}
        _write_tables(dst, rows)
        for name, table in rows.items():
            progress(f"{name}: {len(table[1])}")
            moved.append(Moved(name, "table", len(table[1])))
        _verify(src, dst)
    except BaseException:
        _undo(dst)
        raise
    return moved


# -- the tables beside the layers -------------------------------------------------------------------------------


@contextmanager
def _database(store: Store, *, read_only: bool = False) -> Iterator[Any]:
    """The store's own tables through the shim the ledger uses (store.sql), closed at the end."""
    db = open_database(store.location, read_only=read_only)
    try:
        yield db
    finally:
        db.close()


def _rows(store: Store, table: str) -> tuple[list[str], list[tuple]]:
    """Column names and every row of a table in key order (no table: no columns, no rows)."""
    with _database(store, read_only=True) as db:  # a source is read, never changed
        if not db.columns(table):
            return [], []
        cur = db.execute(f"SELECT * FROM {table} ORDER BY {OWN_TABLES[table]}")
        columns = [d[0] for d in cur.description]
        return columns, [tuple(bytes(v) if isinstance(v, memoryview) else v for v in row) for row in cur.fetchall()]


def _write_tables(store: Store, tables: dict[str, tuple[list[str], list[tuple]]]) -> None:
    """Every row with its key, in one transaction; a database's id sequences then go on from the largest id."""
    if isinstance(store, GeoPackageStore):
        _create_gpkg_tables(store)
    with _database(store) as db:
        db.begin_write()
        try:
            for table, (columns, rows) in tables.items():
                sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
                if rows:
                    db.executemany(sql, rows)
                if rows and isinstance(store, PostGISStore) and OWN_TABLES[table] == "id":
                    db.execute(f"SELECT setval(pg_get_serial_sequence('{store.schema}.{table}', 'id'), "
                               f"(SELECT max(id) FROM {table}))")  # fmt: skip
        except BaseException:
            db.rollback()
            raise
        db.commit()


def _create_gpkg_tables(store: GeoPackageStore) -> None:
    """The embedded backend's own tables, as its stores create them."""
    from store.ledger import LedgerStore
    from store.reports import ReportStore
    from store.users import UserStore

    ledger = LedgerStore(store.path)
    for own in (UserStore(store.path), ReportStore(store.path, ledger), ledger):
        own.close()


# -- checks -----------------------------------------------------------------------------------------------------


def _check_empty(store: Store) -> None:
    if isinstance(store, GeoPackageStore):
        if store.path.exists():
            raise StoreError(f"{store.path} already exists: migrate into a new file, so nothing is merged")
        return
    try:
        has_rows = any(store.count(layer) for layer in LAYERS.values()) or any(
            _rows(store, table)[1] for table in OWN_TABLES
        )
    except StoreError as exc:
        if "does not exist" in str(exc):  # a schema not made yet is empty
            return
        raise
    if has_rows:
        raise StoreError(
            f"{store.location} already holds data: migrate into an empty schema (add ?schema=name to the URL)"
        )


def _verify(src: Store, dst: Store) -> None:
    """Every layer and table read back from the target equals the source; StoreError naming the first difference."""
    if src.info() != dst.info():
        raise StoreError("the dataset metadata differs after the move")
    for layer in LAYERS.values():
        a, b = src.read(layer), dst.read(layer)
        if len(a) != len(b) or not a.index.equals(b.index):
            raise StoreError(f"layer {layer.id}: {len(a)} features in the source, {len(b)} in the target")
        try:
            pd.testing.assert_frame_equal(
                pd.DataFrame(a.drop(columns=a.geometry.name)), pd.DataFrame(b.drop(columns=b.geometry.name))
            )
        except AssertionError as exc:
            raise StoreError(f"layer {layer.id}: attributes differ after the move: {exc}") from None
        same = shapely.equals_exact(a.geometry.to_numpy(), b.geometry.to_numpy(), 0.0) | (
            a.geometry.isna().to_numpy() & b.geometry.isna().to_numpy()
        )
        if not same.all():
            raise StoreError(f"layer {layer.id}: {int((~same).sum())} geometries differ after the move")
    for table in OWN_TABLES:
        source, target = _rows(src, table), _rows(dst, table)
        if source[1] != target[1]:
            raise StoreError(f"table {table}: {len(source[1])} rows in the source, {len(target[1])} differ or are "
                             "missing in the target")  # fmt: skip


def _undo(store: Store) -> None:
    """Leave the target as empty as it was found."""
    if isinstance(store, GeoPackageStore):
        store.path.unlink(missing_ok=True)
        return
    try:
        with _database(store) as db:
            names = [layer.id for layer in LAYERS.values()] + list(OWN_TABLES) + ["onemap_info"]
            present = [n for n in names if db.columns(n)]
            if present:
                db.execute("TRUNCATE " + ", ".join(f'"{n}"' for n in present))
    except (psycopg.Error, StoreError):
        pass  # the original error is the one worth reporting
