"""Fire-engine response: hand-worked times, blockages and who they cut off, against an independent networkx model on
random networks (times, cut-off rows and the blockages charged), coverage counts by brute force, isochrone pieces,
places off the network, and the demo town's planted dead-end lane."""

from __future__ import annotations

import json
import math
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from backends import demo_store
from shapely.affinity import translate
from shapely.geometry import LineString, Point, Polygon
from shapely.ops import nearest_points, substring

import layers
from analysis.fire_lanes import LaneRules, analyse_fire_lanes
from analysis.fire_response import BLOCKED, CLEAR, LEGAL_BASIS, band_label, fire_response
from analysis.response_network import substrings
from analysis.response_params import ANY, FIRE_STATION, MICRO_FIRE_STATION, ResponseParams
from geo.crs import LOCAL_METRIC, transform_geometries

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "data" / "demo_town.gpkg"
TRUTH = ROOT / "data" / "demo_town.truth.json"
TOL_S = 1e-6
X0, Y0 = 540_000.0, 4_745_000.0  # metres in EPSG:4549, inside the demo town


# -- building scenes -------------------------------------------------------------------------------------------


def xy(x: float, y: float) -> tuple[float, float]:
    return (X0 + x, Y0 + y)


def line(*pts: tuple[float, float]) -> LineString:
    return LineString([xy(*p) for p in pts])


def diamond(x: float, y: float, r: float = 5.0) -> Polygon:
    """A house whose nearest point to anything below or to the left is one vertex, so access is unambiguous."""
    return Polygon([xy(x, y - r), xy(x + r, y), xy(x, y + r), xy(x - r, y)])


def frame(rows: list[dict], geoms: list, start: int = 1) -> gpd.GeoDataFrame:
    index = pd.RangeIndex(start, start + len(geoms), name="fid")
    return gpd.GeoDataFrame(pd.DataFrame(rows, index=index), geometry=list(geoms), crs=LOCAL_METRIC)


def roads_frame(lines: list[LineString], classes: list[str]) -> gpd.GeoDataFrame:
    return frame([{"admin_class": c, "speed_limit_kmh": 30, "grade_separated": False} for c in classes], lines)


def lanes_frame(lines: list[LineString], widths: list[float] | None = None, heights=None) -> gpd.GeoDataFrame:
    widths = widths or [6.0] * len(lines)
    heights = heights or [5.0] * len(lines)
    rows = [
        {"name": f"通道{i + 1}", "width_m": w, "clear_height_m": h}
        for i, (w, h) in enumerate(zip(widths, heights, strict=True))
    ]
    return frame(rows, lines)


def obstructions_frame(items: list[tuple]) -> gpd.GeoDataFrame:
    """(x, y, lane_id, remaining width, cleared, party, party type) per obstruction."""
    rows = [
        {
            "lane_id": lane,
            "kind": "straw",
            "remaining_width_m": width,
            "responsible_party": party,
            "party_type": ptype,
            "cleared": cleared,
        }
        for _, _, lane, width, cleared, party, ptype in items
    ]
    return frame(rows, [Point(xy(x, y)) for x, y, *_ in items])


def stations_frame(items: list[tuple[float, float, str]]) -> gpd.GeoDataFrame:
    return frame(
        [{"name": f"站{i}", "kind": k} for i, (_, _, k) in enumerate(items)], [Point(xy(x, y)) for x, y, _ in items]
    )


def buildings_frame(polys: list[Polygon], residents: list[int] | None = None, codes=None) -> gpd.GeoDataFrame:
    residents = residents or [3] * len(polys)
    codes = codes or ["150525107201"] * len(polys)
    return frame([{"residents": r, "village_code": c} for r, c in zip(residents, codes, strict=True)], polys)


EMPTY_OBS = obstructions_frame([])

STREET_MS = 30 / 3.6
LANE_MS = 15 / 3.6
C_MS = 30 / 3.6
YARD_MS = 15 / 3.6


def run(roads, fire_lanes, obs, stations, houses, **kw):
    return fire_response(roads, fire_lanes, obs, stations, houses, **kw)


def lane_of(r, fid: int):
    """The lane analysis's finding on one lane, as the response modelled it."""
    return next(lane for lane in r.lanes.lanes if lane.fid == fid)


def placed(r, fid: int):
    """Where the lane analysis placed one obstruction."""
    return next(o for o in r.lanes.obstructions if o.fid == fid)


# -- hand-worked networks --------------------------------------------------------------------------------------


def t_street_scene(obs_items=(), lane_width=6.0, kind=FIRE_STATION, loop=False):
    """A 1 km street along y = 0 and a 200 m lane up from its middle; with `loop`, a village road back round the top."""
    road_lines = [line((0, 0), (500, 0)), line((500, 0), (1000, 0))]
    classes = ["street", "street"]
    if loop:
        road_lines += [line((1000, 0), (1000, 200)), line((1000, 200), (500, 200))]
        classes += ["C", "C"]
    lanes = lanes_frame([line((500, 0), (500, 200))], widths=[lane_width])
    stations = stations_frame([(100, -20, kind)])
    houses = buildings_frame([diamond(600, 25), diamond(515, 180)])  # A beside the street, B beside the lane
    return roads_frame(road_lines, classes), lanes, obstructions_frame(list(obs_items)), stations, houses


