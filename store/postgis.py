"""The server backend: layers in PostgreSQL + PostGIS, one schema per dataset, for when a town outgrows a file.

Meets the same contract as the GeoPackage (`store.base.Store`): frames in and out are EPSG:4326 with the fid as index
and columns typed by the layer schema, and every write is one transaction, so a failed write changes nothing. Rows
go in through COPY (geometries as hex EWKB), which is what makes a million features a matter of seconds.
The tables themselves are made by the migrations (`store.migrations`, `onemap db init|upgrade`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

import geopandas as gpd
import mercantile
import numpy as np
import pandas as pd
import psycopg
import shapely
from psycopg_pool import ConnectionPool

from geo.crs import WGS84
from geo.tiles import lonlat_bounds
from layers import Layer
from layers.frames import coerce, empty_frame
from store.base import DatasetInfo, StoreError
from store.postgis_sql import (
    INFO_TABLE,
    add_columns,
    column_types,
    create_info,
    create_table,
    quote,
    select_list,
    split_url,
    sql_value,
)
from store.postgis_tiles import mvt_sql

#: Connections kept for vector tiles: a tile is one short query, and opening a connection costs more than it.
TILE_CONNECTIONS = 4
GENERIC_PLANS = "-c plan_cache_mode=force_generic_plan"


class PostGISStore:
    """Layers of one dataset in one PostgreSQL schema (`?schema=name` in the URL, `onemap` by default)."""

    def __init__(self, url: str) -> None:
        self.location = url
        try:
            self.conninfo, self.schema = split_url(url)
        except ValueError as exc:
            raise StoreError(str(exc)) from None
        self._pool: ConnectionPool | None = None
        self._pool_lock = threading.Lock()

    def close(self) -> None:
        """Close the connections kept for tiles (the others are opened and closed per call)."""
        with self._pool_lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None

    # -- connections ----------------------------------------------------------------------------------------------

    @contextmanager
    def _db(self) -> Iterator[psycopg.Connection]:
        """One connection and one transaction: committed when the block ends, rolled back if it raises."""
        try:
            conn = psycopg.connect(self.conninfo, options=f"-c search_path={self.schema},public")
        except psycopg.OperationalError as exc:
            raise StoreError(f"cannot connect to {self._safe_location()}: {str(exc).strip()}") from None
        try:
            with conn.transaction():
                yield conn
        except psycopg.Error as exc:
            raise StoreError(f"{self._safe_location()}: {str(exc).strip()}; nothing was changed") from exc
        finally:
            conn.close()

    def _safe_location(self) -> str:
        """The URL without its password, for messages."""
        parts = psycopg.conninfo.conninfo_to_dict(self.conninfo)
        return f"postgresql://{parts.get('user', '')}@{parts.get('host', '')}:{parts.get('port', 5432)}/" + str(
            parts.get("dbname", "")
        )

    def _tables(self, conn: psycopg.Connection) -> set[str]:
        rows = conn.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (self.schema,))
        return {r[0] for r in rows}

    def _columns(self, conn: psycopg.Connection, table: str) -> set[str]:
        rows = conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
            (self.schema, table),
        )
        return {r[0] for r in rows}

    # -- dataset ---------------------------------------------------------------------------------------------------

    def info(self) -> DatasetInfo:
        """Dataset metadata (defaults when the schema has none yet)."""
        with self._db() as conn:
            if INFO_TABLE not in self._tables(conn):
                return DatasetInfo()
            rows = dict(conn.execute(f"SELECT key, value FROM {INFO_TABLE}").fetchall())
        return DatasetInfo.model_validate({k: json.loads(v) for k, v in rows.items()})

    def set_info(self, info: DatasetInfo) -> None:
        """Replace the dataset metadata."""
        with self._db() as conn:
            conn.execute(create_info(self.schema))
            conn.execute(f"DELETE FROM {INFO_TABLE}")
            with conn.cursor() as cur:
                cur.executemany(
                    f"INSERT INTO {INFO_TABLE} (key, value) VALUES (%s, %s)",
                    [(k, json.dumps(v, ensure_ascii=False)) for k, v in info.model_dump().items()],
                )

    # -- layers ----------------------------------------------------------------------------------------------------

    def has(self, layer: Layer) -> bool:
        """Whether the schema holds the layer's table."""
        with self._db() as conn:
            return layer.id in self._tables(conn)

    def read(self, layer: Layer) -> gpd.GeoDataFrame:
        """All features in fid order, columns typed by the layer schema."""
        with self._db() as conn:
            if layer.id not in self._tables(conn):
                return empty_frame(layer)
            with conn.cursor() as cur:
                cur.execute(f'SELECT {", ".join(select_list(layer))} FROM "{layer.id}" ORDER BY fid')
                rows = cur.fetchall()
        fields = list(layer.fields)
        if not rows:
            return empty_frame(layer)
        data = list(zip(*rows, strict=True))
        frame = pd.DataFrame(
            {name: np.asarray(data[i + 1], dtype=object) for i, name in enumerate(fields)},
            index=pd.Index(np.asarray(data[0], dtype=np.int64), name="fid"),
        )
        frame = coerce(layer, frame)
        geoms = shapely.from_wkb([None if g is None else bytes(g) for g in data[-1]])
        return gpd.GeoDataFrame(frame[fields], geometry=geoms, crs=WGS84)

    def count(self, layer: Layer) -> int:
        """Number of stored features."""
        with self._db() as conn:
            if layer.id not in self._tables(conn):
                return 0
            return int(conn.execute(f'SELECT count(*) FROM "{layer.id}"').fetchone()[0])

    def replace(self, layer: Layer, frame: gpd.GeoDataFrame, *, description: str | None = None) -> None:
        """Write the layer anew in one transaction; an index named fid is kept as the feature ids."""
        rows = self._rows(layer, frame, with_fid=frame.index.name == "fid")
        with self._db() as conn:
            self._ensure(conn, layer)
            conn.execute(f'TRUNCATE "{layer.id}"')
            self._copy(conn, layer, rows, with_fid=frame.index.name == "fid")
            if description:
                conn.execute(f'COMMENT ON TABLE "{layer.id}" IS {quote(description)}')
            self._follow_ids(conn, layer)

    def append(self, layer: Layer, frame: gpd.GeoDataFrame) -> list[int]:
        """Add features all-or-nothing; returns their new fids in order."""
        rows = self._rows(layer, frame, with_fid=False)
        names = ", ".join(f'"{n}"' for n in layer.fields)
        marks = ", ".join(["%s"] * len(layer.fields))
        geom = "ST_GeomFromEWKB(decode(%s, 'hex'))"
        sql = f'INSERT INTO "{layer.id}" ({names}, geom) VALUES ({marks}, {geom}) RETURNING fid'
        fids: list[int] = []
        with self._db() as conn:
            self._ensure(conn, layer)
            with conn.cursor() as cur:
                cur.executemany(sql, rows, returning=True)
                while True:
                    fids.append(int(cur.fetchone()[0]))
                    if not cur.nextset():
                        break
        return fids

    def delete(self, layer: Layer, fids: Sequence[int]) -> None:
        """Remove features by fid in one transaction; if any is unknown, nothing is removed."""
        wanted = sorted({int(f) for f in fids})
        if not wanted:
            return
        with self._db() as conn:
            found = {r[0] for r in conn.execute(f'SELECT fid FROM "{layer.id}" WHERE fid = ANY(%s)', (wanted,))}
            missing = [f for f in wanted if f not in found]
            if missing:
                raise StoreError(f"layer {layer.id!r} has no features with fid {missing}; nothing was deleted")
            conn.execute(f'DELETE FROM "{layer.id}" WHERE fid = ANY(%s)', (wanted,))

    def mvt(self, layer: Layer, tile: mercantile.Tile, *, fids: Sequence[int] | None = None) -> bytes:
        """The layer's features meeting `tile` as a Mapbox Vector Tile made by PostGIS (`store.postgis_tiles`), from
        the committed rows; only the ids `fids` when given (the ledger as one user may see it). Empty bytes when no
        feature meets the tile."""
        west, south, east, north = lonlat_bounds(tile)
        params = {"z": tile.z, "x": tile.x, "y": tile.y, "name": layer.id}
        params |= {"west": west, "south": south, "east": east, "north": north}
        if fids is not None:
            params["fids"] = [int(f) for f in fids]
        try:
            with self._tile_pool().connection() as conn:
                row = conn.execute(mvt_sql(layer, only=fids is not None), params, prepare=True).fetchone()
        except psycopg.Error as exc:
            raise StoreError(f"{self._safe_location()}: tile {tile.z}/{tile.x}/{tile.y} of {layer.id}: {exc}") from exc
        return bytes(row[0]) if row and row[0] is not None else b""

    def _tile_pool(self) -> ConnectionPool:
        with self._pool_lock:
            if self._pool is None:
                pool = ConnectionPool(
                    self.conninfo,
                    min_size=1,
                    max_size=TILE_CONNECTIONS,
                    # One plan per connection and layer, made once: planning the tile query costs ten times running
                    # it on a small tile, and the plan (the GiST index scan) does not depend on the tile.
                    kwargs={"autocommit": True, "options": f"-c search_path={self.schema},public {GENERIC_PLANS}"},
                    open=False,
                    name="onemap-tiles",
                )
                pool.open(wait=True, timeout=10)
                self._pool = pool
            return self._pool

    def ensure_tables(self, layers: Iterable[Layer]) -> list[str]:
        """Create missing layer tables and add the columns a schema gained; returns what changed, in words."""
        changes: list[str] = []
        with self._db() as conn:
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
            conn.execute(create_info(self.schema))
            for layer in layers:
                changes += self._ensure(conn, layer)
        return changes

    # -- internals -------------------------------------------------------------------------------------------------

    def _ensure(self, conn: psycopg.Connection, layer: Layer) -> list[str]:
        present = self._columns(conn, layer.id)
        if not present:
            for statement in create_table(layer, self.schema):
                conn.execute(statement)
            return [f"created table {layer.id}"]
        changes = []
        for statement, what in add_columns(layer, self.schema, present):
            conn.execute(statement)
            changes.append(what)
        return changes

    def _rows(self, layer: Layer, frame: gpd.GeoDataFrame, *, with_fid: bool) -> list[tuple]:
        """Rows in column order (fid first when kept), JSON as text, geometry as hex EWKB; checks the CRS."""
        if frame.crs is None or not frame.crs.equals(WGS84):
            raise StoreError(f"layer {layer.id!r}: frames are stored in EPSG:4326, got {frame.crs}")
        missing = [n for n in layer.fields if n not in frame.columns]
        if missing:
            raise StoreError(f"layer {layer.id!r}: the frame lacks the columns {missing}")
        json_fields = set(layer.json_fields())
        columns = []
        for name in layer.fields:
            values = frame[name].to_numpy(dtype=object)
            if name in json_fields:
                values = [v if v is None or isinstance(v, str) else json.dumps(v, ensure_ascii=False) for v in values]
            columns.append([sql_value(v) for v in values])
        geoms = shapely.set_srid(np.asarray(frame.geometry.values, dtype=object), 4326)
        wkb = shapely.to_wkb(geoms, hex=True, include_srid=True)
        out = list(zip(*columns, wkb, strict=True)) if columns else [(g,) for g in wkb]
        if with_fid:
            out = [(int(f), *row) for f, row in zip(frame.index, out, strict=True)]
        return out

    def _copy(self, conn: psycopg.Connection, layer: Layer, rows: list[tuple], *, with_fid: bool) -> None:
        names = (["fid"] if with_fid else []) + [f'"{n}"' for n in layer.fields] + ["geom"]
        with conn.cursor() as cur, cur.copy(f'COPY "{layer.id}" ({", ".join(names)}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(row)

    def _follow_ids(self, conn: psycopg.Connection, layer: Layer) -> None:
        """Move the identity past the largest fid, so features added later get new ids."""
        conn.execute(
            f"SELECT setval(pg_get_serial_sequence(%s, 'fid'), coalesce((SELECT max(fid) FROM \"{layer.id}\"), 0) + 1,"
            " false)",
            (f'"{self.schema}"."{layer.id}"',),
        )


__all__ = ["PostGISStore", "column_types"]
