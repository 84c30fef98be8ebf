"""Network kernel density: against brute force on hand-built and random networks, hand-worked values, mass
conservation of the equal-split kernel, snapping, weights, parameters and empty input."""

from __future__ import annotations

import math
import os
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely
from scipy.spatial import Delaunay
from shapely.geometry import LineString, Point
from shapely.ops import substring

import analysis.nkde as nkde_module
from analysis.nkde import KdeParams, NkdeResult, nkde

KERNELS = ("quartic", "triangular", "uniform", "epanechnikov")
METHODS = ("simple", "discontinuous")
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def kernel(d: float, name: str, h: float) -> float:
    """The 1-D kernels written out by hand: each integrates to 1 over [-h, h]."""
    if abs(d) >= h:
        return 0.0
    u = d / h
    return {
        "quartic": 15 / (16 * h) * (1 - u**2) ** 2,
        "triangular": (1 - abs(u)) / h,
        "uniform": 1 / (2 * h),
        "epanechnikov": 3 / (4 * h) * (1 - u**2),
    }[name]


# -- brute force -----------------------------------------------------------------------------------------------


class BruteForce:
    """Every lixel midpoint and every event inserted as a node of a networkx graph, then distances by Dijkstra
    from each event (simple) and explicit non-backtracking walks from each event (discontinuous)."""

    def __init__(self, lines: list[LineString], points: list[Point], lixel_m: float, h: float, max_snap_m=30.0):
        self.h = h
        junction: dict[tuple[float, float], int] = {}

        def node_at(xy) -> int:
            key = (round(xy[0], 6), round(xy[1], 6))
            return junction.setdefault(key, len(junction))

        # Snap by scanning every line: nearest, lowest position on a tie.
        self.event_edge, self.event_off = [], []
        for p in points:
            dists = [line.distance(p) for line in lines]
            best = int(np.argmin(dists))
            if dists[best] > max_snap_m:
                self.event_edge.append(-1)
                self.event_off.append(math.nan)
                continue
            off = lines[best].project(p)
            if off <= 1e-3:
                off = 0.0
            elif lines[best].length - off <= 1e-3:
                off = lines[best].length
            self.event_edge.append(best)
            self.event_off.append(off)

        g = nx.MultiGraph()
        self.lixel_nodes: list[tuple] = []
        self.event_nodes: list = []
        at: dict[tuple[int, float], object] = {}  # (road, offset) -> node of the subdivided graph
        eid = 0
        for f, line in enumerate(lines):
            length = line.length
            n = math.ceil(length / lixel_m - 1e-9)
            at[f, 0.0], at[f, length] = node_at(line.coords[0]), node_at(line.coords[-1])
            for k in range(n):
                at[f, length * (k + 0.5) / n] = ("mid", f, k)
                self.lixel_nodes.append(("mid", f, k))
            for e, off in zip(self.event_edge, self.event_off, strict=True):
                if e == f:
                    at.setdefault((f, off), ("event", f, off))  # an event on a midpoint is that node
            stops = sorted((off, node) for (e, off), node in at.items() if e == f)
            for (a, na), (b, nb) in zip(stops[:-1], stops[1:], strict=True):
                g.add_edge(na, nb, weight=b - a, eid=eid)
                eid += 1
        for e, off in zip(self.event_edge, self.event_off, strict=True):
            self.event_nodes.append(None if e < 0 else at[e, off])
        self.graph = g
        self.index = {node: j for j, node in enumerate(self.lixel_nodes)}

    def simple(self, weights, kernel_name: str) -> np.ndarray:
        out = np.zeros(len(self.lixel_nodes))
        for src, w in zip(self.event_nodes, weights, strict=True):
            if src is None:
                continue
            dist = nx.single_source_dijkstra_path_length(self.graph, src, weight="weight")
            for node, j in self.index.items():
                if node in dist and dist[node] < self.h:
                    out[j] += w * kernel(dist[node], kernel_name, self.h)
        return out

    def walks(self, src) -> list[tuple[object, float, float]]:
        """Every non-backtracking walk shorter than h from `src`: (node reached, length, share)."""
        g = self.graph
        start = list(g.edges(src, keys=True, data=True))
        out = [(src, 0.0, 1.0)]
        stack = [(b, d["weight"], 2.0 / len(start), d["eid"]) for _, b, _, d in start if d["weight"] < self.h]
        while stack:
            node, length, share, came_by = stack.pop()
            out.append((node, length, share))
            onward = [(b, d) for _, b, _, d in g.edges(node, keys=True, data=True) if d["eid"] != came_by]
            for b, d in onward:
                if length + d["weight"] < self.h:
                    stack.append((b, length + d["weight"], share / len(onward), d["eid"]))
        return out

    def discontinuous(self, weights, kernel_name: str) -> np.ndarray:
        out = np.zeros(len(self.lixel_nodes))
        for src, w in zip(self.event_nodes, weights, strict=True):
            if src is None:
                continue
            for node, length, share in self.walks(src):
                if node in self.index:
                    out[self.index[node]] += w * share * kernel(length, kernel_name, self.h)
        return out