def test_hand_worked_times_on_street_and_dead_end_lane():
    r = run(*t_street_scene())
    offset = 20 / YARD_MS  # the station stands 20 m off the street
    a = offset + 500 / STREET_MS + 20 / 1.0  # 500 m along the street, 20 m on foot
    b = offset + 400 / STREET_MS + 180 / LANE_MS + 10 / 1.0  # to the lane's foot, 180 m up it, 10 m on foot
    got = r.buildings[f"time_{CLEAR}_{FIRE_STATION}_s"].to_numpy()
    np.testing.assert_allclose(got, [a, b], atol=TOL_S, rtol=0)
    np.testing.assert_allclose(r.buildings[f"time_{BLOCKED}_{ANY}_s"].to_numpy(), [a, b], atol=TOL_S, rtol=0)
    assert r.cut_off.empty
    assert r.stations["on_network"].all()
    assert r.stations["access_m"].iloc[0] == pytest.approx(20.0)


def test_turnout_time_is_added_to_every_time():
    scene = t_street_scene()
    base = run(*scene).buildings[f"time_{CLEAR}_{ANY}_s"]
    later = run(*scene, params=ResponseParams(turnout_s=60.0)).buildings[f"time_{CLEAR}_{ANY}_s"]
    np.testing.assert_allclose(later - base, 60.0, atol=TOL_S)


def test_blocking_obstruction_cuts_off_a_dead_end_lane_and_is_charged():
    obs = [(501, 100, 1, 2.0, False, "张三", "individual")]
    r = run(*t_street_scene(obs))
    assert lane_of(r, 1).status == "blocked" and lane_of(r, 1).blocking_obstruction_fids == (1,)
    assert r.report["impassable_lanes"] == [1]
    t = r.buildings[f"time_{BLOCKED}_{FIRE_STATION}_s"]
    assert math.isnan(t.loc[2]) and not math.isnan(t.loc[1])  # B beyond the cut, A on the street
    row = r.cut_off.set_index("building_fid").loc[2]
    assert row["reason"] == "unreachable"
    assert row["obstruction_fids"] == (1,) and row["lane_fids"] == (1,)
    assert bool(row["cleared_alone"]) and not bool(row["needs_several"])
    assert row["responsible_party"] == "张三" and row["party_type"] == "individual"
    assert LEGAL_BASIS in row["legal_basis"] and "500元以下罚款" in row["penalty"]


def test_stretch_beyond_a_cut_is_reached_from_the_lanes_other_end():
    obs = [(501, 100, 1, 2.0, False, "张三", "individual")]
    r = run(*t_street_scene(obs, kind=MICRO_FIRE_STATION, loop=True))
    offset = 20 / YARD_MS
    before = offset + 400 / STREET_MS + 180 / LANE_MS + 10
    after = offset + 900 / STREET_MS + 200 / C_MS + 500 / C_MS + 20 / LANE_MS + 10  # round by the village road
    t = r.buildings
    assert t.loc[2, f"time_{CLEAR}_{MICRO_FIRE_STATION}_s"] == pytest.approx(before, abs=TOL_S)
    assert t.loc[2, f"time_{BLOCKED}_{MICRO_FIRE_STATION}_s"] == pytest.approx(after, abs=TOL_S)
    row = r.cut_off.set_index("building_fid").loc[2]  # 3-minute standard: 106 s before, 212 s after
    assert row["reason"] == "beyond_standard" and row["standard_s"] == 180.0
    assert row["obstruction_fids"] == (1,)


@pytest.mark.parametrize(
    ("width", "cleared", "status"),
    [
        (4.5, False, "partial"),  # narrowed but 4 m or more left: passable
        (4.0, False, "partial"),  # exactly 4.0 m meets GB 50016 §7.1.8
        (1.0, True, "passable"),  # cleared: no longer there
    ],
)
def test_partial_and_cleared_obstructions_leave_the_lane_passable(width, cleared, status):
    obs = [(501, 100, 1, width, cleared, "李四", "unit")]
    r = run(*t_street_scene(obs))
    assert lane_of(r, 1).status == status and r.report["impassable_lanes"] == []
    assert r.blockages.empty and r.cut_off.empty
    pd.testing.assert_series_equal(
        r.buildings[f"time_{CLEAR}_{ANY}_s"], r.buildings[f"time_{BLOCKED}_{ANY}_s"], check_names=False
    )


@pytest.mark.parametrize(("width", "height"), [(3.5, 5.0), (6.0, 3.8)])
def test_a_lane_too_narrow_or_too_low_is_impassable_along_its_length(width, height):
    scene = list(t_street_scene())
    scene[1] = lanes_frame([line((500, 0), (500, 200))], widths=[width], heights=[height])
    r = run(*scene)
    lane = lane_of(r, 1)
    assert lane.status == "blocked" and {s.cause for s in lane.stretches} <= {"lane_width", "clear_height"}
    assert r.blockages["kind"].tolist() == ["lane"]
    row = r.cut_off.set_index("building_fid").loc[2]
    assert row["reason"] == "unreachable" and row["obstruction_fids"] == () and row["lane_fids"] == (1,)
    assert "7.1.8" in row["legal_basis"]


