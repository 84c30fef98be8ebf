"""Fire-engine response over the road and fire-lane network: travel times, who a blocked lane cuts off, coverage.

Emergency staff need three answers the map alone does not give: how long an engine takes to reach each building,
which homes an uncleared obstruction on a fire lane cuts off (and whose obstruction it is, so the 消防法 procedure can
start), and what lies outside the response bands. Rules: domain.md §5.1 (GB 50016 §7.1.8: 4.0 m clear width and
height), §5.4 (消防法 第二十八条/第六十条) and §7 (建标152-2017: 5 min; 公消〔2015〕301号 micro stations: 3 min).

The model, all in metres (EPSG:4549 unless `ResponseParams.metric_crs` says otherwise):

- Roads and fire lanes are noded into one graph by `geo.network.build_network`; a lane joins the roads where it
  meets them. Where a lane is drawn along a road (a street designated as a fire lane), the lane takes that stretch
  over, at the road's speed, so an obstruction on it blocks the street too.
- Travel time on an edge is its length over the engine speed of its class (`ResponseParams`, assumptions [K]).
- A fire lane is impassable along its whole length when its own width or clear height is under 4.0 m, and is cut
  at the point of every uncleared obstruction that leaves less than 4.0 m: the lane edge is split there and the
  two sides no longer meet, so the stretch beyond stays reachable from the lane's other end if that is connected.
  Narrowed lanes that keep 4.0 m or more stay passable.
- Each station is snapped to the nearest edge, which is split at that point; times from every station of a class
  (fire_station, micro_fire_station) to every node come from one multi-source `scipy.sparse.csgraph.dijkstra` per
  class (`min_only=True`), each station entered through its own source node carrying its turn-out and yard time.
- A building (a risk source, an old settlement) reaches the network at the nearest point of the nearest edge
  (STRtree); its time is the time to that point (min over the piece's two ends plus the part along it) plus the
  access distance at walking/hose speed. Farther than `access_max_m` it is "not on the network", reported, never
  dropped.

Times are computed without the blockages ("clear") and with them ("blocked"); a building is cut off where the
blockages make it unreachable or push it past its class's standard. Each such building is charged to the blockage
whose clearing alone restores its time (every blockage is lifted in turn), or to the several that only help together.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from geo.crs import LOCAL_METRIC, WGS84, transform_geometries
from geo.network import NetworkParams, NetworkRepairs, build_network

FIRE_STATION = "fire_station"
MICRO_FIRE_STATION = "micro_fire_station"
#: The class key for "the nearest station of any class".
ANY = "any"
#: Scenario keys: without the blockages, and as surveyed with them.
CLEAR, BLOCKED = "clear", "blocked"
SCENARIOS = (CLEAR, BLOCKED)
#: Edge kind of a fire lane that does not run along a road.
FIRE_LANE = "fire_lane"

#: What a fire-lane obstruction breaks, and the penalty track by party type (domain.md §5.4 [C]).
LEGAL_BASIS = "《消防法》第二十八条（不得占用、堵塞、封闭消防车通道）、第六十条"
PENALTY = {
    "unit": "单位：责令改正，处五千元以上五万元以下罚款；拒不改正的强制执行，所需费用由违法行为人承担",
    "individual": "个人：警告或者五百元以下罚款；拒不改正的强制执行，所需费用由违法行为人承担",
}
#: What a lane that is itself too narrow or too low breaks (domain.md §5.1 [C]).
LANE_BASIS = "GB 50016-2014（2018年版）第7.1.8条：消防车道的净宽度和净空高度均不应小于4.0 m"

STATUS_LABELS = {
    "passable": "畅通",
    "partial": "部分占用（剩余净宽不小于4 m，可通行）",
    "cut": "堵塞（剩余净宽小于4 m，占用点处不可通行）",
    "substandard": "通道净宽或净高不足4 m，全线不可通行",
}


def _default_speeds() -> dict[str, float]:
    # [K] assumed engine running speeds (km/h) by administrative class (layers.vocab.AdminClass); domain.md §7
    # suggests 30–60 km/h by class on rural roads. Not from a standard: replace them with local drive tests.
    return {"G": 60.0, "S": 60.0, "X": 50.0, "Y": 40.0, "C": 30.0, "Z": 30.0, "street": 30.0}


def _default_standards() -> dict[str, float]:
    return {
        FIRE_STATION: 5.0,  # 建标152-2017: on scene at the district edge within 5 min of dispatch (domain.md §7 [C])
        MICRO_FIRE_STATION: 3.0,  # 公消〔2015〕301号 微型消防站 "3分钟到场" (domain.md §7 [C])
    }


@dataclass(frozen=True)
class ResponseParams:
    """Every speed, distance and standard of the response analysis, with its source; checked when made."""

    road_speed_kmh: dict[str, float] = field(default_factory=_default_speeds)  # see _default_speeds [K]
    other_road_kmh: float = 30.0  # [K] a road whose class is missing or not in the table: as a village road
    fire_lane_kmh: float = 15.0  # [K] an engine feeling its way along a narrow lane between houses
    # [K] 道路交通安全法 第五十三条 frees a fire engine on a call from speed limits, so the class speed is used as it
    # is; True caps it at the road's posted limit for a cautious estimate.
    cap_at_speed_limit: bool = False
    turnout_s: float = 0.0  # [K] 出动时间 from the alarm to the engine leaving, e.g. 60 s; 0: counted from departure
    station_yard_kmh: float = 15.0  # [K] from the station door to the road, for a station set back from it
    access_max_m: float = 100.0  # [K] farther from every road and lane than this: "not on the network", reported
    access_kmh: float = 3.6  # [K] 1 m/s: the crew walking and laying hose from the engine to the building
    min_clear_width_m: float = 4.0  # GB 50016-2014 §7.1.8: clear width ≥ 4.0 m (domain.md §5.1 [C])
    min_clear_height_m: float = 4.0  # GB 50016-2014 §7.1.8: clear height ≥ 4.0 m (domain.md §5.1 [C])
    obstruction_snap_m: float = 20.0  # [K] an obstruction this close to a lane stands on it (a GPS fix, a sketch)
    lane_on_road_m: float = 1.0  # [K] a road stretch within this of a lane is the same carriageway: the lane takes it
    station_standard_min: dict[str, float] = field(default_factory=_default_standards)  # see _default_standards
    # The two standards (3 and 5 min) and 10/15/30 min [K] for the farthest villages; minutes, ascending.
    bands_min: tuple[float, ...] = (3.0, 5.0, 10.0, 15.0, 30.0)
    time_tol_s: float = 1e-6  # two times this close are equal (floating-point noise of summed edge times)
    metric_crs: str = LOCAL_METRIC  # CGCS2000 Gauss-Krüger CM 120E, Naiman Banner (domain.md §9.3)
    network: NetworkParams = field(default_factory=NetworkParams)  # noding and snapping tolerances (geo.network)

    def __post_init__(self) -> None:
        for name in (
            "other_road_kmh",
            "fire_lane_kmh",
            "station_yard_kmh",
            "access_kmh",
            "min_clear_width_m",
            "min_clear_height_m",
            "time_tol_s",
        ):
            _positive(name, getattr(self, name))
        for name in ("turnout_s", "access_max_m", "obstruction_snap_m", "lane_on_road_m"):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, numbers.Real)
                or not (value >= 0 and math.isfinite(value))
            ):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        for key, value in self.road_speed_kmh.items():
            _positive(f"road_speed_kmh[{key!r}]", value)
        if not self.station_standard_min:
            raise ValueError("station_standard_min must name at least one station kind")
        for key, value in self.station_standard_min.items():
            if key == ANY:
                raise ValueError(f"{ANY!r} is reserved for the nearest station of any kind")
            _positive(f"station_standard_min[{key!r}]", value)
        bands = tuple(self.bands_min)
        if not bands:
            raise ValueError("bands_min must hold at least one band")
        for value in bands:
            _positive("bands_min", value)
        if any(b <= a for a, b in zip(bands, bands[1:], strict=False)):
            raise ValueError(f"bands_min must be strictly ascending, got {bands!r}")

    @property
    def classes(self) -> tuple[str, ...]:
        """The station kinds analysed, in the order given."""
        return tuple(self.station_standard_min)


def _positive(name: str, value: object) -> None:
    """Refuse anything but a finite positive number."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a finite positive number, got {value!r}")


