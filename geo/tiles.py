"""Web-Mercator XYZ tiles: parse an address, find its bounds, and cut geometries to it in tile coordinates.

A tile's lon/lat box and its web-Mercator box are the same place (the projection keeps meridians and parallels
straight), so features are chosen in lon/lat through the R-tree and drawn from web-Mercator copies. Those copies
are made from edges densified first: an edge that is straight in lon/lat is a curve in web Mercator, and without
the extra vertices a long road would leave the tiles its lon/lat line crosses, or cross tiles it does not touch.

Tile coordinates run from 0 to `EXTENT` across the tile, y upwards from its southern edge (the encoder flips y).
"""

from __future__ import annotations

import re

import mercantile
import numpy as np
import shapely
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from geo.crs import WGS84, transformer
from geo.errors import GeoError
from geo.index import BBox

WEB_MERCATOR = "EPSG:3857"
MAX_ZOOM = 22
#: Tile coordinate units across a tile (the Mapbox Vector Tile default).
EXTENT = 4096
#: Geometry kept beyond each edge, in tile units, so that strokes and symbols do not stop short at the seams.
BUFFER = 64
#: Lines and polygons are simplified to half a pixel of a tile drawn 512 pixels wide (8 units a pixel).
SIMPLIFY = 4.0
#: Longest edge, in degrees, kept before projection: a lon/lat edge this long bows about 3 cm in web Mercator at 43° N.
DENSIFY_DEGREES = 0.01
#: The web-Mercator square ends here; features further north or south are drawn on its edge.
MAX_LATITUDE = 85.0511287798066

_INTEGER = re.compile(r"-?[0-9]+")
_SUFFIX = re.compile(r"\.(pbf|mvt)$")


class InvalidTile(GeoError, ValueError):
    """A tile address that is not whole numbers, or lies outside the tile grid of its zoom."""


def parse_tile(z: str, x: str, y: str) -> mercantile.Tile:
    """The tile at z/x/y (y may end in .pbf or .mvt); InvalidTile saying the valid range otherwise."""
    y = _SUFFIX.sub("", y)
    try:
        if not all(_INTEGER.fullmatch(v) for v in (z, x, y)):
            raise ValueError
        zoom, col, row = int(z), int(x), int(y)
    except ValueError:  # also a number too long for int()
        raise InvalidTile(
            f"tile {z}/{x}/{y}: z, x and y must be whole numbers — z from 0 to {MAX_ZOOM}, x and y from 0 to 2^z − 1"
        ) from None
    if not 0 <= zoom <= MAX_ZOOM:
        raise InvalidTile(f"tile {z}/{x}/{y}: zoom must be 0 to {MAX_ZOOM}, got {zoom}")
    last = 2**zoom - 1
    if not (0 <= col <= last and 0 <= row <= last):
        raise InvalidTile(f"tile {z}/{x}/{y}: at zoom {zoom}, x and y must be 0 to {last}")
    return mercantile.Tile(col, row, zoom)


def lonlat_bounds(tile: mercantile.Tile) -> BBox:
    """(min_lon, min_lat, max_lon, max_lat) of the tile."""
    west, south, east, north = mercantile.bounds(tile)
    return (west, south, east, north)


def to_web_mercator(geoms: np.ndarray) -> np.ndarray:
    """Lon/lat geometries in web-Mercator metres, edges densified first (see the module docstring)."""
    geoms = shapely.segmentize(np.asarray(geoms, dtype=object), DENSIFY_DEGREES)
    forward = transformer(WGS84, WEB_MERCATOR)

    def project(xy: np.ndarray) -> np.ndarray:
        lat = np.clip(xy[:, 1], -MAX_LATITUDE, MAX_LATITUDE)
        return np.column_stack(forward.transform(xy[:, 0], lat))

    return shapely.transform(geoms, project)


def to_tile(mercator: np.ndarray, tile: mercantile.Tile) -> np.ndarray:
    """Web-Mercator geometries in the tile's units: clipped to the tile and its buffer, simplified, snapped to the
    integer grid.

    Every geometry keeps a part of its own dimension: one that the grid would collapse (a house at a low zoom) or
    that clipping would lose becomes the smallest shape on the grid at its place, a one-unit square or segment, so
    that each feature meeting the tile is in it.
    """
    left, bottom, right, top = mercantile.xy_bounds(tile)
    scale = np.array([EXTENT / (right - left), EXTENT / (top - bottom)])
    origin = np.array([left, bottom])
    local = shapely.transform(np.asarray(mercator, dtype=object), lambda xy: (xy - origin) * scale)
    clipped = shapely.clip_by_rect(local, -BUFFER, -BUFFER, EXTENT + BUFFER, EXTENT + BUFFER)
    dims = shapely.get_dimensions(local)
    mixed = shapely.get_type_id(clipped) == shapely.GeometryType.GEOMETRYCOLLECTION
    clipped[mixed] = [_of_dimension(g, d) for g, d in zip(clipped[mixed], dims[mixed], strict=True)]
    simplified = np.where(dims > 0, shapely.simplify(clipped, SIMPLIFY, preserve_topology=True), clipped)
    # Rounding vertex by vertex is enough for nearly every geometry; the few it makes invalid are snapped again with
    # GEOS's precision reducer, which keeps them valid (and empties what collapses) but costs twenty times more.
    snapped = shapely.set_precision(simplified, 1.0, mode="pointwise")
    broken = ~shapely.is_valid(snapped)
    if broken.any():
        snapped[broken] = shapely.set_precision(simplified[broken], 1.0)
    lost = shapely.is_empty(snapped) | (shapely.get_dimensions(snapped) < dims)
    if lost.any():
        snapped[lost] = _smallest(local[lost], clipped[lost], dims[lost])
    return snapped


def _of_dimension(geom: BaseGeometry, dim: int) -> BaseGeometry:
    """The parts of a clipped collection that have the feature's dimension (clipping can add stray edges)."""
    parts = [p for p in shapely.get_parts(geom) if shapely.get_dimensions(p) == dim]
    if not parts:
        return shapely.from_wkt("POINT EMPTY")
    return shapely.union_all(parts) if len(parts) > 1 else parts[0]


def _smallest(local: np.ndarray, clipped: np.ndarray, dims: np.ndarray) -> np.ndarray:
    """One-unit squares, segments or points on the grid where each feature meets the tile."""
    anchors = shapely.point_on_surface(clipped)
    outside = shapely.is_empty(clipped)
    if outside.any():  # the feature meets the lon/lat tile but not the buffered grid: it lies on the tile's edge
        edge = box(-BUFFER, -BUFFER, EXTENT + BUFFER, EXTENT + BUFFER)
        anchors[outside] = shapely.get_point(shapely.shortest_line(local[outside], edge), 1)
    xy = np.clip(np.floor(shapely.get_coordinates(anchors)), -BUFFER, EXTENT + BUFFER - 1)
    out = shapely.points(xy)
    squares, segments = dims == 2, dims == 1
    x, y = xy[squares, 0], xy[squares, 1]
    out[squares] = shapely.box(x, y, x + 1, y + 1)
    out[segments] = shapely.linestrings(np.stack([xy[segments], xy[segments] + [1, 0]], axis=1))
    return out
