"""The spatial index: an R-tree keyed by feature id that narrows candidates, then shapely makes the exact call.

Queries take and return lon/lat (EPSG:4326); distances are metres, measured in a local metric CRS.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Literal

import numpy as np
import rtree
import shapely
from shapely.geometry import LineString, Point, box
from shapely.geometry.base import BaseGeometry

from geo.crs import LOCAL_METRIC, WGS84, transform_geometries, transformer
from geo.errors import InvalidBBox, InvalidGeometry

BBox = tuple[float, float, float, float]
Predicate = Literal["intersects", "within", "contains", "covers", "covered_by"]


def bbox_geometry(bbox: BBox) -> BaseGeometry:
    """The closed box as a geometry; a box with no width or height is the point or segment it collapses to.

    GEOS treats a collapsed polygon as having no interior, so a zero-area `box()` misses lines crossing it.
    """
    min_lon, min_lat, max_lon, max_lat = bbox
    if min_lon == max_lon and min_lat == max_lat:
        return Point(min_lon, min_lat)
    if min_lon == max_lon or min_lat == max_lat:
        return LineString([(min_lon, min_lat), (max_lon, max_lat)])
    return box(*bbox)


class SpatialIndex:
    """R-tree over features keyed by integer id; inserts and deletes need no rebuild.

    Empty and missing geometries are kept out of the index: no query can match them. Safe to share between the
    service's worker threads: libspatialindex is not, even for reads, so every use of a tree holds the index's lock
    (a query holds it for the R-tree walk only, a few microseconds; the exact geometry tests run outside it).
    """

    def __init__(
        self,
        ids: Iterable[int] = (),
        geometries: Iterable[BaseGeometry | None] = (),
        *,
        metric_crs: str = LOCAL_METRIC,
    ) -> None:
        self.metric_crs = metric_crs
        ids = np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids, dtype=np.int64)
        geoms = np.asarray(list(geometries) if not isinstance(geometries, np.ndarray) else geometries, dtype=object)
        if len(ids) != len(geoms):
            raise ValueError(f"{len(ids)} ids but {len(geoms)} geometries")
        if len(np.unique(ids)) != len(ids):
            raise ValueError("feature ids must be unique")
        keep = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms)) if len(geoms) else np.zeros(0, bool)
        ids, geoms = ids[keep], geoms[keep]
        self._geoms: dict[int, BaseGeometry] = dict(zip(ids.tolist(), geoms, strict=True))
        # Two trees over the same ids: lon/lat bounds for location queries, metric bounds for distances.
        # Distance candidates must come from metric bounds: a straight segment between projected vertices
        # bows away from the lon/lat segment (metres for a 20 km edge), so no degree box is a safe filter.
        self._tree = _bulk_load(ids, shapely.bounds(geoms) if len(geoms) else np.zeros((0, 4)))
        self._metric_tree = _bulk_load(ids, self._metric_bounds(geoms))
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._geoms)

    def __contains__(self, fid: int) -> bool:
        return fid in self._geoms

    def insert(self, fid: int, geom: BaseGeometry) -> None:
        """Add one feature; its id must be new and its geometry non-empty."""
        if fid in self._geoms:
            raise KeyError(f"feature {fid} is already indexed")
        if geom is None or geom.is_empty:
            raise InvalidGeometry(f"feature {fid} has an empty geometry; nothing to index")
        metric = tuple(self._metric_bounds([geom])[0])
        with self._lock:
            self._geoms[fid] = geom
            self._tree.insert(fid, geom.bounds)
            self._metric_tree.insert(fid, metric)

    def delete(self, fid: int) -> None:
        """Remove one feature by id."""
        geom = self._geoms.get(fid)
        if geom is None:
            raise KeyError(f"feature {fid} is not indexed")
        metric = tuple(self._metric_bounds([geom])[0])
        with self._lock:
            del self._geoms[fid]
            self._tree.delete(fid, geom.bounds)
            self._metric_tree.delete(fid, metric)

    # -- queries -------------------------------------------------------------------------------------------------

    def query(self, geom: BaseGeometry, predicate: Predicate = "intersects") -> np.ndarray:
        """Sorted ids i where `predicate(geom, geometry[i])` holds, as in shapely.STRtree.query."""
        candidates = self._candidates(geom.bounds)
        if not len(candidates):
            return candidates
        hits = getattr(shapely, predicate)(geom, self._geometries(candidates))
        return candidates[hits]

    def bbox(self, bbox: BBox) -> np.ndarray:
        """Sorted ids of features intersecting the box (min_lon, min_lat, max_lon, max_lat), edges included."""
        min_lon, min_lat, max_lon, max_lat = bbox
        if not (min_lon <= max_lon and min_lat <= max_lat):
            raise InvalidBBox(f"bbox must be min_lon,min_lat,max_lon,max_lat with min <= max, got {bbox}")
        return self.query(bbox_geometry(bbox))

    def within_distance(self, geom: BaseGeometry, distance_m: float) -> np.ndarray:
        """Sorted ids of features within `distance_m` metres of `geom` (inclusive), measured in the metric CRS."""
        if not distance_m >= 0:
            raise ValueError(f"distance_m must be >= 0, got {distance_m}")
        ids, _ = self._distances_within(self._to_metric(geom), distance_m)
        return ids

    def distances_within(self, geom: BaseGeometry, distance_m: float) -> list[tuple[int, float]]:
        """(id, metres) of features within `distance_m` of `geom`, nearest first; ties broken by id."""
        if not distance_m >= 0:
            raise ValueError(f"distance_m must be >= 0, got {distance_m}")
        ids, distances = self._distances_within(self._to_metric(geom), distance_m)
        order = np.lexsort((ids, distances))
        return [(int(ids[i]), float(distances[i])) for i in order]

    def nearest(self, geom: BaseGeometry, k: int = 1) -> list[tuple[int, float]]:
        """The `k` features nearest to `geom` as (id, metres), nearest first; ties broken by id."""
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        if not self._geoms:
            return []
        origin = self._to_metric(geom)
        # The k bounding-box neighbours in metres give an upper bound on the k-th true distance ...
        with self._lock:
            seeds = np.fromiter(self._metric_tree.nearest(origin.bounds, k), dtype=np.int64)
        radius = float(np.sort(self._metric_distances(origin, seeds))[min(k, len(seeds)) - 1])
        # ... and everything within that bound, measured exactly, holds the answer.
        ids, distances = self._distances_within(origin, radius)
        order = np.lexsort((ids, distances))[:k]
        return [(int(ids[i]), float(distances[i])) for i in order]

    def containing(self, point: BaseGeometry) -> np.ndarray:
        """Sorted ids of polygons covering `point` (a point on a shared border belongs to both sides)."""
        candidates = self._candidates(point.bounds)
        if not len(candidates):
            return candidates
        return candidates[shapely.covers(self._geometries(candidates), point)]

    def geometry(self, fid: int) -> BaseGeometry:
        """The indexed geometry of feature `fid`."""
        return self._geoms[fid]

    # -- internals -----------------------------------------------------------------------------------------------

    def _candidates(self, bounds: BBox, tree: rtree.index.Index | None = None) -> np.ndarray:
        """Sorted ids whose box in `tree` (default: the lon/lat tree) intersects `bounds`."""
        with self._lock:  # the generator walks the tree as it is consumed: consume it under the lock
            found = np.fromiter((self._tree if tree is None else tree).intersection(bounds), dtype=np.int64)
        found.sort()
        return found

    def _geometries(self, ids: np.ndarray) -> np.ndarray:
        out = np.empty(len(ids), dtype=object)
        out[:] = [self._geoms[i] for i in ids.tolist()]
        return out

    def _to_metric(self, geom: BaseGeometry) -> BaseGeometry:
        return transform_geometries([geom], WGS84, self.metric_crs)[0]

    def _metric_bounds(self, geoms: np.ndarray | list) -> np.ndarray:
        """Bounds (n x 4) in the metric CRS; where the projection fails (inf, NaN) the box is unbounded.

        Only vertices are reprojected, with no geometries built: the bounds of a reprojected geometry are the
        extremes of its reprojected vertices, and this keeps a million-feature build light on memory.
        """
        if not len(geoms):
            return np.zeros((0, 4))
        coords, owner = shapely.get_coordinates(np.asarray(geoms, dtype=object), return_index=True)
        x, y = transformer(WGS84, self.metric_crs).transform(coords[:, 0], coords[:, 1])
        starts = np.searchsorted(owner, np.arange(len(geoms)))  # every indexed geometry has a vertex
        bounds = np.column_stack(
            [
                np.minimum.reduceat(x, starts),
                np.minimum.reduceat(y, starts),
                np.maximum.reduceat(x, starts),
                np.maximum.reduceat(y, starts),
            ]
        )
        bounds[~np.isfinite(bounds).all(axis=1)] = _UNBOUNDED
        return bounds

    def _metric_distances(self, origin: BaseGeometry, ids: np.ndarray) -> np.ndarray:
        """Distances in metres from `origin` (already in the metric CRS) to features `ids`."""
        targets = transform_geometries(self._geometries(ids), WGS84, self.metric_crs)
        return shapely.distance(origin, targets)

    def _distances_within(self, origin: BaseGeometry, distance_m: float) -> tuple[np.ndarray, np.ndarray]:
        """Ids and distances of features within `distance_m` of `origin` (already in the metric CRS)."""
        # A hair of slack so rounding in the box test can never drop a feature at exactly distance_m.
        pad = distance_m * (1 + 1e-9) + 1e-6
        min_x, min_y, max_x, max_y = origin.bounds
        candidates = self._candidates((min_x - pad, min_y - pad, max_x + pad, max_y + pad), self._metric_tree)
        if not len(candidates):
            return candidates, np.zeros(0)
        distances = self._metric_distances(origin, candidates)
        keep = distances <= distance_m
        return candidates[keep], distances[keep]


#: Stand-in bounds for a geometry the metric CRS cannot represent: it stays a candidate for every distance query.
_UNBOUNDED = (-1e300, -1e300, 1e300, 1e300)


def _bulk_load(ids: np.ndarray, bounds: np.ndarray) -> rtree.index.Index:
    """An R-tree over `ids` with `bounds` (n x 4, min_x, min_y, max_x, max_y), bulk-loaded from arrays."""
    if not len(ids):
        return rtree.index.Index()
    try:
        return rtree.index.Index((ids, np.ascontiguousarray(bounds[:, :2]), np.ascontiguousarray(bounds[:, 2:])))
    except NotImplementedError:  # libspatialindex < 2.1 has no array bulk load; the stream loader is slower
        return rtree.index.Index((int(i), tuple(b), None) for i, b in zip(ids, bounds, strict=True))