def band_label(index: int, bands_min: Sequence[float]) -> str:
    """The user's label of band `index`: "3分钟内", "3–5分钟", ..."""
    hi = bands_min[index]
    if index == 0:
        return f"{hi:g}分钟内"
    return f"{bands_min[index - 1]:g}–{hi:g}分钟"


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
    r_flag = np.array([bool(v) if not _missing(v) else False for v in _values(road_grade_separated, n_r, False)])

    kinds = np.array([_class_key(c) for c in r_class], dtype=object)
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


def _missing(value: Any) -> bool:
    """None, NaN or pandas' NA."""
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _num(value: Any) -> float:
    """A number, NaN when missing or not a number."""
    if _missing(value):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _class_key(value: Any) -> str:
    """The speed table's key for a road class (its value when it is an enum), "" when unknown."""
    if _missing(value):
        return ""
    return str(getattr(value, "value", value))


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
        first = np.ones(len(q), bool)
        first[1:] = q[1:] != q[:-1]
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


# -- the analysis ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class FireResponse:
    """Everything the response analysis found; tables are plain DataFrames indexed by fid unless said otherwise.

    Times are seconds; empty (NaN) where a place cannot be reached. Column names in the per-place tables read
    `time_<scenario>_<class>_s` and `band_<scenario>_<class>_min` (the upper bound of the band the place is in,
    empty outside every band), for scenario clear/blocked and class any or a station kind.
    """

    params: ResponseParams
    network: ResponseNetwork
    graph: ResponseGraph
    lanes: pd.DataFrame  # per fire lane: computed status, why, and the obstructions on it
    obstructions: pd.DataFrame  # per obstruction: where it was placed, whether it blocks, the legal track
    blockages: pd.DataFrame  # the blockages modelled, by blockage number (0..)
    stations: pd.DataFrame  # per station: class, standard, on the network or not
    buildings: pd.DataFrame  # per building: village, settlement, access, times and bands
    settlements: pd.DataFrame  # per old settlement: member buildings, worst time and band
    risk_sources: pd.DataFrame  # per risk source: village, access, times and bands
    cut_off: pd.DataFrame  # one row per building and station class the blockages cut off
    coverage: pd.DataFrame  # per scenario, class, village and band (cumulative): counts and shares
    outside: pd.DataFrame  # places outside every band, per scenario and class, with why
    isochrones: gpd.GeoDataFrame  # edge pieces by scenario, class and band, EPSG:4326
    report: dict[str, Any]