def test_an_unknown_clear_height_is_not_held_against_the_lane():
    scene = list(t_street_scene())
    scene[1] = lanes_frame([line((500, 0), (500, 200))], heights=[None])
    assert lane_of(run(*scene), 1).status == "passable"


def test_two_cuts_in_a_row_need_clearing_together():
    obs = [
        (501, 60, 1, 2.0, False, "张三", "individual"),
        (501, 120, 1, 3.0, False, "镇粮站", "unit"),
        (800, 1, None, 1.0, False, "王五", "individual"),  # on no lane: reported, not modelled
    ]
    r = run(*t_street_scene(obs))
    assert placed(r, 3).effect == "not_on_lane"
    assert r.report["obstructions_not_placed"] == [3]
    row = r.cut_off.set_index("building_fid").loc[2]
    assert bool(row["needs_several"]) and not bool(row["cleared_alone"])
    assert row["obstruction_fids"] == (1, 2)
    assert row["responsible_party"] == "张三；镇粮站" and row["party_type"] == "individual；unit"
    assert "500元以下罚款" in row["penalty"] and "5,000–50,000元罚款" in row["penalty"]


def test_the_recorded_lane_wins_over_a_nearer_one():
    scene = list(t_street_scene())
    scene[1] = lanes_frame([line((500, 0), (500, 200)), line((506, 0), (506, 200))])
    near_2 = (505, 100)
    obs = obstructions_frame(
        [(*near_2, 1, 2.0, False, "张三", "individual"), (*near_2, None, 2.0, False, "李四", "individual")]
    )
    r = run(scene[0], scene[1], obs, scene[3], scene[4])
    assert placed(r, 1).lane_fid == 1  # recorded on lane 1, 5 m away: kept there
    assert placed(r, 2).lane_fid == 2  # no lane recorded: the nearest
    assert r.blockages.set_index("obstruction_fid")["lane_fid"].to_dict() == {1: 1, 2: 2}


def test_the_lane_analysis_given_decides_what_blocks():
    obs = [(501, 100, 1, 4.5, False, "李四", "unit")]  # 4.5 m left: passable under GB 50016 §7.1.8
    scene = t_street_scene(obs)
    assert run(*scene).cut_off.empty
    roads, lanes, obstructions = scene[0], scene[1], scene[2]
    strict = analyse_fire_lanes(lanes, obstructions, roads, rules=LaneRules(min_clear_width_m=5.0))
    r = run(*scene, lanes=strict)
    assert r.lanes is strict and r.report["params"]["min_clear_width_m"] == 5.0
    assert r.cut_off.set_index("building_fid").loc[2, "obstruction_fids"] == (1,)


def test_an_obstruction_of_unmeasured_remaining_width_blocks():
    obs = [(501, 100, 1, None, False, "张三", "individual")]  # LaneRules.unknown_remaining_blocks
    r = run(*t_street_scene(obs))
    assert placed(r, 1).effect == "blocks" and "未测" in r.blockages.loc[0, "detail"]
    assert r.cut_off.set_index("building_fid").loc[2, "reason"] == "unreachable"


def test_a_lane_analysis_of_other_layers_is_refused():
    scene = t_street_scene([(501, 100, 1, 2.0, False, "张三", "individual")])
    other = analyse_fire_lanes(scene[1], obstructions_frame([]), scene[0])
    with pytest.raises(ValueError, match="fire-lane analysis"):
        run(*scene, lanes=other)


def test_a_lane_drawn_along_a_street_takes_it_over_and_its_obstruction_blocks_it():
    roads = roads_frame([line((0, 0), (1000, 0))], ["street"])
    lanes = lanes_frame([line((200, 0), (800, 0))])
    obs = obstructions_frame([(500, 0.5, 1, 2.0, False, "张三", "individual")])
    stations = stations_frame([(100, -20, FIRE_STATION)])
    houses = buildings_frame([diamond(700, 25)])
    r = run(roads, lanes, obs, stations, houses)
    assert r.report["road_edges_taken_by_lanes"] == 1
    expected = 20 / YARD_MS + 600 / STREET_MS + 20  # the lane stretch runs at the street's speed
    assert r.buildings.loc[1, f"time_{CLEAR}_{ANY}_s"] == pytest.approx(expected, abs=TOL_S)
    assert math.isnan(r.buildings.loc[1, f"time_{BLOCKED}_{ANY}_s"])
    assert r.cut_off["obstruction_fids"].tolist() == [(1,)]


