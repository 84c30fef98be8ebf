"""Network kernel density estimation (NKDE) of crashes: hot spots measured in metres along the roads.

A planar heat map spreads a crash over fields and across the river to the next road; planners screening
accident-prone spots (domain.md §2) need density *along* the network. Each road is cut into lixels (line pixels)
of about `lixel_m`, crashes are snapped to their nearest road, and the density at each lixel's midpoint sums a
1-D kernel of the shortest network distance to every crash within the bandwidth h.

Two kernels on the network:

- ``simple`` (Xie & Yan 2008): density(x) = Σ w_i K(d_N(x, e_i)), d_N the shortest-path distance. Easy to read,
  but at a junction of n roads an event's mass is counted on every branch, so mass grows with the degree.
- ``discontinuous`` (Okabe, Satoh & Sugihara 2009, equal-split discontinuous kernel): the kernel travels from the
  event along every non-backtracking walk shorter than h; at a node of degree n it continues into each of the
  other n − 1 edges divided by n − 1, and it stops at a dead end. An event sitting on a node of degree n starts
  into each of its n edges with 2/n (1 each way for an event inside an edge). Mass is conserved at junctions,
  so a crossroads does not look more dangerous than a straight road with the same crashes.

Both are computed exactly (no sampling) and in bounded work per event: a bounded label-correcting search for the
simple kernel, a walk expansion for the discontinuous one, both vectorised over a chunk of events, then
`np.repeat` over the lixels within reach of each (event, edge) pair and `np.bincount` into the densities.
Densities are events (or weight) per metre; `NkdeResult.density_per_km` gives per kilometre.

Cost: the simple kernel's work per event grows with the length of road within h of it. The discontinuous kernel
follows every walk shorter than h, and walks multiply at each junction they pass: on the 250 m grid of the
benchmarks, h = 300 m takes a second per 100,000 crashes, h = 1,500 m about forty. Keep h to a few junctions.
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

#: Road ends this close together are one node (the input is an already noded network, ends matched to 1 mm).
NODE_TOL_M = 1e-3
KERNELS = ("quartic", "triangular", "uniform", "epanechnikov")
METHODS = ("simple", "discontinuous")
#: Rows handled by one vectorised step (lixel contributions, search labels, walk entries): bounds peak memory
#: at a few hundred MiB whatever the network or bandwidth.
_BATCH_ROWS = 1 << 21
#: Event sites per chunk: the first chunk measures the work per site, later ones aim at _BATCH_ROWS rows.
_FIRST_CHUNK = 4096
_MIN_CHUNK, _MAX_CHUNK = 256, 262_144


#: Sensible ranges: lixels from a metre (finer than any crash location) to a kilometre; bandwidths from a junction's
#: 10 m to a 10 km stretch.
LIXEL_M = (1.0, 1000.0)
BANDWIDTH_M = (10.0, 10_000.0)


@dataclass(frozen=True)
class KdeParams:
    """Parameters of a network kernel density run, checked when made so a bad value fails before any work."""

    lixel_m: float = 20.0  # project choice: h/15, so the midpoint rule is close to the exact integral (Xie & Yan 2008)
    bandwidth_m: float = 300.0  # between the 250 m junction spot and the 500 m section spot of 附录1 (domain.md §2.1)
    kernel: str = "quartic"  # Xie & Yan 2008: the kernel matters least; quartic (biweight) is the usual NKDE choice
    method: str = "simple"  # "simple" (Xie & Yan 2008) or "discontinuous" (Okabe, Satoh & Sugihara 2009)
    max_snap_m: float = 30.0  # as analysis.screening.Rules.max_snap_m: farther crashes are reported, not placed

    def __post_init__(self) -> None:
        for name in ("lixel_m", "bandwidth_m", "max_snap_m"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
                raise ValueError(f"{name} must be a positive number of metres, got {value!r}")
        for name in ("lixel_m", "bandwidth_m"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"{name} must be finite, got {getattr(self, name)!r}")
        if not LIXEL_M[0] <= self.lixel_m <= LIXEL_M[1]:  # a road cut into millimetres would never finish
            raise ValueError(f"lixel_m must lie in {LIXEL_M[0]:g}..{LIXEL_M[1]:g} m, got {self.lixel_m!r}")
        if not BANDWIDTH_M[0] <= self.bandwidth_m <= BANDWIDTH_M[1]:
            low, high = BANDWIDTH_M
            raise ValueError(f"bandwidth_m must lie in {low:g}..{high:g} m, got {self.bandwidth_m!r}")
        if self.kernel not in KERNELS:
            raise ValueError(f"unknown kernel {self.kernel!r}: use one of {', '.join(KERNELS)}")
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}: use one of {', '.join(METHODS)}")


def kernel_values(d: np.ndarray, kernel: str, bandwidth_m: float) -> np.ndarray:
    """K(d) per metre for network distances d: support |d| < h, normalised so that ∫ K over [−h, h] is 1."""
    if kernel not in KERNELS:
        raise ValueError(f"unknown kernel {kernel!r}: use one of {', '.join(KERNELS)}")
    h = float(bandwidth_m)
    u = np.abs(np.asarray(d, dtype=float)) / h
    inside = u < 1.0
    u = np.where(inside, u, 1.0)
    if kernel == "quartic":
        k = 15.0 / (16.0 * h) * (1.0 - u * u) ** 2
    elif kernel == "epanechnikov":
        k = 3.0 / (4.0 * h) * (1.0 - u * u)
    elif kernel == "triangular":
        k = (1.0 - u) / h
    else:
        k = np.full(u.shape, 0.5 / h)
    return np.where(inside, k, 0.0)


# -- the network -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Network:
    """Roads as a graph: edge f has ends 2f (start) and 2f+1 (end), each end sits on a node; plus lixel counts."""

    lines: np.ndarray  # the input LineStrings
    length: np.ndarray  # metres along each line (0 for empty or degenerate lines)
    active: np.ndarray  # in the graph: a LineString of 1 mm or more
    end_node: np.ndarray  # node of each end, -1 for inactive edges
    n_nodes: int
    node_ptr: np.ndarray  # CSR over nodes: ends at node n are node_ends[node_ptr[n]:node_ptr[n + 1]]
    node_ends: np.ndarray
    degree: np.ndarray  # ends per node (a loop counts twice)
    n_lixels: np.ndarray  # per edge
    lixel_first: np.ndarray  # per edge, first lixel's position in the flat lixel arrays; one more at the end
    vertex_xy: np.ndarray  # every vertex of every line, in order
    vertex_dist: np.ndarray  # distance of each vertex along its line
    vertex_first: np.ndarray  # per line, position of its first vertex; one more at the end

    @property
    def n_edges(self) -> int:
        """Number of input lines, active or not."""
        return len(self.lines)

    def incident(self, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each end at each of `nodes`: the position in `nodes` it belongs to, and the end."""
        counts = self.degree[nodes]
        rep = np.repeat(np.arange(len(nodes)), counts)
        within = np.arange(len(rep)) - np.repeat(np.cumsum(counts) - counts, counts)
        return rep, self.node_ends[self.node_ptr[nodes][rep] + within]

    def interpolate(self, edge: np.ndarray, offset: np.ndarray) -> np.ndarray:
        """Points (x, y) at `offset` metres along each `edge`, vectorised over the vertex arrays in batches."""
        out = np.empty((len(edge), 2))
        if len(edge) == 0:
            return out
        # A monotone key over all vertices: line f's vertex distances shifted by base[f], so one search finds
        # each offset's segment; the clip keeps it inside the right line.
        base = np.concatenate([[0.0], np.cumsum(self.length + 1.0)])
        owner = np.repeat(np.arange(self.n_edges), np.diff(self.vertex_first))
        key = self.vertex_dist + base[owner]
        for lo in range(0, len(edge), _BATCH_ROWS):
            f, at = edge[lo : lo + _BATCH_ROWS], offset[lo : lo + _BATCH_ROWS]
            first, last = self.vertex_first[f], self.vertex_first[f + 1] - 1
            j = np.searchsorted(key, base[f] + at, side="right") - 1
            j = np.clip(j, first, np.maximum(last - 1, first))
            nxt = np.minimum(j + 1, last)
            span = self.vertex_dist[nxt] - self.vertex_dist[j]
            t = np.divide(at - self.vertex_dist[j], span, out=np.zeros(len(j)), where=span > 0)
            t = np.clip(t, 0.0, 1.0)[:, None]
            out[lo : lo + len(f)] = self.vertex_xy[j] + t * (self.vertex_xy[nxt] - self.vertex_xy[j])
        return out