def fire_response(
    roads: gpd.GeoDataFrame,
    fire_lanes: gpd.GeoDataFrame,
    obstructions: gpd.GeoDataFrame,
    resources: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    *,
    old_settlements: gpd.GeoDataFrame | None = None,
    risk_sources: gpd.GeoDataFrame | None = None,
    villages: gpd.GeoDataFrame | None = None,
    params: ResponseParams | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> FireResponse:
    """Response times, cut-off buildings and coverage bands from the stored layers (any CRS, EPSG:4326 as stored).

    `resources` is the emergency_resources layer; its rows whose kind is in `params.station_standard_min` are the
    stations. `progress(done, total)` is called after each shortest-path run.
    """
    params = params or ResponseParams()
    classes = params.classes
    metric = params.metric_crs

    road_m = _metric(roads, metric)
    lane_m = _metric(fire_lanes, metric)
    network = response_network(
        road_m,
        road_class=_column(roads, "admin_class"),
        road_speed_limit_kmh=_column(roads, "speed_limit_kmh"),
        road_grade_separated=_column(roads, "grade_separated"),
        road_fids=roads.index,
        lane_lines=lane_m,
        lane_fids=fire_lanes.index,
        params=params,
    )

    # Obstructions and lanes: what blocks, and where.
    obs_table, cut_rows = _place_obstructions(network, obstructions, params)
    lane_table, closed_lane_rows = _lane_status(fire_lanes, obs_table, params)
    blockages = pd.DataFrame(closed_lane_rows + cut_rows)
    if blockages.empty:
        blockages = pd.DataFrame(
            columns=[
                "kind",
                "obstruction_fid",
                "lane_fid",
                "edge",
                "position_m",
                "detail",
                "responsible_party",
                "party_type",
            ]
        )
    blockages.index.name = "blockage"
    n_block = len(blockages)
    is_cut = (blockages["kind"] == "obstruction").to_numpy() if n_block else np.zeros(0, bool)
    closed_lanes = {int(blockages["lane_fid"].iloc[b]): b for b in np.flatnonzero(~is_cut)}

    # Stations.
    kinds = _values(_column(resources, "kind"), len(resources), None)
    kind_key = np.array([_class_key(k) for k in kinds], dtype=object)
    is_station = np.isin(kind_key, np.array(classes, dtype=object))
    station_frame = resources.loc[is_station]
    station_kind = kind_key[is_station]
    station_snap = snap(network, _metric(station_frame, metric), params.access_max_m)
    placed = np.flatnonzero(station_snap.on_network)
    offset = params.turnout_s + station_snap.distance_m[placed] / (params.station_yard_kmh / 3.6)
    graph = response_graph(
        network,
        station_edge=station_snap.edge[placed],
        station_position_m=station_snap.position_m[placed],
        station_offset_s=offset,
        cut_edge=blockages["edge"].to_numpy(np.int64)[is_cut] if n_block else np.empty(0, np.int64),
        cut_position_m=blockages["position_m"].to_numpy(float)[is_cut] if n_block else np.empty(0),
        cut_blockage=np.flatnonzero(is_cut),
        closed_lanes=closed_lanes,
        n_blockages=n_block,
    )
    groups = [np.flatnonzero(station_kind[placed] == c) for c in classes]
    stations = _station_table(station_frame, station_kind, station_snap, placed, offset, params)

    # Shortest paths: without and with the blockages, then with each blockage lifted in turn where needed.
    done, total = [0], [len(SCENARIOS)]  # runs made and runs known to be needed; lifts add to the total

    def times(active: np.ndarray) -> list[np.ndarray]:
        out = graph.node_times(active, groups)
        done[0] += 1
        if progress is not None:
            progress(done[0], total[0])
        return out

    scenario_active = {CLEAR: np.zeros(n_block, bool), BLOCKED: np.ones(n_block, bool)}
    node_t = {s: dict(zip(classes, times(a), strict=True)) for s, a in scenario_active.items()}
    for s in SCENARIOS:
        node_t[s][ANY] = np.minimum.reduce([node_t[s][c] for c in classes])

    # Places.
    access_ms = params.access_kmh / 3.6
    b_geoms = _metric(buildings, metric)
    b_snap = snap(network, b_geoms, params.access_max_m)
    b_piece, b_off = graph.locate(b_snap)
    b_extra = b_snap.distance_m / access_ms
    b_times = {
        (s, c): graph.place_times(node_t[s][c], scenario_active[s], b_piece, b_off, b_extra)
        for s in SCENARIOS
        for c in (ANY, *classes)
    }
    b_village = _villages_of(buildings, b_geoms, villages, metric)
    settle_of = _settlement_of(b_geoms, old_settlements, metric)
    building_table = _place_table(buildings.index, b_village, b_snap, b_times, params)
    building_table.insert(1, "settlement_fid", pd.array(settle_of, dtype="Int64"))
    building_table.insert(2, "residents", _int_column(buildings, "residents"))

    # Who is cut off, and by which blockage: lift each blockage in turn (and, where none alone helps, those that
    # help together) and see whose time comes back.
    lift_cache: dict[tuple[int, ...], dict[str, np.ndarray]] = {
        tuple(range(n_block)): {c: b_times[(CLEAR, c)] for c in classes}  # all lifted: the clear scenario
    }

    def building_times_without(lifted: tuple[int, ...]) -> dict[str, np.ndarray]:
        if lifted not in lift_cache:
            total[0] += 1
            active = np.ones(n_block, bool)
            active[list(lifted)] = False
            node = dict(zip(classes, times(active), strict=True))
            lift_cache[lifted] = {c: graph.place_times(node[c], active, b_piece, b_off, b_extra) for c in classes}
        return lift_cache[lifted]

    cut_off = _cut_off(buildings, b_village, settle_of, b_times, blockages, building_times_without, params)

    # Old settlements and risk sources.
    settlements = _settlement_table(old_settlements, settle_of, building_table, network, graph, node_t, scenario_active,
                                    params)  # fmt: skip
    if len(settlements):
        cut_settlements = set(cut_off["settlement_fid"].dropna().astype(int)) if len(cut_off) else set()
        settlements["cut_off"] = [int(f) in cut_settlements for f in settlements.index]
    risk_table = _risk_table(risk_sources, villages, network, graph, node_t, scenario_active, params)

    coverage = _coverage(building_table, settlements, risk_table, villages, params)
    outside = _outside(building_table, settlements, risk_table, params)
    isochrones = _isochrones(graph, node_t, scenario_active, params)
    report = {
        "edges": len(network.edges),
        "nodes": network.n_nodes,
        "road_edges_taken_by_lanes": network.road_edges_taken_by_lanes,
        "network_repairs": network.repairs.summary(),
        "stations": {c: int((stations["kind"] == c).sum()) for c in classes},
        "stations_off_network": [int(f) for f in stations.index[~stations["on_network"].to_numpy(bool)]],
        "blockages": n_block,
        "impassable_lanes": [int(f) for f in lane_table.index[lane_table["impassable"].to_numpy(bool)]],
        "obstructions_not_placed": [
            int(f) for f in obs_table.index[(obs_table["status"] == "not_on_lane").to_numpy(bool)]
        ],
        "buildings": len(building_table),
        "buildings_off_network": int((~building_table["on_network"]).sum()),
        "cut_off_buildings": int(cut_off["building_fid"].nunique()) if len(cut_off) else 0,
        "cut_off_settlements": sorted({int(v) for v in cut_off["settlement_fid"].dropna()}) if len(cut_off) else [],
        "shortest_path_runs": done[0],
        "params": {
            "road_speed_kmh": dict(params.road_speed_kmh),
            "fire_lane_kmh": params.fire_lane_kmh,
            "turnout_s": params.turnout_s,
            "access_max_m": params.access_max_m,
            "access_kmh": params.access_kmh,
            "min_clear_width_m": params.min_clear_width_m,
            "min_clear_height_m": params.min_clear_height_m,
            "station_standard_min": dict(params.station_standard_min),
            "bands_min": list(params.bands_min),
        },
    }
    return FireResponse(
        params=params,
        network=network,
        graph=graph,
        lanes=lane_table,
        obstructions=obs_table,
        blockages=blockages,
        stations=stations,
        buildings=building_table,
        settlements=settlements,
        risk_sources=risk_table,
        cut_off=cut_off,
        coverage=coverage,
        outside=outside,
        isochrones=isochrones,
        report=report,
    )


# -- helpers of the analysis -----------------------------------------------------------------------------------


def _metric(frame: gpd.GeoDataFrame | None, metric_crs: str) -> np.ndarray:
    """The frame's geometries in the metric CRS (EPSG:4326 assumed when the frame has none)."""
    if frame is None or len(frame) == 0:
        return np.empty(0, dtype=object)
    src = frame.crs.to_string() if frame.crs is not None else WGS84
    geoms = frame.geometry.to_numpy()
    if src == metric_crs:
        return np.asarray(geoms, dtype=object)
    return np.asarray(transform_geometries(geoms, src, metric_crs), dtype=object)


def _column(frame: pd.DataFrame | None, name: str) -> list[Any] | None:
    """A column's values as a list, None when the column is absent."""
    if frame is None or name not in frame.columns:
        return None
    return frame[name].tolist()


def _int_column(frame: pd.DataFrame, name: str) -> np.ndarray:
    """A whole-number column with missing values as 0 (0 throughout when absent)."""
    if name not in frame.columns:
        return np.zeros(len(frame), np.int64)
    return pd.to_numeric(frame[name], errors="coerce").fillna(0).to_numpy(np.int64)


def _place_obstructions(
    network: ResponseNetwork, obstructions: gpd.GeoDataFrame, params: ResponseParams
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Each obstruction placed on a lane edge (its recorded lane first when near), whether it blocks, and the cuts."""
    n = len(obstructions)
    pts = _metric(obstructions, params.metric_crs)
    lane_id = np.array([-1 if _missing(v) else int(v) for v in _values(_column(obstructions, "lane_id"), n, None)])
    cleared = np.array([False if _missing(v) else bool(v) for v in _values(_column(obstructions, "cleared"), n, False)])
    width = np.array([_num(v) for v in _values(_column(obstructions, "remaining_width_m"), n, None)])
    edge = np.full(n, -1, np.int64)
    dist = np.full(n, np.nan)
    pos = np.full(n, np.nan)
    lane_e = np.flatnonzero(network.edge_lane >= 0)
    usable = np.flatnonzero(~shapely.is_missing(pts) & ~shapely.is_empty(pts)) if n else np.empty(0, np.int64)
    if len(lane_e) and len(usable):
        q, j = shapely.STRtree(network.edges[lane_e]).query(
            pts[usable], predicate="dwithin", distance=params.obstruction_snap_m
        )
        q = usable[q]
        e = lane_e[j]
        d = shapely.distance(pts[q], network.edges[e])
        own = network.edge_lane[e] == lane_id[q]
        order = np.lexsort((e, d, ~own, q))  # the recorded lane wins when near, then the nearest, then lowest edge
        q, e, d = q[order], e[order], d[order]
        first = np.ones(len(q), bool)
        first[1:] = q[1:] != q[:-1]
        q, e, d = q[first], e[first], d[first]
        edge[q], dist[q] = e, d
        pos[q] = shapely.line_locate_point(network.edges[e], pts[q])
    placed = edge >= 0
    lane_fid = np.where(placed, network.edge_lane[np.maximum(edge, 0)] if len(network.edges) else -1, -1)
    narrow = width < params.min_clear_width_m
    status = np.where(
        cleared,
        "cleared",
        np.where(~placed, "not_on_lane", np.where(narrow, "blocking", "narrowing")),
    )
    party = _values(_column(obstructions, "responsible_party"), n, None)
    ptype = [
        None if _missing(v) else str(getattr(v, "value", v))
        for v in _values(_column(obstructions, "party_type"), n, None)
    ]
    table = pd.DataFrame(
        {
            "recorded_lane_fid": pd.array([None if v < 0 else int(v) for v in lane_id], dtype="Int64"),
            "lane_fid": pd.array([None if v < 0 else int(v) for v in lane_fid], dtype="Int64"),
            "snap_distance_m": dist,
            "position_m": pos,
            "remaining_width_m": width,
            "cleared": cleared,
            "status": status,
            "responsible_party": party,
            "party_type": ptype,
            "legal_basis": [LEGAL_BASIS] * n,
            "penalty": [PENALTY.get(t or "", None) for t in ptype],
        },
        index=obstructions.index,
    )
    table["lane_mismatch"] = (
        (
            table["recorded_lane_fid"].notna()
            & table["lane_fid"].notna()
            & (table["recorded_lane_fid"] != table["lane_fid"])
        )
        .fillna(False)
        .astype(bool)
    )
    cuts = []
    for i in np.flatnonzero(status == "blocking"):
        cuts.append(
            {
                "kind": "obstruction",
                "obstruction_fid": int(obstructions.index[i]),
                "lane_fid": int(lane_fid[i]),
                "edge": int(edge[i]),
                "position_m": float(pos[i]),
                "detail": f"剩余净宽 {width[i]:g} m < {params.min_clear_width_m:g} m",
                "responsible_party": party[i],
                "party_type": ptype[i],
            }
        )
    return table, cuts


def _lane_status(
    lanes: gpd.GeoDataFrame, obs: pd.DataFrame, params: ResponseParams
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Per lane: substandard (too narrow or low), cut, partly occupied or passable; and the whole-lane blockages."""
    n = len(lanes)
    width = np.array([_num(v) for v in _values(_column(lanes, "width_m"), n, None)])
    height = np.array([_num(v) for v in _values(_column(lanes, "clear_height_m"), n, None)])
    low_w = width < params.min_clear_width_m
    low_h = height < params.min_clear_height_m  # an unknown height (NaN) is not held against the lane
    names = _values(_column(lanes, "name"), n, None)
    surveyed = [
        None if _missing(v) else str(getattr(v, "value", v)) for v in _values(_column(lanes, "status"), n, None)
    ]
    on_lane = obs[obs["lane_fid"].notna().to_numpy(bool)]
    by_lane: dict[int, dict[str, list]] = {}
    for fid, lane, status, width_left in zip(
        on_lane.index, on_lane["lane_fid"], on_lane["status"], on_lane["remaining_width_m"], strict=True
    ):
        entry = by_lane.setdefault(int(lane), {"blocking": [], "narrowing": [], "widths": []})
        if status in ("blocking", "narrowing"):
            entry[status].append(int(fid))
            entry["widths"].append(float(width_left))
    rows = []
    closed = []
    for i, fid in enumerate(lanes.index):
        entry = by_lane.get(int(fid), {"blocking": [], "narrowing": [], "widths": []})
        reasons = []
        if low_w[i]:
            reasons.append(f"净宽 {width[i]:g} m < {params.min_clear_width_m:g} m")
        if low_h[i]:
            reasons.append(f"净高 {height[i]:g} m < {params.min_clear_height_m:g} m")
        if reasons:
            status = "substandard"
            closed.append(
                {
                    "kind": "lane",
                    "obstruction_fid": None,
                    "lane_fid": int(fid),
                    "edge": -1,
                    "position_m": math.nan,
                    "detail": "；".join(reasons),
                    "responsible_party": None,
                    "party_type": None,
                }
            )
        elif entry["blocking"]:
            status = "cut"
        elif entry["narrowing"]:
            status = "partial"
        else:
            status = "passable"
        rows.append(
            {
                "name": names[i],
                "width_m": width[i],
                "clear_height_m": height[i],
                "status": status,
                "status_label": STATUS_LABELS[status],
                "impassable": status in ("substandard", "cut"),
                "reasons": "；".join(reasons) if reasons else None,
                "blocking_obstruction_fids": tuple(entry["blocking"]),
                "narrowing_obstruction_fids": tuple(entry["narrowing"]),
                "min_remaining_width_m": min(entry["widths"], default=math.nan),
                "surveyed_status": surveyed[i],
            }
        )
    return pd.DataFrame(rows, index=lanes.index, columns=_LANE_COLUMNS), closed


_LANE_COLUMNS = [
    "name",
    "width_m",
    "clear_height_m",
    "status",
    "status_label",
    "impassable",
    "reasons",
    "blocking_obstruction_fids",
    "narrowing_obstruction_fids",
    "min_remaining_width_m",
    "surveyed_status",
]


def _station_table(
    frame: gpd.GeoDataFrame,
    kinds: np.ndarray,
    snapped: Snapped,
    placed: np.ndarray,
    offset: np.ndarray,
    params: ResponseParams,
) -> pd.DataFrame:
    """Per station: kind, standard, whether it reaches the network and how far it is set back."""
    off = np.full(len(frame), np.nan)
    off[placed] = offset
    return pd.DataFrame(
        {
            "name": _values(_column(frame, "name"), len(frame), None),
            "kind": kinds,
            "standard_min": [params.station_standard_min[k] for k in kinds],
            "on_network": snapped.on_network,
            "access_m": snapped.distance_m,
            "edge": snapped.edge,
            "start_offset_s": off,
            "note": np.where(
                snapped.on_network, "", f"离道路超过 {params.access_max_m:g} m，未计入出动 (not on the network)"
            ),
        },
        index=frame.index,
    )


def _villages_of(
    frame: gpd.GeoDataFrame, geoms: np.ndarray, villages: gpd.GeoDataFrame | None, metric_crs: str
) -> np.ndarray:
    """Each place's village code: its own `village_code` where set, else the village polygon holding it."""
    n = len(frame)
    own = _values(_column(frame, "village_code"), n, None)
    codes = np.array([None if _missing(v) else str(v) for v in own], dtype=object)
    todo = np.flatnonzero(np.array([c is None for c in codes], bool))
    if len(todo) and villages is not None and len(villages) and "code" in villages.columns:
        polys = _metric(villages, metric_crs)
        pts = shapely.point_on_surface(geoms[todo])
        q, j = shapely.STRtree(polys).query(pts, predicate="within")
        order = np.lexsort((j, q))
        q, j = q[order], j[order]
        first = np.ones(len(q), bool)
        first[1:] = q[1:] != q[:-1]
        village_codes = villages["code"].astype(str).to_numpy()
        codes[todo[q[first]]] = village_codes[j[first]]
    return codes


def _settlement_of(b_geoms: np.ndarray, settlements: gpd.GeoDataFrame | None, metric_crs: str) -> list[int | None]:
    """The old settlement (fid) whose polygon holds each building's inside point; the lowest fid on overlaps."""
    out: list[int | None] = [None] * len(b_geoms)
    if settlements is None or len(settlements) == 0 or len(b_geoms) == 0:
        return out
    polys = _metric(settlements, metric_crs)
    pts = shapely.point_on_surface(b_geoms)
    q, j = shapely.STRtree(polys).query(pts, predicate="within")
    fids = np.asarray(settlements.index, dtype=np.int64)
    order = np.lexsort((fids[j], q))
    q, j = q[order], j[order]
    first = np.ones(len(q), bool)
    first[1:] = q[1:] != q[:-1]
    for b, s in zip(q[first], j[first], strict=True):
        out[int(b)] = int(fids[s])
    return out


def _band_of(t: np.ndarray, bands_min: Sequence[float], tol: float) -> np.ndarray:
    """The upper bound (minutes) of the band each time (seconds) falls in, NaN outside every band."""
    limits = np.asarray(bands_min, float) * 60.0
    k = np.searchsorted(limits + tol, t, side="left")
    out = np.full(len(t), np.nan)
    inside = k < len(limits)
    out[inside] = np.asarray(bands_min, float)[k[inside]]
    return out


def _place_table(
    index: pd.Index,
    village: np.ndarray,
    snapped: Snapped,
    t: Mapping[tuple[str, str], np.ndarray],
    params: ResponseParams,
) -> pd.DataFrame:
    """Per place: village, access to the network, and time and band per scenario and class."""
    cols: dict[str, Any] = {
        "village_code": village,
        "on_network": snapped.on_network,
        "access_m": snapped.distance_m,
    }
    for (s, c), values in t.items():
        cols[f"time_{s}_{c}_s"] = np.where(np.isfinite(values), values, np.nan)
        cols[f"band_{s}_{c}_min"] = _band_of(values, params.bands_min, params.time_tol_s)
    return pd.DataFrame(cols, index=index)


def _cut_off(
    buildings: gpd.GeoDataFrame,
    village: np.ndarray,
    settle_of: list[int | None],
    t: Mapping[tuple[str, str], np.ndarray],
    blockages: pd.DataFrame,
    without: Callable[[tuple[int, ...]], dict[str, np.ndarray]],
    params: ResponseParams,
) -> pd.DataFrame:
    """Buildings the blockages make unreachable or push past their class standard, each charged to its blockages.

    A blockage is charged when lifting it alone brings the building's time back to its time without any blockage.
    Where none does, the building needs several cleared together (`needs_several`): starting from all blockages,
    each is left in place in turn if the others still restore the time, and those that remain are charged.
    """
    tol = params.time_tol_s
    n_block = len(blockages)
    affected: list[tuple[int, str, str]] = []
    for c in params.classes:
        before, after = t[(CLEAR, c)], t[(BLOCKED, c)]
        std = params.station_standard_min[c] * 60.0
        unreachable = np.isfinite(before) & ~np.isfinite(after)
        beyond = np.isfinite(after) & (before <= std + tol) & (after > std + tol)
        for i in np.flatnonzero(unreachable | beyond):
            affected.append((int(i), c, "unreachable" if unreachable[i] else "beyond_standard"))
    if not affected or n_block == 0:
        return pd.DataFrame(columns=_CUT_OFF_COLUMNS)
    alone = [without((b,)) for b in range(n_block)]
    rows = []
    for i, c, reason in affected:
        before, after = t[(CLEAR, c)][i], t[(BLOCKED, c)][i]
        charged = [b for b in range(n_block) if alone[b][c][i] <= before + tol]
        together = not charged
        if together:
            # Lifting every blockage restores the time; drop each in turn while the rest still restore it.
            lifted = list(range(n_block))
            for b in range(n_block):
                trial = tuple(x for x in lifted if x != b)
                if trial and without(trial)[c][i] <= before + tol:
                    lifted = list(trial)
            charged = lifted
        chosen = blockages.iloc[charged]
        parties = [p for p in chosen["responsible_party"] if not _missing(p)]
        ptypes = [p for p in chosen["party_type"] if not _missing(p)]
        basis = [LEGAL_BASIS] if (chosen["kind"] == "obstruction").any() else []
        if (chosen["kind"] == "lane").any():
            basis.append(LANE_BASIS)
        rows.append(
            {
                "building_fid": int(buildings.index[i]),
                "village_code": village[i],
                "settlement_fid": settle_of[i],
                "station_class": c,
                "time_before_s": before,
                "time_after_s": after if math.isfinite(after) else math.nan,
                "standard_s": params.station_standard_min[c] * 60.0,
                "reason": reason,
                "blockages": tuple(charged),
                "obstruction_fids": tuple(int(f) for f in chosen["obstruction_fid"].dropna()),
                "lane_fids": tuple(dict.fromkeys(int(f) for f in chosen["lane_fid"])),
                "cleared_alone": not together,
                "needs_several": together,
                "legal_basis": "；".join(basis),
                "responsible_party": "；".join(dict.fromkeys(str(p) for p in parties)) or None,
                "party_type": "；".join(dict.fromkeys(str(p) for p in ptypes)) or None,
                "penalty": "；".join(dict.fromkeys(PENALTY[p] for p in ptypes if p in PENALTY)) or None,
            }
        )
    out = pd.DataFrame(rows, columns=_CUT_OFF_COLUMNS)
    out["settlement_fid"] = pd.array(out["settlement_fid"].tolist(), dtype="Int64")
    return out.sort_values(["building_fid", "station_class"], kind="stable").reset_index(drop=True)


_CUT_OFF_COLUMNS = [
    "building_fid",
    "village_code",
    "settlement_fid",
    "station_class",
    "time_before_s",
    "time_after_s",
    "standard_s",
    "reason",
    "blockages",
    "obstruction_fids",
    "lane_fids",
    "cleared_alone",
    "needs_several",
    "legal_basis",
    "responsible_party",
    "party_type",
    "penalty",
]


def _settlement_table(
    settlements: gpd.GeoDataFrame | None,
    settle_of: list[int | None],
    building_table: pd.DataFrame,
    network: ResponseNetwork,
    graph: ResponseGraph,
    node_t: Mapping[str, Mapping[str, np.ndarray]],
    active: Mapping[str, np.ndarray],
    params: ResponseParams,
) -> pd.DataFrame:
    """Per old settlement: its buildings, and its time as the worst of them (the polygon itself when it has none)."""
    if settlements is None or len(settlements) == 0:
        return pd.DataFrame(columns=["name", "village_code", "buildings"])
    fids = np.asarray(settlements.index, dtype=np.int64)
    member = pd.Series(settle_of, index=building_table.index, dtype="Int64")
    polys = _metric(settlements, params.metric_crs)
    own_snap = snap(network, polys, params.access_max_m)
    piece, off = graph.locate(own_snap)
    extra = own_snap.distance_m / (params.access_kmh / 3.6)
    counts = member.value_counts()
    n_members = np.array([int(counts.get(f, 0)) for f in fids])
    cols: dict[str, Any] = {
        "name": _values(_column(settlements, "name"), len(fids), None),
        "village_code": [
            None if _missing(v) else str(v) for v in _values(_column(settlements, "village_code"), len(fids), None)
        ],
        "buildings": n_members,
        "on_network": np.where(n_members > 0, True, own_snap.on_network),
    }
    for s in SCENARIOS:
        for c in (ANY, *params.classes):
            col = f"time_{s}_{c}_s"
            own = graph.place_times(node_t[s][c], active[s], piece, off, extra)
            bt = building_table[col].fillna(np.inf)
            worst = bt.groupby(member.to_numpy(), dropna=True).max()
            t = np.array([worst.get(f, np.inf) if n_members[k] else own[k] for k, f in enumerate(fids)], dtype=float)
            cols[col] = np.where(np.isfinite(t), t, np.nan)
            cols[f"band_{s}_{c}_min"] = _band_of(t, params.bands_min, params.time_tol_s)
    return pd.DataFrame(cols, index=settlements.index)


def _risk_table(
    risk_sources: gpd.GeoDataFrame | None,
    villages: gpd.GeoDataFrame | None,
    network: ResponseNetwork,
    graph: ResponseGraph,
    node_t: Mapping[str, Mapping[str, np.ndarray]],
    active: Mapping[str, np.ndarray],
    params: ResponseParams,
) -> pd.DataFrame:
    """Per risk source: the village holding it, its access and its times."""
    if risk_sources is None or len(risk_sources) == 0:
        return pd.DataFrame(columns=["name", "village_code", "on_network", "access_m"])
    geoms = _metric(risk_sources, params.metric_crs)
    snapped = snap(network, geoms, params.access_max_m)
    piece, off = graph.locate(snapped)
    extra = snapped.distance_m / (params.access_kmh / 3.6)
    t = {
        (s, c): graph.place_times(node_t[s][c], active[s], piece, off, extra)
        for s in SCENARIOS
        for c in (ANY, *params.classes)
    }
    table = _place_table(risk_sources.index, _villages_of(risk_sources, geoms, villages, params.metric_crs), snapped,
                         t, params)  # fmt: skip
    table.insert(0, "name", _values(_column(risk_sources, "name"), len(risk_sources), None))
    return table


def _coverage(
    buildings: pd.DataFrame,
    settlements: pd.DataFrame,
    risks: pd.DataFrame,
    villages: gpd.GeoDataFrame | None,
    params: ResponseParams,
) -> pd.DataFrame:
    """Per scenario, class, village and band: how many buildings, residents, risk sources and old settlements lie
    within the band (cumulative), of how many, and the share; villages with none of a kind get 0 of 0 (share empty)."""
    names: dict[str, Any] = {}
    if villages is not None and len(villages) and "code" in villages.columns:
        names = dict(
            zip(villages["code"].astype(str), _values(_column(villages, "name"), len(villages), None), strict=True)
        )
    no_village = ""  # the group of places whose village is unknown
    kinds = (
        ("buildings", buildings, None),
        ("residents", buildings, "residents"),
        ("risk_sources", risks, None),
        ("old_settlements", settlements, None),
    )
    codes = set(names)
    for _, frame, _ in kinds:
        if len(frame) and "village_code" in frame.columns:
            codes |= {no_village if _missing(c) else str(c) for c in frame["village_code"].tolist()}
    village_index = pd.Index(sorted(codes), name="village_code")
    limits = np.asarray(params.bands_min, float) * 60.0 + params.time_tol_s
    parts = []
    for s in SCENARIOS:
        for c in (ANY, *params.classes):
            col = f"time_{s}_{c}_s"
            block = pd.DataFrame(
                {
                    "scenario": s,
                    "station_class": c,
                    "village_code": np.repeat(village_index.to_numpy(), len(limits)),
                    "band_min": np.tile(np.asarray(params.bands_min, float), len(village_index)),
                }
            )
            for kind, frame, weight in kinds:
                within = np.zeros((len(village_index), len(limits)))
                total = np.zeros(len(village_index))
                if len(frame) and col in frame.columns:
                    code = [no_village if _missing(v) else str(v) for v in frame["village_code"].tolist()]
                    pos = village_index.get_indexer(code)
                    w = frame[weight].to_numpy(float) if weight else np.ones(len(frame))
                    t = frame[col].to_numpy(float)
                    total = np.bincount(pos, weights=w, minlength=len(village_index))
                    reached = np.where(np.isnan(t), np.inf, t)[:, None] <= limits[None, :]
                    for k in range(len(limits)):
                        within[:, k] = np.bincount(pos, weights=w * reached[:, k], minlength=len(village_index))
                tot = np.repeat(total, len(limits))
                got = within.ravel()
                block[kind] = np.rint(got).astype(np.int64)
                block[f"{kind}_total"] = np.rint(tot).astype(np.int64)
                block[f"{kind}_share"] = np.divide(got, tot, out=np.full(len(got), np.nan), where=tot > 0)
            parts.append(block)
    out = pd.concat(parts, ignore_index=True)
    out.insert(3, "village_name", [names.get(v, "未分村" if v == no_village else None) for v in out["village_code"]])
    out["village_code"] = out["village_code"].replace(no_village, None)
    return out


def _outside(
    buildings: pd.DataFrame, settlements: pd.DataFrame, risks: pd.DataFrame, params: ResponseParams
) -> pd.DataFrame:
    """Places outside every band, per scenario and class: off the network, unreachable, or beyond the last band."""
    last = params.bands_min[-1] * 60.0 + params.time_tol_s
    columns = ["scenario", "station_class", "kind", "fid", "village_code", "time_s", "reason"]
    parts = []
    for kind, frame in (("building", buildings), ("old_settlement", settlements), ("risk_source", risks)):
        if len(frame) == 0 or "on_network" not in frame.columns:
            continue
        on = frame["on_network"].to_numpy(bool)
        for s in SCENARIOS:
            for c in (ANY, *params.classes):
                t = frame[f"time_{s}_{c}_s"].to_numpy(float)
                out = ~on | np.isnan(t) | (t > last)
                if not out.any():
                    continue
                reason = np.where(~on[out], "off_network", np.where(np.isnan(t[out]), "unreachable", "beyond_bands"))
                parts.append(
                    pd.DataFrame(
                        {
                            "scenario": s,
                            "station_class": c,
                            "kind": kind,
                            "fid": np.asarray(frame.index[out], dtype=np.int64),
                            "village_code": frame["village_code"].to_numpy()[out],
                            "time_s": t[out],
                            "reason": reason,
                        }
                    )
                )
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)


def _isochrones(
    graph: ResponseGraph,
    node_t: Mapping[str, Mapping[str, np.ndarray]],
    active: Mapping[str, np.ndarray],
    params: ResponseParams,
) -> gpd.GeoDataFrame:
    """Edge pieces reached within each band, per scenario and class, as lon/lat LineStrings with band labels."""
    bands_s = [b * 60.0 for b in params.bands_min]
    parts = []
    for s in SCENARIOS:
        for c in (ANY, *params.classes):
            edge, band, a, b = band_pieces(graph, node_t[s][c], active[s], bands_s)
            parts.append((s, c, edge, band, a, b))
    edge = np.concatenate([p[2] for p in parts]) if parts else np.empty(0, np.int64)
    geoms = substrings(
        graph.network.edges, edge, np.concatenate([p[4] for p in parts]), np.concatenate([p[5] for p in parts])
    )
    band = np.concatenate([p[3] for p in parts]) if parts else np.empty(0, np.int64)
    bands = np.asarray(params.bands_min, float)
    labels = np.array([band_label(k, params.bands_min) for k in range(len(bands))], dtype=object)
    net = graph.network
    frame = gpd.GeoDataFrame(
        {
            "scenario": np.concatenate([np.full(len(p[2]), p[0], dtype=object) for p in parts]),
            "station_class": np.concatenate([np.full(len(p[2]), p[1], dtype=object) for p in parts]),
            "band_min": bands[band],
            "band_from_min": np.where(band > 0, bands[np.maximum(band - 1, 0)], 0.0),
            "label": labels[band],
            "edge": edge,
            "lane_fid": pd.array([None if v < 0 else int(v) for v in net.edge_lane[edge]], dtype="Int64"),
            "road_fid": pd.array([None if v < 0 else int(v) for v in net.edge_road[edge]], dtype="Int64"),
            "start_m": np.concatenate([p[4] for p in parts]),
            "end_m": np.concatenate([p[5] for p in parts]),
        },
        geometry=transform_geometries(geoms, params.metric_crs, WGS84) if len(geoms) else geoms,
        crs=WGS84,
    )
    return frame
