"""The road and fire-lane network a fire engine drives: one graph, places snapped to it, cuts, shortest paths, bands.

All in metres (EPSG:4549 unless `ResponseParams.metric_crs` says otherwise):

- Roads and fire lanes are noded into one graph by `geo.network.build_network`; a lane joins the roads where it
  meets them. Where a lane is drawn along a road (a street designated as a fire lane), the lane takes that stretch
  over, at the road's speed, so an obstruction on it blocks the street too.
- Travel time on an edge is its length over the engine speed of its class (`ResponseParams`, assumptions [K]).
- A place (a station, a building) reaches the network at the nearest point of the nearest edge (STRtree).
- The graph is cut into pieces at the stations and at the blockages: a lane closed along its whole length drops its
  pieces, and a cut splits its edge so that the two sides no longer meet while it is in place.
- Times from every station of a class to every node come from one multi-source `scipy.sparse.csgraph.dijkstra`
  (`min_only=True`), each station entered through its own source node carrying its turn-out and yard time; a place
  on a piece is reached from the quicker of the piece's two ends.
- Band pieces are the stretches of each piece reached within each band, split where a band boundary falls.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from analysis.response_params import ResponseParams, class_key, missing
from geo.crs import WGS84, transform_geometries
from geo.network import NetworkRepairs, build_network, run_starts

#: Edge kind of a fire lane that does not run along a road.
FIRE_LANE = "fire_lane"


# -- the network -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ResponseNetwork:
    """Roads and fire lanes noded into one graph (metres), with each edge's speed, lane and road.

    Edges are undirected for the engine. `edge_lane` is the fire lane's fid (-1 on roads), `edge_road` the road's
    fid (-1 on lanes), `edge_kind` the road's administrative class or "fire_lane".
    """

    edges: np.ndarray  # LineStrings, metres
    length_m: np.ndarray
    speed_ms: np.ndarray  # engine speed, m/s
    edge_nodes: np.ndarray  # (m, 2)
    node_xy: np.ndarray  # (n, 2)
    edge_lane: np.ndarray
    edge_road: np.ndarray
    edge_kind: np.ndarray
    repairs: NetworkRepairs  # what noding the input lines repaired (geo.network)
    rejoin_repairs: NetworkRepairs | None  # the second noding, after lanes took road stretches over (None: none did)
    road_edges_taken_by_lanes: int  # road edges dropped because a lane runs along them

    @property
    def n_nodes(self) -> int:
        """Nodes of the noded network."""
        return len(self.node_xy)

    @cached_property
    def tree(self) -> shapely.STRtree:
        """Spatial index over the edges, for snapping."""
        return shapely.STRtree(self.edges)


def response_network(
    road_lines: Any,
    *,
    road_class: Iterable[Any] | None = None,
    road_speed_limit_kmh: Iterable[Any] | None = None,
    road_grade_separated: Iterable[Any] | None = None,
    road_fids: Iterable[int] | None = None,
    lane_lines: Any = (),
    lane_fids: Iterable[int] | None = None,
    params: ResponseParams | None = None,
) -> ResponseNetwork:
    """Roads (metres, with class, posted limit and grade separation per line) and fire lanes as one graph.

    Fids default to 1..n. A road stretch lying within `lane_on_road_m` of a lane is dropped and the lane runs
    there at the road's speed: one carriageway, so a blockage on the lane blocks it.
    """
    params = params or ResponseParams()
    roads = _geoms(road_lines)
    lanes = _geoms(lane_lines)
    n_r, n_l = len(roads), len(lanes)
    r_fid = _ids(road_fids, n_r)
    l_fid = _ids(lane_fids, n_l)
    r_class = _values(road_class, n_r, None)
    r_limit = np.array([_num(v) for v in _values(road_speed_limit_kmh, n_r, None)], dtype=float)
    r_flag = np.array([bool(v) if not missing(v) else False for v in _values(road_grade_separated, n_r, False)])

    kinds = np.array([class_key(c) for c in r_class], dtype=object)
    road_kmh = np.array([_road_kmh(k, lim, params) for k, lim in zip(kinds, r_limit, strict=True)], dtype=float)

    net = build_network(
        np.concatenate([roads, lanes]), np.concatenate([r_flag, np.zeros(n_l, bool)]), params=params.network
    )
    repairs = net.repairs
    src = np.asarray(net.edge_source, dtype=np.int64)
    edges = np.asarray(net.edges, dtype=object)
    road_of = np.where(src < n_r, src, -1)  # input road line of each edge, -1 on lanes

    # A lane drawn along a road is that road: drop the road edges lying within lane_on_road_m of a lane and node the
    # rest with the lanes again, so roads that met the dropped stretch now meet the lane.
    taken = np.empty(0, np.int64)
    rejoin = None
    if n_l and n_r and params.lane_on_road_m > 0:
        road_e = np.flatnonzero(road_of >= 0)
        usable = lanes[~shapely.is_missing(lanes) & ~shapely.is_empty(lanes)]
        q, _ = shapely.STRtree(shapely.buffer(usable, params.lane_on_road_m)).query(
            edges[road_e], predicate="covered_by"
        )
        taken = road_e[np.unique(q)]
    if len(taken):
        kept = np.setdiff1d(np.flatnonzero(road_of >= 0), taken)
        taken_lines, taken_road = edges[taken], road_of[taken]
        net = build_network(
            np.concatenate([edges[kept], lanes]),
            np.concatenate([r_flag[road_of[kept]], np.zeros(n_l, bool)]),
            params=params.network,
        )
        rejoin = net.repairs
        src = np.asarray(net.edge_source, dtype=np.int64)
        edges = np.asarray(net.edges, dtype=object)
        road_of = np.where(src < len(kept), road_of[kept][np.minimum(src, len(kept) - 1)] if len(kept) else -1, -1)
        lane_src = src - len(kept)
    else:
        lane_src = src - n_r
    is_lane = road_of < 0
    edge_lane = np.where(is_lane, l_fid[np.clip(lane_src, 0, max(n_l - 1, 0))] if n_l else -1, -1).astype(np.int64)
    edge_road = np.where(is_lane, -1, r_fid[np.maximum(road_of, 0)] if n_r else -1).astype(np.int64)
    edge_kind = np.where(is_lane, FIRE_LANE, kinds[np.maximum(road_of, 0)] if n_r else FIRE_LANE).astype(object)
    kmh = np.where(is_lane, params.fire_lane_kmh, road_kmh[np.maximum(road_of, 0)] if n_r else 0.0)
    if len(taken):
        # The lane runs at the speed of the road it took over (the quickest, where two meet there).
        lane_e = np.flatnonzero(is_lane)
        mids = shapely.line_interpolate_point(edges[lane_e], 0.5, normalized=True)
        q, j = shapely.STRtree(taken_lines).query(mids, predicate="dwithin", distance=params.lane_on_road_m)
        best = np.full(len(lane_e), -np.inf)
        np.maximum.at(best, q, road_kmh[taken_road[j]])
        along = np.isfinite(best)
        kmh[lane_e[along]] = best[along]
    return ResponseNetwork(
        edges=edges,
        length_m=shapely.length(edges) if len(edges) else np.empty(0),
        speed_ms=kmh / 3.6,
        edge_nodes=np.asarray(net.edge_nodes, dtype=np.int64).reshape(-1, 2),
        node_xy=np.asarray(net.node_xy, dtype=float).reshape(-1, 2),
        edge_lane=edge_lane,
        edge_road=edge_road,
        edge_kind=edge_kind,
        repairs=repairs,
        rejoin_repairs=rejoin,
        road_edges_taken_by_lanes=len(taken),
    )


def _geoms(values: Any) -> np.ndarray:
    """A 1-d object array of geometries from a GeoSeries, GeoDataFrame, array or list."""
    if isinstance(values, pd.DataFrame):
        values = values.geometry
    if hasattr(values, "to_numpy"):
        values = values.to_numpy()
    arr = np.empty(len(values), dtype=object)
    arr[:] = list(values)
    return arr


def _ids(values: Iterable[int] | None, n: int) -> np.ndarray:
    """Fids as int64, 1..n by default."""
    if values is None:
        return np.arange(1, n + 1, dtype=np.int64)
    arr = np.asarray(list(values), dtype=np.int64)
    if len(arr) != n:
        raise ValueError(f"got {len(arr)} fids for {n} lines")
    return arr


def _values(values: Iterable[Any] | None, n: int, default: Any) -> list[Any]:
    """One value per line, `default` when none were given."""
    if values is None:
        return [default] * n
    out = list(values)
    if len(out) != n:
        raise ValueError(f"got {len(out)} values for {n} lines")
    return out


def _num(value: Any) -> float:
    """A number, NaN when missing or not a number."""
    if missing(value):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _road_kmh(kind: str, limit: float, params: ResponseParams) -> float:
    """Engine speed on a road of this class, capped at the posted limit when asked."""
    kmh = float(params.road_speed_kmh.get(kind, params.other_road_kmh))
    if params.cap_at_speed_limit and math.isfinite(limit) and limit > 0:
        kmh = min(kmh, limit)
    return kmh


# -- snapping --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Snapped:
    """Where places meet the network: edge (-1 when off it), metres along the edge, and the access distance."""

    edge: np.ndarray
    position_m: np.ndarray
    distance_m: np.ndarray  # to the nearest edge; inf for a missing geometry or an empty network
    on_network: np.ndarray  # within the access distance


def snap(network: ResponseNetwork, geoms: np.ndarray, max_m: float) -> Snapped:
    """Each geometry's nearest point on the nearest edge (ties: the lowest edge), through the STRtree."""
    n = len(geoms)
    edge = np.full(n, -1, dtype=np.int64)
    pos = np.zeros(n)
    dist = np.full(n, np.inf)
    if n and len(network.edges):
        usable = np.flatnonzero(~shapely.is_missing(geoms) & ~shapely.is_empty(geoms))
        q, e = network.tree.query_nearest(geoms[usable], all_matches=True)
        order = np.lexsort((e, q))
        q, e = q[order], e[order]
        first = run_starts(q)
        q, e = usable[q[first]], e[first]
        link = shapely.shortest_line(geoms[q], network.edges[e])
        on_edge = shapely.get_point(link, 1)
        edge[q] = e
        dist[q] = shapely.length(link)
        pos[q] = shapely.line_locate_point(network.edges[e], on_edge)
    on = (edge >= 0) & (dist <= max_m)
    return Snapped(edge=np.where(on, edge, -1), position_m=pos, distance_m=dist, on_network=on)


