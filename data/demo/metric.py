"""Metric helpers: the town is laid out in EPSG:4549 metres and converted to lon/lat once, at the end."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely
from shapely.geometry import LineString, Point
from shapely.geometry.base import BaseGeometry

from geo.crs import LOCAL_METRIC, WGS84, transform_geometries, transformer


def lonlat_to_xy(points: Sequence[tuple[float, float]]) -> np.ndarray:
    """(lon, lat) pairs as an (n, 2) array of metric coordinates."""
    arr = np.asarray(points, dtype=float)
    x, y = transformer(WGS84, LOCAL_METRIC).transform(arr[:, 0], arr[:, 1])
    return np.column_stack([x, y])


def to_lonlat(geoms: Sequence[BaseGeometry]) -> list[BaseGeometry]:
    """Metric geometries as lon/lat, rounded to 1e-7° (about 1 cm) to keep the file small and stable."""
    if not geoms:
        return []
    out = transform_geometries(list(geoms), LOCAL_METRIC, WGS84)
    return list(shapely.set_precision(out, 1e-7))


def lonlat_of(point: Point) -> list[float]:
    """A metric point as [lon, lat] rounded for the truth file."""
    lon, lat = transformer(LOCAL_METRIC, WGS84).transform(point.x, point.y)
    return [round(lon, 6), round(lat, 6)]


def along(line: LineString, distance: float, *, from_end: bool = False, offset: float = 0.0) -> Point:
    """The point `distance` m along `line` (from either end), moved `offset` m to its left."""
    d = line.length - distance if from_end else distance
    d = min(max(d, 0.0), line.length)
    p = line.interpolate(d)
    if offset == 0.0:
        return p
    a = line.interpolate(max(d - 1.0, 0.0))
    b = line.interpolate(min(d + 1.0, line.length))
    dx, dy = b.x - a.x, b.y - a.y
    norm = float(np.hypot(dx, dy)) or 1.0
    return Point(p.x - dy / norm * offset, p.y + dx / norm * offset)


def rotated_rect(cx: float, cy: float, width: float, depth: float, angle: float) -> shapely.Polygon:
    """A width × depth rectangle centred on (cx, cy), turned by `angle` radians."""
    c, s = np.cos(angle), np.sin(angle)
    hw, hd = width / 2, depth / 2
    corners = [(-hw, -hd), (hw, -hd), (hw, hd), (-hw, hd)]
    return shapely.Polygon([(cx + u * c - v * s, cy + u * s + v * c) for u, v in corners])