def test_places_off_the_network_are_reported_not_dropped():
    roads, lanes, obs, _, _ = t_street_scene()
    stations = stations_frame([(100, -20, FIRE_STATION), (300, -400, MICRO_FIRE_STATION)])
    houses = buildings_frame([diamond(600, 25), diamond(300, -160)])  # the second 155 m from the street
    r = run(roads, lanes, obs, stations, houses)
    assert r.stations["on_network"].tolist() == [True, False]
    assert r.report["stations_off_network"] == [2]
    assert r.stations.loc[2, "access_m"] == pytest.approx(400.0)
    assert r.buildings["on_network"].tolist() == [True, False]
    assert r.buildings.loc[2, "access_m"] == pytest.approx(155.0)
    assert r.buildings[f"time_{CLEAR}_{MICRO_FIRE_STATION}_s"].isna().all()  # its only station is off the network
    off = r.outside[(r.outside["kind"] == "building") & (r.outside["fid"] == 2)]
    assert set(off["reason"]) == {"off_network"} and len(off) == 6  # both scenarios, any and both classes
    assert r.report["buildings_off_network"] == 1


def test_isochrone_pieces_split_where_a_band_boundary_falls():
    roads = roads_frame([line((0, 0), (1000, 0))], ["street"])
    stations = stations_frame([(0, 0, FIRE_STATION)])
    houses = buildings_frame([diamond(900, 20)])
    params = ResponseParams(bands_min=(1.0, 2.0))
    r = run(roads, lanes_frame([]), EMPTY_OBS, stations, houses, params=params)
    iso = r.isochrones[(r.isochrones["scenario"] == CLEAR) & (r.isochrones["station_class"] == ANY)]
    assert iso["label"].tolist() == [band_label(0, (1.0, 2.0)), band_label(1, (1.0, 2.0))] == ["1分钟内", "1–2分钟"]
    np.testing.assert_allclose(iso[["start_m", "end_m"]].to_numpy(), [[0, 500], [500, 1000]], atol=1e-6)
    metric = transform_geometries(iso.geometry.to_numpy(), "EPSG:4326", LOCAL_METRIC)
    np.testing.assert_allclose(shapely.length(metric), [500, 500], atol=1e-3)
    assert shapely.get_coordinates(metric[0])[-1] == pytest.approx(xy(500, 0), abs=1e-3)


def test_progress_counts_every_shortest_path_run():
    seen = []
    obs = [(501, 60, 1, 2.0, False, "张三", "individual"), (501, 120, 1, 3.0, False, "镇粮站", "unit")]
    r = run(*t_street_scene(obs), progress=lambda done, total: seen.append((done, total)))
    assert [d for d, _ in seen] == list(range(1, len(seen) + 1))
    # clear, blocked, and each of the two lifted alone (lifting both is the clear run again)
    assert seen[-1][0] == seen[-1][1] == r.report["shortest_path_runs"] == 4


@pytest.mark.parametrize(
    "bad",
    [
        {"bands_min": (5.0, 3.0)},
        {"bands_min": ()},
        {"fire_lane_kmh": 0},
        {"access_max_m": -1},
        {"station_standard_min": {"any": 3.0}},
        {"road_speed_kmh": {"G": float("nan")}},
    ],
)
def test_bad_parameters_are_refused(bad):
    with pytest.raises(ValueError):
        ResponseParams(**bad)


def test_substrings_match_shapely_substring():
    rng = np.random.default_rng(5)
    lines = np.array([LineString(rng.uniform(0, 100, (rng.integers(2, 7), 2))) for _ in range(40)], dtype=object)
    which = rng.integers(0, len(lines), 200)
    length = shapely.length(lines[which])
    a = rng.uniform(0, 1, 200) * length
    b = np.minimum(a + rng.uniform(0, 1, 200) * length, length)
    got = substrings(lines, which, a, b)
    for g, w, s, e in zip(got, which, a, b, strict=True):
        want = substring(lines[w], s, e)
        assert g.length == pytest.approx(want.length, abs=1e-9)
        assert shapely.hausdorff_distance(g, want) < 1e-9 or want.length < 1e-9


# -- random networks against networkx --------------------------------------------------------------------------


def grid_roads(segments: int, seed: int) -> gpd.GeoDataFrame:
    """About `segments` two-piece road lines on a jittered 250 m grid, meeting only at their ends, a sixth left out."""
    rng = np.random.default_rng(seed)
    k = int(math.ceil(math.sqrt(segments / 1.6))) + 1
    ij = np.stack(np.meshgrid(np.arange(k), np.arange(k), indexing="ij"), axis=-1).reshape(-1, 2)
    nodes = np.asarray(xy(0, 0)) + ij * 250.0 + rng.uniform(-40, 40, (len(ij), 2))
    ids = np.arange(k * k).reshape(k, k)
    links = np.concatenate(
        [np.stack([ids[:-1].ravel(), ids[1:].ravel()], 1), np.stack([ids[:, :-1].ravel(), ids[:, 1:].ravel()], 1)]
    )
    links = links[rng.random(len(links)) >= 1 / 6][:segments]
    a, b = nodes[links[:, 0]], nodes[links[:, 1]]
    mid = (a + b) / 2 + rng.uniform(-15, 15, a.shape)
    lines = [LineString([p, m, q]) for p, m, q in zip(a, mid, b, strict=True)]
    classes = rng.choice(["G", "X", "Y", "C"], len(lines), p=[0.1, 0.2, 0.3, 0.4])
    rows = [{"admin_class": c, "speed_limit_kmh": 60, "grade_separated": False} for c in classes]
    return frame(rows, lines)


