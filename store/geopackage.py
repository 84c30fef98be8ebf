"""The embedded backend: one GeoPackage file, a layer per table, readable by QGIS and GDAL as it is."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import geopandas as gpd
import pyogrio
from pyogrio.errors import DataLayerError, DataSourceError

from geo.crs import WGS84
from layers import Layer
from layers.frames import coerce, column_dtypes, empty_frame
from store.base import DatasetInfo, StoreError
from store.gpkg_rows import append_rows, geometry_column, replace_rows, table_columns
from store.gpkg_sql import connect

INFO_TABLE = "onemap_info"
#: Column types GDAL gives each pandas dtype of a layer (dates and JSON are text).
SQL_TYPES = {
    "Int64": "INTEGER",
    "Float64": "REAL",
    "float64": "REAL",
    "boolean": "BOOLEAN",
    "datetime64[ms]": "DATETIME",
}


class GeoPackageStore:
    """Reads and writes layers of one GeoPackage through GDAL (pyogrio); small bookkeeping through sqlite3."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.location = str(self.path)

    # -- dataset -------------------------------------------------------------------------------------------------

    def info(self) -> DatasetInfo:
        """Dataset metadata from the onemap_info table (defaults when the file has none)."""
        if not self.path.exists():
            return DatasetInfo()
        with self._sqlite() as db:
            exists = db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (INFO_TABLE,)).fetchone()
            if not exists:
                return DatasetInfo()
            rows = dict(db.execute(f"SELECT key, value FROM {INFO_TABLE}").fetchall())
        return DatasetInfo.model_validate({k: json.loads(v) for k, v in rows.items()})

    def set_info(self, info: DatasetInfo) -> None:
        """Replace the dataset metadata (creates the file's table if needed)."""
        if not self.path.exists():
            raise StoreError(f"{self.path} does not exist yet: write a layer first")
        with self._sqlite() as db:
            db.execute(f"CREATE TABLE IF NOT EXISTS {INFO_TABLE} (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            db.execute(f"DELETE FROM {INFO_TABLE}")
            db.executemany(
                f"INSERT INTO {INFO_TABLE} (key, value) VALUES (?, ?)",
                [(k, json.dumps(v, ensure_ascii=False)) for k, v in info.model_dump().items()],
            )

    # -- layers --------------------------------------------------------------------------------------------------

    def has(self, layer: Layer) -> bool:
        """Whether the file holds a table for the layer (asked through sqlite3: no GDAL open of a file the service
        may hold, see store/gpkg_rows.py)."""
        if not self.path.exists():
            return False
        with self._sqlite() as db:
            try:
                found = db.execute("SELECT 1 FROM gpkg_contents WHERE table_name = ?", (layer.id,)).fetchone()
            except sqlite3.DatabaseError:  # not a GeoPackage (yet): GDAL says what it is when it is read
                return layer.id in {name for name, _ in pyogrio.list_layers(self.path)}
        return found is not None

    def read(self, layer: Layer) -> gpd.GeoDataFrame:
        """All features, fid as index, columns typed by the layer schema."""
        if not self.has(layer):
            return empty_frame(layer)
        try:
            frame = pyogrio.read_dataframe(self.path, layer=layer.id, fid_as_index=True)
        except (DataSourceError, DataLayerError) as exc:
            raise StoreError(f"cannot read layer {layer.id!r} from {self.path}: {exc}") from exc
        if frame.crs is None or not frame.crs.equals(WGS84):
            raise StoreError(f"layer {layer.id!r} in {self.path} is not in EPSG:4326 (found {frame.crs})")
        frame.index.name = "fid"
        extra = [c for c in frame.columns if c not in layer.fields and c != frame.geometry.name]
        frame = frame.drop(columns=extra)
        frame = coerce(layer, frame)
        return gpd.GeoDataFrame(frame[[*layer.fields, frame.geometry.name]], geometry=frame.geometry.name, crs=WGS84)

    def count(self, layer: Layer) -> int:
        """Feature count from the GeoPackage's own bookkeeping."""
        if not self.has(layer):
            return 0
        return int(pyogrio.read_info(self.path, layer=layer.id)["features"])

    def replace(self, layer: Layer, frame: gpd.GeoDataFrame, *, description: str | None = None) -> None:
        """Write the layer anew; an index named fid is kept as the feature ids.

        A table that already has the layer's columns is rewritten through sqlite3 in one transaction (see
        store.gpkg_rows for why); GDAL creates a missing table, or one whose columns the schema has outgrown.
        """
        out = self._prepare(layer, frame)
        if self._table_ready(layer):
            db = connect(self.path)
            try:
                replace_rows(db, layer, out, description)
            except sqlite3.Error as exc:
                raise StoreError(f"writing layer {layer.id!r} to {self.path} failed, nothing changed: {exc}") from exc
            finally:
                db.close()
            return
        options = {"IDENTIFIER": layer.title, "DESCRIPTION": description or layer.description}
        try:
            pyogrio.write_dataframe(
                out,
                self.path,
                layer=layer.id,
                driver="GPKG",
                geometry_type=layer.primary_geometry_type if len(out) == 0 else None,
                promote_to_multi=False,
                layer_options=options,
            )
        except Exception as exc:  # GDAL raises several types; the caller needs one
            raise StoreError(f"writing layer {layer.id!r} to {self.path} failed: {exc}") from exc

    def append(self, layer: Layer, frame: gpd.GeoDataFrame) -> list[int]:
        """Add features in one transaction, all or nothing; their new fids in order. Through sqlite3 once the table
        is there (as replace, and for the same reason: a running service may hold the file open)."""
        if not self.has(layer):
            self.replace(layer, frame.iloc[0:0])
        out = self._prepare(layer, frame.reset_index(drop=True))
        if self._table_ready(layer):
            db = connect(self.path)
            try:
                return append_rows(db, layer, out)
            except sqlite3.Error as exc:
                raise StoreError(f"appending to layer {layer.id!r} failed, nothing was written: {exc}") from exc
            finally:
                db.close()
        before = self._max_fid(layer)
        try:
            pyogrio.write_dataframe(out, self.path, layer=layer.id, driver="GPKG", append=True)
        except Exception as exc:
            with self._sqlite() as db:
                db.execute(f'DELETE FROM "{layer.id}" WHERE fid > ?', (before,))
            raise StoreError(f"appending to layer {layer.id!r} failed, nothing was written: {exc}") from exc
        with self._sqlite() as db:
            rows = db.execute(f'SELECT fid FROM "{layer.id}" WHERE fid > ? ORDER BY fid', (before,)).fetchall()
        return [r[0] for r in rows]

    def delete(self, layer: Layer, fids: Sequence[int]) -> None:
        """Remove features by fid in one transaction; unknown fids remove nothing."""
        wanted = sorted({int(f) for f in fids})
        if not wanted:
            return
        with self._sqlite() as db:
            marks = ",".join("?" * len(wanted))
            found = {r[0] for r in db.execute(f'SELECT fid FROM "{layer.id}" WHERE fid IN ({marks})', wanted)}
            missing = [f for f in wanted if f not in found]
            if missing:
                raise StoreError(f"layer {layer.id!r} has no features with fid {missing}; nothing was deleted")
            db.execute(f'DELETE FROM "{layer.id}" WHERE fid IN ({marks})', wanted)

    # -- internals -----------------------------------------------------------------------------------------------

    def _prepare(self, layer: Layer, frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        out = gpd.GeoDataFrame(frame[list(layer.fields)].copy(), geometry=frame.geometry.values, crs=frame.crs)
        if out.crs is None or not out.crs.equals(WGS84):
            raise StoreError(f"layer {layer.id!r}: frames are stored in EPSG:4326, got {out.crs}")
        if frame.index.name == "fid":
            out.insert(0, "fid", frame.index.to_numpy(dtype="int64"))
        for name in layer.json_fields():
            out[name] = out[name].map(
                lambda v: v if isinstance(v, str) or v is None else json.dumps(v, ensure_ascii=False)
            )
        return out

    def ensure_tables(self, layers: Iterable[Layer]) -> list[str]:
        """Create missing layer tables (empty) and add the columns a schema gained since the file was written.

        Run before the file is shared with other connections (the service calls it first thing): GDAL creates the
        tables, and after this every later write can go through sqlite3. Returns what was changed, in words.
        """
        changes, missing = [], []
        with self._sqlite() as db:  # one look at the file's tables, not a GDAL open per layer
            for layer in layers:
                present = table_columns(db, layer.id)
                if not present:
                    missing.append(layer)
                    continue
                for name, dtype in column_dtypes(layer).items():
                    if name not in present:
                        db.execute(f'ALTER TABLE "{layer.id}" ADD COLUMN "{name}" {SQL_TYPES.get(dtype, "TEXT")}')
                        changes.append(f"added column {layer.id}.{name}")
        for layer in missing:
            self.replace(layer, empty_frame(layer))
            changes.append(f"created table {layer.id}")
        return changes

    def _table_ready(self, layer: Layer) -> bool:
        """Whether the table exists with every declared column, so its rows can be rewritten in place."""
        if not self.path.exists():
            return False
        with self._sqlite() as db:
            columns = table_columns(db, layer.id)
            return bool(columns) and geometry_column(db, layer.id) is not None and set(layer.fields) <= set(columns)

    def _max_fid(self, layer: Layer) -> int:
        with self._sqlite() as db:
            return int(db.execute(f'SELECT coalesce(max(fid), 0) FROM "{layer.id}"').fetchone()[0])

    @contextlib.contextmanager
    def _sqlite(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path)
        try:
            with db:
                yield db
        finally:
            db.close()
