"""GCJ-02 ("Mars coordinates"): shift our WGS 84 / CGCS2000 features so they sit right on AMap (Gaode) tiles.

AMap's web tiles are drawn in GCJ-02, the obfuscated datum mandated in China: a feature drawn on them with its
true WGS 84 coordinates lands a few hundred metres off. This module implements the public forward formula
(Krasovsky 1940 ellipsoid plus the well-known polynomial-and-sine offset) and a numerical inverse.

GCJ-02 is a display-only concern: it is applied on the way out to a map over AMap tiles and never stored.
Everything we keep stays in WGS 84 / CGCS2000 (equal at this scale). Argument order is lon, lat (x, y) throughout.
"""

from __future__ import annotations

from typing import overload

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from shapely.geometry.base import BaseGeometry

#: Krasovsky 1940 semi-major axis (m) and first eccentricity squared, as in the public GCJ-02 formula.
KRASOVSKY_A = 6378245.0
KRASOVSKY_EE = 0.00669342162296594323

#: The rough lon/lat box the common implementations use to decide whether to shift at all.
CHINA_LON = (72.004, 137.8347)
CHINA_LAT = (0.8293, 55.8271)

#: The inverse stops once the forward transform of its result reproduces the input to this many degrees (~1 cm).
INVERSE_TOLERANCE_DEG = 1e-7
_MAX_ITERATIONS = 30


def in_china(lon: ArrayLike, lat: ArrayLike) -> bool | NDArray[np.bool_]:
    """Whether each point falls in the rough box around China where GCJ-02 applies.

    This is the same coarse rectangle the common implementations test (lon 72.004–137.8347 E,
    lat 0.8293–55.8271 N), not a border: it also takes in parts of neighbouring countries (Mongolia,
    the Korean peninsula, much of South-East Asia) and Taiwan. Points outside it are never shifted.
    A bool for scalar input, a bool array of the broadcast shape for arrays. NaN is outside.
    """
    x = np.asarray(lon, dtype=float)
    y = np.asarray(lat, dtype=float)
    inside = (CHINA_LON[0] <= x) & (x <= CHINA_LON[1]) & (CHINA_LAT[0] <= y) & (y <= CHINA_LAT[1])
    return bool(inside) if inside.ndim == 0 else inside


def _offset(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The GCJ-02 offset (dlon, dlat) in degrees at WGS 84 points, with no box test."""
    # The offset is a function of the position relative to (105 E, 35 N), in metres on the Krasovsky ellipsoid.
    x = lon - 105.0
    y = lat - 35.0
    # Terms shared by both components: a fast wiggle in x.
    wiggle = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    north_m = (
        -100.0
        + 2.0 * x
        + 3.0 * y
        + 0.2 * y * y
        + 0.1 * x * y
        + 0.2 * np.sqrt(np.abs(x))
        + wiggle
        + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
        + (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y / 30.0 * np.pi)) * 2.0 / 3.0
    )
    east_m = (
        300.0
        + x
        + 2.0 * y
        + 0.1 * x * x
        + 0.1 * x * y
        + 0.1 * np.sqrt(np.abs(x))
        + wiggle
        + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
        + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    )
    # Metres to degrees with the meridian (M) and prime-vertical (N) radii of curvature at this latitude.
    phi = np.radians(lat)
    w2 = 1.0 - KRASOVSKY_EE * np.sin(phi) ** 2
    meridian_radius = KRASOVSKY_A * (1.0 - KRASOVSKY_EE) / (w2 * np.sqrt(w2))
    normal_radius = KRASOVSKY_A / np.sqrt(w2)
    dlat = np.degrees(north_m / meridian_radius)
    dlon = np.degrees(east_m / (normal_radius * np.cos(phi)))
    return dlon, dlat


def _as_arrays(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Float64 copies of lon and lat, broadcast to one shape."""
    x, y = np.broadcast_arrays(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return x.copy(), y.copy()


def _like_input(x: NDArray[np.float64], y: NDArray[np.float64]) -> tuple[float, float] | tuple[NDArray, NDArray]:
    """Plain floats for scalar input, arrays otherwise."""
    if x.ndim == 0:
        return float(x), float(y)
    return x, y


@overload
def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]: ...
@overload
def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]: ...
def wgs84_to_gcj02(
    lon: ArrayLike, lat: ArrayLike
) -> tuple[float, float] | tuple[NDArray[np.float64], NDArray[np.float64]]:
    """WGS 84 lon/lat to GCJ-02 lon/lat, for drawing over AMap tiles.

    Accepts floats or array-likes (broadcast together, vectorised with numpy) and returns floats or
    float64 arrays of the broadcast shape. Points outside the rough China box (see `in_china`) and NaN
    come back unchanged.
    """
    x, y = _as_arrays(lon, lat)
    inside = np.asarray(in_china(x, y))
    if inside.any():
        dlon, dlat = _offset(x[inside], y[inside])
        x[inside] += dlon
        y[inside] += dlat
    return _like_input(x, y)