def houses_beside(lines: list[LineString], n: int, seed: int) -> list[Polygon]:
    """`n` houses 8 to 40 m to either side of random lines."""
    rng = np.random.default_rng(seed)
    out = []
    for k in rng.integers(0, len(lines), n):
        geom = lines[int(k)]
        d = float(rng.uniform(0.05, 0.95)) * geom.length
        p, q = (np.asarray(geom.interpolate(x).coords[0]) for x in (d - 1.0, d + 1.0))
        normal = np.array([-(q - p)[1], (q - p)[0]]) / np.hypot(*(q - p))
        c = (p + q) / 2 + normal * float(rng.choice([-1, 1]) * rng.uniform(8, 40))
        out.append(diamond(c[0] - X0, c[1] - Y0, 4.0))
    return out


class Scene:
    """A random grid county network: some links are fire lanes (one too narrow), obstructions on some lanes, two
    dead-end lanes with blocked obstructions and houses beyond them, stations and houses beside the roads."""

    def __init__(self, seed: int, segments: int = 260, n_houses: int = 160):
        rng = np.random.default_rng(seed)
        grid = grid_roads(segments, seed)
        lane_pos = np.sort(rng.choice(len(grid), 10, replace=False))
        is_lane = np.zeros(len(grid), bool)
        is_lane[lane_pos] = True
        road_lines = list(grid.geometry[~is_lane])
        lane_lines = list(grid.geometry[is_lane])
        # Dead ends: from a grid node, 180 m away from the grid's middle.
        for k in range(2):
            start = np.asarray(grid.geometry.iloc[int(rng.integers(len(grid)))].coords[0])
            away = start - np.asarray(grid.total_bounds[:2] + grid.total_bounds[2:]) / 2
            away /= np.hypot(*away)
            rot = np.array([[0.0, -1.0], [1.0, 0.0]]) if k else np.eye(2)
            lane_lines.append(LineString([start, start + 180 * (rot @ away)]))
        widths = [6.0] * len(lane_lines)
        widths[3] = 3.5  # a substandard lane
        self.roads = frame(
            [
                {"admin_class": c, "speed_limit_kmh": s, "grade_separated": False}
                for c, s in zip(grid["admin_class"][~is_lane], grid["speed_limit_kmh"][~is_lane], strict=True)
            ],
            road_lines,
        )
        self.lanes = lanes_frame(lane_lines, widths=widths)
        # Obstructions: on random lanes, up to 1 m off; plus two in a row on the dead ends.
        items = []
        for lane in rng.choice(len(lane_lines) - 2, 6, replace=False):
            geom = lane_lines[lane]
            p = np.asarray(geom.interpolate(float(rng.uniform(0.15, 0.85)), normalized=True).coords[0])
            p = p + rng.uniform(-0.7, 0.7, 2)
            w = float(rng.choice([2.0, 3.5, 4.5, 6.0]))
            items.append((p, int(lane) + 1, w, bool(rng.random() < 0.2)))
        for k, at in ((len(lane_lines) - 2, (60.0,)), (len(lane_lines) - 1, (50.0, 110.0))):
            for d in at:
                items.append((np.asarray(lane_lines[k].interpolate(d).coords[0]), k + 1, 2.5, False))
        self.obstructions = frame(
            [
                {
                    "lane_id": lane,
                    "kind": "debris",
                    "remaining_width_m": w,
                    "cleared": c,
                    "responsible_party": f"责任人{i}",
                    "party_type": "individual",
                }
                for i, (_, lane, w, c) in enumerate(items)
            ],
            [Point(p) for p, *_ in items],
        )
        all_lines = road_lines + lane_lines
        kinds = [FIRE_STATION, FIRE_STATION, MICRO_FIRE_STATION, MICRO_FIRE_STATION, MICRO_FIRE_STATION]
        pick = rng.choice(len(road_lines), len(kinds), replace=False)
        station_pts = [
            Point(np.asarray(road_lines[i].interpolate(float(rng.uniform(0.1, 0.9)), normalized=True).coords[0])
                  + rng.uniform(-25, 25, 2))
            for i in pick
        ]  # fmt: skip
        self.stations = frame([{"name": f"站{i}", "kind": k} for i, k in enumerate(kinds)], station_pts)
        homes = houses_beside(all_lines, n_houses, seed + 7)
        ends = [diamond(0, 0, 4.0) for _ in range(3)]
        for k, (lane, d) in enumerate(((len(lane_lines) - 2, 150.0), (len(lane_lines) - 1, 160.0), (3, 50.0))):
            c = np.asarray(lane_lines[lane].interpolate(d).coords[0]) + [9.0, 0.0]
            ends[k] = translate(ends[k], c[0] - X0, c[1] - Y0)
        codes = rng.choice(["150525107201", "150525107202", "150525107203"], len(homes) + len(ends))
        residents = rng.integers(0, 7, len(homes) + len(ends))
        self.buildings = buildings_frame(homes + ends, list(residents), list(codes))

    def result(self, params: ResponseParams):
        return fire_response(self.roads, self.lanes, self.obstructions, self.stations, self.buildings, params=params)