# -- networks --------------------------------------------------------------------------------------------------


def line_network():
    # Two collinear pieces (a degree-2 node at 600 m) and a dead end at each side.
    lines = [LineString([(0, 0), (600, 0)]), LineString([(600, 0), (1000, 0)])]
    points = [Point(100, 5), Point(580, -3), Point(600, 2), Point(990, 1)]
    return lines, points


def t_network():
    lines = [
        LineString([(0, 0), (500, 0)]),
        LineString([(500, 0), (700, 80), (1000, 0)]),  # bent
        LineString([(500, 0), (500, 450)]),
    ]
    points = [Point(430, 4), Point(500, 0), Point(520, 20), Point(505, 200), Point(900, 10)]
    return lines, points


def cross_network():
    lines = [
        LineString([(0, 0), (400, 0)]),
        LineString([(400, 0), (820, 0)]),
        LineString([(400, 0), (400, 380)]),
        LineString([(400, -500), (400, 0)]),  # drawn towards the junction
    ]
    points = [Point(350, 3), Point(400, 0), Point(410, 100), Point(400, -60), Point(700, -2), Point(350, 3)]
    return lines, points


def ring_network():
    # A triangle of 3 edges (perimeter about 560 m < 2h), a tail, a one-edge loop and a pair of parallel edges.
    lines = [
        LineString([(0, 0), (200, 0)]),
        LineString([(200, 0), (100, 170)]),
        LineString([(100, 170), (0, 0)]),
        LineString([(200, 0), (500, 0)]),  # tail
        LineString([(500, 0), (560, 60), (620, 0), (560, -60), (500, 0)]),  # a loop on one edge
        LineString([(0, 0), (-150, 0)]),
        LineString([(-150, 0), (-220, 60), (-300, 0)]),  # two parallel roads between the same nodes
        LineString([(-150, 0), (-220, -50), (-300, 0)]),
    ]
    points = [Point(150, 2), Point(100, 170), Point(580, 40), Point(500, 0), Point(-220, 55), Point(-30, -4)]
    return lines, points


def random_network(seed: int = 7):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 1600, size=(16, 2))
    tri = Delaunay(xy)
    pairs = sorted({tuple(sorted((int(s[i]), int(s[(i + 1) % 3])))) for s in tri.simplices for i in range(3)})
    keep = rng.permutation(len(pairs))[:30]
    lines = []
    for a, b in (pairs[i] for i in sorted(keep)):
        p, q = xy[a], xy[b]
        normal = np.array([-(q - p)[1], (q - p)[0]]) / np.hypot(*(q - p))
        bend = (p + q) / 2 + normal * rng.uniform(-30, 30)
        lines.append(LineString([p, bend, q]))
    pick = rng.integers(0, len(lines), 40)
    at = shapely.line_interpolate_point(np.array(lines)[pick], rng.uniform(0.01, 0.99, 40), normalized=True)
    points = list(shapely.points(shapely.get_coordinates(at) + rng.uniform(-8, 8, (40, 2))))
    points[3] = Point(lines[5].coords[0])  # exactly on a junction
    points[7] = points[8]  # two crashes at the same spot
    return lines, points


NETWORKS = {
    "line": line_network,
    "T": t_network,
    "cross": cross_network,
    "ring": ring_network,
    "random": random_network,
}
SETTINGS = {"line": (20.0, 300.0), "T": (25.0, 300.0), "cross": (20.0, 350.0), "ring": (15.0, 400.0)}
SETTINGS["random"] = (30.0, 450.0)
_BRUTE: dict[str, BruteForce] = {}


