"""At-grade intersections of a road network: junction nodes consolidated into the intersections people see.

A dual carriageway makes two junction nodes a few metres apart where people see one intersection, and a roundabout
makes a ring of them. `find_junctions` clusters the nodes where three or more edges meet of a `geo.network`
network, then gives each intersection its legs and approaches (the two carriageways of one road leaving side by
side are one approach), clockwise from north.

Pure geometry on metric coordinates (metres), vectorised like `geo.network`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import shapely

from geo.network import NetworkParams, RoadNetwork, components, run_starts


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
    labels = components(raw, a[link], b[link])
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
    labels = components(n, a[close], b[close])
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
    starts = np.flatnonzero(run_starts(group))
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