class BruteForce:
    """The same model written out one place at a time with networkx: every line an edge (the grid's lines meet only
    at their ends), every station, cut and house inserted as a node along its line, Dijkstra from a source node."""

    def __init__(self, scene: Scene, params: ResponseParams):
        self.p = params
        rules = LaneRules()
        roads, lanes = scene.roads, scene.lanes
        self.lines = list(roads.geometry) + list(lanes.geometry)
        kmh = [params.road_speed_kmh.get(c, params.other_road_kmh) for c in roads["admin_class"]]
        self.speed = np.array(kmh + [params.fire_lane_kmh] * len(lanes)) / 3.6
        self.lane_of = [None] * len(roads) + list(lanes.index)
        n_r = len(roads)
        # Blockages: substandard lanes first, then blocking obstructions, as the module numbers them.
        self.blockages = []
        for fid, w, h in zip(lanes.index, lanes["width_m"], lanes["clear_height_m"], strict=True):
            if w < rules.min_clear_width_m or h < rules.min_clear_height_m:
                self.blockages.append(("lane", n_r + list(lanes.index).index(fid), None, None))
        for fid, row in scene.obstructions.iterrows():
            if row["cleared"] or row["remaining_width_m"] >= rules.min_clear_width_m:
                continue
            k = n_r + list(lanes.index).index(row["lane_id"])
            self.blockages.append(("cut", k, self.lines[k].project(row.geometry), fid))
        self.stations = [self.place(g) for g in scene.stations.geometry]
        self.station_kind = list(scene.stations["kind"])
        self.houses = [self.place(g) for g in scene.buildings.geometry]

    def place(self, geom):
        d = [geom.distance(g) for g in self.lines]
        k = int(np.argmin(d))
        return k, self.lines[k].project(nearest_points(geom, self.lines[k])[1]), d[k]

    def times(self, active: set[int], kind: str) -> np.ndarray:
        """Seconds from the nearest station of `kind` to each house with the blockages numbered in `active`."""
        p = self.p
        g = nx.DiGraph()

        def link(a, b, w):
            for x, y in ((a, b), (b, a)):
                if not g.has_edge(x, y) or g[x][y]["weight"] > w:
                    g.add_edge(x, y, weight=w)

        closed = {b[1] for i, b in enumerate(self.blockages) if b[0] == "lane" and i in active}
        marks: dict[int, list] = {k: [] for k in range(len(self.lines))}
        for i, (kind_b, k, pos, _) in enumerate(self.blockages):
            if kind_b == "cut":
                marks[k].append((pos, ("cut", i), i in active))
        for s, (k, pos, d) in enumerate(self.stations):
            if d <= p.access_max_m:
                marks[k].append((pos, ("station", s), False))
        for h, (k, pos, d) in enumerate(self.houses):
            if d <= p.access_max_m:
                marks[k].append((pos, ("house", h), False))
        for k, geom in enumerate(self.lines):
            a = tuple(np.round(geom.coords[0], 6))
            b = tuple(np.round(geom.coords[-1], 6))
            # Each mark is arrived at through its "in" node and left through its "out" node: one node unless it is
            # an active cut, whose two sides do not meet.
            chain = [(0.0, a, a)]
            for pos, node, cut in sorted(marks[k], key=lambda m: (m[0], str(m[1]))):
                chain.append((pos, (node, "near") if cut else node, (node, "far") if cut else node))
            chain.append((geom.length, b, b))
            for (p0, _, out0), (p1, in1, _) in zip(chain, chain[1:], strict=False):
                g.add_node(in1)
                if k not in closed:
                    link(out0, in1, (p1 - p0) / self.speed[k])
        g.add_node("source")
        for s, (_, _, d) in enumerate(self.stations):
            if d <= p.access_max_m and self.station_kind[s] == kind:
                g.add_edge("source", ("station", s), weight=p.turnout_s + d / (p.station_yard_kmh / 3.6))
        dist = nx.single_source_dijkstra_path_length(g, "source")
        out = np.full(len(self.houses), np.inf)
        for h, (_, _, d) in enumerate(self.houses):
            if ("house", h) in dist:
                out[h] = dist[("house", h)] + d / (p.access_kmh / 3.6)
        return out

    def charged(self, i: int, kind: str, before: float) -> tuple[int, ...]:
        """The blockages whose lifting alone restores house i's time, else the set left by dropping each in turn."""
        n = len(self.blockages)
        every = set(range(n))
        alone = [b for b in range(n) if self.times(every - {b}, kind)[i] <= before + TOL_S]
        if alone:
            return tuple(alone)
        lifted = list(range(n))
        for b in range(n):
            trial = [x for x in lifted if x != b]
            if trial and self.times(every - set(trial), kind)[i] <= before + TOL_S:
                lifted = trial
        return tuple(lifted)