def brute(name: str) -> BruteForce:
    if name not in _BRUTE:
        lines, points = NETWORKS[name]()
        lixel, h = SETTINGS[name]
        _BRUTE[name] = BruteForce(lines, points, lixel, h)
    return _BRUTE[name]


@pytest.mark.parametrize("kernel_name", KERNELS)
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", list(NETWORKS))
def test_density_equals_brute_force(name, method, kernel_name):
    lines, points = NETWORKS[name]()
    lixel, h = SETTINGS[name]
    weights = np.random.default_rng(3).uniform(0.5, 3.0, len(points))
    result = nkde(lines, points, KdeParams(lixel_m=lixel, bandwidth_m=h, kernel=kernel_name, method=method),
                  weights=weights)  # fmt: skip
    bf = brute(name)
    expected = getattr(bf, method)(weights, kernel_name)
    assert len(result) == len(bf.lixel_nodes)
    assert result.lixel_edge.tolist() == [f for _, f, _ in bf.lixel_nodes]
    assert np.count_nonzero(expected) > len(expected) // 5  # the comparison covers much of the network
    np.testing.assert_allclose(result.density, expected, rtol=1e-9, atol=1e-15)
    assert result.event_edge.tolist() == bf.event_edge


def test_brute_force_walks_split_equally_at_a_junction():
    # The brute force itself, on the T: an event on the junction starts into its 3 edges with 2/3 each, and a
    # walk arriving from the stem continues into each of the 2 other edges with half.
    bf = brute("T")
    on_junction = [
        (round(length, 6), share) for node, length, share in bf.walks(bf.event_nodes[1]) if node == ("mid", 2, 0)
    ]
    assert on_junction == [(12.5, pytest.approx(2 / 3))]
    from_arm = [share for node, _, share in bf.walks(bf.event_nodes[0]) if node in (("mid", 1, 0), ("mid", 2, 0))]
    assert from_arm == [pytest.approx(0.5), pytest.approx(0.5)]


def test_path_graph_methods_agree():
    # Degree-2 nodes do not split the equal-split kernel, and both methods stop at the dead ends alike.
    lines, points = line_network()
    simple = nkde(lines, points, KdeParams(method="simple"))
    disc = nkde(lines, points, KdeParams(method="discontinuous"))
    np.testing.assert_allclose(simple.density, disc.density, rtol=1e-12, atol=1e-15)


# -- hand-worked values ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kernel_name", KERNELS)
@pytest.mark.parametrize("method", METHODS)
def test_one_event_on_a_long_line_gives_the_kernel_itself(method, kernel_name):
    road = LineString([(0, 0), (10_000, 0)])
    result = nkde([road], [Point(5_000, 4)], KdeParams(lixel_m=10, bandwidth_m=300, kernel=kernel_name, method=method))
    mid = result.lixel_mid_xy[:, 0]
    assert len(result) == 1000 and mid[0] == pytest.approx(5) and mid[499] == pytest.approx(4995)
    d = np.abs(mid - 5_000)
    expected = np.array([kernel(x, kernel_name, 300.0) for x in d])
    np.testing.assert_allclose(result.density, expected, rtol=1e-12, atol=1e-18)
    assert np.all(result.density[d >= 300] == 0)
    np.testing.assert_allclose(result.density_per_km, 1000 * result.density)
    if kernel_name == "quartic":  # 5 m from the event: 15/(16·300) · (1 − (5/300)²)²
        assert result.density[499] == pytest.approx(15 / 4800 * (1 - 1 / 3600) ** 2, rel=1e-12)
        assert result.density_per_km[499] == pytest.approx(3.12326, rel=1e-5)


def tree_without_dead_ends_near(h: float):
    # A junction of 3 long roads at the origin; one of them forks again 200 m out. Every road end is > h away.
    lines = [
        LineString([(0, 0), (-1500, 0)]),
        LineString([(0, 0), (0, 1500)]),
        LineString([(0, 0), (200, 0)]),
        LineString([(200, 0), (1700, 0)]),
        LineString([(200, 0), (200, -1500)]),
    ]
    return lines, [Point(-50, 6)]


