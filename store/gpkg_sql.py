"""Plain SQLite access to a GeoPackage for small transactional writes, without GDAL or SpatiaLite.

GDAL guards each layer's R-tree with triggers that call ST_IsEmpty and ST_MinX…ST_MaxY, functions SQLite itself lacks;
any UPDATE of a layer table prepares those triggers, so a bare connection fails. `connect` registers the five
functions (decoding the GeoPackage geometry blob with shapely), turns on WAL so readers never block the writer, and
waits for a busy database instead of failing. `point_blob` writes a point the way the GeoPackage standard encodes it.
"""

from __future__ import annotations

import sqlite3
import struct
from pathlib import Path

import shapely
from shapely.geometry.base import BaseGeometry

#: Bytes of the envelope after the 8-byte header, by the envelope code in the flags (GeoPackage 1.3, §2.1.3).
_ENVELOPE_BYTES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}
BUSY_TIMEOUT_MS = 10_000


def decode(blob: bytes | None) -> BaseGeometry | None:
    """A GeoPackage geometry blob as a shapely geometry (None for NULL)."""
    if blob is None:
        return None
    if blob[:2] != b"GP":
        raise ValueError("not a GeoPackage geometry blob (no GP magic)")
    flags = blob[3]
    if (flags >> 4) & 1:
        return shapely.from_wkt("GEOMETRYCOLLECTION EMPTY")
    start = 8 + _ENVELOPE_BYTES[(flags >> 1) & 7]
    return shapely.from_wkb(bytes(blob[start:]))


def point_blob(x: float, y: float, srs_id: int = 4326) -> bytes:
    """A point as a GeoPackage geometry blob: little-endian header, no envelope, then WKB."""
    header = b"GP" + bytes([0, 0b00000001]) + struct.pack("<i", srs_id)
    return header + shapely.to_wkb(shapely.Point(x, y), byte_order=1)


def _bound(index: int, blob: bytes | None) -> float | None:
    geom = decode(blob)
    if geom is None or geom.is_empty:
        return None
    return float(geom.bounds[index])


def _is_empty(blob: bytes | None) -> int | None:
    geom = decode(blob)
    return None if geom is None else int(geom.is_empty)


def connect(path: str | Path) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL journal, GeoPackage functions registered."""
    db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
    db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")  # an acknowledged write survives a power cut, not just a crash
    db.create_function("ST_IsEmpty", 1, _is_empty, deterministic=True)
    for index, name in enumerate(("ST_MinX", "ST_MinY", "ST_MaxX", "ST_MaxY")):
        db.create_function(name, 1, lambda blob, i=index: _bound(i, blob), deterministic=True)
    return db


def backup(source: str | Path, target: str | Path) -> Path:
    """A consistent copy of a GeoPackage that may be in use: SQLite's online backup, written to a temporary file
    and renamed into place, left as one self-contained file (no WAL) that QGIS or GDAL opens as it is."""
    target = Path(target)
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    src = connect(source)
    dst = sqlite3.connect(partial)
    try:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode = DELETE")
        if dst.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise sqlite3.DatabaseError(f"the copy of {source} failed its integrity check")
    finally:
        dst.close()
        src.close()
    partial.replace(target)
    return target
