"""Incident travel times: a hand-worked street and lane with a blocking obstruction, and the demo town, both against
an independent networkx model (the same noded lines and speeds, incident and resources inserted as nodes)."""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from backends import demo_store
from shapely.geometry import LineString, Point

import layers
from analysis.incident import PANEL_KINDS, TIME_COLUMNS, IncidentOffNetwork, IncidentRouter
from analysis.response_params import ResponseParams
from geo.crs import LOCAL_METRIC, WGS84, transformer

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "data" / "demo_town.gpkg"
TOL_S = 1e-6
X0, Y0 = 540_000.0, 4_745_000.0  # metres in EPSG:4549, inside the demo town
STREET_MS = 30 / 3.6
C_MS = 30 / 3.6
LANE_MS = 15 / 3.6
YARD_MS = 15 / 3.6
WALK_MS = 1.0


def xy(x: float, y: float) -> tuple[float, float]:
    return (X0 + x, Y0 + y)


def line(*pts: tuple[float, float]) -> LineString:
    return LineString([xy(*p) for p in pts])


def lonlat(x: float, y: float) -> tuple[float, float]:
    """Metres in EPSG:4549 to (lon, lat)."""
    return transformer(LOCAL_METRIC, WGS84).transform(x, y)


def frame(rows: list[dict], geoms: list) -> gpd.GeoDataFrame:
    index = pd.RangeIndex(1, 1 + len(geoms), name="fid")
    return gpd.GeoDataFrame(pd.DataFrame(rows, index=index), geometry=list(geoms), crs=LOCAL_METRIC)


# -- the independent model -------------------------------------------------------------------------------------


