"""Coordinate systems: store and serve lon/lat (EPSG:4326, CRS84 order), measure in a local metric CRS."""

from __future__ import annotations

import functools
import math

import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError
from shapely.geometry.base import BaseGeometry

from geo.errors import UnknownCRS

WGS84 = "EPSG:4326"
CGCS2000 = "EPSG:4490"
#: CGCS2000 / 3-degree Gauss-Krüger CM 120E: the metric CRS for Naiman Banner (118.5–121.5 E).
LOCAL_METRIC = "EPSG:4549"

#: Common names people type for the CRS of their files.
ALIASES = {
    "wgs84": WGS84,
    "cgcs2000": CGCS2000,
    "webmercator": "EPSG:3857",
    "web-mercator": "EPSG:3857",
}


def parse_crs(value: str | int | CRS) -> CRS:
    """A pyproj CRS from an EPSG code, "EPSG:nnnn", an alias such as "cgcs2000", WKT or PROJ text."""
    if isinstance(value, CRS):
        return value
    text = str(value).strip()
    text = ALIASES.get(text.lower(), text)
    if text.isdigit():
        text = f"EPSG:{text}"
    try:
        return CRS.from_user_input(text)
    except CRSError:
        raise UnknownCRS(
            f"unknown CRS {value!r}: give an EPSG code such as 4490 (CGCS2000), 4326 (WGS 84), "
            "4549 (CGCS2000 Gauss-Krüger CM 120E) or 3857 (Web Mercator)"
        ) from None


def gauss_kruger_zone(lon: float) -> str:
    """The CGCS2000 3-degree Gauss-Krüger CRS (EPSG:4534–4554, no zone prefix) whose meridian is nearest `lon`.

    A longitude half-way between two meridians (118.5, 121.5, ...) belongs to the zone east of it.
    """
    # floor(x + 0.5) rather than round(): round() goes to even, sending 121.5 west but 124.5 east.
    meridian = math.floor(lon / 3.0 + 0.5) * 3
    meridian = min(max(meridian, 75), 135)
    return f"EPSG:{4534 + (meridian - 75) // 3}"


@functools.cache
def transformer(src: str, dst: str) -> Transformer:
    """A cached lon/lat-ordered transformer between two CRS given as strings."""
    return Transformer.from_crs(src, dst, always_xy=True)


def transform_geometries(geoms: np.ndarray | list, src: str, dst: str) -> np.ndarray:
    """Reproject an array of shapely geometries from `src` to `dst` (both given in x=lon order)."""
    t = transformer(src, dst)
    return shapely.transform(
        np.asarray(geoms, dtype=object), lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1]))
    )


def to_metric(geom: BaseGeometry, metric_crs: str = LOCAL_METRIC) -> BaseGeometry:
    """One lon/lat geometry in the local metric CRS (metres)."""
    return transform_geometries([geom], WGS84, metric_crs)[0]


def metres_to_degrees(distance_m: float, lat: float) -> tuple[float, float]:
    """A safe over-estimate of `distance_m` as (dlon, dlat) degrees at latitude `lat`, for index pre-filtering."""
    dlat = distance_m / 110_574.0 * 1.01 + 1e-9
    coslat = max(np.cos(np.radians(min(abs(lat) + dlat, 89.0))), 1e-6)
    dlon = distance_m / (111_320.0 * coslat) * 1.01 + 1e-9
    return dlon, dlat
