"""Write a layer's rows through Python's sqlite3, so a running service never has GDAL write the file it holds open.

Two SQLite libraries in one process (Python's and the one inside GDAL) do not see each other's POSIX locks: when
GDAL closes the file it believes it was the last user, checkpoints and removes the write-ahead log under the other
library's open connections, and the file is damaged. So once a table exists with its declared columns, its rows
are rewritten or added here, in one transaction, with the GeoPackage's own R-tree triggers (see gpkg_sql.connect)
keeping the spatial index right. GDAL still creates tables and files, before any sqlite3 connection is open.
"""

from __future__ import annotations

import math
import sqlite3
import struct
from datetime import date, datetime
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers import Layer

#: Flags byte: little-endian (bit 0), envelope [minx, maxx, miny, maxy] (code 1 in bits 1–3), bit 4 when empty.
_LITTLE_ENDIAN_XY = 0b0000_0011
_EMPTY = 0b0001_0001


def geometry_blob(geom: Any, srs_id: int = 4326) -> bytes | None:
    """A geometry as a GeoPackage blob (GeoPackage 1.3 §2.1.3): header, XY envelope, then 2D WKB."""
    if geom is None:
        return None
    wkb = shapely.to_wkb(geom, output_dimension=2, byte_order=1)
    if geom.is_empty:
        return b"GP" + bytes([0, _EMPTY]) + struct.pack("<i", srs_id) + wkb
    minx, miny, maxx, maxy = geom.bounds
    return b"GP" + bytes([0, _LITTLE_ENDIAN_XY]) + struct.pack("<i4d", srs_id, minx, maxx, miny, maxy) + wkb


def _value(value: Any, kind: str = "") -> Any:
    """A cell as SQLite stores it the way GDAL does: booleans 0/1, dates and times as ISO text, no NaN."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if kind == "DATE" and isinstance(value, date):
        return (value.date() if isinstance(value, datetime) else value).isoformat()
    if isinstance(value, float | np.floating) and math.isnan(value):
        return None
    if isinstance(value, bool | np.bool_):
        return int(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    return value


def table_columns(db: sqlite3.Connection, table: str) -> dict[str, str]:
    """The table's column names and declared types (empty when there is no such table)."""
    return {row[1]: str(row[2]).upper() for row in db.execute(f'PRAGMA table_info("{table}")')}


def geometry_column(db: sqlite3.Connection, table: str) -> str | None:
    """The table's geometry column as registered in gpkg_geometry_columns."""
    row = db.execute("SELECT column_name FROM gpkg_geometry_columns WHERE table_name = ?", (table,)).fetchone()
    return row[0] if row else None


def _rows(db: sqlite3.Connection, layer: Layer, frame: gpd.GeoDataFrame) -> tuple[str, str, list[tuple], list]:
    """The INSERT's column list and placeholders, each row's values as SQLite stores them, and the layer's extent."""
    table = layer.id
    geom = geometry_column(db, table)
    fields = list(layer.fields)
    has_fid = "fid" in frame.columns
    columns = (["fid"] if has_fid else []) + [geom, *fields]
    marks = ",".join("?" * len(columns))
    quoted = ",".join(f'"{c}"' for c in columns)
    geoms = frame.geometry.to_numpy()
    values = frame[(["fid"] if has_fid else []) + fields].to_numpy(dtype=object)
    declared = table_columns(db, table)
    kinds = [declared.get(c, "") for c in (["fid"] if has_fid else []) + fields]
    rows = []
    for k in range(len(frame)):
        cells = [_value(v, kind) for v, kind in zip(values[k], kinds, strict=True)]
        blob = geometry_blob(geoms[k])
        rows.append((*cells[:1], blob, *cells[1:]) if has_fid else (blob, *cells))
    live = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))] if len(geoms) else geoms
    bounds = shapely.total_bounds(live) if len(live) else [None] * 4
    return quoted, marks, rows, [None if b is None else float(b) for b in bounds]


def replace_rows(db: sqlite3.Connection, layer: Layer, frame: gpd.GeoDataFrame, description: str | None) -> None:
    """Rewrite every row of the layer's table in one transaction: all or nothing, the R-tree kept in step.

    The table's extent is updated; its description only when one is given (a file's own note, such as the demo's
    "synthetic data", stays).
    """
    table = layer.id
    quoted, marks, rows, bounds = _rows(db, layer, frame)
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute(f'DELETE FROM "{table}"')
        db.executemany(f'INSERT INTO "{table}" ({quoted}) VALUES ({marks})', rows)
        db.execute(
            "UPDATE gpkg_contents SET last_change = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), min_x = ?, min_y = ?, "
            "max_x = ?, max_y = ?, description = coalesce(?, description) WHERE table_name = ?",
            (*bounds, description, table),
        )
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def append_rows(db: sqlite3.Connection, layer: Layer, frame: gpd.GeoDataFrame) -> list[int]:
    """Add rows to the layer's table in one transaction, all or nothing, and return their new fids in order; the
    extent grows to take them in."""
    table = layer.id
    quoted, marks, rows, bounds = _rows(db, layer, frame.drop(columns=["fid"], errors="ignore"))
    db.execute("BEGIN IMMEDIATE")
    try:
        fids = []
        for row in rows:
            fids.append(db.execute(f'INSERT INTO "{table}" ({quoted}) VALUES ({marks})', row).lastrowid)
        if bounds[0] is not None:
            db.execute(
                "UPDATE gpkg_contents SET last_change = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), "
                "min_x = min(coalesce(min_x, ?), ?), min_y = min(coalesce(min_y, ?), ?), "
                "max_x = max(coalesce(max_x, ?), ?), max_y = max(coalesce(max_y, ?), ?) WHERE table_name = ?",
                (bounds[0], bounds[0], bounds[1], bounds[1], bounds[2], bounds[2], bounds[3], bounds[3], table),
            )
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return fids