def nx_times(router: IncidentRouter, x: float, y: float, resources_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Seconds and road metres from each resource to the incident at (x, y) metres, by networkx over the noded lines.

    Each line is a chain of nodes at its ends, the resources' and the incident's feet and the blockage cuts (where
    the chain breaks); a lane the blockages close is left out. Resources and the incident hang off their feet.
    """
    p = router.params
    net = router.network
    edges = net.edges
    b = router.blockages
    closed = set(b.loc[b["kind"] == "lane", "lane_fid"].astype(int)) if router.blocked and len(b) else set()
    tree = shapely.STRtree(edges)

    def foot(geom) -> tuple[int, float, float]:
        e = int(min(tree.query_nearest(geom, all_matches=True)))  # ties: the lowest edge, as documented
        return e, float(edges[e].project(geom)), float(geom.distance(edges[e]))

    splits: dict[int, list[tuple[float, int, object]]] = {}  # edge → (metres, 0 foot / 1 cut, node)
    if router.blocked and len(b):
        for k, row in b[b["kind"] == "obstruction"].iterrows():
            splits.setdefault(int(row["edge"]), []).append((float(row["position_m"]), 1, ("cut", k)))
    g = nx.Graph()

    def link(a, c, seconds: float, metres: float) -> None:
        if not g.has_edge(a, c) or g[a][c]["time"] > seconds:
            g.add_edge(a, c, time=seconds, length=metres)

    ie, ipos, idist = foot(Point(x, y))
    assert idist <= p.access_max_m
    splits.setdefault(ie, []).append((ipos, 0, "incident_foot"))
    link("incident", "incident_foot", idist / WALK_MS, 0.0)
    for r, geom in enumerate(resources_m):
        e, pos, dist = foot(geom)
        if dist > p.access_max_m:
            g.add_node(("res", r))
            continue
        splits.setdefault(e, []).append((pos, 0, ("foot", r)))
        link(("res", r), ("foot", r), p.turnout_s + dist / YARD_MS, 0.0)
    for e, geom in enumerate(edges):
        if net.edge_lane[e] in closed:
            continue
        coords = shapely.get_coordinates(geom)
        a = tuple(np.round(coords[0], 6))
        last = tuple(np.round(coords[-1], 6))
        at = 0.0
        speed = net.speed_ms[e]
        for pos, is_cut, node in sorted(splits.get(e, []), key=lambda s: (s[0], s[1])):
            if is_cut:
                link(a, (node, "before"), (pos - at) / speed, pos - at)
                a = (node, "after")
            else:
                link(a, node, (pos - at) / speed, pos - at)
                a = node
            at = pos
        link(a, last, (net.length_m[e] - at) / speed, net.length_m[e] - at)
    dist, paths = nx.single_source_dijkstra(g, "incident", weight="time")
    seconds = np.array([dist.get(("res", r), np.nan) for r in range(len(resources_m))])
    metres = np.array(
        [
            sum(g[a][c]["length"] for a, c in zip(paths[("res", r)], paths[("res", r)][1:], strict=False))
            if ("res", r) in paths
            else np.nan
            for r in range(len(resources_m))
        ]
    )
    return seconds, metres


def check_against_nx(router: IncidentRouter, resources: gpd.GeoDataFrame, x: float, y: float) -> pd.DataFrame:
    got = router.times_to(*lonlat(x, y)).set_index("fid").loc[resources.index]
    geoms = np.asarray(resources.to_crs(LOCAL_METRIC).geometry.to_numpy(), dtype=object)
    want_s, want_m = nx_times(router, x, y, geoms)
    assert np.array_equal(np.isnan(got["seconds"].to_numpy()), np.isnan(want_s))
    np.testing.assert_allclose(got["seconds"].to_numpy(), want_s, rtol=0, atol=TOL_S, equal_nan=True)
    np.testing.assert_allclose(got["metres"].to_numpy(), want_m, rtol=0, atol=1e-6, equal_nan=True)
    return got


# -- a hand-worked street, lane and loop -----------------------------------------------------------------------


@pytest.fixture
def street_scene() -> tuple[gpd.GeoDataFrame, ...]:
    """A 1 km street along y = 0, a 200 m lane up from its middle blocked at y = 100, a village road round the top,
    an isolated road far off, and resources beside each (one 5 km from any road)."""
    roads = frame(
        [{"admin_class": c, "speed_limit_kmh": 30, "grade_separated": False} for c in ("street",) * 2 + ("C",) * 3],
        [
            line((0, 0), (500, 0)),
            line((500, 0), (1000, 0)),
            line((1000, 0), (1000, 200)),
            line((1000, 200), (500, 200)),
            line((3000, 0), (3100, 0)),  # not joined to anything
        ],
    )
    lanes = frame([{"name": "通道1", "width_m": 6.0, "clear_height_m": 5.0}], [line((500, 0), (500, 200))])
    obstructions = frame(
        [
            {
                "lane_id": 1,
                "kind": "straw",
                "remaining_width_m": 2.0,
                "responsible_party": "张三",
                "party_type": "villager",
                "cleared": False,
            }
        ],
        [Point(xy(500, 100))],
    )
    items = [
        ("fire_station", "消防站", (100, -20)),
        ("micro_fire_station", "微站", (520, 150)),  # on the lane beyond the obstruction
        ("township_clinic", "卫生院", (900, 10)),
        ("village_clinic", "卫生室", (3050, 10)),  # on the isolated road
        ("rescue_team", "救援队", (5000, 5000)),  # off the network
    ]
    resources = frame([{"kind": k, "name": n} for k, n, _ in items], [Point(xy(*p)) for *_, p in items])
    return roads, lanes, obstructions, resources


def test_hand_worked_times_with_the_lane_blocked(street_scene):
    roads, lanes, obstructions, resources = street_scene
    router = IncidentRouter.build(roads, lanes, resources, obstructions=obstructions)
    got = router.times_to(*lonlat(*xy(505, 50))).set_index("fid")
    walk = 5 / WALK_MS
    # Station: 20 m yard, 400 m of street, 50 m up the lane, 5 m walk.
    assert got.loc[1, "seconds"] == pytest.approx(20 / YARD_MS + 400 / STREET_MS + 50 / LANE_MS + walk, abs=TOL_S)
    assert got.loc[1, "metres"] == pytest.approx(450, abs=1e-6)
    # Micro station: the obstruction sends it up the lane, round the village road and back along the street.
    round_s = 50 / LANE_MS + 700 / C_MS + 500 / STREET_MS + 50 / LANE_MS
    assert got.loc[2, "seconds"] == pytest.approx(20 / YARD_MS + round_s + walk, abs=TOL_S)
    assert got.loc[2, "metres"] == pytest.approx(1300, abs=1e-6)
    assert got.loc[3, "seconds"] == pytest.approx(10 / YARD_MS + 400 / STREET_MS + 50 / LANE_MS + walk, abs=TOL_S)
    assert got.loc[2, "minutes"] == pytest.approx(got.loc[2, "seconds"] / 60)
    # Unreachable (another component) and off the network (5 km away): reported, not dropped.
    assert math.isnan(got.loc[4, "seconds"]) and bool(got.loc[4, "on_network"])
    assert math.isnan(got.loc[5, "seconds"]) and not bool(got.loc[5, "on_network"])
    assert math.isnan(got.loc[5, "metres"])
    assert list(router.times_to(*lonlat(*xy(505, 50))).columns) == TIME_COLUMNS
    check_against_nx(router, resources, *xy(505, 50))


def test_hand_worked_times_clear_use_the_lane_directly(street_scene):
    roads, lanes, obstructions, resources = street_scene
    router = IncidentRouter.build(roads, lanes, resources, obstructions=obstructions, blocked=False)
    got = router.times_to(*lonlat(*xy(505, 50))).set_index("fid")
    # Same piece of lane as the incident: straight down it, 100 m.
    assert got.loc[2, "seconds"] == pytest.approx(20 / YARD_MS + 100 / LANE_MS + 5 / WALK_MS, abs=TOL_S)
    assert got.loc[2, "metres"] == pytest.approx(100, abs=1e-6)
    check_against_nx(router, resources, *xy(505, 50))


@pytest.mark.parametrize(
    "point",
    [
        (250, 3),  # on the street
        (500, -5),  # at the junction of the street and the lane: the foot is an end of an edge
        (505, 150),  # on the lane beyond the obstruction: reached round the loop
        (1010, 120),  # on the village road
        (3020, -4),  # on the isolated road: only the clinic there reaches it
    ],
)
@pytest.mark.parametrize("blocked", [True, False])
def test_hand_built_network_matches_networkx(street_scene, point, blocked):
    roads, lanes, obstructions, resources = street_scene
    router = IncidentRouter.build(roads, lanes, resources, obstructions=obstructions, blocked=blocked)
    check_against_nx(router, resources, *xy(*point))


def test_turnout_is_added_to_every_resource(street_scene):
    roads, lanes, obstructions, resources = street_scene
    base = IncidentRouter.build(roads, lanes, resources, obstructions=obstructions)
    late = IncidentRouter.build(roads, lanes, resources, ResponseParams(turnout_s=60.0), obstructions=obstructions)
    a = base.times_to(*lonlat(*xy(250, 3))).set_index("fid")["seconds"]
    b = late.times_to(*lonlat(*xy(250, 3))).set_index("fid")["seconds"]
    np.testing.assert_allclose((b - a).dropna().to_numpy(), 60.0, atol=TOL_S)


def test_point_far_from_every_road_is_refused(street_scene):
    roads, lanes, obstructions, resources = street_scene
    router = IncidentRouter.build(roads, lanes, resources, obstructions=obstructions)
    with pytest.raises(IncidentOffNetwork, match="too far from any road") as err:
        router.times_to(*lonlat(*xy(1500, 600)))
    assert isinstance(err.value, ValueError)
    assert "access distance of 100 m" in str(err.value)
    # A wider access distance takes the same point.
    wide = IncidentRouter.build(roads, lanes, resources, ResponseParams(access_max_m=900.0), obstructions=obstructions)
    assert wide.times_to(*lonlat(*xy(1500, 600)))["seconds"].notna().any()


def test_bad_coordinates_are_refused(street_scene):
    roads, lanes, obstructions, resources = street_scene
    router = IncidentRouter.build(roads, lanes, resources, obstructions=obstructions)
    with pytest.raises(ValueError, match="finite degrees"):
        router.times_to(math.nan, 42.0)


def test_rows_grouped_by_kind_nearest_first_and_filtered(street_scene):
    roads, lanes, obstructions, resources = street_scene
    extra = frame(
        [{"kind": "fire_station", "name": "远站"}, {"kind": "fire_station", "name": "近站"}],
        [Point(xy(990, 10)), Point(xy(300, 10))],
    )
    extra.index = pd.RangeIndex(6, 8, name="fid")
    both = pd.concat([resources, extra])
    router = IncidentRouter.build(roads, lanes, both, obstructions=obstructions)
    got = router.times_to(*lonlat(*xy(250, 3)), kinds=["rescue_team", "fire_station"])
    assert list(got["kind"]) == ["rescue_team", "fire_station", "fire_station", "fire_station"]
    assert list(got["fid"]) == [5, 7, 1, 6]  # 50 m, 150 m and 740 m of street away
    assert got["seconds"].iloc[1:].is_monotonic_increasing


def test_nearest_by_time_gives_one_row_per_kind(street_scene):
    roads, lanes, obstructions, resources = street_scene
    router = IncidentRouter.build(roads, lanes, resources, obstructions=obstructions)
    best = router.nearest_by_time(*lonlat(*xy(505, 50)))
    assert list(best.index) == list(PANEL_KINDS)
    assert best.loc["fire_station", "fid"] == 1
    assert best.loc["micro_fire_station", "fid"] == 2
    assert best.loc["township_clinic", "kind_label"] == "乡镇卫生院"
    # The village clinic cannot get there and the rescue team is off the network: rows kept, empty.
    assert pd.isna(best.loc["village_clinic", "fid"]) and math.isnan(best.loc["village_clinic", "seconds"])
    assert pd.isna(best.loc["rescue_team", "fid"]) and best.loc["rescue_team", "kind_label"] == "救援队伍"
    times = router.times_to(*lonlat(*xy(505, 50)))
    assert best.loc["fire_station", "seconds"] == times.loc[times["kind"] == "fire_station", "seconds"].min()


# -- the demo town ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo() -> dict[str, gpd.GeoDataFrame]:
    store = demo_store()
    names = ("roads", "fire_lanes", "emergency_resources", "obstructions")
    return {name: store.read(layers.LAYERS[name]) for name in names}


def demo_points(router: IncidentRouter) -> list[tuple[float, float]]:
    """A few points a few metres off the middle of spread-out edges, and one beside each obstruction cut."""
    edges = router.network.edges
    picks = np.linspace(0, len(edges) - 1, 5).astype(int)
    out = []
    for e in picks:
        mid = shapely.line_interpolate_point(edges[e], 0.5, normalized=True)
        out.append((mid.x + 3.0, mid.y + 4.0))
    b = router.blockages
    if router.blocked and len(b):
        for _, row in b[b["kind"] == "obstruction"].head(2).iterrows():
            edge = edges[int(row["edge"])]
            at = min(float(row["position_m"]) + 7.0, float(edge.length) - 1.0)
            p = shapely.line_interpolate_point(edge, at)
            out.append((p.x + 2.0, p.y + 2.0))
    return out


@pytest.mark.parametrize("blocked", [True, False])
def test_demo_town_matches_networkx(demo, blocked):
    res = demo["emergency_resources"]
    router = IncidentRouter.build(
        demo["roads"], demo["fire_lanes"], res, obstructions=demo["obstructions"], blocked=blocked
    )
    if blocked:
        assert (router.blockages["kind"] == "obstruction").any()  # the test does cross a cut
    reached = 0
    for x, y in demo_points(router):
        got = check_against_nx(router, res, x, y)
        reached += int(got["seconds"].notna().sum())
    assert reached > 0
