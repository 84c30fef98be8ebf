"""A topologically clean road network from road lines as people actually have them.

Real road layers are messy: lines cross without a shared vertex, ends stop a metre short of the road they join,
vertices repeat, and bridges pass over roads without meeting them. `build_network` repairs the first three (noding,
snapping, dropping repeated vertices) while honouring grade separation, and reports every repair. Finding the
intersections on the result is `geo.junctions`.

Pure geometry on metric coordinates (metres): project lon/lat data first (e.g. `GeoSeries.estimate_utm_crs()`).
No layer knowledge lives here; callers pass the per-line grade separation flag and road key. Spatial lookups go
through shapely's STRtree and the work is vectorised, so the cost grows as n log n with the number of lines.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
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


def run_starts(values: np.ndarray) -> np.ndarray:
    """True where a sorted array starts a new run of equal values: grouping without a Python loop."""
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


def components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
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
        labels = components(len(uniq), a[link], b[link])
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
    first = run_starts(q)
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
    first = run_starts(q)
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
        labels = components(len(members), a, b)
        rank = np.lexsort((members, -degree[members], labels))
        lead = run_starts(labels[rank])
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
