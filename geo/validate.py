"""Geometry checks shared by file import and the HTTP API, so both refuse the same things with the same words."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

BBox = tuple[float, float, float, float]

#: GEOS validity reasons (the text before the "[x y]" location) in Chinese, for the township user.
_VALIDITY_REASONS = {
    "Self-intersection": "自相交",
    "Ring Self-intersection": "环自相交",
    "Too few points": "点数太少",
    "Hole lies outside shell": "内环在外环之外",
    "Nested holes": "内环相互嵌套",
    "Interior is disconnected": "内部不连通",
    "Nested shells": "多边形相互嵌套",
    "Duplicate Rings": "环重复",
    "Invalid Coordinate": "坐标无效",
    "Ring is not closed": "环未闭合",
}


def geometry_problem(geom: BaseGeometry | None, allowed_types: Iterable[str], region_bbox: BBox) -> str | None:
    """None when `geom` (lon/lat) can be stored as it is, else one message saying what to fix.

    Checks, first failure wins: missing or empty; geometry type; NaN/inf coordinates; location (swapped
    lon/lat, projected coordinates, outside the region); validity. Nothing is repaired: a silently
    "fixed" polygon is a different polygon than the one the user drew.
    """
    if geom is None or (isinstance(geom, float) and np.isnan(geom)):
        return "缺少几何 (missing geometry)"
    if not isinstance(geom, BaseGeometry):
        return f"几何无法识别 (not a geometry: {type(geom).__name__})"
    if geom.is_empty:
        return "几何为空 (empty geometry)"
    allowed = tuple(allowed_types)
    if geom.geom_type not in allowed:
        return (
            f"几何类型是 {geom.geom_type}，本图层只接受 {'、'.join(allowed)} "
            f"(geometry is a {geom.geom_type}; this layer accepts {', '.join(allowed)})"
        )
    coords = shapely.get_coordinates(geom, include_z=geom.has_z)
    if not np.isfinite(coords).all():
        return "坐标含 NaN 或无穷大 (coordinates contain NaN or infinity)"
    location = _location_problem(geom.bounds, region_bbox)
    if location:
        return location
    if not geom.is_valid:
        reason = explain_validity(geom)
        head = reason.split("[", 1)[0].strip()
        chinese = _VALIDITY_REASONS.get(head, "几何无效")
        return f"几何无效：{chinese}，请在 GIS 软件中修正 (invalid geometry: {reason}; fix it in your GIS, not here)"
    return None


def _inside(bounds: BBox, bbox: BBox) -> bool:
    minx, miny, maxx, maxy = bounds
    return bbox[0] <= minx and maxx <= bbox[2] and bbox[1] <= miny and maxy <= bbox[3]


def _location_problem(bounds: BBox, region: BBox) -> str | None:
    if _inside(bounds, region):
        return None
    minx, miny, maxx, maxy = bounds
    if _inside((miny, minx, maxy, maxx), region):
        return (
            "经纬度似乎填反了：请把经度放在 x、纬度放在 y "
            "(looks like latitude and longitude are swapped (lat,lon instead of lon,lat))"
        )
    where = f"({minx:g}, {miny:g})" if (minx, miny) == (maxx, maxy) else f"({minx:g}, {miny:g}) – ({maxx:g}, {maxy:g})"
    if max(abs(minx), abs(maxx)) > 180 or max(abs(miny), abs(maxy)) > 90:
        return (
            f"坐标 {where} 不是经纬度，像是投影坐标（米）：请指明文件的坐标系，例如 --crs 4549 "
            "(coordinates look projected, in metres: name the file's CRS, "
            "e.g. EPSG:4549 CGCS2000 Gauss-Krüger CM 120E)"
        )
    return (
        f"坐标 {where} 超出服务区域 (coordinates outside the service area "
        f"lon {region[0]:g}–{region[2]:g}, lat {region[1]:g}–{region[3]:g})"
    )


__all__ = ["BBox", "geometry_problem"]
