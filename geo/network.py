"""A topologically clean road network and its at-grade junctions, from road lines as people actually have them.

Real road layers are messy: lines cross without a shared vertex, ends stop a metre short of the road they join,
vertices repeat, bridges pass over roads without meeting them, and a dual carriageway makes two junction nodes a
few metres apart where people see one intersection. `build_network` repairs the first three (noding, snapping,
dropping repeated vertices) while honouring grade separation, and reports every repair; `find_junctions` turns
the nodes where three or more edges meet into intersections with legs and approaches.

Pure geometry on metric coordinates (metres): project lon/lat data first (e.g. `GeoSeries.estimate_utm_crs()`).
No layer knowledge lives here; callers pass the per-line grade separation flag and road key. Spatial lookups go
through shapely's STRtree and the work is vectorised, so the cost grows as n log n with the number of lines.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
import shapely

#: shapely type ids of the geometries taken as road lines: LineString, LinearRing, MultiLineString.
_LINE_TYPES = (1, 2, 5)


@dataclass(frozen=True)
class NetworkParams:
    """Tolerances for repairing a road-line layer and for calling a cluster of nodes one intersection.

    Tags as in the domain notes: [K] background knowledge, unverified, so every value is a parameter.
    """

    # A dangling end this close to another line or node joins it (near-miss, undershoot). 2 m [K]: 0.2 mm, the
    # usual plotting accuracy of a paper map, at 1:10,000, the scale of county road maps digitised by hand.
    snap_m: float = 2.0
    # Junction nodes this close (single linkage) are one intersection. 15 m [K]: more than the 10-14 m between
    # the centrelines of two 7.5 m carriageways (2 x 3.75 m lanes) with a median, less than the 20 m osmnx's
    # default tolerance (10 m buffer radius) merges, which also joins separate junctions on town streets.
    consolidate_m: float = 15.0
    # A junction has at least this many legs (approaches): a T has three.
    min_legs: int = 3
    # How far out along each leg its bearing is measured and its approach geometry taken. 30 m [K]: past the
    # flare and curb returns of a rural at-grade junction, short of the next access on most rural roads.
    approach_m: float = 30.0
    # Legs of one intersection leaving within this angle with the same road key (the two carriageways of a dual
    # carriageway) count as one approach. 25 deg, derived: carriageways 12 m apart, seen from the middle at
    # approach_m = 30 m, differ by 2 x atan(6 / 30) = 22.6 deg.
    same_approach_deg: float = 25.0
    # Points closer than this are the same point. Not a survey tolerance: it absorbs the floating-point noise of
    # computed crossing points (about 1e-9 m at projected coordinates of 1e6-1e7 m).
    coincident_m: float = 1e-6

    def __post_init__(self) -> None:
        for name in ("snap_m", "consolidate_m", "approach_m", "same_approach_deg"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        if not self.coincident_m > 0:
            raise ValueError(f"coincident_m must be > 0, got {self.coincident_m!r}")
        if self.approach_m <= 0:
            raise ValueError(f"approach_m must be > 0, got {self.approach_m!r}")
        if self.min_legs < 1:
            raise ValueError(f"min_legs must be >= 1, got {self.min_legs!r}")


@dataclass(frozen=True)
class NetworkRepairs:
    """What `build_network` found and changed, so a user sees why the network differs from the input lines.

    Input problems are listed by the 0-based position of the input line; nothing is dropped without a trace.
    """

    input_lines: int
    empty: tuple[int, ...]  # None or empty geometries: left out
    invalid: tuple[tuple[int, str], ...]  # (input index, reason): not_a_line, non_finite, zero_length; left out
    multipart_lines: int  # MultiLineStrings exploded into their parts
    duplicate_vertices: int  # repeated consecutive vertices dropped
    zero_length_parts: int  # parts (or pieces) of no length dropped from otherwise usable lines
    split_points: int  # distinct points where lines were split because they cross or touch there
    split_points_added: int  # ... of which a line had no vertex there (crossing without a shared vertex)
    self_crossings: int  # lines that cross themselves, split where they do
    overlaps: int  # stretches shared by two lines, split at their ends
    snapped_ends: int  # dangling ends joined to a node or line within snap_m
    snapped_to_node: int
    snapped_to_line: int

    def summary(self) -> dict[str, Any]:
        """Plain values for JSON, logs and tests."""
        out = asdict(self)
        out["empty"] = list(self.empty)
        out["invalid"] = [list(item) for item in self.invalid]
        return out

    def messages(self) -> list[str]:
        """One line per kind of repair, in Chinese for the user with the English term in brackets."""
        reasons = {"not_a_line": "不是线", "non_finite": "坐标无效", "zero_length": "长度为零"}
        out = []
        if self.empty:
            out.append(f"{len(self.empty)} 条空几何已跳过 (empty lines skipped): 第 {_positions(self.empty)} 条")
        for reason, label in reasons.items():
            rows = tuple(i for i, r in self.invalid if r == reason)
            if rows:
                out.append(f"{len(rows)} 条{label}，已跳过 (invalid lines skipped, {reason}): 第 {_positions(rows)} 条")
        counts = (
            (self.multipart_lines, "条多段线已拆分 (multi-part lines exploded)"),
            (self.duplicate_vertices, "个重复节点已删除 (repeated vertices dropped)"),
            (self.zero_length_parts, "段零长度线段已删除 (zero-length parts dropped)"),
            (self.split_points, "处交叉/接触点已打断 (lines split where they cross or touch)"),
            (self.split_points_added, "处交叉点原无公共节点 (crossings without a shared vertex)"),
            (self.self_crossings, "条自相交线已打断 (self-crossing lines split)"),
            (self.overlaps, "处线段重叠 (stretches shared by two lines)"),
            (
                self.snapped_ends,
                f"个悬挂端点已接合 (dangling ends snapped: {self.snapped_to_node} to a node, "
                f"{self.snapped_to_line} to a line)",
            ),
        )
        out.extend(f"{n} {text}" for n, text in counts if n)
        return out


def _positions(rows: Sequence[int], limit: int = 20) -> str:
    """Input positions as 1-based row numbers for a message, shortened after `limit`."""
    shown = "、".join(str(i + 1) for i in rows[:limit])
    return shown + (" 等" if len(rows) > limit else "")


@dataclass(frozen=True, eq=False)
class RoadNetwork:
    """Noded road edges between nodes: every crossing of non-separated lines and every joined end is a node.

    Edges keep the direction of their input line. Node ids are positions in `node_xy`, sorted by (x, y); edges are
    ordered by input line and then along it, so the same input always gives the same network.
    """

    edges: np.ndarray  # LineStrings
    edge_source: np.ndarray  # index of the input line each edge came from
    edge_nodes: np.ndarray  # (m, 2) start and end node of each edge
    node_xy: np.ndarray  # (n, 2) node coordinates
    degree: np.ndarray  # edge ends at each node (a loop counts twice)
    edge_grade_separated: np.ndarray  # the source line's flag, per edge
    edge_keys: np.ndarray | None  # the source line's road key, per edge (None when no keys were given)
    repairs: NetworkRepairs
    params: NetworkParams

    def __len__(self) -> int:
        return len(self.edges)

    @property
    def edge_length(self) -> np.ndarray:
        """Length of each edge in metres."""
        return shapely.length(self.edges)

    def node_points(self) -> np.ndarray:
        """Nodes as shapely Points."""
        return shapely.points(self.node_xy)


@dataclass(frozen=True)
class Approach:
    """One way into an intersection: a road leaving it, or two carriageways of one road leaving side by side."""

    key: Any  # road key of its legs (None when the road has none)
    bearing: float  # degrees, 0 = north, clockwise, from the intersection centre (circular mean of its legs)
    n_legs: int
    source: int  # input line of its first leg (clockwise from north)
    sources: tuple[int, ...]  # input lines of all its legs
    edge: int  # network edge where its first leg starts
    reversed: bool  # True when that edge runs towards the intersection
    geometry: Any  # the first leg's first approach_m, running outward (LineString)

    def outward(self, net: RoadNetwork) -> Any:
        """The whole network edge of the first leg, running away from the intersection."""
        edge = net.edges[self.edge]
        return shapely.reverse(edge) if self.reversed else edge


@dataclass(frozen=True)
class Intersection:
    """One at-grade intersection: its centre, member nodes and approaches clockwise from north."""

    centre: tuple[float, float]
    nodes: tuple[int, ...]
    legs: tuple[Approach, ...]  # one per approach, so len(legs) is the number of legs people count


@dataclass(frozen=True, eq=False)
class Junctions:
    """At-grade intersections: clusters of junction nodes with the approaches that leave them.

    `legs[i]` is the number of approaches of intersection i (legs leaving in nearly the same direction with the
    same road key are one approach). `leg_table` has one row per leg and `approach_table` one per approach, both
    ordered by intersection and then clockwise from north.
    """

    xy: np.ndarray  # (k, 2) centroid of the member nodes
    legs: np.ndarray  # (k,) number of approaches
    node_ptr: np.ndarray  # (k + 1,) members of intersection i are member_nodes[node_ptr[i]:node_ptr[i + 1]]
    member_nodes: np.ndarray
    leg_table: pd.DataFrame
    approach_table: pd.DataFrame
    raw_count: int  # nodes with degree >= min_legs, before consolidation
    cluster_count: int  # clusters after consolidation, before requiring min_legs approaches
    params: NetworkParams

    def __len__(self) -> int:
        return len(self.xy)

    def __iter__(self) -> Iterator[Intersection]:
        for i in range(len(self)):
            yield self[i]

    def __getitem__(self, i: int) -> Intersection:
        """Intersection i as an object, for code that looks at one intersection at a time."""
        if not -len(self) <= i < len(self):
            raise IndexError(f"intersection {i} of {len(self)}")
        i %= len(self)
        lo, hi = np.searchsorted(self.approach_table["junction"].to_numpy(), [i, i + 1])
        rows = self.approach_table.iloc[lo:hi]
        legs = tuple(
            Approach(
                key=None if _missing(r.key) else r.key,
                bearing=float(r.bearing_deg),
                n_legs=int(r.n_legs),
                source=int(r.source),
                sources=tuple(int(v) for v in r.sources),
                edge=int(r.edge),
                reversed=bool(r.reversed),
                geometry=r.geometry,
            )
            for r in rows.itertuples(index=False)
        )
        return Intersection(
            centre=(float(self.xy[i, 0]), float(self.xy[i, 1])), nodes=tuple(self.nodes(i).tolist()), legs=legs
        )

    def nodes(self, i: int) -> np.ndarray:
        """Node ids of intersection i."""
        return self.member_nodes[self.node_ptr[i] : self.node_ptr[i + 1]]

    def points(self) -> np.ndarray:
        """Intersection centres as shapely Points."""
        return shapely.points(self.xy)

    def to_frame(self) -> pd.DataFrame:
        """One row per intersection: centre, approach count, member nodes, approach keys and bearings, sources."""
        approaches = self.approach_table
        legs = self.leg_table.drop_duplicates(["junction", "source"]).sort_values(["junction", "source"])
        return pd.DataFrame(
            {
                "x": self.xy[:, 0],
                "y": self.xy[:, 1],
                "legs": self.legs,
                "nodes": [tuple(self.nodes(i).tolist()) for i in range(len(self))],
                "keys": _runs_as_tuples(approaches["junction"].to_numpy(), approaches["key"].to_numpy()),
                "bearings": _runs_as_tuples(approaches["junction"].to_numpy(), approaches["bearing_deg"].to_numpy()),
                "sources": _runs_as_tuples(legs["junction"].to_numpy(), legs["source"].to_numpy()),
            }
        )


# -- building the network --------------------------------------------------------------------------------------


def build_network(
    lines: Iterable[Any],
    grade_separated: Iterable[bool] | None = None,
    keys: Iterable[Any] | None = None,
    params: NetworkParams | None = None,
) -> RoadNetwork:
    """Node, snap and clean road lines (metric CRS) into a network; see `RoadNetwork` and `NetworkRepairs`.

    `grade_separated[i]` True means line i (a bridge, tunnel or flyover) is never split where it merely crosses
    another line: it connects only at its own ends, which may join another line's interior (that line is then
    split there). `keys[i]` is a road key (route code or name) kept per edge for merging approaches.
    """
    params = params or NetworkParams()
    tol = params.coincident_m
    geoms = _geometry_array(lines)
    n = len(geoms)
    flags = _flag_array(grade_separated, n)
    key_arr = _key_array(keys, n)

    parts, part_src, check = _clean_parts(geoms)
    part_flag = flags[part_src]

    # 1. Noding: split lines where they cross or touch, and where they cross themselves.
    cut_line, cut_xy, cut_kind = _noding_cuts(parts, part_flag, tol)
    edges, edge_part = parts, np.arange(len(parts))
    split_points = split_added = self_crossings = 0
    zero_pieces = 0
    if len(cut_line):
        pieces, owner, rank, effective, added = _split(edges, cut_line, cut_xy, tol)
        edges, edge_part, dropped = _replace(edges, edge_part, pieces, owner, rank, tol)
        zero_pieces += dropped
        real = effective & (cut_kind != _SELF)
        split_points = len(_unique_rows(cut_xy[real])[0])
        split_added = len(_unique_rows(cut_xy[real & added])[0])
        self_crossings = len(np.unique(cut_line[effective & (cut_kind == _SELF)]))
    overlaps = int(np.count_nonzero(cut_kind == _OVERLAP) // 4)  # two ends, on both lines

    # 2. Snapping: join dangling ends to the nearest node or line within snap_m.
    edge_nodes, node_xy = _nodes(edges, tol)
    snapped_node = snapped_line = 0
    if params.snap_m > 0 and len(edges):
        edges, edge_part, snapped_node, snapped_line, dropped = _snap(
            edges, edge_part, edge_nodes, node_xy, flags[part_src[edge_part]], params
        )
        zero_pieces += dropped
        if snapped_node + snapped_line:
            edge_nodes, node_xy = _nodes(edges, tol)

    edge_source = part_src[edge_part]
    degree = np.bincount(edge_nodes.ravel(), minlength=len(node_xy)) if len(edges) else np.zeros(len(node_xy), int)
    repairs = NetworkRepairs(
        input_lines=n,
        empty=tuple(int(i) for i in check["empty"]),
        invalid=tuple((int(i), r) for i, r in check["invalid"]),
        multipart_lines=check["multipart"],
        duplicate_vertices=check["duplicates"],
        zero_length_parts=check["zero_parts"] + zero_pieces,
        split_points=split_points,
        split_points_added=split_added,
        self_crossings=self_crossings,
        overlaps=overlaps,
        snapped_ends=snapped_node + snapped_line,
        snapped_to_node=snapped_node,
        snapped_to_line=snapped_line,
    )
    return RoadNetwork(
        edges=edges,
        edge_source=edge_source,
        edge_nodes=edge_nodes,
        node_xy=node_xy,
        degree=degree,
        edge_grade_separated=flags[edge_source],
        edge_keys=None if key_arr is None else key_arr[edge_source],
        repairs=repairs,
        params=params,
    )


def _geometry_array(lines: Iterable[Any]) -> np.ndarray:
    """The input as a 1-d object array of geometries; refuses lon/lat GeoSeries, whose units are not metres."""
    crs = getattr(lines, "crs", None)
    if crs is not None and getattr(crs, "is_geographic", False):
        raise ValueError(
            f"road lines are in a geographic CRS ({crs.to_string()}); project them to metres first, "
            "e.g. lines.to_crs(lines.estimate_utm_crs())"
        )
    if isinstance(lines, pd.DataFrame):
        lines = lines.geometry  # a GeoDataFrame: its active geometry column
    if hasattr(lines, "values"):
        lines = lines.values  # a GeoSeries or Series
    arr = np.asarray(lines if isinstance(lines, np.ndarray) or hasattr(lines, "__array__") else list(lines), object)
    if arr.ndim != 1:
        raise ValueError(f"expected a 1-d sequence of line geometries, got shape {arr.shape}")
    return arr


def _flag_array(values: Iterable[bool] | None, n: int) -> np.ndarray:
    """Per-line grade separation as a bool array (missing values are False)."""
    if values is None:
        return np.zeros(n, bool)
    raw = values.to_numpy() if hasattr(values, "to_numpy") else np.asarray(list(values), dtype=object)
    if len(raw) != n:
        raise ValueError(f"grade_separated has {len(raw)} values for {n} lines")
    if raw.dtype == bool:
        return raw.copy()
    return np.array([False if pd.isna(v) else bool(v) for v in raw], dtype=bool)  # a missing flag is False


def _key_array(values: Iterable[Any] | None, n: int) -> np.ndarray | None:
    """Per-line road keys as an object array, or None."""
    if values is None:
        return None
    items = list(values)
    if len(items) != n:
        raise ValueError(f"keys has {len(items)} values for {n} lines")
    keys = np.empty(n, dtype=object)
    keys[:] = items
    return keys


def _clean_parts(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Single-part LineStrings without repeated vertices, the input index of each, and what was found on the way."""
    type_id = shapely.get_type_id(geoms)
    empty = (type_id < 0) | shapely.is_empty(geoms)
    not_line = ~empty & ~np.isin(type_id, _LINE_TYPES)
    usable = np.flatnonzero(~empty & ~not_line)
    invalid: dict[int, str] = {int(i): "not_a_line" for i in np.flatnonzero(not_line)}

    parts, part_in = shapely.get_parts(geoms[usable], return_index=True)
    part_src = usable[part_in]
    multipart = int(np.count_nonzero(np.bincount(part_in, minlength=len(usable)) > 1))

    xy, owner = shapely.get_coordinates(parts, return_index=True)
    finite = np.isfinite(xy).all(axis=1)
    bad_part = np.zeros(len(parts), bool)
    bad_part[owner[~finite]] = True
    for i in np.unique(part_src[bad_part]):
        invalid[int(i)] = "non_finite"
    keep_v = ~bad_part[owner]
    # A vertex equal to the one before it on the same part is a repeat.
    repeat = np.zeros(len(xy), bool)
    repeat[1:] = (owner[1:] == owner[:-1]) & (xy[1:] == xy[:-1]).all(axis=1)
    duplicates = int(np.count_nonzero(repeat & keep_v))
    keep_v &= ~repeat
    n_vertices = np.bincount(owner[keep_v], minlength=len(parts))
    good = (n_vertices >= 2) & ~bad_part
    # Inputs none of whose parts has length are invalid; lone degenerate parts of a usable line are counted.
    src_good = np.zeros(len(geoms), bool)
    src_good[part_src[good]] = True
    degenerate = ~good & ~bad_part
    zero_parts = int(np.count_nonzero(degenerate & src_good[part_src]))
    for i in np.unique(part_src[degenerate & ~src_good[part_src]]):
        invalid.setdefault(int(i), "zero_length")
    # Parts of an input with non-finite coordinates are all dropped: half a line would mislead.
    good &= ~np.isin(part_src, [i for i, r in invalid.items() if r == "non_finite"])
    keep_v &= good[owner]
    new_index = np.cumsum(good) - 1
    clean = shapely.linestrings(xy[keep_v], indices=new_index[owner[keep_v]]) if good.any() else np.empty(0, object)
    check = {
        "empty": np.flatnonzero(empty),
        "invalid": sorted(invalid.items()),
        "multipart": multipart,
        "duplicates": duplicates,
        "zero_parts": zero_parts,
    }
    return np.asarray(clean, dtype=object), part_src[good], check