@pytest.mark.parametrize("lixel", [10.0, 2.0])
def test_discontinuous_kernel_conserves_mass_on_a_tree(lixel):
    h = 300.0
    lines, points = tree_without_dead_ends_near(h)
    result = nkde(lines, points, KdeParams(lixel_m=lixel, bandwidth_m=h, method="discontinuous"), weights=[2.5])
    integral = float(np.sum(result.density * result.lixel_length_m))
    # Midpoint rule: on a tree one walk reaches each point, so the density on an edge is w · share · K(d) with
    # share ≤ 1, C¹ with |K''| ≤ 8c/h² (c = 15/(16h)); per lixel the error is at most ℓ³/24 · max|f''|. The walks
    # cover at most h of each road they enter from one end, and 2h of the event's own road: h · (roads + 1).
    max_k2 = 8 * (15 / (16 * h)) / h**2
    bound = lixel**2 / 24 * h * (len(lines) + 1) * 2.5 * max_k2
    assert abs(integral - 2.5) <= bound
    assert bound < 0.01
    # The simple kernel counts the mass again on each branch: more than the weight near a junction.
    simple = nkde(lines, points, KdeParams(lixel_m=lixel, bandwidth_m=h, method="simple"), weights=[2.5])
    assert float(np.sum(simple.density * simple.lixel_length_m)) > 2.5 * 1.3


def test_mass_lost_only_at_dead_ends():
    # One event 100 m from a dead end: the walk towards it stops there, losing exactly the kernel's tail.
    h = 300.0
    lines = [LineString([(0, 0), (2000, 0)])]
    result = nkde(lines, [Point(100, 0)], KdeParams(lixel_m=1, bandwidth_m=h, kernel="uniform", method="discontinuous"))
    assert float(np.sum(result.density * result.lixel_length_m)) == pytest.approx((100 + 300) / 600, abs=1e-9)


# -- snapping, weights, determinism ----------------------------------------------------------------------------


def test_far_events_are_reported_unplaced_and_change_nothing():
    lines, points = t_network()
    far = [Point(5_000, 5_000), Point(250, 31)]  # the second is 31 m from the nearest road, max_snap_m is 30
    params = KdeParams()
    base = nkde(lines, points, params)
    result = nkde(lines, points[:2] + far + points[2:], params)
    assert result.unplaced.tolist() == [2, 3]
    assert result.event_edge[2] == -1 and np.isnan(result.event_offset_m[3])
    np.testing.assert_allclose(result.density, base.density, rtol=1e-12, atol=1e-18)
    wider = nkde(lines, [Point(250, 31)], KdeParams(max_snap_m=40))
    assert wider.unplaced.tolist() == [] and wider.event_edge.tolist() == [0]
    assert wider.event_offset_m[0] == pytest.approx(250)


def test_events_without_geometry_are_unplaced():
    lines, _ = t_network()
    result = nkde(lines, [None, Point(100, 0), Point()], KdeParams())
    assert result.unplaced.tolist() == [0, 2]


@pytest.mark.parametrize("method", METHODS)
def test_weights_scale_densities(method):
    lines, points = cross_network()
    params = KdeParams(method=method)
    one = nkde(lines, points, params)
    scaled = nkde(lines, points, params, weights=np.full(len(points), 2.5))
    np.testing.assert_allclose(scaled.density, 2.5 * one.density, rtol=1e-12)
    # A weight of 3 counts as three crashes at the same spot; a weight of 0 as none.
    weighted = nkde(lines, [Point(350, 3), Point(700, -2)], params, weights=[3, 0])
    repeated = nkde(lines, [Point(350, 3)] * 3, params)
    np.testing.assert_allclose(weighted.density, repeated.density, rtol=1e-12)
    assert weighted.density.max() > 0


@pytest.mark.parametrize("method", METHODS)
def test_results_are_deterministic(method):
    lines, points = random_network()
    params = KdeParams(lixel_m=30, bandwidth_m=450, method=method)
    a, b = nkde(lines, points, params), nkde(lines, points, params)
    assert np.array_equal(a.density, b.density) and np.array_equal(a.lixel_mid_xy, b.lixel_mid_xy)
    order = np.random.default_rng(1).permutation(len(points))
    shuffled = nkde(lines, [points[i] for i in order], params)
    np.testing.assert_allclose(shuffled.density, a.density, rtol=1e-12, atol=1e-18)