@overload
def gcj02_to_wgs84(lon: float, lat: float) -> tuple[float, float]: ...
@overload
def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]: ...
def gcj02_to_wgs84(
    lon: ArrayLike, lat: ArrayLike
) -> tuple[float, float] | tuple[NDArray[np.float64], NDArray[np.float64]]:
    """GCJ-02 lon/lat back to WGS 84 lon/lat, e.g. for a point picked on an AMap map.

    GCJ-02 has no closed-form inverse. This solves it by fixed-point iteration, w <- w - (gcj02(w) - g),
    starting from w = g, until the round trip gcj02(w) is within 1e-7 degrees (`INVERSE_TOLERANCE_DEG`,
    about 1 cm) of the input for every point. Each round shrinks the error about a hundredfold, so this
    takes four rounds, and the last correction leaves the round trip far closer than the tolerance.
    Vectorised like `wgs84_to_gcj02`; points outside the rough China box and NaN come back unchanged.
    """
    x, y = _as_arrays(lon, lat)
    inside = np.asarray(in_china(x, y))
    if inside.any():
        g_lon, g_lat = x[inside], y[inside]
        w_lon, w_lat = g_lon.copy(), g_lat.copy()
        # Iterate each point only until it has converged, so a point's result does not depend on its neighbours.
        todo = np.arange(g_lon.size)
        for _ in range(_MAX_ITERATIONS):
            dlon, dlat = _offset(w_lon[todo], w_lat[todo])
            err_lon = w_lon[todo] + dlon - g_lon[todo]
            err_lat = w_lat[todo] + dlat - g_lat[todo]
            w_lon[todo] -= err_lon
            w_lat[todo] -= err_lat
            todo = todo[(np.abs(err_lon) >= INVERSE_TOLERANCE_DEG) | (np.abs(err_lat) >= INVERSE_TOLERANCE_DEG)]
            if todo.size == 0:
                break
        else:  # pragma: no cover - the map is a strong contraction; this would be a bug
            raise ArithmeticError(f"GCJ-02 inverse did not converge in {_MAX_ITERATIONS} iterations")
        x[inside] = w_lon
        y[inside] = w_lat
    return _like_input(x, y)


def _shift_xy(xy: NDArray[np.float64]) -> NDArray[np.float64]:
    """Shift an (N, 2) array of lon/lat rows to GCJ-02, for `shapely.transform`."""
    lon, lat = wgs84_to_gcj02(xy[:, 0], xy[:, 1])
    return np.column_stack([lon, lat])


def shift_geometry(geom: BaseGeometry) -> BaseGeometry:
    """One WGS 84 lon/lat shapely geometry shifted to GCJ-02 for display over AMap tiles.

    The geometry type and vertex count are kept; the result is 2D (any Z is dropped, as a map does not need it).
    """
    return shapely.transform(geom, _shift_xy, include_z=False)


def shift_geometries(geoms: ArrayLike) -> NDArray[np.object_]:
    """An array of WGS 84 lon/lat shapely geometries shifted to GCJ-02, in one vectorised pass.

    Same shape as the input; each geometry keeps its type and vertex count and comes back 2D; None stays None.
    """
    return shapely.transform(np.asarray(geoms, dtype=object), _shift_xy, include_z=False)
