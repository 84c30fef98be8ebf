"""What the map draws for one viewport: features in the bbox, simplified for the zoom, points grouped when dense.

Pages never embed a layer; they ask for the visible part at the current zoom. The R-tree finds the candidates, lines
and polygons are simplified to half a screen pixel, and when a point layer has more points in view than a browser
draws comfortably they are summed into a screen grid (one circle with a count per cell) until the user zooms in.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import shapely

from api.catalog import Catalog, LayerData
from geo import gcj02
from geo.index import BBox
from layers.frames import properties_of
from maps.popups import open_hazards_by_feature, popup_html
from maps.symbols import SYMBOLS

#: More points than this in view are grouped into grid cells.
MAX_POINTS = 1500
#: Grid cell size in screen pixels when grouping.
CELL_PX = 48
#: Heat weight by category: a fatal crash or a red source weighs more than a scratch or a blue one.
HEAT_WEIGHTS = {
    "accidents": {"fatal": 1.0, "injury": 0.6, "property": 0.25},
    "risk_sources": {"red": 1.0, "orange": 0.7, "yellow": 0.4, "blue": 0.2},
}


def degrees_per_pixel(zoom: float) -> float:
    """Longitude degrees one screen pixel spans at a web-Mercator zoom level (256-pixel tiles)."""
    return 360.0 / (256.0 * 2.0**zoom)


def viewport(
    cat: Catalog,
    layer_id: str,
    bbox: BBox,
    zoom: float,
    *,
    shift: bool = False,
    popups: bool = False,
    max_points: int = MAX_POINTS,
    only: np.ndarray | None = None,
) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of the layer in view; `shift` draws it in GCJ-02 for AMap tiles.

    Each feature carries `k` (its legend category), `n` (a name for the tooltip), `w` (heat weight) and, with
    `popups`, the popup HTML; a grouped cell carries `count` instead of a fid. `only` limits the layer to those
    ids (the ledger as one user may see it).
    """
    symbol = SYMBOLS[layer_id]
    data = cat[layer_id]
    if shift:
        bbox = _unshift_bbox(bbox)
    body: dict[str, Any] = {"type": "FeatureCollection", "layer": layer_id, "zoom": zoom, "features": []}
    if zoom < symbol.min_zoom:
        body["hidden"] = f"放大到 {symbol.min_zoom} 级后显示"
        return body
    fids = data.index.bbox(bbox)
    if only is not None:
        fids = np.intersect1d(fids, only, assume_unique=True)
    body["numberMatched"] = int(len(fids))
    points = data.layer.primary_geometry_type == "Point"
    if points and len(fids) > max_points:
        body["features"] = _grid(data, fids, zoom, shift)
        body["grouped"] = True
        return body
    body["features"] = _features(cat, data, fids, zoom, shift=shift, popups=popups)
    return body


def _features(
    cat: Catalog, data: LayerData, fids: np.ndarray, zoom: float, *, shift: bool, popups: bool
) -> list[dict[str, Any]]:
    if not len(fids):
        return []
    symbol = SYMBOLS[data.layer.id]
    rows = data.frame.iloc[data.positions(fids)]
    geoms = rows.geometry.to_numpy()
    if data.layer.primary_geometry_type != "Point":
        geoms = shapely.simplify(geoms, degrees_per_pixel(zoom) / 2, preserve_topology=True)
    if shift:
        geoms = gcj02.shift_geometries(geoms)
    geometries = shapely.to_geojson(shapely.set_precision(geoms, 1e-6))
    records = rows.drop(columns=rows.geometry.name).to_dict(orient="records")
    weights = HEAT_WEIGHTS.get(data.layer.id, {})
    hazards = open_hazards_by_feature(cat, data.layer.id) if popups else {}
    out = []
    for fid, geometry, record in zip(fids.tolist(), geometries, records, strict=True):
        props = properties_of(data.layer, record)
        key = symbol.key(props)
        feature_props: dict[str, Any] = {"fid": fid, "k": key, "n": _name(props)}
        if weights:
            feature_props["w"] = weights.get(key, 0.3)
        if popups:
            feature_props["popup"] = popup_html(cat, data.layer.id, fid, props, hazards=hazards.get(fid, []))
        out.append({"type": "Feature", "id": fid, "geometry": json.loads(geometry), "properties": feature_props})
    return out


def _name(props: dict[str, Any]) -> str:
    for key in ("name", "code", "description"):
        if props.get(key):
            return str(props[key])[:40]
    return ""


def _grid(data: LayerData, fids: np.ndarray, zoom: float, shift: bool) -> list[dict[str, Any]]:
    """Points summed into square screen cells: centre of mass, count and summed heat weight per cell."""
    rows = data.frame.iloc[data.positions(fids)]
    xy = shapely.get_coordinates(rows.geometry.to_numpy())
    cell = degrees_per_pixel(zoom) * CELL_PX
    keys = np.floor(xy / cell).astype(np.int64)
    symbol = SYMBOLS[data.layer.id]
    weights = HEAT_WEIGHTS.get(data.layer.id)
    if weights and symbol.categorised:
        categories = [symbol.key(r) for r in rows.drop(columns=rows.geometry.name).to_dict(orient="records")]
        w = np.array([weights.get(k, 0.3) for k in categories])
    else:
        w = np.ones(len(xy))
    frame = pd.DataFrame({"i": keys[:, 0], "j": keys[:, 1], "x": xy[:, 0], "y": xy[:, 1], "w": w})
    cells = frame.groupby(["i", "j"], sort=True).agg(
        x=("x", "mean"), y=("y", "mean"), count=("x", "size"), w=("w", "sum")
    )
    x, y = cells["x"].to_numpy(), cells["y"].to_numpy()
    if shift:
        x, y = gcj02.wgs84_to_gcj02(x, y)
    return [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [round(float(a), 6), round(float(b), 6)]},
            "properties": {"count": int(n), "w": round(float(s), 3)},
        }
        for a, b, n, s in zip(x, y, cells["count"], cells["w"], strict=True)
    ]


def _unshift_bbox(bbox: BBox) -> BBox:
    """A viewport drawn over GCJ-02 tiles, back in WGS 84 (corners moved; the shift is smooth at this scale)."""
    lon, lat = gcj02.gcj02_to_wgs84(np.array([bbox[0], bbox[2]]), np.array([bbox[1], bbox[3]]))
    return (float(lon[0]), float(lat[0]), float(lon[1]), float(lat[1]))