@pytest.mark.parametrize("method", METHODS)
def test_small_chunks_and_batches_give_the_same_densities(method, monkeypatch):
    lines, points = random_network()
    params = KdeParams(lixel_m=30, bandwidth_m=450, method=method)
    whole = nkde(lines, points, params)
    monkeypatch.setattr(nkde_module, "_BATCH_ROWS", 16)
    monkeypatch.setattr(nkde_module, "_FIRST_CHUNK", 3)
    monkeypatch.setattr(nkde_module, "_MIN_CHUNK", 2)
    calls = []
    pieces = nkde(lines, points, params, progress=lambda done, total: calls.append((done, total)))
    np.testing.assert_allclose(pieces.density, whole.density, rtol=1e-12, atol=1e-18)
    assert len(calls) > 3 and calls[-1] == (len(points), len(points))
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


@pytest.mark.parametrize(("gap_m", "joined"), [(0.0005, True), (0.005, False)])
def test_ends_within_a_millimetre_are_one_node(gap_m, joined):
    lines = [LineString([(0, 0), (500, 0)]), LineString([(500 + gap_m, 0), (1000, 0)])]
    result = nkde(lines, [Point(450, 0)], KdeParams(bandwidth_m=300))
    assert bool(result.density[result.lixel_edge == 1].max() > 0) is joined
    assert result.stats["nodes"] == (3 if joined else 4)


def test_event_within_a_millimetre_of_a_junction_sits_on_it():
    lines, _ = cross_network()
    params = KdeParams(method="discontinuous")
    near = nkde(lines, [Point(400.0004, 0)], params)
    on = nkde(lines, [Point(400, 0)], params)
    np.testing.assert_allclose(near.density, on.density, rtol=1e-12)
    # On a node of degree 4 each road starts with half the kernel: 2/4 K(d).
    assert near.density[0] == pytest.approx(0.5 * kernel(near.lixel_mid_xy[0, 0] - 400, "quartic", 300), abs=1e-15)


# -- lixels and output -----------------------------------------------------------------------------------------


def test_lixels_cut_each_road_into_equal_pieces_with_geometry():
    bent = LineString([(0, 0), (33, 41), (90, 41), (150, -10), (151, -10)])
    lines = [bent, LineString([(151, -10), (251, -10)])]
    result = nkde(gpd.GeoSeries(lines, crs="EPSG:4549", index=[11, 12]), gpd.GeoSeries([Point(60, 40)], crs=4549),
                  KdeParams(lixel_m=20))  # fmt: skip
    n0 = math.ceil(bent.length / 20)
    assert np.bincount(result.lixel_edge).tolist() == [n0, 5]  # exactly 100 m / 20 m = 5
    np.testing.assert_allclose(result.lixel_length_m[:n0], bent.length / n0)
    frame = result.to_geodataframe()
    assert frame.crs.to_epsg() == 4549
    assert frame["road_id"].tolist() == [11] * n0 + [12] * 5
    expected = [substring(lines[e], s, t) for e, s, t in zip(frame.edge, frame.start_m, frame.end_m, strict=True)]
    assert max(shapely.hausdorff_distance(np.array(expected), frame.geometry.to_numpy())) < 1e-9
    np.testing.assert_allclose(shapely.length(frame.geometry), frame.end_m - frame.start_m, rtol=1e-12)
    mids = shapely.line_interpolate_point(np.array(lines)[frame.edge], (frame.start_m + frame.end_m) / 2)
    np.testing.assert_allclose(result.lixel_mid_xy, shapely.get_coordinates(mids), atol=1e-9)
    np.testing.assert_allclose(frame["density_per_km"], 1000 * frame["density"])


def test_missing_and_degenerate_roads_take_no_part():
    lines, points = t_network()
    with_gaps = [None, *lines[:2], LineString(), LineString([(500, 0), (500.0004, 0)]), lines[2]]
    result = nkde(with_gaps, points, KdeParams(method="discontinuous"))
    plain = nkde(lines, points, KdeParams(method="discontinuous"))
    assert sorted(set(result.lixel_edge.tolist())) == [1, 2, 5]
    np.testing.assert_allclose(result.density, plain.density, rtol=1e-12)
    assert result.stats["roads_in_network"] == 3


