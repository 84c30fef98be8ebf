"""Geometry checks shared by file import and the HTTP API, so both refuse the same things with the same words."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

BBox = tuple[float, float, float, float]

#: Mainland China and its islands, generously: coordinates outside are said to be outside China, not just the area.
CHINA = (73.0, 3.0, 136.0, 54.0)

#: Geometry types a repair may turn a type into: the same dimension, single or multi.
_SAME_KIND = {
    "Polygon": ("Polygon", "MultiPolygon"),
    "MultiPolygon": ("Polygon", "MultiPolygon"),
    "LineString": ("LineString", "MultiLineString"),
    "MultiLineString": ("LineString", "MultiLineString"),
}

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
    lon/lat, projected coordinates, outside the region); validity. Nothing is repaired here: a silently
    "fixed" polygon is a different polygon than the one the user drew (see repair_geometry, on request only).
    """
    return placement_problem(geom, allowed_types, region_bbox) or validity_problem(geom)


def placement_problem(geom: BaseGeometry | None, allowed_types: Iterable[str], region_bbox: BBox) -> str | None:
    """geometry_problem without the validity check: what no repair can fix."""
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
    return _location_problem(geom.bounds, region_bbox)


def validity_problem(geom: BaseGeometry) -> str | None:
    """Why `geom` is not valid (GEOS's explanation, with the Chinese for it), or None when it is."""
    if geom.is_valid:
        return None
    chinese, reason = _invalidity(geom)
    return f"几何无效：{chinese}，请在 GIS 软件中修正 (invalid geometry: {reason}; fix it in your GIS)"


def _invalidity(geom: BaseGeometry) -> tuple[str, str]:
    """What is wrong with an invalid geometry, in Chinese and as GEOS explains it (with where)."""
    reason = explain_validity(geom)
    head = reason.split("[", 1)[0].strip()
    return _VALIDITY_REASONS.get(head, "几何无效"), reason


def repair_geometry(geom: BaseGeometry, allowed_types: Iterable[str]) -> tuple[BaseGeometry | None, str]:
    """`geom` made valid with shapely.make_valid and what was repaired; or None and why the repair is refused.

    A repair is kept only when the result is of the same kind (a polygon stays a polygon or multipolygon, a line
    a line or multiline) and of a type the layer accepts: a bow-tie becomes two triangles, but a polygon that
    collapses to a line, a point, a mix of parts or nothing is not the area the user meant, so it is refused.
    """
    allowed = tuple(allowed_types)
    chinese, reason = _invalidity(geom)
    fixed = shapely.make_valid(geom)
    if fixed.is_empty:
        return None, "无法修复：修复后几何为空 (cannot repair: the geometry collapses to nothing)"
    if fixed.geom_type not in _SAME_KIND.get(geom.geom_type, (geom.geom_type,)) or fixed.geom_type not in allowed:
        return None, (
            f"无法修复：修复后会从 {geom.geom_type} 变成 {fixed.geom_type} "
            f"(cannot repair: it would change the geometry type from {geom.geom_type} to {fixed.geom_type})"
        )
    before, after = geom.geom_type, fixed.geom_type
    return fixed, f"已修复{chinese}，{before} → {after} (repaired {reason}: {before} → {after})"


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
    if not _inside(bounds, CHINA):
        return (
            f"坐标 {where} 在中国境外，超出服务区域 (coordinates outside China, outside the service area "
            f"lon {region[0]:g}–{region[2]:g}, lat {region[1]:g}–{region[3]:g})"
        )
    return (
        f"坐标 {where} 超出服务区域 (coordinates outside the service area "
        f"lon {region[0]:g}–{region[2]:g}, lat {region[1]:g}–{region[3]:g})"
    )


__all__ = ["CHINA", "BBox", "geometry_problem", "placement_problem", "repair_geometry", "validity_problem"]
