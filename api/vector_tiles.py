"""One layer's features in one web-Mercator tile, written as a Mapbox Vector Tile.

The R-tree chooses the features meeting the tile's lon/lat box; their geometry comes from a web-Mercator copy of the
layer made once (and again when the layer's frame is replaced), so a request only clips, simplifies and encodes.
On PostgreSQL the database writes the same tile faster (`api/tile_encoders.py`); this encoder serves GeoPackages.
"""

from __future__ import annotations

import json
from typing import Any

import mapbox_vector_tile
import mercantile
import numpy as np
import shapely

from api.catalog import Catalog, LayerData
from geo.tiles import EXTENT, lonlat_bounds, to_tile, to_web_mercator
from layers.frames import properties_of

MEDIA_TYPE = "application/vnd.mapbox-vector-tile"


def tile_fids(data: LayerData, tile: mercantile.Tile) -> np.ndarray:
    """Ids (ascending) of the features whose geometry meets the tile, its edges included."""
    return data.index.bbox(lonlat_bounds(tile))


def encode_tile(cat: Catalog, data: LayerData, tile: mercantile.Tile, fids: np.ndarray) -> bytes:
    """The features `fids` as one MVT layer named after the collection: fid as the feature id, properties as plain
    values (lists and objects as JSON text; a null property is left out, as the format has no null)."""
    mercator = _mercator(cat, data, fids)
    # Exterior rings clockwise with y up, which the encoder's flip of y makes the format's positive area.
    geometries = shapely.orient_polygons(to_tile(mercator, tile), exterior_cw=True)
    rows = data.frame.iloc[data.positions(fids)]
    records = rows.drop(columns=rows.geometry.name).to_dict(orient="records")
    features = [
        {"id": fid, "geometry": geometry, "properties": _tile_properties(properties_of(data.layer, record))}
        for fid, geometry, record in zip(fids.tolist(), geometries, records, strict=True)
    ]
    layer = {"name": data.layer.id, "features": features}
    return mapbox_vector_tile.encode(layer, default_options={"extents": EXTENT, "check_winding_order": False})


def _tile_properties(props: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for name, value in props.items():
        if value is None:
            continue
        out[name] = json.dumps(value, ensure_ascii=False) if isinstance(value, list | dict) else value
    return out


def _mercator(cat: Catalog, data: LayerData, fids: np.ndarray) -> np.ndarray:
    """Web-Mercator geometries of `fids`, from the layer's copy (rebuilt when a hazard added replaces the frame)."""
    held = cat.derived(f"vector_tiles.mercator.{data.layer.id}", (data.layer.id,), dict)
    copy = held.get("copy")
    if copy is None or copy[0] is not data.frame:
        copy = _copy(data)
        held["copy"] = copy  # one assignment: a concurrent request sees the old copy or the new, never half
    positions = copy[0].index.get_indexer(fids)
    if (positions < 0).any():  # a feature added since this request looked
        copy = held["copy"] = _copy(data)
        positions = copy[0].index.get_indexer(fids)
    return copy[1][positions]


def _copy(data: LayerData) -> tuple[Any, np.ndarray]:
    frame = data.frame
    return frame, to_web_mercator(frame.geometry.to_numpy())