PARAMS = ResponseParams(turnout_s=45.0, bands_min=(2.0, 3.0, 5.0, 8.0))


def nan_as_inf(values) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    return np.where(np.isnan(arr), np.inf, arr)


@pytest.fixture(scope="module", params=[11, 23])
def scene_and_result(request):
    scene = Scene(request.param)
    result = scene.result(PARAMS)
    n_lines = len(scene.roads) + len(scene.lanes)
    assert result.network.repairs.split_points == 0 and result.network.repairs.snapped_ends == 0, (
        "the brute force assumes lines meeting only at their ends: pick another seed"
    )
    assert len(result.network.edges) == n_lines
    return scene, result, BruteForce(scene, PARAMS)


def test_times_equal_networkx_dijkstra_on_random_networks(scene_and_result):
    scene, r, brute = scene_and_result
    every = set(range(len(brute.blockages)))
    assert len(r.blockages) == len(brute.blockages) >= 3
    for kind in (FIRE_STATION, MICRO_FIRE_STATION):
        for scenario, active in ((CLEAR, set()), (BLOCKED, every)):
            want = brute.times(active, kind)
            got = nan_as_inf(r.buildings[f"time_{scenario}_{kind}_s"])
            assert np.isfinite(want).sum() > 100
            np.testing.assert_allclose(got, want, atol=TOL_S, rtol=0)


def test_cut_off_rows_and_charges_equal_brute_force(scene_and_result):
    scene, r, brute = scene_and_result
    every = set(range(len(brute.blockages)))
    want = {}
    for kind in (FIRE_STATION, MICRO_FIRE_STATION):
        before, after = brute.times(set(), kind), brute.times(every, kind)
        std = PARAMS.station_standard_min[kind] * 60
        for i in range(len(before)):
            if np.isfinite(before[i]) and not np.isfinite(after[i]):
                reason = "unreachable"
            elif np.isfinite(after[i]) and before[i] <= std + TOL_S < after[i]:
                reason = "beyond_standard"
            else:
                continue
            charged = brute.charged(i, kind, before[i])
            obs = tuple(brute.blockages[b][3] for b in charged if brute.blockages[b][0] == "cut")
            want[(int(scene.buildings.index[i]), kind)] = (reason, obs)
    got = {(row.building_fid, row.station_class): (row.reason, row.obstruction_fids) for row in r.cut_off.itertuples()}
    assert got == want
    assert any(len(v[1]) == 2 for v in want.values())  # the two cuts in a row need clearing together
    assert any(v[0] == "unreachable" for v in want.values())


def test_coverage_counts_equal_brute_force(scene_and_result):
    scene, r, brute = scene_and_result
    b = scene.buildings
    for scenario, active in ((CLEAR, set()), (BLOCKED, set(range(len(brute.blockages))))):
        t = np.minimum(brute.times(active, FIRE_STATION), brute.times(active, MICRO_FIRE_STATION))
        cov = r.coverage[(r.coverage["scenario"] == scenario) & (r.coverage["station_class"] == ANY)]
        for band in PARAMS.bands_min:
            within = t <= band * 60 + TOL_S
            for code in sorted(set(b["village_code"])):
                mine = b["village_code"].to_numpy() == code
                row = cov[(cov["village_code"] == code) & (cov["band_min"] == band)].iloc[0]
                assert row["buildings"] == int((within & mine).sum())
                assert row["buildings_total"] == int(mine.sum())
                assert row["residents"] == int(b["residents"].to_numpy()[within & mine].sum())
                assert row["buildings_share"] == pytest.approx((within & mine).sum() / mine.sum())
        outside = r.outside[
            (r.outside["scenario"] == scenario)
            & (r.outside["station_class"] == ANY)
            & (r.outside["kind"] == "building")
        ]
        assert sorted(outside["fid"]) == sorted(b.index[t > PARAMS.bands_min[-1] * 60 + TOL_S])


def test_isochrone_pieces_hold_exactly_the_points_of_their_band(scene_and_result):
    _, r, _ = scene_and_result
    graph = r.graph
    iso = r.isochrones[(r.isochrones["scenario"] == BLOCKED) & (r.isochrones["station_class"] == FIRE_STATION)]
    # Points along every piece, their time from the piece's end nodes (node times checked against networkx above
    # through the houses), and the band pieces of their edge that hold them.
    active = np.ones(len(r.blockages), bool)
    placed = r.stations[r.stations["on_network"]]
    node_t = graph.node_times(active, [np.flatnonzero(placed["kind"].to_numpy() == FIRE_STATION)])[0]
    u, v, open_ = graph.ends(active)
    bands = np.asarray(PARAMS.bands_min) * 60
    by_edge = dict(list(iso.groupby("edge")))
    rng = np.random.default_rng(3)
    checked = 0
    for p in range(len(graph.piece_edge)):
        length, speed = graph.piece_length_m[p], graph.piece_speed_ms[p]
        if length == 0:
            continue
        for x in rng.uniform(0, length, 3):
            t = min(node_t[u[p]] + x / speed, node_t[v[p]] + (length - x) / speed) if open_[p] else np.inf
            k = int(np.searchsorted(bands, t - 1e-9)) if np.isfinite(t) else len(bands)
            at = graph.piece_start_m[p] + x
            grp = by_edge.get(int(graph.piece_edge[p]))
            hits = (
                [] if grp is None else grp.loc[(grp["start_m"] <= at + 1e-6) & (grp["end_m"] >= at - 1e-6), "band_min"]
            )
            assert list(hits) == ([] if k == len(bands) else [PARAMS.bands_min[k]])
            checked += k < len(bands)
    assert checked > 100