def _as_geometries(values: Any, what: str) -> tuple[np.ndarray, Any]:
    """The geometry array and CRS of a GeoSeries, GeoDataFrame, numpy array or list of shapely geometries."""
    crs = getattr(values, "crs", None)
    if hasattr(values, "geometry") and hasattr(values, "columns"):  # a GeoDataFrame
        values = values.geometry
    if hasattr(values, "to_numpy"):
        values = values.to_numpy()
    geoms = np.asarray(values, dtype=object).reshape(-1)
    if crs is not None and getattr(crs, "is_geographic", False):
        raise ValueError(
            f"{what} are in a geographic CRS ({crs.to_string()}): project them to a metric CRS such as EPSG:4549 "
            "first, since bandwidth and lixel length are metres"
        )
    return geoms, crs


def _build_network(lines: np.ndarray, lixel_m: float) -> _Network:
    """Nodes from line ends merged within 1 mm, the end→node CSR, lixel counts and vertex arrays."""
    n = len(lines)
    missing = shapely.is_missing(lines) if n else np.zeros(0, bool)
    types = shapely.get_type_id(lines) if n else np.zeros(0, int)
    line_types = (shapely.GeometryType.LINESTRING, shapely.GeometryType.LINEARRING)
    bad = np.flatnonzero(~missing & ~np.isin(types, line_types))
    if len(bad):
        raise ValueError(
            f"roads must be LineStrings; {len(bad)} are not (the first, at position {int(bad[0])}, is a "
            f"{lines[bad[0]].geom_type}): explode multi-part lines first (GeoSeries.explode)"
        )
    lines = np.where(missing, None, shapely.force_2d(np.where(missing, shapely.LineString(), lines)))
    xy, owner = shapely.get_coordinates(lines, return_index=True) if n else (np.zeros((0, 2)), np.zeros(0, int))
    counts = np.bincount(owner, minlength=n)
    vertex_first = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    step = np.zeros(len(xy))
    if len(xy) > 1:
        step[1:] = np.hypot(*(xy[1:] - xy[:-1]).T)
    step[vertex_first[:-1][counts > 0]] = 0.0  # no step into a line's first vertex
    cum = np.cumsum(step)
    vertex_dist = cum - np.repeat(cum[vertex_first[:-1][counts > 0]], counts[counts > 0])
    length = np.zeros(n)
    length[counts > 0] = vertex_dist[vertex_first[1:][counts > 0] - 1]
    active = length >= NODE_TOL_M

    # Nodes: exact duplicates first (sorting), then ends within 1 mm of each other joined through a k-d tree.
    act = np.flatnonzero(active)
    ends_xy = np.empty((2 * len(act), 2))
    ends_xy[0::2] = xy[vertex_first[act]]
    ends_xy[1::2] = xy[vertex_first[act + 1] - 1]
    end_node = np.full(2 * n, -1, dtype=np.int64)
    n_nodes = 0
    if len(act):
        order = np.lexsort((ends_xy[:, 1], ends_xy[:, 0]))
        sorted_xy = ends_xy[order]
        new = np.ones(len(order), bool)
        new[1:] = np.any(sorted_xy[1:] != sorted_xy[:-1], axis=1)
        unique_id = np.empty(len(order), dtype=np.int64)
        unique_id[order] = np.cumsum(new) - 1
        unique_xy = sorted_xy[new]
        pairs = cKDTree(unique_xy).query_pairs(NODE_TOL_M, output_type="ndarray")
        if len(pairs):
            m = len(unique_xy)
            graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(m, m))
            n_nodes, label = connected_components(graph, directed=False)
            label = label.astype(np.int64)
        else:
            n_nodes, label = len(unique_xy), np.arange(len(unique_xy), dtype=np.int64)
        end_pos = np.stack([2 * act, 2 * act + 1], axis=1).reshape(-1)
        end_node[end_pos] = label[unique_id]

    valid_ends = np.flatnonzero(end_node >= 0)
    node_ends = valid_ends[np.argsort(end_node[valid_ends], kind="stable")]
    degree = np.bincount(end_node[valid_ends], minlength=n_nodes).astype(np.int64)
    node_ptr = np.concatenate([[0], np.cumsum(degree)]).astype(np.int64)
    n_lixels = np.where(active, np.maximum(1, np.ceil(length / lixel_m - 1e-9)), 0).astype(np.int64)
    lixel_first = np.concatenate([[0], np.cumsum(n_lixels)]).astype(np.int64)
    return _Network(
        lines=lines,
        length=length,
        active=active,
        end_node=end_node,
        n_nodes=int(n_nodes),
        node_ptr=node_ptr,
        node_ends=node_ends,
        degree=degree,
        n_lixels=n_lixels,
        lixel_first=lixel_first,
        vertex_xy=xy,
        vertex_dist=vertex_dist,
        vertex_first=vertex_first,
    )