# -- the graph with its cuts -----------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ResponseGraph:
    """The network cut into pieces at the stations and the blocking obstructions, ready for Dijkstra.

    Piece i runs along edge `piece_edge[i]` from `piece_start_m` to `piece_end_m`, between nodes `piece_u` and
    `piece_v`. A split point adds node X; where the split is a blockage cut, the piece after it starts at node Y
    instead when that blockage is active, so the two sides no longer meet. `piece_block[i]` is the blockage that
    closes the whole piece (a lane too narrow or too low), -1 for none. Station s enters through its own source
    node `station_source[s]`, with a directed edge to its split node weighing `station_offset_s[s]`.
    """

    network: ResponseNetwork
    piece_edge: np.ndarray
    piece_start_m: np.ndarray
    piece_end_m: np.ndarray
    piece_u: np.ndarray
    piece_v: np.ndarray
    piece_cut: np.ndarray  # blockage whose cut is at the piece's start, -1 for none
    piece_cut_u: np.ndarray  # the piece's start node while that cut is active
    piece_block: np.ndarray
    n_blockages: int
    station_node: np.ndarray  # split node of each placed station
    station_source: np.ndarray
    station_offset_s: np.ndarray
    n_nodes: int

    @property
    def piece_length_m(self) -> np.ndarray:
        """Length of each piece."""
        return self.piece_end_m - self.piece_start_m

    @property
    def piece_speed_ms(self) -> np.ndarray:
        """Engine speed on each piece."""
        return self.network.speed_ms[self.piece_edge]

    def ends(self, active: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Start node, end node and whether each piece is open, with the blockages `active` (bool per blockage)."""
        cut = self.piece_cut >= 0
        cut_on = np.zeros(len(cut), bool)
        cut_on[cut] = active[self.piece_cut[cut]]
        u = np.where(cut_on, self.piece_cut_u, self.piece_u)
        closed = np.zeros(len(cut), bool)
        whole = self.piece_block >= 0
        closed[whole] = active[self.piece_block[whole]]
        return u, self.piece_v, ~closed

    def matrix(self, active: np.ndarray) -> csr_matrix:
        """The directed sparse graph (seconds) with the blockages `active`: both ways on each open piece."""
        u, v, open_ = self.ends(active)
        w = self.piece_length_m / self.piece_speed_ms
        keep = open_ & (u != v)
        rows = np.concatenate([u[keep], v[keep], self.station_source])
        cols = np.concatenate([v[keep], u[keep], self.station_node])
        data = np.concatenate([w[keep], w[keep], self.station_offset_s])
        # Parallel pieces between the same nodes: keep the quicker (a sparse matrix would add them up).
        order = np.lexsort((data, cols, rows))
        rows, cols, data = rows[order], cols[order], data[order]
        first = np.ones(len(rows), bool)
        first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
        return csr_matrix((data[first], (rows[first], cols[first])), shape=(self.n_nodes, self.n_nodes))

    def node_times(self, active: np.ndarray, sources: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Seconds from the nearest station of each group in `sources` (station positions) to every node."""
        graph = self.matrix(active)
        out = []
        for group in sources:
            if len(group) == 0:
                out.append(np.full(self.n_nodes, np.inf))
                continue
            out.append(dijkstra(graph, directed=True, indices=self.station_source[group], min_only=True))
        return out

    def locate(self, snapped: Snapped) -> tuple[np.ndarray, np.ndarray]:
        """The piece each snapped place lies on (-1 off the network) and its metres from the piece's start."""
        piece = np.full(len(snapped.edge), -1, dtype=np.int64)
        offset = np.zeros(len(snapped.edge))
        on = np.flatnonzero(snapped.edge >= 0)
        if len(on) == 0 or len(self.piece_edge) == 0:
            return piece, offset
        key = _edge_key(self.network.length_m)
        piece_key = key[self.piece_edge] + self.piece_start_m
        place_key = key[snapped.edge[on]] + snapped.position_m[on]
        p = np.searchsorted(piece_key, place_key, side="right") - 1
        piece[on] = p
        offset[on] = np.clip(snapped.position_m[on] - self.piece_start_m[p], 0.0, self.piece_length_m[p])
        return piece, offset

    def place_times(
        self, node_t: np.ndarray, active: np.ndarray, piece: np.ndarray, offset: np.ndarray, extra_s: np.ndarray
    ) -> np.ndarray:
        """Seconds to places on pieces: the quicker way in from either end of the piece, plus `extra_s`."""
        out = np.full(len(piece), np.inf)
        on = piece >= 0
        if not on.any():
            return out
        u, v, open_ = self.ends(active)
        p = piece[on]
        speed = self.piece_speed_ms[p]
        t = np.minimum(node_t[u[p]] + offset[on] / speed, node_t[v[p]] + (self.piece_length_m[p] - offset[on]) / speed)
        out[on] = np.where(open_[p], t + extra_s[on], np.inf)
        return out


def _edge_key(length_m: np.ndarray) -> np.ndarray:
    """A base per edge so that base + metres along it is monotone over all edges (for one searchsorted)."""
    return np.concatenate([[0.0], np.cumsum(length_m + 1.0)[:-1]]) if len(length_m) else np.empty(0)


def response_graph(
    network: ResponseNetwork,
    *,
    station_edge: np.ndarray,
    station_position_m: np.ndarray,
    station_offset_s: np.ndarray,
    cut_edge: np.ndarray | None = None,
    cut_position_m: np.ndarray | None = None,
    cut_blockage: np.ndarray | None = None,
    closed_lanes: Mapping[int, int] | None = None,
    n_blockages: int = 0,
) -> ResponseGraph:
    """Split the network at the placed stations and the blockage cuts; `closed_lanes` maps lane fid → blockage."""
    m = len(network.edges)
    n0 = network.n_nodes
    cut_edge = np.empty(0, np.int64) if cut_edge is None else cut_edge
    cut_position_m = np.empty(0) if cut_position_m is None else cut_position_m
    cut_blockage = np.full(len(cut_edge), -1, np.int64) if cut_blockage is None else cut_blockage
    split_edge = np.concatenate([np.asarray(station_edge, np.int64), np.asarray(cut_edge, np.int64)])
    split_pos = np.concatenate([np.asarray(station_position_m, float), np.asarray(cut_position_m, float)])
    split_block = np.concatenate([np.full(len(station_edge), -1, np.int64), np.asarray(cut_blockage, np.int64)])
    k = len(split_edge)
    split_pos = np.clip(split_pos, 0.0, network.length_m[split_edge]) if k else split_pos
    order = np.lexsort((np.arange(k), split_pos, split_edge))
    rank_of = np.empty(k, np.int64)
    rank_of[order] = np.arange(k)
    se, sp, sb = split_edge[order], split_pos[order], split_block[order]
    x_node = n0 + np.arange(k)
    y_node = n0 + k + np.arange(k)

    per_edge = np.bincount(se, minlength=m) if m else np.zeros(0, np.int64)
    first_split = np.cumsum(per_edge) - per_edge
    n_pieces = per_edge + 1
    piece_edge = np.repeat(np.arange(m, dtype=np.int64), n_pieces)
    rank = np.arange(len(piece_edge)) - np.repeat(np.cumsum(n_pieces) - n_pieces, n_pieces)
    last = rank == per_edge[piece_edge]
    before = first_split[piece_edge] + rank - 1  # split at the piece's start (valid when rank > 0)
    after = first_split[piece_edge] + rank  # split at its end (valid when not last)
    b_ok, a_ok = rank > 0, ~last
    bi, ai = np.where(b_ok, before, 0), np.where(a_ok, after, 0)
    start = np.where(b_ok, sp[bi] if k else 0.0, 0.0)
    end = np.where(a_ok, sp[ai] if k else 0.0, network.length_m[piece_edge])
    u = np.where(b_ok, x_node[bi] if k else 0, network.edge_nodes[piece_edge, 0])
    v = np.where(a_ok, x_node[ai] if k else 0, network.edge_nodes[piece_edge, 1])
    cut = np.where(b_ok, sb[bi] if k else -1, -1)
    cut_u = np.where(b_ok, y_node[bi] if k else 0, u)
    block = np.full(len(piece_edge), -1, np.int64)
    if closed_lanes:
        lane_of = network.edge_lane[piece_edge]
        for lane, b in closed_lanes.items():
            block[lane_of == lane] = b
    s = len(station_edge)
    source = n0 + 2 * k + np.arange(s)
    return ResponseGraph(
        network=network,
        piece_edge=piece_edge,
        piece_start_m=start,
        piece_end_m=np.maximum(end, start),
        piece_u=u,
        piece_v=v,
        piece_cut=cut,
        piece_cut_u=cut_u,
        piece_block=block,
        n_blockages=n_blockages,
        station_node=x_node[rank_of[:s]] if s else np.empty(0, np.int64),
        station_source=source,
        station_offset_s=np.asarray(station_offset_s, float),
        n_nodes=n0 + 2 * k + s,
    )


# -- isochrones ------------------------------------------------------------------------------------------------


def band_pieces(
    graph: ResponseGraph, node_t: np.ndarray, active: np.ndarray, bands_s: Sequence[float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The stretches of each piece reached within each band: (edge, band index, start m, end m along the edge).

    Band k holds the points whose time t satisfies bands[k-1] < t <= bands[k] (the first from 0). Along a piece
    the time is min(t_u + x / v, t_v + (L - x) / v): rising from each end to where the two meet, so a band is at
    most one stretch from each end, joined into one where they meet.
    """
    u, v, open_ = graph.ends(active)
    tu, tv = node_t[u], node_t[v]
    length, speed = graph.piece_length_m, graph.piece_speed_ms
    live = open_ & (np.isfinite(tu) | np.isfinite(tv)) & (length > 0)
    idx = np.flatnonzero(live)
    tu, tv, length, speed = tu[idx], tv[idx], length[idx], speed[idx]
    with np.errstate(invalid="ignore"):
        meet = np.clip(((tv - tu) * speed + length) / 2.0, 0.0, length)
    out_piece, out_band, out_a, out_b = [], [], [], []
    lows = [-np.inf, *bands_s[:-1]]
    for k, (lo, hi) in enumerate(zip(lows, bands_s, strict=True)):
        with np.errstate(invalid="ignore"):
            a_u = np.maximum(0.0, (lo - tu) * speed)
            b_u = np.minimum(meet, (hi - tu) * speed)
            a_v = np.maximum(meet, length - (hi - tv) * speed)
            b_v = np.minimum(length, length - (lo - tv) * speed)
        ok_u = b_u > a_u
        ok_v = b_v > a_v
        joined = ok_u & ok_v & (b_u >= meet) & (a_v <= meet)
        only_u = ok_u & ~joined
        only_v = ok_v & ~joined
        for mask, a, b in ((joined, a_u, b_v), (only_u, a_u, b_u), (only_v, a_v, b_v)):
            sel = np.flatnonzero(mask)
            out_piece.append(idx[sel])
            out_band.append(np.full(len(sel), k, np.int64))
            out_a.append(a[sel])
            out_b.append(b[sel])
    piece = np.concatenate(out_piece)
    band = np.concatenate(out_band)
    a = np.concatenate(out_a)
    b = np.concatenate(out_b)
    order = np.lexsort((a, piece, band))
    piece, band, a, b = piece[order], band[order], a[order], b[order]
    start = graph.piece_start_m[piece]
    return graph.piece_edge[piece], band, start + a, start + b


def substrings(lines: np.ndarray, which: np.ndarray, start_m: np.ndarray, end_m: np.ndarray) -> np.ndarray:
    """The part of lines[which[i]] from start_m[i] to end_m[i] metres along it, vectorised over the vertices."""
    if len(which) == 0:
        return np.empty(0, dtype=object)
    uniq, inv = np.unique(which, return_inverse=True)
    xy, owner = shapely.get_coordinates(lines[uniq], return_index=True)
    n_v = np.bincount(owner, minlength=len(uniq))
    first = np.concatenate([[0], np.cumsum(n_v)[:-1]])
    last = first + n_v - 1
    step = np.zeros(len(xy))
    step[1:] = np.hypot(*(xy[1:] - xy[:-1]).T)
    step[first] = 0.0
    cum = np.cumsum(step)
    dist = cum - cum[first][owner]
    length = dist[last]
    base = _edge_key(length)
    key = dist + base[owner]
    s = np.clip(start_m, 0.0, length[inv])
    e = np.clip(end_m, s, length[inv])
    lo = np.searchsorted(key, base[inv] + s, side="right")  # first vertex past the start
    hi = np.searchsorted(key, base[inv] + e, side="left")  # first vertex at or past the end
    lo = np.clip(lo, first[inv] + 1, last[inv])
    hi = np.clip(hi, lo, last[inv])

    def point_at(j: np.ndarray, d: np.ndarray) -> np.ndarray:
        seg = dist[j + 1] - dist[j]
        f = np.divide(d - dist[j], seg, out=np.zeros(len(j)), where=seg > 0)
        f = np.clip(f, 0.0, 1.0)[:, None]
        return xy[j] + f * (xy[j + 1] - xy[j])

    p0 = point_at(lo - 1, s)
    p1 = point_at(hi - 1, e)
    inner = hi - lo
    counts = inner + 2
    req = np.repeat(np.arange(len(which)), counts)
    k = np.arange(len(req)) - np.repeat(np.cumsum(counts) - counts, counts)
    vertex = np.clip(lo[req] + k - 1, 0, len(xy) - 1)
    coords = xy[vertex]
    head = k == 0
    tail = k == counts[req] - 1
    coords[head] = p0
    coords[tail] = p1
    return np.asarray(shapely.linestrings(coords, indices=req), dtype=object)


def metric_geoms(frame: gpd.GeoDataFrame | None, metric_crs: str) -> np.ndarray:
    """The frame's geometries in the metric CRS (EPSG:4326 assumed when the frame has none)."""
    if frame is None or len(frame) == 0:
        return np.empty(0, dtype=object)
    src = frame.crs.to_string() if frame.crs is not None else WGS84
    geoms = np.asarray(frame.geometry.to_numpy(), dtype=object)
    return geoms if src == metric_crs else np.asarray(transform_geometries(geoms, src, metric_crs), dtype=object)


def column_values(frame: pd.DataFrame, name: str) -> list[Any]:
    """A column's values as a list, None throughout when the column is absent."""
    return frame[name].tolist() if name in frame.columns else [None] * len(frame)


def layers_network(roads: gpd.GeoDataFrame, fire_lanes: gpd.GeoDataFrame, params: ResponseParams) -> ResponseNetwork:
    """The response network of the stored roads and fire_lanes layers (any CRS they carry, lon/lat as stored)."""
    metric = params.metric_crs
    return response_network(
        metric_geoms(roads, metric),
        road_class=column_values(roads, "admin_class"),
        road_speed_limit_kmh=column_values(roads, "speed_limit_kmh"),
        road_grade_separated=column_values(roads, "grade_separated"),
        road_fids=roads.index,
        lane_lines=metric_geoms(fire_lanes, metric),
        lane_fids=fire_lanes.index,
        params=params,
    )
