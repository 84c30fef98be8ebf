"""The spatial index: an R-tree keyed by feature id that narrows candidates, then shapely makes the exact call.

Queries take and return lon/lat (EPSG:4326); distances are metres, measured in a local metric CRS.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import numpy as np
import rtree
import shapely
from shapely.geometry import LineString, Point, box
from shapely.geometry.base import BaseGeometry

from geo.crs import LOCAL_METRIC, WGS84, metres_to_degrees, transform_geometries
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

    Empty and missing geometries are kept out of the index: no query can match them.
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
        bounds = shapely.bounds(geoms) if len(geoms) else np.zeros((0, 4))
        if len(ids):
            stream = ((int(i), tuple(b), None) for i, b in zip(ids, bounds, strict=True))
            self._tree = rtree.index.Index(stream)
        else:
            self._tree = rtree.index.Index()

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
        self._geoms[fid] = geom
        self._tree.insert(fid, geom.bounds)

    def delete(self, fid: int) -> None:
        """Remove one feature by id."""
        geom = self._geoms.pop(fid, None)
        if geom is None:
            raise KeyError(f"feature {fid} is not indexed")
        self._tree.delete(fid, geom.bounds)

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
        ids, _ = self._distances_within(geom, distance_m)
        return ids

    def nearest(self, geom: BaseGeometry, k: int = 1) -> list[tuple[int, float]]:
        """The `k` features nearest to `geom` as (id, metres), nearest first; ties broken by id."""
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        if not self._geoms:
            return []
        # Bounding-box neighbours in degrees give an upper bound on the k-th true distance in metres ...
        seeds = np.fromiter(self._tree.nearest(geom.bounds, k), dtype=np.int64)
        radius = float(np.sort(self._metric_distances(geom, seeds))[min(k, len(seeds)) - 1])
        # ... and everything within that bound, measured exactly, holds the answer.
        ids, distances = self._distances_within(geom, radius)
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

    def _candidates(self, bounds: tuple[float, float, float, float]) -> np.ndarray:
        found = np.fromiter(self._tree.intersection(bounds), dtype=np.int64)
        found.sort()
        return found

    def _geometries(self, ids: np.ndarray) -> np.ndarray:
        out = np.empty(len(ids), dtype=object)
        out[:] = [self._geoms[i] for i in ids.tolist()]
        return out

    def _metric_distances(self, geom: BaseGeometry, ids: np.ndarray) -> np.ndarray:
        targets = transform_geometries(self._geometries(ids), WGS84, self.metric_crs)
        origin = transform_geometries([geom], WGS84, self.metric_crs)[0]
        return shapely.distance(origin, targets)

    def _distances_within(self, geom: BaseGeometry, distance_m: float) -> tuple[np.ndarray, np.ndarray]:
        min_lon, min_lat, max_lon, max_lat = geom.bounds
        dlon, dlat = metres_to_degrees(distance_m, max(abs(min_lat), abs(max_lat)))
        candidates = self._candidates((min_lon - dlon, min_lat - dlat, max_lon + dlon, max_lat + dlat))
        if not len(candidates):
            return candidates, np.zeros(0)
        distances = self._metric_distances(geom, candidates)
        keep = distances <= distance_m
        return candidates[keep], distances[keep]