#: Kinds of cut: a crossing or touching point, a flagged line's end on another line, a self-crossing, an overlap end.
_CROSS, _END, _SELF, _OVERLAP = 0, 1, 2, 3


def _noding_cuts(parts: np.ndarray, flagged: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where each part must be split: (part index, point xy, kind) for every crossing or touching point.

    The STRtree yields the pairs whose boxes overlap; one DE-9IM test keeps those meeting anywhere but end to
    end (FF*F*****: interiors disjoint, neither end on the other's interior), which in a clean layer is nearly
    none, and only those few pairs are intersected.
    """
    cut_line, cut_xy, cut_kind = [], [], []
    if len(parts) == 0:
        return np.empty(0, int), np.empty((0, 2)), np.empty(0, int)
    tree = shapely.STRtree(parts)
    left, right = tree.query(parts, predicate=None)
    pair = (left < right) & ~flagged[left] & ~flagged[right]
    left, right = left[pair], right[pair]
    need = ~shapely.relate_pattern(parts[left], parts[right], "FF*F*****")
    left, right = left[need], right[need]
    if len(left):
        meet = shapely.intersection(parts[left], parts[right])
        pieces, which = shapely.get_parts(meet, return_index=True)
        is_point = shapely.get_type_id(pieces) == 0
        # A shared stretch (overlap) splits both lines at its two ends.
        lines_ = pieces[~is_point]
        ends = np.concatenate([shapely.get_point(lines_, 0), shapely.get_point(lines_, -1)])
        points = np.concatenate([pieces[is_point], ends])
        owner = np.concatenate([which[is_point], which[~is_point], which[~is_point]])
        kind = np.concatenate([np.full(is_point.sum(), _CROSS), np.full(2 * len(lines_), _OVERLAP)])
        xy = shapely.get_coordinates(points)
        for side in (left, right):
            cut_line.append(side[owner])
            cut_xy.append(xy)
            cut_kind.append(kind)
    # A grade-separated line connects at its own ends only: an end on another (not separated) line splits that line.
    sep = np.flatnonzero(flagged)
    if len(sep):
        end_pts = np.concatenate([shapely.get_point(parts[sep], 0), shapely.get_point(parts[sep], -1)])
        end_of = np.concatenate([sep, sep])
        p, target = tree.query(end_pts, predicate="dwithin", distance=tol)
        ok = ~flagged[target] & (target != end_of[p])
        cut_line.append(target[ok])
        cut_xy.append(shapely.get_coordinates(end_pts[p[ok]]))
        cut_kind.append(np.full(ok.sum(), _END))
    # A line crossing itself is split where it does (GEOS nodes it); separated lines are left whole.
    twisted = np.flatnonzero(~shapely.is_simple(parts) & ~flagged)
    if len(twisted):
        noded = shapely.node(parts[twisted])
        pieces, which = shapely.get_parts(noded, return_index=True)
        ends = np.concatenate([shapely.get_point(pieces, 0), shapely.get_point(pieces, -1)])
        cut_line.append(np.concatenate([twisted[which], twisted[which]]))
        cut_xy.append(shapely.get_coordinates(ends))
        cut_kind.append(np.full(2 * len(pieces), _SELF))
    if not cut_line:
        return np.empty(0, int), np.empty((0, 2)), np.empty(0, int)
    return np.concatenate(cut_line), np.concatenate(cut_xy), np.concatenate(cut_kind)


def _split(
    lines: np.ndarray, cut_line: np.ndarray, cut_xy: np.ndarray, tol: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split lines[cut_line[i]] at cut_xy[i], all at once.

    A cut point is placed on every segment of its line within `tol` (twice on a self-crossing), becomes a cut at
    a vertex when it lies on one, and is ignored at the line's own ends. Returns the pieces in order along each
    line, the line each came from, its rank along that line, and per cut whether it split anything
    (`effective`) and whether it added a vertex (`added`).
    """
    targets, cut_t = np.unique(cut_line, return_inverse=True)
    xy, owner = shapely.get_coordinates(lines[targets], return_index=True)
    n_v = np.bincount(owner, minlength=len(targets))
    first = np.concatenate([[0], np.cumsum(n_v)[:-1]])
    last = first + n_v - 1
    seg = np.flatnonzero(np.r_[owner[:-1] == owner[1:], False])  # vertex index where each segment starts
    seg_lines = shapely.linestrings(np.stack([xy[seg], xy[seg + 1]], axis=1))
    hit_cut, hit_seg = shapely.STRtree(seg_lines).query(shapely.points(cut_xy), predicate="dwithin", distance=tol)
    same = owner[seg[hit_seg]] == cut_t[hit_cut]
    hit_cut, s = hit_cut[same], seg[hit_seg[same]]
    p, a, b = cut_xy[hit_cut], xy[s], xy[s + 1]
    near_a = np.hypot(*(p - a).T) <= tol
    near_b = np.hypot(*(p - b).T) <= tol
    vertex = np.where(near_a, s, np.where(near_b, s + 1, -1))
    at_vertex = vertex >= 0
    interior_vertex = at_vertex & (vertex != first[owner[np.maximum(vertex, 0)]]) & (vertex != last[owner[vertex]])
    cut_vertex = np.zeros(len(xy), bool)
    cut_vertex[vertex[interior_vertex]] = True

    inserted = ~at_vertex
    ins_s, ins_p, ins_cut = s[inserted], p[inserted], hit_cut[inserted]
    d = xy[ins_s + 1] - xy[ins_s]
    seg_len = np.hypot(*d.T)
    u = np.clip(((ins_p - xy[ins_s]) * d).sum(axis=1) / (seg_len**2), 0.0, 1.0)
    order = np.lexsort((u, ins_s))
    ins_s, ins_p, u, seg_len = ins_s[order], ins_p[order], u[order], seg_len[order]
    # Two cut points on one segment closer than `tol` are one point.
    dup = np.zeros(len(ins_s), bool)
    dup[1:] = (ins_s[1:] == ins_s[:-1]) & ((u[1:] - u[:-1]) * seg_len[1:] <= tol)
    ins_s, ins_p, u = ins_s[~dup], ins_p[~dup], u[~dup]

    effective = np.zeros(len(cut_line), bool)
    added = np.zeros(len(cut_line), bool)
    effective[hit_cut[interior_vertex]] = True
    effective[ins_cut] = True
    added[ins_cut] = True

    # Vertices and inserted points in order along each line; every cut point ends one piece and starts the next.
    item_s = np.concatenate([np.arange(len(xy)), ins_s])
    item_u = np.concatenate([np.zeros(len(xy)), u])
    item_xy = np.concatenate([xy, ins_p])
    item_cut = np.concatenate([cut_vertex, np.ones(len(ins_s), bool)])
    order = np.lexsort((item_u, item_s))
    item_s, item_xy, item_cut = item_s[order], item_xy[order], item_cut[order]
    item_owner = owner[item_s]
    cuts_before = np.cumsum(item_cut) - item_cut
    piece = item_owner + cuts_before
    all_piece = np.concatenate([piece, piece[item_cut] + 1])
    all_pos = np.concatenate([np.arange(len(piece)), np.flatnonzero(item_cut)])
    all_xy = np.concatenate([item_xy, item_xy[item_cut]])
    order = np.lexsort((all_pos, all_piece))
    piece_ids, piece_index = np.unique(all_piece[order], return_inverse=True)
    pieces = shapely.linestrings(all_xy[order], indices=piece_index)
    piece_owner = np.empty(len(piece_ids), int)
    piece_owner[piece_index] = item_owner[all_pos[order]]
    rank = np.arange(len(piece_ids)) - np.searchsorted(piece_owner, piece_owner)
    return np.asarray(pieces, dtype=object), targets[piece_owner], rank, effective, added


def _replace(
    edges: np.ndarray, edge_part: np.ndarray, pieces: np.ndarray, owner: np.ndarray, rank: np.ndarray, tol: float
) -> tuple[np.ndarray, np.ndarray, int]:
    """Edges with each split edge replaced in place by its pieces; pieces shorter than `tol` are dropped (counted)."""
    keep = np.ones(len(edges), bool)
    keep[owner] = False
    pos = np.concatenate([np.flatnonzero(keep), owner])
    sub = np.concatenate([np.zeros(keep.sum(), int), rank])
    order = np.lexsort((sub, pos))
    new_edges = np.concatenate([edges[keep], pieces])[order]
    new_part = np.concatenate([edge_part[keep], edge_part[owner]])[order]
    real = shapely.length(new_edges) > tol
    return new_edges[real], new_part[real], int(np.count_nonzero(~real))


def _run_starts(values: np.ndarray) -> np.ndarray:
    """True where a sorted array starts a new run of equal values."""
    starts = np.ones(len(values), bool)
    starts[1:] = values[1:] != values[:-1]
    return starts


def _unique_rows(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct coordinate pairs sorted by (x, y), and the position of each input row among them.

    Faster than np.unique(axis=0), which sorts rows as opaque byte strings.
    """
    order = np.lexsort((xy[:, 1], xy[:, 0]))
    ordered = xy[order]
    new = np.ones(len(xy), bool)
    new[1:] = (ordered[1:] != ordered[:-1]).any(axis=1)
    inverse = np.empty(len(xy), int)
    inverse[order] = np.cumsum(new) - 1
    return ordered[new], inverse


def _components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected components of n items linked by pairs (a, b): each item's label is its component's smallest item.

    Union-find in vectorised form: hook every root onto the smallest label across its links, then jump pointers
    until each points at a root; repeat until nothing changes (a few rounds for road-sized clusters).
    """
    labels = np.arange(n)
    if len(a) == 0:
        return labels
    while True:
        la, lb = labels[a], labels[b]
        low = np.minimum(la, lb)
        new = labels.copy()
        np.minimum.at(new, la, low)
        np.minimum.at(new, lb, low)
        while True:
            jumped = new[new]
            if np.array_equal(jumped, new):
                break
            new = jumped
        if np.array_equal(new, labels):
            return labels
        labels = new


def _nodes(edges: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Start and end node of each edge, with end points closer than `tol` taken as one node ordered by (x, y)."""
    if len(edges) == 0:
        return np.empty((0, 2), int), np.empty((0, 2))
    xy, owner = shapely.get_coordinates(edges, return_index=True)
    first = np.searchsorted(owner, np.arange(len(edges)))
    last = np.r_[first[1:], len(xy)] - 1
    ends = np.concatenate([xy[first], xy[last]])
    uniq, inverse = _unique_rows(ends)
    pts = shapely.points(uniq)
    a, b = shapely.STRtree(pts).query(pts, predicate="dwithin", distance=tol)
    link = a < b
    if link.any():
        labels = _components(len(uniq), a[link], b[link])
        roots, node_of = np.unique(labels, return_inverse=True)
        uniq = uniq[roots]  # the smallest (x, y) of each group stands for it
        inverse = node_of[inverse]
    return inverse.reshape(2, -1).T.copy(), uniq


def _snap(
    edges: np.ndarray,
    edge_part: np.ndarray,
    edge_nodes: np.ndarray,
    node_xy: np.ndarray,
    edge_flag: np.ndarray,
    params: NetworkParams,
) -> tuple[np.ndarray, np.ndarray, int, int, int]:
    """Join each dangling end (a node of degree one) to the nearest node within snap_m, else the nearest line.

    A node is preferred to a line, as GIS snapping does, so that two near-misses at one junction meet in one node
    rather than making a sliver edge. The end's own edge, and edges already sharing its edge's other node, are
    never targets; a grade-separated line is joined only at its nodes. The dangling edge is extended by a short
    straight piece to the target, and a target line is split there.
    """
    tol = params.coincident_m
    degree = np.bincount(edge_nodes.ravel(), minlength=len(node_xy))
    slots = np.flatnonzero(degree[edge_nodes.ravel()] == 1)  # slot = 2 * edge + end
    if len(slots) == 0:
        return edges, edge_part, 0, 0, 0
    d_edge, d_end = slots // 2, slots % 2
    d_node = edge_nodes[d_edge, d_end]
    other = edge_nodes[d_edge, 1 - d_end]
    d_pts = shapely.points(node_xy[d_node])

    # Nodes within snap_m, nearest first (ties to the smaller node id).
    node_pts = shapely.points(node_xy)
    q, cand = shapely.STRtree(node_pts).query(d_pts, predicate="dwithin", distance=params.snap_m)
    ok = (cand != d_node[q]) & (cand != other[q])
    q, cand = q[ok], cand[ok]
    dist = np.hypot(*(node_xy[cand] - node_xy[d_node[q]]).T)
    order = np.lexsort((cand, dist, q))
    q, cand = q[order], cand[order]
    first = _run_starts(q)
    to_node = np.full(len(slots), -1)
    to_node[q[first]] = cand[first]

    # Lines within snap_m for the ends no node took.
    free = np.flatnonzero(to_node < 0)
    q, e = shapely.STRtree(edges).query(d_pts[free], predicate="dwithin", distance=params.snap_m)
    q = free[q]
    ok = (e != d_edge[q]) & ~edge_flag[e] & (edge_nodes[e, 0] != other[q]) & (edge_nodes[e, 1] != other[q])
    q, e = q[ok], e[ok]
    dist = shapely.distance(d_pts[q], edges[e])
    order = np.lexsort((e, dist, q))
    q, e = q[order], e[order]
    first = _run_starts(q)
    line_q, line_e = q[first], e[first]
    on_line = shapely.line_interpolate_point(edges[line_e], shapely.line_locate_point(edges[line_e], d_pts[line_q]))
    line_xy = shapely.get_coordinates(on_line)

    # Node joins: a dangling end and its target (possibly another dangling end) become one node, kept where the
    # better-connected of them is (ties: the smaller node id).
    by_node = np.flatnonzero(to_node >= 0)
    moved_slot, moved_xy = np.empty(0, int), np.empty((0, 2))
    if len(by_node):
        members = np.unique(np.concatenate([d_node[by_node], to_node[by_node]]))
        a = np.searchsorted(members, d_node[by_node])
        b = np.searchsorted(members, to_node[by_node])
        labels = _components(len(members), a, b)
        rank = np.lexsort((members, -degree[members], labels))
        lead = _run_starts(labels[rank])
        rep = np.empty(len(members), int)
        rep[rank] = members[rank][lead][np.cumsum(lead) - 1]
        moved = members != rep  # only dangling ends move: a group holds at most one better-connected node
        slot_at = np.full(len(node_xy), -1)
        slot_at[d_node] = slots
        moved_slot, moved_xy = slot_at[members[moved]], node_xy[rep[moved]]
    edges = _extend(edges, np.concatenate([moved_slot, slots[line_q]]), np.concatenate([moved_xy, line_xy]))
    dropped = 0
    if len(line_e):
        pieces, owner, rank_, _, _ = _split(edges, line_e, line_xy, tol)
        edges, edge_part, dropped = _replace(edges, edge_part, pieces, owner, rank_, tol)
    return edges, edge_part, len(moved_slot), len(line_q), dropped


def _extend(edges: np.ndarray, slots: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Edges with a straight piece added at the given ends (slot = 2 * edge + end) out to the given points."""
    if len(slots) == 0:
        return edges
    which, at = np.unique(slots // 2, return_inverse=True)
    coords, owner = shapely.get_coordinates(edges[which], return_index=True)
    # Sort key per coordinate: (edge, 0 for an added start, 1 for the line, 2 for an added end, order).
    end = slots % 2
    key_owner = np.concatenate([owner, at])
    key_part = np.concatenate([np.ones(len(owner), int), np.where(end == 0, 0, 2)])
    key_pos = np.concatenate([np.arange(len(owner)), np.zeros(len(at), int)])
    order = np.lexsort((key_pos, key_part, key_owner))
    out = edges.copy()
    out[which] = shapely.linestrings(np.concatenate([coords, xy])[order], indices=key_owner[order])
    return out


# -- junctions -------------------------------------------------------------------------------------------------


def find_junctions(net: RoadNetwork, params: NetworkParams | None = None) -> Junctions:
    """At-grade intersections of a network: junction nodes consolidated within consolidate_m, with their approaches.

    A junction node has degree >= min_legs. Nodes closer than consolidate_m (single linkage, found through an
    STRtree) are one intersection centred on their centroid. Its legs are the ways out of the cluster: a path from
    a member node that returns to the cluster while staying within approach_m of the centre (a dual-carriageway
    connector, a roundabout arc) is internal, not a leg. Each leg is followed through nodes of degree two for
    approach_m; its bearing (0 = north, clockwise) runs from the centre to the point approach_m out (or its far
    end). Legs of one intersection with the same road key leaving within same_approach_deg are one approach, and
    only clusters with >= min_legs approaches are intersections.
    """
    params = params or net.params
    junction_nodes = np.flatnonzero(net.degree >= params.min_legs)
    raw = len(junction_nodes)
    jxy = net.node_xy[junction_nodes]
    pts = shapely.points(jxy)
    a, b = shapely.STRtree(pts).query(pts, predicate="dwithin", distance=params.consolidate_m)
    link = a < b
    labels = _components(raw, a[link], b[link])
    roots, cluster = np.unique(labels, return_inverse=True)  # clusters ordered by their smallest node id
    n_clusters = len(roots)
    centre = np.zeros((n_clusters, 2))
    np.add.at(centre, cluster, jxy)
    centre /= np.maximum(np.bincount(cluster, minlength=n_clusters), 1)[:, None]
    cluster_of = np.full(len(net.node_xy), -1)
    cluster_of[junction_nodes] = cluster

    legs = _legs(net, cluster_of, centre, params)
    legs = _approaches(legs, params)
    n_app = legs.groupby("cluster")["approach"].nunique().reindex(range(n_clusters), fill_value=0).to_numpy()
    kept = np.flatnonzero(n_app >= params.min_legs)
    new_id = np.full(n_clusters, -1)
    new_id[kept] = np.arange(len(kept))

    legs = legs[new_id[legs["cluster"].to_numpy()] >= 0].copy()
    legs.insert(0, "junction", new_id[legs.pop("cluster").to_numpy()])
    legs = legs.sort_values(["junction", "bearing_deg", "edge", "reversed"], kind="stable").reset_index(drop=True)
    approaches = _approach_table(legs)

    member_cluster = new_id[cluster]
    order = np.lexsort((junction_nodes, member_cluster))
    order = order[member_cluster[order] >= 0]
    ptr = np.searchsorted(member_cluster[order], np.arange(len(kept) + 1))
    return Junctions(
        xy=centre[kept],
        legs=n_app[kept],
        node_ptr=ptr,
        member_nodes=junction_nodes[order],
        leg_table=legs,
        approach_table=approaches,
        raw_count=raw,
        cluster_count=n_clusters,
        params=params,
    )


def _legs(net: RoadNetwork, cluster_of: np.ndarray, centre: np.ndarray, params: NetworkParams) -> pd.DataFrame:
    """One row per way out of each cluster: first edge, direction, source, key, bearing and approach geometry."""
    ends = net.edge_nodes.ravel()
    slots = np.flatnonzero(cluster_of[ends] >= 0)  # slot = 2 * edge + end (end 1: the leg runs against the edge)
    edge, rev = slots // 2, (slots % 2).astype(bool)
    cluster = cluster_of[ends[slots]]
    chain, far = _follow(net, edge, rev, params.approach_m)
    centre_pts = shapely.points(centre[cluster])
    back = np.flatnonzero(cluster_of[far] == cluster)
    internal = np.zeros(len(slots), bool)
    internal[back] = (
        shapely.hausdorff_distance(chain[back], centre_pts[back]) <= params.approach_m + params.coincident_m
    )
    head, tip = _head(chain, params.approach_m, params.coincident_m)
    delta = shapely.get_coordinates(tip) - centre[cluster]
    bearing = _degrees(np.arctan2(delta[:, 0], delta[:, 1]))
    source = net.edge_source[edge]
    frame = pd.DataFrame(
        {
            "cluster": cluster,
            "node": ends[slots],
            "edge": edge,
            "reversed": rev,
            "source": source,
            "key": net.edge_keys[edge] if net.edge_keys is not None else np.full(len(slots), None, object),
            "bearing_deg": bearing,
            "geometry": head,
        }
    )
    return frame[~internal].reset_index(drop=True)


def _follow(net: RoadNetwork, edge: np.ndarray, rev: np.ndarray, limit: float) -> tuple[np.ndarray, np.ndarray]:
    """Each leg's path outward from its first edge on through nodes of degree two until `limit` metres are covered.

    Returns the path as one LineString per leg, and the node where it stops. All legs advance together, one edge
    per round; the rounds end once every leg is long enough or reaches a node of another degree.
    """
    m = len(edge)
    length = net.edge_length
    ends = net.edge_nodes.ravel()
    by_node = np.argsort(ends, kind="stable")
    ptr = np.searchsorted(ends[by_node], np.arange(len(net.node_xy) + 1))
    piece_leg, piece_edge, piece_rev = [np.arange(m)], [edge], [rev]
    cur, cur_rev = edge.copy(), rev.copy()
    far = np.where(rev, net.edge_nodes[edge, 0], net.edge_nodes[edge, 1])
    covered = length[edge].copy()
    active = np.flatnonzero((covered < limit) & (net.degree[far] == 2))
    for _ in range(len(net.edges)):
        if len(active) == 0:
            break
        f = far[active]
        arrived = 2 * cur[active] + np.where(cur_rev[active], 0, 1)
        s0, s1 = by_node[ptr[f]], by_node[ptr[f] + 1]
        leave = np.where(s0 == arrived, s1, s0)
        nxt, nxt_rev = leave // 2, (leave % 2).astype(bool)
        go = nxt != cur[active]  # a loop on a node of degree two leads nowhere new
        active, nxt, nxt_rev = active[go], nxt[go], nxt_rev[go]
        piece_leg.append(active)
        piece_edge.append(nxt)
        piece_rev.append(nxt_rev)
        cur[active], cur_rev[active] = nxt, nxt_rev
        far[active] = np.where(nxt_rev, net.edge_nodes[nxt, 0], net.edge_nodes[nxt, 1])
        covered[active] += length[nxt]
        active = active[(covered[active] < limit) & (net.degree[far[active]] == 2)]
    chains = _oriented(net.edges, edge, rev)
    if len(piece_leg) == 1:  # every leg is one edge
        return chains, far
    leg = np.concatenate(piece_leg)
    p_edge, p_rev = np.concatenate(piece_edge), np.concatenate(piece_rev)
    step = np.concatenate([np.full(len(x), i) for i, x in enumerate(piece_leg)])
    longer = np.zeros(m, bool)
    longer[np.concatenate(piece_leg[1:])] = True
    sel = longer[leg]
    leg, p_edge, p_rev, step = leg[sel], p_edge[sel], p_rev[sel], step[sel]
    order = np.lexsort((step, leg))
    xy, owner = shapely.get_coordinates(_oriented(net.edges, p_edge[order], p_rev[order]), return_index=True)
    owner_leg = leg[order][owner]
    # Drop each piece's first vertex except on a leg's first piece: it repeats the previous piece's last one.
    first_of_piece = np.r_[True, owner[1:] != owner[:-1]]
    first_of_leg = np.r_[True, owner_leg[1:] != owner_leg[:-1]]
    keep = ~first_of_piece | first_of_leg
    which, index = np.unique(owner_leg[keep], return_inverse=True)
    chains[which] = shapely.linestrings(xy[keep], indices=index)
    return chains, far


def _oriented(edges: np.ndarray, edge: np.ndarray, rev: np.ndarray) -> np.ndarray:
    """edges[edge], reversed where `rev`, as a new object array."""
    out = edges[edge].copy()
    out[rev] = shapely.reverse(out[rev])
    return out


def _head(lines: np.ndarray, length: float, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """The first `length` metres of each line (all of it when shorter), and the point where that part ends."""
    total = shapely.length(lines)
    reach = np.minimum(total, length)
    tip = shapely.line_interpolate_point(lines, reach)
    xy, owner = shapely.get_coordinates(lines, return_index=True)
    step = np.zeros(len(xy))
    step[1:] = np.where(owner[1:] == owner[:-1], np.hypot(*(xy[1:] - xy[:-1]).T), 0.0)
    along = np.cumsum(step)
    first = np.searchsorted(owner, np.arange(len(lines)))
    along -= along[first][owner]
    keep = along < reach[owner] - tol
    coords = np.concatenate([xy[keep], shapely.get_coordinates(tip)])
    index = np.concatenate([owner[keep], np.arange(len(lines))])
    order = np.argsort(index, kind="stable")
    heads = shapely.linestrings(coords[order], indices=index[order]) if len(lines) else np.empty(0, object)
    return np.asarray(heads, dtype=object), tip


def _approaches(legs: pd.DataFrame, params: NetworkParams) -> pd.DataFrame:
    """Number each leg's approach within its cluster: legs with the same key within same_approach_deg share one."""
    n = len(legs)
    code, uniques = pd.factorize(legs["key"].to_numpy(dtype=object), use_na_sentinel=True)
    blank = np.array([_missing(u) for u in uniques], dtype=bool)
    if blank.any():
        code = code.copy()
        code[(code >= 0) & blank[np.maximum(code, 0)]] = -1  # a missing or blank key matches nothing
    frame = pd.DataFrame({"leg": np.arange(n), "cluster": legs["cluster"].to_numpy(), "code": code})
    frame = frame[frame["code"] >= 0]
    pairs = frame.merge(frame, on=["cluster", "code"], suffixes=("_a", "_b"))
    pairs = pairs[pairs["leg_a"] < pairs["leg_b"]]
    bearing = legs["bearing_deg"].to_numpy()
    a, b = pairs["leg_a"].to_numpy(), pairs["leg_b"].to_numpy()
    gap = np.abs((bearing[a] - bearing[b] + 180.0) % 360.0 - 180.0)
    close = gap <= params.same_approach_deg
    labels = _components(n, a[close], b[close])
    # Approaches numbered within the cluster clockwise from north by their mean bearing.
    rad = np.radians(bearing)
    groups = pd.DataFrame(
        {"group": labels, "cluster": legs["cluster"].to_numpy(), "sin": np.sin(rad), "cos": np.cos(rad)}
    )
    mean = groups.groupby("group").agg(cluster=("cluster", "first"), sin=("sin", "sum"), cos=("cos", "sum"))
    mean["bearing"] = _degrees(np.arctan2(mean["sin"].to_numpy(), mean["cos"].to_numpy()))
    mean = mean.reset_index().sort_values(["cluster", "bearing", "group"], kind="stable")
    mean["approach"] = mean.groupby("cluster").cumcount()
    out = legs.copy()
    out["approach"] = pd.Series(mean["approach"].to_numpy(), index=mean["group"].to_numpy()).reindex(labels).to_numpy()
    return out


def _degrees(radians: np.ndarray) -> np.ndarray:
    """Angles as compass degrees in [0, 360)."""
    deg = np.degrees(radians) % 360.0
    return np.where(deg >= 360.0 - 1e-9, 0.0, deg)


def _approach_table(legs: pd.DataFrame) -> pd.DataFrame:
    """One row per approach: key, circular-mean bearing, legs, source lines, and its first leg's edge and geometry."""
    columns = ["junction", "approach", "key", "bearing_deg", "n_legs", "sources", "source", "edge", "reversed"]
    if len(legs) == 0:
        return pd.DataFrame({c: [] for c in [*columns, "geometry"]}).astype(
            {"junction": int, "approach": int, "n_legs": int, "bearing_deg": float, "source": int, "edge": int}
        )
    rad = np.radians(legs["bearing_deg"].to_numpy())
    work = pd.DataFrame(
        {
            "junction": legs["junction"].to_numpy(),
            "approach": legs["approach"].to_numpy(),
            "sin": np.sin(rad),
            "cos": np.cos(rad),
            "source": legs["source"].to_numpy(),
        }
    )
    table = (
        work.groupby(["junction", "approach"], sort=True)
        .agg(sin=("sin", "sum"), cos=("cos", "sum"), n_legs=("source", "size"))
        .reset_index()
    )
    table["bearing_deg"] = _degrees(np.arctan2(table.pop("sin").to_numpy(), table.pop("cos").to_numpy()))
    distinct = work.drop_duplicates(["junction", "approach", "source"]).sort_values(["junction", "approach", "source"])
    table["sources"] = _runs_as_tuples(
        distinct["junction"].to_numpy() * (distinct["approach"].max() + 1) + distinct["approach"].to_numpy(),
        distinct["source"].to_numpy(),
    )
    # The first leg of each approach (clockwise from north) speaks for it: key, source line, edge, geometry.
    first = legs[~legs.duplicated(["junction", "approach"])].sort_values(["junction", "approach"])
    for column in ("key", "source", "edge", "reversed", "geometry"):
        table[column] = first[column].to_numpy()
    return table[[*columns, "geometry"]]


def _runs_as_tuples(group: np.ndarray, values: np.ndarray) -> list[tuple[Any, ...]]:
    """The values of each run of equal `group` ids (sorted) as a tuple of plain Python values, one per run."""
    starts = np.flatnonzero(_run_starts(group))
    ends = np.append(starts[1:], len(group)) if len(starts) else starts
    items = values.tolist()
    return [tuple(items[a:b]) for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]


def _missing(value: Any) -> bool:
    """True for None, NaN and blank text: a road with no key."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if value is pd.NA:
        return True
    return isinstance(value, str) and not value.strip()