def test_empty_inputs():
    lines, points = t_network()
    no_events = nkde(lines, [], KdeParams())
    assert len(no_events) > 0 and not no_events.density.any() and len(no_events.unplaced) == 0
    no_roads = nkde([], points, KdeParams())
    assert isinstance(no_roads, NkdeResult) and len(no_roads) == 0
    assert no_roads.unplaced.tolist() == list(range(len(points)))
    assert len(no_roads.to_geodataframe()) == 0
    assert len(nkde(gpd.GeoSeries([], crs=4549), gpd.GeoSeries([], crs=4549)).to_geodataframe()) == 0


# -- errors ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lixel_m": 0}, "lixel_m must be a positive number of metres"),
        ({"lixel_m": -5.0}, "lixel_m must be a positive"),
        ({"bandwidth_m": float("nan")}, "bandwidth_m must be a positive"),
        ({"bandwidth_m": float("inf")}, "bandwidth_m must be finite"),
        ({"bandwidth_m": "300"}, "bandwidth_m must be a positive"),
        ({"max_snap_m": 0}, "max_snap_m must be a positive"),
        ({"kernel": "gaussian"}, "unknown kernel 'gaussian': use one of quartic, triangular, uniform"),
        ({"method": "continuous"}, "unknown method 'continuous': use one of simple, discontinuous"),
    ],
)
def test_bad_parameters_say_what_to_fix(kwargs, message):
    with pytest.raises(ValueError, match=message):
        KdeParams(**kwargs)


def test_bad_inputs_say_what_to_fix():
    lines, points = t_network()
    with pytest.raises(ValueError, match="weights has 1 values for 5 events"):
        nkde(lines, points, weights=[1.0])
    with pytest.raises(ValueError, match="weights must be finite and not negative"):
        nkde(lines, points, weights=[1, 1, -1, 1, 1])
    with pytest.raises(ValueError, match="geographic CRS"):
        nkde(gpd.GeoSeries(lines, crs=4326), gpd.GeoSeries(points, crs=4326))
    with pytest.raises(ValueError, match="different CRSs"):
        nkde(gpd.GeoSeries(lines, crs=4549), gpd.GeoSeries(points, crs=32651))
    with pytest.raises(ValueError, match="explode multi-part lines"):
        nkde([shapely.MultiLineString([[(0, 0), (1, 0)], [(2, 0), (3, 0)]])], points)
    with pytest.raises(ValueError, match="events must be Points"):
        nkde(lines, [LineString([(0, 0), (1, 1)])])


# -- real data -------------------------------------------------------------------------------------------------


@pytest.mark.shared_data
def test_real_town_network_matches_brute_force():
    path = SHARED / "roads" / "karhula_kotka_fi_drive.osm"
    if not path.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{path} is missing: CI must have ../shared/data")
        pytest.skip(f"{path} is absent (no ../shared/data beside this clone)")
    import osmnx as ox

    graph = ox.graph_from_xml(path, simplify=True, retain_all=True)
    edges = ox.graph_to_gdfs(ox.project_graph(graph), nodes=False).reset_index()
    # One line per road between junctions (osmnx keeps both directions of two-way streets).
    key = edges.apply(lambda r: (min(r["u"], r["v"]), max(r["u"], r["v"]), round(r.geometry.length, 3)), axis=1)
    roads = edges.loc[~key.duplicated()].geometry.reset_index(drop=True)
    assert len(roads) > 100
    rng = np.random.default_rng(5)
    pick = rng.integers(0, len(roads), 25)
    points = shapely.line_interpolate_point(roads.to_numpy()[pick], rng.uniform(0.02, 0.98, 25), normalized=True)
    params = {"lixel_m": 25.0, "bandwidth_m": 250.0}
    bf = BruteForce(list(roads), list(points), params["lixel_m"], params["bandwidth_m"])
    for method in METHODS:
        result = nkde(roads, gpd.GeoSeries(points, crs=roads.crs), KdeParams(**params, method=method))
        expected = getattr(bf, method)(np.ones(25), "quartic")
        np.testing.assert_allclose(result.density, expected, rtol=1e-9, atol=1e-15)
        assert len(result.unplaced) == 0 and np.count_nonzero(expected) > 300  # much of the town is compared
