"""Select a layer's features by bbox and properties, and write them as GeoJSON text."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import shapely

from api.catalog import LayerData
from geo.index import BBox
from layers import Layer
from layers.base import _is_nested, is_temporal
from layers.frames import properties_of


def queryables(layer: Layer) -> dict[str, Any]:
    """Fields a client may filter on by equality: plain scalars, not lists, dates or times."""
    return {
        name: info.annotation
        for name, info in layer.properties.model_fields.items()
        if not _is_nested(info.annotation) and not is_temporal(info.annotation)
    }


def select(data: LayerData, bbox: BBox | None, filters: dict[str, Any]) -> np.ndarray:
    """Ids (ascending) of features intersecting `bbox` whose properties equal every filter."""
    fids = data.index.bbox(bbox) if bbox is not None else data.fids
    if not filters or not len(fids):
        return fids
    rows = data.frame.iloc[data.positions(fids)]
    keep = np.ones(len(rows), dtype=bool)
    for name, value in filters.items():
        column = rows[name]
        matches = column.astype(object) == value if column.dtype == object else column == value
        keep &= np.asarray(pd.Series(matches).fillna(False), dtype=bool)
    return fids[keep]


def features_json(data: LayerData, fids: np.ndarray) -> list[str]:
    """Each feature as a GeoJSON Feature object's text (geometry in CRS84, id = fid)."""
    if not len(fids):
        return []
    rows = data.frame.iloc[data.positions(fids)]
    geometries = shapely.to_geojson(rows.geometry.to_numpy())
    records = rows.drop(columns=rows.geometry.name).to_dict(orient="records")
    out = []
    for fid, geometry, record in zip(fids.tolist(), geometries, records, strict=True):
        props = json.dumps(properties_of(data.layer, record), ensure_ascii=False)
        out.append(f'{{"type":"Feature","id":{fid},"geometry":{geometry or "null"},"properties":{props}}}')
    return out
