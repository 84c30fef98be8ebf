"""Layer data as GeoDataFrames: build them from validated attributes, and give columns their schema dtypes."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry.base import BaseGeometry

from geo.crs import WGS84
from layers.base import Layer, Properties, _strip_optional


def _dtype(annotation: Any) -> str:
    base = _strip_optional(annotation)
    if base is bool:
        return "boolean"
    if base is int:
        return "Int64"
    if base is float:
        return "Float64"
    if base is datetime:
        return "datetime64[ms]"
    return "object"


def column_dtypes(layer: Layer) -> dict[str, str]:
    """Field → pandas dtype: nullable integers, floats and booleans; text, codes, dates and JSON as objects."""
    return {name: _dtype(info.annotation) for name, info in layer.properties.model_fields.items()}


def coerce(layer: Layer, frame: pd.DataFrame) -> pd.DataFrame:
    """Give every declared column its schema dtype (storage hands back floats for nullable ints, and so on)."""
    for name, dtype in column_dtypes(layer).items():
        if name not in frame.columns:
            frame[name] = pd.Series(pd.NA, index=frame.index, dtype=dtype if dtype != "object" else "object")
            continue
        column = frame[name]
        if dtype == "object":
            frame[name] = column.astype(object).where(column.notna(), None)
        elif dtype == "datetime64[ms]":
            frame[name] = pd.to_datetime(column).astype("datetime64[ms]")
        elif dtype == "Int64":
            frame[name] = pd.array(column.to_numpy(dtype=float, na_value=np.nan), dtype="Float64").astype("Int64")
        else:
            frame[name] = column.astype(dtype)
    return frame


def frame_from_properties(
    layer: Layer,
    properties: Sequence[Properties],
    geometries: Sequence[BaseGeometry],
    *,
    fids: Iterable[int] | None = None,
) -> gpd.GeoDataFrame:
    """A GeoDataFrame (EPSG:4326) of validated features, ready to store."""
    records = [layer.to_record(p) for p in properties]
    frame = pd.DataFrame.from_records(records, columns=list(layer.fields))
    if fids is not None:
        frame.index = pd.Index(list(fids), dtype=np.int64, name="fid")
    frame = coerce(layer, frame)
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(list(geometries), index=frame.index), crs=WGS84)


def empty_frame(layer: Layer) -> gpd.GeoDataFrame:
    """A layer with no features but every column typed, indexed as a stored layer reads (int64 fids)."""
    return frame_from_properties(layer, [], [], fids=[])


def plain(value: Any) -> Any:
    """A cell as a JSON-ready Python value: NA → None, numpy scalars → Python, timestamps → ISO text."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, np.generic):
        return plain(value.item())
    if isinstance(value, pd.Timestamp | datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def properties_of(layer: Layer, row: dict[str, Any]) -> dict[str, Any]:
    """A stored row's attributes as served: plain values, JSON text decoded into lists and objects."""
    out = {name: plain(row.get(name)) for name in layer.fields}
    for name in layer.json_fields():
        text = out.get(name)
        out[name] = json.loads(text) if isinstance(text, str) and text else []
    return out


__all__ = ["coerce", "column_dtypes", "empty_frame", "frame_from_properties", "plain", "properties_of"]