def _snap(net: _Network, points: np.ndarray, max_snap_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Each point's nearest active road (lowest position on a tie) and offset along it; edge −1 when too far."""
    edge = np.full(len(points), -1, dtype=np.int64)
    offset = np.full(len(points), np.nan)
    act = np.flatnonzero(net.active)
    if len(points) == 0 or len(act) == 0:
        return edge, offset
    usable = np.flatnonzero(~(shapely.is_missing(points) | shapely.is_empty(points)))
    # Query in 1 km cells, row by row: neighbouring queries then walk the same tree nodes (twice as fast at 1M).
    xy = shapely.get_coordinates(points[usable])
    cell = np.floor((xy - xy.min(axis=0)) / 1000.0).astype(np.int64) if len(xy) else np.zeros((0, 2), np.int64)
    usable = usable[np.lexsort((cell[:, 1], cell[:, 0]))]
    query = points[usable]
    lines = net.lines[act]
    tree = shapely.STRtree(lines)
    if math.isinf(max_snap_m):
        inp, hit = tree.query_nearest(query, all_matches=True)
    else:
        # Every road within max_snap_m, then the nearest of them: the same answer as query_nearest with
        # max_distance, several times faster on a county's roads.
        inp, hit = tree.query(query, predicate="dwithin", distance=max_snap_m)
        dist = shapely.distance(query[inp], lines[hit])
        order = np.lexsort((hit, dist, inp))
        inp, hit = inp[order], hit[order]
        first = _first_of_runs(inp)
        inp, hit = inp[first], hit[first]
    order = np.lexsort((hit, inp))  # ties (query_nearest): the lowest road position
    inp, hit = inp[order], act[hit[order]]
    first = _first_of_runs(inp)
    placed, hit = usable[inp[first]], hit[first]
    by_road = np.argsort(hit, kind="stable")
    placed, hit = placed[by_road], hit[by_road]
    edge[placed] = hit
    off = shapely.line_locate_point(net.lines[hit], points[placed])
    length = net.length[edge[placed]]
    off = np.clip(off, 0.0, length)
    # An event within 1 mm of a road end sits on that node: nodes are only defined to 1 mm.
    off = np.where(off <= NODE_TOL_M, 0.0, np.where(length - off <= NODE_TOL_M, length, off))
    offset[placed] = off
    return edge, offset


# -- kernels on the network ------------------------------------------------------------------------------------


def _first_of_runs(key: np.ndarray) -> np.ndarray:
    """True where a sorted key array starts a new run of equal keys."""
    first = np.ones(len(key), bool)
    if len(key) > 1:
        np.not_equal(key[1:], key[:-1], out=first[1:])
    return first


def _min_by_key(key: np.ndarray, value: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique keys with the smallest value of each."""
    order = np.lexsort((value, key))
    key, value = key[order], value[order]
    first = _first_of_runs(key)
    return key[first], value[first]


def _reach(net: _Network, key: np.ndarray, dist: np.ndarray, h: float) -> tuple[np.ndarray, np.ndarray]:
    """Shortest network distances below h from sources to nodes; key = source * n_nodes + node, sorted.

    Label-correcting search, one vectorised round per hop: every label that improved relaxes its node's edges,
    and only the improvements go on. Nothing beyond h is ever created, so the work per source is bounded by
    what lies within h of it.
    """
    n = net.n_nodes
    best_k, best_d = _min_by_key(key, dist)
    best_d = best_d.copy()
    front_k, front_d = best_k, best_d.copy()
    while len(front_k):
        src, node = np.divmod(front_k, n)
        rep, ends = net.incident(node)
        cand_d = front_d[rep] + net.length[ends >> 1]
        ok = cand_d < h
        cand_k, cand_d = _min_by_key(src[rep[ok]] * n + net.end_node[ends[ok] ^ 1], cand_d[ok])
        pos = np.searchsorted(best_k, cand_k)
        found = np.zeros(len(cand_k), bool)
        inside = pos < len(best_k)
        found[inside] = best_k[pos[inside]] == cand_k[inside]
        better = ~found
        better[found] = cand_d[found] < best_d[pos[found]]
        shorter = found & better
        best_d[pos[shorter]] = cand_d[shorter]
        if (~found).any():
            best_k = np.insert(best_k, pos[~found], cand_k[~found])
            best_d = np.insert(best_d, pos[~found], cand_d[~found])
        front_k, front_d = cand_k[better], cand_d[better]
    return best_k, best_d


def _spread(
    net: _Network,
    edge: np.ndarray,
    du: np.ndarray,
    dv: np.ndarray,
    own: np.ndarray,
    mass: np.ndarray,
    params: KdeParams,
    density: np.ndarray,
) -> int:
    """Add mass · K(d) to every lixel of `edge` whose midpoint lies within h, for many (edge, source) rows.

    d = min(du + m, dv + L − m, |own − m|) for a midpoint m metres from the edge's start: `du`/`dv` are the
    source's distances to the edge's start and end node (inf when out of reach), `own` the source's offset when
    it lies on this edge (inf otherwise). Only lixels in reach are visited. Returns the number visited.
    """
    h = params.bandwidth_m
    n = net.n_lixels[edge]
    length = net.length[edge]
    step = length / n
    # Lixel index ranges reached from the start, from the end and along the edge itself, each widened by one
    # lixel so rounding cannot lose one; the exact test d < h below drops the extras.
    a = np.clip(np.ceil((h - du) / step - 0.5) + 1, 0, n).astype(np.int64)
    b = np.clip(np.floor((length - h + dv) / step - 0.5), 0, n).astype(np.int64)
    has_own = np.isfinite(own)
    o = np.where(has_own, own, 0.0)
    c = np.where(has_own, np.clip(np.floor((o - h) / step - 0.5), 0, n), 0).astype(np.int64)
    e = np.where(has_own, np.clip(np.ceil((o + h) / step - 0.5) + 1, 0, n), 0).astype(np.int64)
    # Three disjoint ranges covering their union: [0, a), [max(a, b), n) and the own range outside both.
    ab = np.maximum(a, b)
    s3 = np.maximum(c, a)
    l3 = np.maximum(0, np.minimum(e, ab) - s3)
    counts = a + (n - ab) + l3
    total = int(counts.sum())
    if total == 0:
        return 0
    bounds = np.searchsorted(np.cumsum(counts), np.arange(_BATCH_ROWS, total, _BATCH_ROWS), side="left")
    for rows in np.split(np.arange(len(edge)), bounds):
        if len(rows) == 0:
            continue
        starts = np.concatenate([np.zeros(len(rows), np.int64), ab[rows], s3[rows]])
        lens = np.concatenate([a[rows], n[rows] - ab[rows], l3[rows]])
        owner = np.tile(rows, 3)
        keep = lens > 0
        starts, lens, owner = starts[keep], lens[keep], owner[keep]
        rep = np.repeat(owner, lens)
        k = np.repeat(starts, lens) + (np.arange(len(rep)) - np.repeat(np.cumsum(lens) - lens, lens))
        mid = length[rep] * (k + 0.5) / n[rep]
        d = np.minimum(du[rep] + mid, dv[rep] + (length[rep] - mid))
        d = np.minimum(d, np.abs(own[rep] - mid))
        near = d < h
        value = mass[rep[near]] * kernel_values(d[near], params.kernel, h)
        idx = net.lixel_first[edge[rep[near]]] + k[near]
        if len(idx):
            lo, hi = int(idx.min()), int(idx.max()) + 1
            density[lo:hi] += np.bincount(idx - lo, weights=value, minlength=hi - lo)
    return total


def _simple_chunk(
    net: _Network, edge: np.ndarray, off: np.ndarray, mass: np.ndarray, params: KdeParams, density: np.ndarray
) -> int:
    """Simple kernel for a chunk of event sites; returns the work done (rows), to size the next chunk."""
    h, n_nodes, n_edges = params.bandwidth_m, net.n_nodes, net.n_edges
    site = np.arange(len(edge), dtype=np.int64)
    length = net.length[edge]
    # From each site, out through the start and the end of its own edge.
    key = np.concatenate([site * n_nodes + net.end_node[2 * edge], site * n_nodes + net.end_node[2 * edge + 1]])
    dist = np.concatenate([off, length - off])
    near = dist < h
    reach_k, reach_d = _reach(net, key[near], dist[near], h)
    src, node = np.divmod(reach_k, n_nodes)
    rep, ends = net.incident(node)
    # One row per (site, edge): the distance to its start node, to its end node, and the site's own edge.
    pair_site = np.concatenate([src[rep], site])
    pair_edge = np.concatenate([ends >> 1, edge])
    side = np.concatenate([ends & 1, np.full(len(site), 2)])
    dist = np.concatenate([reach_d[rep], np.zeros(len(site))])
    order = np.argsort((pair_site * n_edges + pair_edge) * 3 + side, kind="stable")
    pair_site, pair_edge, side, dist = pair_site[order], pair_edge[order], side[order], dist[order]
    first = _first_of_runs(pair_site * n_edges + pair_edge)
    row = np.cumsum(first) - 1
    rows = int(first.sum())
    du, dv, own = np.full(rows, np.inf), np.full(rows, np.inf), np.full(rows, np.inf)
    du[row[side == 0]] = dist[side == 0]
    dv[row[side == 1]] = dist[side == 1]
    own[row[side == 2]] = off[pair_site[side == 2]]
    f, s = pair_edge[first], pair_site[first]
    spread = _spread(net, f, du, dv, own, mass[s], params, density)
    return max(len(reach_k), len(ends), spread // 8)


def _discontinuous_chunk(
    net: _Network, edge: np.ndarray, off: np.ndarray, mass: np.ndarray, params: KdeParams, density: np.ndarray
) -> int:
    """Equal-split discontinuous kernel for a chunk of event sites; returns the work done (rows).

    A walk is (mass, end it entered its edge by, distance travelled); the mass already carries the event's weight
    and every 1/(n − 1) met so far, so walks from different events are handled alike.
    """
    h = params.bandwidth_m
    length = net.length[edge]
    at_node = (off == 0.0) | (off == length)
    inner = ~at_node
    work = 0
    inf = np.full(int(inner.sum()), np.inf)
    # An event inside an edge: along its own edge both ways with its whole mass, then on from both end nodes.
    work += _spread(net, edge[inner], inf, inf, off[inner], mass[inner], params, density)
    e_in = edge[inner]
    arrive_end = np.concatenate([2 * e_in, 2 * e_in + 1])
    arrive_t = np.concatenate([off[inner], length[inner] - off[inner]])
    arrive_mass = np.concatenate([mass[inner], mass[inner]])
    # An event on a node of degree n: into each of the n edges with 2/n of its mass.
    node = net.end_node[2 * edge[at_node] + (off[at_node] > 0)]
    rep, ends = net.incident(node)
    reach = arrive_t < h
    stack: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]] = [
        ("enter", ends, np.zeros(len(ends)), (mass[at_node] * 2.0 / net.degree[node])[rep]),
        ("arrive", arrive_end[reach], arrive_t[reach], arrive_mass[reach]),
    ]
    while stack:
        kind, ends, t, m = stack.pop()
        if len(ends) == 0:
            continue
        if kind == "arrive":  # walks reaching a node through end `ends`: split into the node's other ends
            node = net.end_node[ends]
            deg = net.degree[node]
            if int(deg.sum()) > _BATCH_ROWS and len(ends) > 1:
                half = len(ends) // 2
                stack += [("arrive", ends[half:], t[half:], m[half:]), ("arrive", ends[:half], t[:half], m[:half])]
                continue
            rep, onward = net.incident(node)
            keep = onward != ends[rep]
            rep, onward = rep[keep], onward[keep]
            stack.append(("enter", onward, t[rep], (m / np.maximum(deg - 1, 1))[rep]))
            continue
        # Walks entering edge `ends >> 1` by end `ends`, `t` metres from their event.
        f = ends >> 1
        from_start = (ends & 1) == 0
        du, dv = np.where(from_start, t, np.inf), np.where(from_start, np.inf, t)
        work += _spread(net, f, du, dv, np.full(len(ends), np.inf), m, params, density) + len(ends)
        far_t = t + net.length[f]
        go = far_t < h
        stack.append(("arrive", ends[go] ^ 1, far_t[go], m[go]))
    return work // 8


# -- the result ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class NkdeResult:
    """Density per lixel (events or weight per metre), where each lixel lies, and the events that were not placed.

    Lixel arrays are aligned: lixel j lies on road `lixel_edge[j]` (a position in the input roads) from
    `lixel_start_m[j]` to `lixel_end_m[j]` metres along it. Midpoints and geometries are built on first use only,
    since a county-sized network has millions of lixels.
    """

    params: KdeParams
    lixel_edge: np.ndarray
    lixel_start_m: np.ndarray
    lixel_end_m: np.ndarray
    density: np.ndarray  # per metre
    unplaced: np.ndarray  # positions of events farther than max_snap_m from every road (or without a geometry)
    event_edge: np.ndarray  # per input event: the road it was snapped to, -1 if unplaced
    event_offset_m: np.ndarray  # per input event: metres along that road, NaN if unplaced
    road_ids: np.ndarray  # the roads' index labels (positions when they came without an index)
    crs: Any = None
    stats: dict = field(default_factory=dict)
    _network: _Network | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.density)

    @property
    def density_per_km(self) -> np.ndarray:
        """Density in events (or weight) per kilometre of road, the unit people read on a map."""
        return self.density * 1000.0

    @property
    def lixel_length_m(self) -> np.ndarray:
        """Length of each lixel in metres, to integrate the density (Σ density · length ≈ total mass)."""
        return self.lixel_end_m - self.lixel_start_m

    @cached_property
    def lixel_mid_xy(self) -> np.ndarray:
        """(n, 2) metric coordinates of each lixel's midpoint, where its density was evaluated."""
        if self._network is None or len(self.density) == 0:
            return np.zeros((0, 2))
        net, f = self._network, self.lixel_edge
        k = np.arange(len(f)) - net.lixel_first[f]
        return net.interpolate(f, net.length[f] * (k + 0.5) / net.n_lixels[f])  # as the density was evaluated

    @cached_property
    def geometry(self) -> np.ndarray:
        """Each lixel as a LineString in the roads' metric CRS: its start, the road's vertices inside it, its end."""
        net = self._network
        if net is None or len(self.density) == 0:
            return np.empty(0, dtype=object)
        n = len(self.density)
        starts = net.interpolate(self.lixel_edge, self.lixel_start_m)
        ends = net.interpolate(self.lixel_edge, self.lixel_end_m)
        # Interior vertices: those strictly inside an active road, each inside exactly one of its lixels.
        owner = np.repeat(np.arange(net.n_edges), np.diff(net.vertex_first))
        inner = net.active[owner] & (net.vertex_dist > 0) & (net.vertex_dist < net.length[owner])
        vpos = np.flatnonzero(inner)
        f = owner[vpos]
        scaled = net.vertex_dist[vpos] * net.n_lixels[f] / net.length[f]
        k = np.floor(scaled).astype(np.int64)
        keep = (scaled > k) & (k < net.n_lixels[f])  # a vertex on a lixel boundary is that boundary point
        vpos, f, k = vpos[keep], f[keep], k[keep]
        lixel = np.concatenate([np.arange(n), net.lixel_first[f] + k, np.arange(n)])
        along = np.concatenate([self.lixel_start_m, net.vertex_dist[vpos], self.lixel_end_m])
        xy = np.concatenate([starts, net.vertex_xy[vpos], ends])
        order = np.lexsort((along, lixel))
        return shapely.linestrings(xy[order], indices=lixel[order])

    def to_geodataframe(self):  # -> geopandas.GeoDataFrame
        """The lixels as a GeoDataFrame (roads' CRS) with road id, offsets and density per metre and per km."""
        import geopandas as gpd

        k = np.arange(len(self.density)) - (
            self._network.lixel_first[self.lixel_edge] if self._network is not None else 0
        )
        return gpd.GeoDataFrame(
            {
                "edge": self.lixel_edge,
                "road_id": self.road_ids[self.lixel_edge] if len(self.road_ids) else self.lixel_edge,
                "lixel": k,
                "start_m": self.lixel_start_m,
                "end_m": self.lixel_end_m,
                "density": self.density,
                "density_per_km": self.density_per_km,
            },
            geometry=self.geometry,
            crs=self.crs,
        )


# -- the entry point -------------------------------------------------------------------------------------------


def nkde(
    roads: Any,
    events: Any,
    params: KdeParams = KdeParams(),
    *,
    weights: Sequence[float] | np.ndarray | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> NkdeResult:
    """Network kernel density of `events` on `roads`, per lixel, in events (or weight) per metre.

    `roads`: LineStrings in a metric CRS (GeoSeries, GeoDataFrame, array or list) meeting only at their ends,
    ends matched to 1 mm. `events`: points in the same CRS; `weights` one non-negative number per event
    (severity weights, say; 1 each by default). Events farther than `params.max_snap_m` from every road are
    listed in `unplaced`, never dropped silently. `progress(done, total)` is called after each chunk of events.
    Missing or empty roads and roads shorter than 1 mm take no part and get no lixels.
    """
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    lines, roads_crs = _as_geometries(roads, "roads")
    points, events_crs = _as_geometries(events, "events")
    if roads_crs is not None and events_crs is not None and roads_crs != events_crs:
        raise ValueError(
            f"roads ({roads_crs.to_string()}) and events ({events_crs.to_string()}) are in different CRSs: "
            "reproject the events to the roads' CRS"
        )
    if len(points):
        not_point = ~shapely.is_missing(points) & (shapely.get_type_id(points) != shapely.GeometryType.POINT)
        if not_point.any():
            raise ValueError(f"events must be Points; position {int(np.flatnonzero(not_point)[0])} is not")
    if weights is None:
        w = np.ones(len(points))
    else:
        w = np.asarray(weights.to_numpy() if hasattr(weights, "to_numpy") else weights, dtype=float).reshape(-1)
        if len(w) != len(points):
            raise ValueError(f"weights has {len(w)} values for {len(points)} events: give one weight per event")
        if not np.all(np.isfinite(w)) or (w < 0).any():
            raise ValueError("weights must be finite and not negative")
    road_ids = np.asarray(roads.index) if hasattr(roads, "iloc") else np.arange(len(lines))

    net = _build_network(lines, params.lixel_m)
    timings["network_s"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    event_edge, event_offset = _snap(net, points, params.max_snap_m)
    unplaced = np.flatnonzero(event_edge < 0)
    timings["snap_s"] = time.perf_counter() - t1

    # Events at the same spot of the same road are one site carrying their summed weight.
    t2 = time.perf_counter()
    placed = np.flatnonzero((event_edge >= 0) & (w > 0))
    order = placed[np.lexsort((event_offset[placed], event_edge[placed]))]
    site_first = np.ones(len(order), bool)
    if len(order) > 1:
        site_first[1:] = (np.diff(event_edge[order]) != 0) | (np.diff(event_offset[order]) != 0)
    site_id = np.cumsum(site_first) - 1
    n_sites = int(site_first.sum())
    site_edge = event_edge[order][site_first]
    site_off = event_offset[order][site_first]
    site_mass = np.bincount(site_id, weights=w[order], minlength=n_sites)
    site_events = np.bincount(site_id, minlength=n_sites)
    # Sites in node order, so that a chunk's work stays in one part of the network.
    by_place = np.lexsort((site_off, site_edge, net.end_node[2 * site_edge])) if n_sites else np.zeros(0, int)
    site_edge, site_off, site_mass, site_events = (a[by_place] for a in (site_edge, site_off, site_mass, site_events))

    total_lixels = int(net.lixel_first[-1])
    density = np.zeros(total_lixels)
    chunk_fn = _simple_chunk if params.method == "simple" else _discontinuous_chunk
    done_events, total_events = 0, int(site_events.sum())
    start, chunk = 0, _FIRST_CHUNK
    while start < n_sites:
        stop = min(n_sites, start + chunk)
        work = chunk_fn(net, site_edge[start:stop], site_off[start:stop], site_mass[start:stop], params, density)
        done_events += int(site_events[start:stop].sum())
        if progress is not None:
            progress(done_events, total_events)
        per_site = max(work, 1) / (stop - start)
        chunk = int(np.clip(_BATCH_ROWS / per_site, _MIN_CHUNK, _MAX_CHUNK))
        start = stop
    timings["density_s"] = time.perf_counter() - t2

    t3 = time.perf_counter()
    lixel_edge = np.repeat(np.arange(net.n_edges, dtype=np.int64), net.n_lixels)
    k = np.arange(total_lixels) - net.lixel_first[lixel_edge]
    n_of = net.n_lixels[lixel_edge]
    length_of = net.length[lixel_edge]
    lixel_start = length_of * k / n_of
    lixel_end = length_of * (k + 1) / n_of
    timings["lixels_s"] = time.perf_counter() - t3
    timings["total_s"] = time.perf_counter() - t0
    stats = {
        "roads": int(net.n_edges),
        "roads_in_network": int(net.active.sum()),
        "nodes": net.n_nodes,
        "lixels": total_lixels,
        "events": len(points),
        "placed": len(points) - len(unplaced),
        "sites": n_sites,
        **timings,
    }
    return NkdeResult(
        params=params,
        lixel_edge=lixel_edge,
        lixel_start_m=lixel_start,
        lixel_end_m=lixel_end,
        density=density,
        unplaced=unplaced,
        event_edge=event_edge,
        event_offset_m=event_offset,
        road_ids=road_ids,
        crs=roads_crs if roads_crs is not None else events_crs,
        stats=stats,
        _network=net,
    )