# -- the demo town ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo():
    store = demo_store()
    names = ("roads", "fire_lanes", "obstructions", "emergency_resources", "buildings")
    frames = {n: store.read(layers.LAYERS[n]) for n in (*names, "old_settlements", "risk_sources", "villages")}
    result = fire_response(
        *(frames[n] for n in names),
        old_settlements=frames["old_settlements"],
        risk_sources=frames["risk_sources"],
        villages=frames["villages"],
    )
    return frames, result, json.loads(TRUTH.read_text(encoding="utf-8"))


def test_demo_dead_end_lane_blocked_by_straw_cuts_off_the_old_compound(demo):
    frames, r, truth = demo
    dead = truth["fire_lanes"]["dead_end"]
    settlement = dead["settlement_fid"]
    assert frames["old_settlements"].loc[settlement, "name"] == "粮站家属院"
    assert settlement in r.report["cut_off_settlements"]
    rows = r.cut_off[r.cut_off["settlement_fid"] == settlement]
    assert len(rows) >= 2 and set(rows["reason"]) == {"unreachable"}
    assert set(rows["obstruction_fids"]) == {(dead["obstruction_fid"],)}
    assert set(rows["lane_fids"]) == {(dead["lane_fid"],)}
    assert rows["cleared_alone"].all()
    record = frames["obstructions"].loc[dead["obstruction_fid"]]
    assert record["kind"] == "straw"
    assert set(rows["responsible_party"]) == {record["responsible_party"]}
    assert all(LEGAL_BASIS in basis for basis in rows["legal_basis"])
    # The compound, its worst-served building unreachable, is outside every band once the lane is blocked.
    assert math.isnan(r.settlements.loc[settlement, f"time_{BLOCKED}_{ANY}_s"])
    assert r.settlements.loc[settlement, f"time_{CLEAR}_{FIRE_STATION}_s"] <= 300
    members = set(truth["old_settlements"][0]["building_fids"])
    assert set(rows["building_fid"]) <= members


def test_demo_blocked_lanes_are_impassable_and_partial_ones_passable(demo):
    _, r, truth = demo
    lanes = truth["fire_lanes"]
    assert set(r.report["impassable_lanes"]) == set(lanes["blocked_lane_fids"])
    assert {lane.fid for lane in r.lanes.lanes if lane.status == "partial"} == set(lanes["partial_lane_fids"])
    for fid, planted in lanes["obstruction_fids"].items():
        found = placed(r, int(fid))
        assert found.lane_fid == planted["lane_fid"]
        expected = "cleared" if planted["cleared"] else "blocks" if planted["remaining_width_m"] < 4 else "narrows"
        assert found.effect == expected
    cuts = r.blockages[r.blockages["kind"] == "obstruction"]
    assert set(cuts["obstruction_fid"]) == {o.fid for o in r.lanes.obstructions if o.effect == "blocks"}


def test_demo_everything_on_the_network_is_reached_without_the_blockages(demo):
    _, r, _ = demo
    b = r.buildings
    assert b.loc[b["on_network"], f"time_{CLEAR}_{ANY}_s"].notna().all()
    assert r.stations["on_network"].all() and len(r.stations) == 6
    cov = r.coverage[(r.coverage["scenario"] == CLEAR) & (r.coverage["station_class"] == ANY)]
    last = cov[cov["band_min"] == cov["band_min"].max()]
    assert last["buildings"].sum() == int(b["on_network"].sum())
    assert set(r.isochrones["label"]) == {band_label(k, r.params.bands_min) for k in range(len(r.params.bands_min))}


def test_demo_run_is_deterministic(demo):
    frames, r, _ = demo
    names = ("roads", "fire_lanes", "obstructions", "emergency_resources", "buildings")
    again = fire_response(
        *(frames[n] for n in names),
        old_settlements=frames["old_settlements"],
        risk_sources=frames["risk_sources"],
        villages=frames["villages"],
    )
    pd.testing.assert_frame_equal(again.buildings, r.buildings)
    pd.testing.assert_frame_equal(again.cut_off, r.cut_off)
    pd.testing.assert_frame_equal(again.coverage, r.coverage)
    assert shapely.equals_exact(again.isochrones.geometry.values, r.isochrones.geometry.values, tolerance=0).all()
