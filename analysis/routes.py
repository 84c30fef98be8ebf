"""Road centrelines as routes for linear referencing, indexed for placing crashes on them.

Roads are projected to metres, split into single lines and merged end to end into routes (by route code, else
name), so a crash's position along its route is cheap to find; crashes are placed on their own road (`road_id`)
when it is close enough, otherwise on the nearest road, through a spatial index. The accident-prone spot screening
(analysis.screening) slides its windows along these positions.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from shapely.geometry import LineString, Point

from geo.crs import LOCAL_METRIC, WGS84, transform_geometries

#: Coordinates pass through lon/lat and back, so "inclusive" boundaries get a millimetre of slack.
SLACK_M = 1e-3


@dataclass
class Snapped:
    """Where each crash was placed: the road piece (-1: not placed), its distance and whether by its road_id."""

    piece: np.ndarray
    distance_m: np.ndarray
    by_road_id: np.ndarray


class Routes:
    """Road centrelines in metres, merged into routes for linear referencing, indexed for snapping.

    Roads are split into single lines ("pieces"); the pieces of one route (route code, else name) are merged end to
    end into "parts" once (`shapely.line_merge`), and each piece learns its offset and direction along its part by
    matching its first edge against the parts' edges, so a crash's position along the route is its offset along
    its own short piece plus the piece's offset: no search over long routes per crash. A route whose majority
    technical class is one of `high_grade_classes` is flagged in `route_high`.
    """

    def __init__(self, roads: pd.DataFrame, high_grade_classes: Collection[str] = ()) -> None:
        self.fids = roads.index.to_numpy()
        self._fid_index = pd.Index(self.fids)
        n_roads = len(roads)
        metric = transform_geometries(roads.geometry.to_numpy(), WGS84, LOCAL_METRIC)
        pieces, piece_road = shapely.get_parts(metric, return_index=True)
        keep = (shapely.get_type_id(pieces) == 1) & (shapely.length(pieces) > 0)
        self.pieces = _without_repeated_points(pieces[keep])  # as line_merge does, so that edges match
        self.piece_road = piece_road[keep]
        coords, owner = shapely.get_coordinates(self.pieces, return_index=True)
        starts = np.searchsorted(owner, np.arange(len(self.pieces) + 1))
        self._first_xy, self._second_xy, self._last_xy = (
            coords[starts[:-1]],
            coords[starts[:-1] + 1],
            coords[starts[1:] - 1],
        )
        self.piece_length = shapely.length(self.pieces)
        self.road_length = np.bincount(self.piece_road, weights=self.piece_length, minlength=n_roads)
        self._road_first = np.searchsorted(self.piece_road, np.arange(n_roads))  # get_parts keeps road order
        self._road_count = np.bincount(self.piece_road, minlength=n_roads)
        self.tree = shapely.STRtree(self.pieces)

        key = self._route_keys(roads)
        self.route_of_road, self.routes = pd.factorize(key, sort=True)
        tech = values_of(roads, "tech_class")
        self.tech_class = np.where(pd.isna(tech), "unknown", tech).astype(object)
        self.aadt = pd.to_numeric(pd.Series(values_of(roads, "aadt")), errors="coerce").to_numpy(dtype=float)
        self.route_class = self._majority_class()
        self.route_high = pd.Series(self.route_class).isin(high_grade_classes).to_numpy()
        self._merge_routes()

    def _route_keys(self, roads: pd.DataFrame) -> pd.Series:
        """Each road's route: its route code, else its name, else a route of its own ("#fid")."""
        key = pd.Series(np.full(len(roads), None, dtype=object))
        for column in ("name", "route_code"):  # the code, where there is one, wins
            values = pd.Series(values_of(roads, column))
            given = values.notna() & (values.astype(str).str.strip() != "")
            key[given.to_numpy()] = values[given].astype(str).to_numpy()
        alone = key.isna().to_numpy()
        key[alone] = [f"#{fid}" for fid in self.fids[alone]]
        return key.astype(str)

    def _majority_class(self) -> np.ndarray:
        """Each route's technical class: the one covering most of its length (ties: the first in sort order)."""
        by = pd.DataFrame(
            {
                "route": self.route_of_road[self.piece_road],
                "tech": self.tech_class[self.piece_road],
                "length": self.piece_length,
            }
        )
        total = by.groupby(["route", "tech"], sort=True)["length"].sum().reset_index()
        top = total.sort_values(["route", "length", "tech"], ascending=[True, False, True], kind="stable")
        top = top.drop_duplicates("route")
        out = np.full(len(self.routes), "unknown", dtype=object)
        out[top["route"].to_numpy()] = top["tech"].to_numpy()
        return out

    def _merge_routes(self) -> None:
        """Merge each route's pieces into parts; give every piece its part, offset and direction along it."""
        piece_route = self.route_of_road[self.piece_road]
        order = np.argsort(piece_route, kind="stable")
        present, group = np.unique(piece_route[order], return_inverse=True)
        merged = shapely.line_merge(shapely.multilinestrings(self.pieces[order], indices=group))
        parts, which = shapely.get_parts(merged, return_index=True)
        part_route = present[which]
        table = _vertex_table(parts)
        piece_part, offset, direction = _match_first_edges(
            table, part_route, piece_route, self._first_xy, self._second_xy
        )
        lost = np.flatnonzero(piece_part < 0)
        if len(lost):  # should not happen; a piece that matches no edge becomes a part of its own
            piece_part[lost] = len(parts) + np.arange(len(lost))
            offset[lost], direction[lost] = 0.0, 1.0
            parts = np.concatenate([parts, self.pieces[lost]])
            part_route = np.concatenate([part_route, piece_route[lost]])
            table = _vertex_table(parts)
        self.piece_part, self.piece_offset, self.piece_direction = piece_part, offset, direction
        self.part_route = part_route
        self.part_length = table["cum"][table["last"]]
        self._vx, self._vy, self._vcum, self._vfirst = table["x"], table["y"], table["cum"], table["first"]

    def snap(self, xy: np.ndarray, road_ids: np.ndarray, max_snap_m: float) -> Snapped:
        """Place points (metric x, y; NaN: no location): on their own road within `max_snap_m`, else the nearest."""
        n = len(xy)
        piece = np.full(n, -1)
        distance = np.full(n, np.nan)
        by_id = np.zeros(n, dtype=bool)
        valid = np.isfinite(xy).all(axis=1)
        points = np.full(n, None, dtype=object)
        points[valid] = shapely.points(xy[valid])
        limit = max_snap_m + SLACK_M

        road = self.road_positions(road_ids)
        has = np.flatnonzero(valid & (road >= 0))
        if len(has):
            count = self._road_count[road[has]]
            crash = np.repeat(has, count)
            start = np.repeat(self._road_first[road[has]], count)
            within = np.arange(len(crash)) - np.repeat(np.cumsum(count) - count, count)
            candidate = start + within
            d = shapely.distance(points[crash], self.pieces[candidate])
            best = first_per_group(crash, d, candidate)
            crash, candidate, d = crash[best], candidate[best], d[best]
            ok = d <= limit
            piece[crash[ok]], distance[crash[ok]], by_id[crash[ok]] = candidate[ok], d[ok], True

        rest = np.flatnonzero(valid & (piece < 0))
        if len(rest) and len(self.pieces):
            (which, found), d = self.tree.query_nearest(
                points[rest], max_distance=limit, return_distance=True, all_matches=True
            )
            best = first_per_group(which, found)  # equidistant roads: the first in the layer's order
            piece[rest[which[best]]] = found[best]
            distance[rest[which[best]]] = d[best]
        return Snapped(piece, distance, by_id)

    def road_positions(self, road_ids: np.ndarray) -> np.ndarray:
        """Row positions of road fids in the road layer; -1 where missing or unknown."""
        ids = pd.to_numeric(pd.Series(road_ids, dtype=object), errors="coerce").to_numpy(dtype=float)
        out = np.full(len(ids), -1)
        known = np.isfinite(ids)
        out[known] = self._fid_index.get_indexer(ids[known].astype(np.int64))
        return out

    def nearest_distance(self, xy: np.ndarray) -> np.ndarray:
        """Distance from each point to the nearest road piece (NaN without roads)."""
        if not len(self.pieces) or not len(xy):
            return np.full(len(xy), np.nan)
        (which, _), d = self.tree.query_nearest(shapely.points(xy), return_distance=True, all_matches=False)
        out = np.full(len(xy), np.nan)
        out[which] = d
        return out

    def locate(self, piece: np.ndarray, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The part and the distance along it (m) of points placed on the given pieces."""
        along = shapely.line_locate_point(self.pieces[piece], shapely.points(xy))
        return self.piece_part[piece], self.piece_offset[piece] + self.piece_direction[piece] * along

    def part_geometry(self, part: int, start_m: float, end_m: float) -> LineString | Point:
        """The stretch of a part between two distances along it (metric); a point where they are equal."""
        lo, hi = self._vfirst[part], self._vfirst[part + 1]
        cum, x, y = self._vcum[lo:hi], self._vx[lo:hi], self._vy[lo:hi]
        if end_m <= start_m:
            return Point(np.interp(start_m, cum, x), np.interp(start_m, cum, y))
        inner = slice(np.searchsorted(cum, start_m, side="right"), np.searchsorted(cum, end_m, side="left"))
        xs = np.concatenate([[np.interp(start_m, cum, x)], x[inner], [np.interp(end_m, cum, x)]])
        ys = np.concatenate([[np.interp(start_m, cum, y)], y[inner], [np.interp(end_m, cum, y)]])
        return LineString(np.column_stack([xs, ys]))

    def legs(self, centres: np.ndarray, tolerance_m: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(junction, road position, legs) for each road within `tolerance_m` of a junction centre.

        A road ending at the junction is one leg; one passing through it is two.
        """
        if not len(self.pieces) or not len(centres):
            return np.zeros(0, int), np.zeros(0, int), np.zeros(0, int)
        junction, piece = self.tree.query(centres, predicate="dwithin", distance=tolerance_m)
        at = np.column_stack([shapely.get_x(centres[junction]), shapely.get_y(centres[junction])])
        ends = np.minimum(
            np.hypot(*(self._first_xy[piece] - at).T),
            np.hypot(*(self._last_xy[piece] - at).T),
        )
        legs = np.where(ends <= tolerance_m, 1, 2)
        return junction, self.piece_road[piece], legs


def values_of(frame: pd.DataFrame, name: str) -> np.ndarray:
    """A column as an object array, all missing when the frame lacks it: optional layer fields read alike."""
    if name in frame:
        return frame[name].astype(object).to_numpy().copy()
    return np.full(len(frame), None, dtype=object)


def _without_repeated_points(lines: np.ndarray) -> np.ndarray:
    """The lines with consecutive duplicate vertices removed, touching only the lines that have any."""
    coords, owner = shapely.get_coordinates(lines, return_index=True)
    repeated = (owner[1:] == owner[:-1]) & (coords[1:] == coords[:-1]).all(axis=1)
    if repeated.any():
        lines = lines.copy()
        fix = np.unique(owner[1:][repeated])
        lines[fix] = shapely.remove_repeated_points(lines[fix])
    return lines


def first_per_group(group: np.ndarray, *keys: np.ndarray) -> np.ndarray:
    """Positions of the first row of each group after sorting by `keys` (primary first): a vectorised argmin."""
    order = np.lexsort((*reversed(keys), group))
    first = np.ones(len(order), dtype=bool)
    first[1:] = group[order][1:] != group[order][:-1]
    return order[first]


def _vertex_table(parts: np.ndarray) -> dict[str, np.ndarray]:
    """Every vertex of every part with its distance along the part; `first[p]` is part p's first vertex."""
    coords, owner = shapely.get_coordinates(parts, return_index=True)
    step = np.hypot(*np.diff(coords, axis=0).T) if len(coords) else np.zeros(0)
    same = owner[1:] == owner[:-1]
    total = np.concatenate([[0.0], np.cumsum(np.where(same, step, 0.0))])
    first = np.searchsorted(owner, np.arange(len(parts) + 1))
    cum = total - total[first[:-1]][owner] if len(coords) else total[:0]
    last = first[1:] - 1
    return {"x": coords[:, 0], "y": coords[:, 1], "cum": cum, "owner": owner, "first": first, "last": last}


def _match_first_edges(
    table: dict[str, np.ndarray],
    part_route: np.ndarray,
    piece_route: np.ndarray,
    first: np.ndarray,
    second: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each piece, the part holding its first edge, the offset of its first vertex and its direction (±1).

    Edges are matched exactly (route, start and end coordinates) through a 64-bit hash and a sorted search, then
    checked coordinate by coordinate, so a hash collision can only leave a piece unmatched, never misplace it.
    """
    x, y, cum, owner = table["x"], table["y"], table["cum"], table["owner"]
    edge = np.flatnonzero(owner[1:] == owner[:-1])
    edge_route = part_route[owner[edge]]
    a_xy = np.column_stack([x[edge], y[edge]])
    b_xy = np.column_stack([x[edge + 1], y[edge + 1]])
    edge_hash = _edge_hash(edge_route, a_xy, b_xy)
    order = np.argsort(edge_hash, kind="stable")
    sorted_hash = edge_hash[order]
    n = len(piece_route)
    part = np.full(n, -1)
    offset = np.zeros(n)
    direction = np.ones(n)
    if not len(edge):
        return part, offset, direction
    # Forward: the part runs the piece's way, its first vertex is the edge's start; backward: the other way round.
    for start, end, sign in ((first, second, 1.0), (second, first, -1.0)):
        todo = np.flatnonzero(part < 0)
        at = np.searchsorted(sorted_hash, _edge_hash(piece_route[todo], start[todo], end[todo]))
        e = order[np.minimum(at, len(sorted_hash) - 1)]
        same = (edge_route[e] == piece_route[todo]) & (a_xy[e] == start[todo]).all(1) & (b_xy[e] == end[todo]).all(1)
        hit, e = todo[same], e[same]
        part[hit] = owner[edge[e]]
        offset[hit] = cum[edge[e]] if sign > 0 else cum[edge[e] + 1]
        direction[hit] = sign
    return part, offset, direction


def _edge_hash(route: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A 64-bit hash of (route, a.x, a.y, b.x, b.y) from the exact bits of the coordinates (splitmix64 mixing)."""
    h = np.asarray(route, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    for column in (a[:, 0], a[:, 1], b[:, 0], b[:, 1]):
        h = (h ^ np.ascontiguousarray(column, dtype=np.float64).view(np.uint64)) * np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(31)
    return h
