"""Fire lanes: GB 50016 §7.1 passability, dead ends and spacing on hand-built scenes (boundaries included), the law
attached to each blockage, and every planted fire-lane truth of the demo town found from the features alone."""

from __future__ import annotations

import json
import os
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from backends import demo_store
from shapely.geometry import LineString, Point, box

from analysis.fire_lanes import (
    LaneRules,
    analyse_fire_lanes,
    penalty_text,
    provision_texts,
    run_fire_lanes,
)
from analysis.priority import parameters
from geo.crs import LOCAL_METRIC, WGS84, transform_geometries
from layers import LAYERS
from onemap.settings import DEMO_GPKG

X0, Y0 = 540_000.0, 4_745_000.0  # EPSG:4549 metres inside the demo town
SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def lonlat(geoms):
    """Lon/lat geometries from metric ones given relative to (X0, Y0)."""
    moved = [shapely.affinity.translate(g, X0, Y0) for g in geoms]
    return list(transform_geometries(moved, LOCAL_METRIC, WGS84))


def lanes_frame(lines, fids=None, **columns):
    n = len(lines)
    data = {
        "name": [f"通道{i}" for i in range(n)],
        "width_m": [6.0] * n,
        "clear_height_m": [5.0] * n,
        "marking": ["marked"] * n,
        "status": ["passable"] * n,
        "dead_end": [False] * n,
        "turnaround": [False] * n,
    } | columns
    index = pd.Index(fids or range(1, n + 1), name="fid")
    return gpd.GeoDataFrame(data, geometry=lonlat(lines), crs=WGS84, index=index)


def obstructions_frame(points, **columns):
    n = len(points)
    data = {
        "lane_id": pd.array([None] * n, dtype="Int64"),
        "kind": ["vehicle"] * n,
        "remaining_width_m": [3.0] * n,
        "reported_at": pd.to_datetime(["2025-06-01"] * n),
        "responsible_party": ["张三"] * n,
        "party_type": ["individual"] * n,
        "cleared": [False] * n,
        "note": [None] * n,
    } | columns
    if "lane_id" in columns:
        data["lane_id"] = pd.array(columns["lane_id"], dtype="Int64")
    index = pd.Index(range(1, n + 1), name="fid")
    return gpd.GeoDataFrame(data, geometry=lonlat(points), crs=WGS84, index=index)


def roads_frame(lines, grade_separated=None):
    n = len(lines)
    data = {"name": [f"路{i}" for i in range(n)], "grade_separated": grade_separated or [False] * n}
    return gpd.GeoDataFrame(data, geometry=lonlat(lines), crs=WGS84, index=pd.RangeIndex(1, n + 1, name="fid"))


def buildings_frame(polygons):
    n = len(polygons)
    data = {"storeys": [1] * n, "use": ["residential"] * n}
    return gpd.GeoDataFrame(data, geometry=lonlat(polygons), crs=WGS84, index=pd.RangeIndex(1, n + 1, name="fid"))


def square_roads(side: float) -> gpd.GeoDataFrame:
    """Four roads around a side x side block with its south-west corner at the origin."""
    s = side
    return roads_frame(
        [
            LineString([(0, 0), (s, 0)]),
            LineString([(s, 0), (s, s)]),
            LineString([(s, s), (0, s)]),
            LineString([(0, s), (0, 0)]),
        ]
    )


#: A 200 m lane running east between two north-south roads that it meets at both ends.
LANE = LineString([(0, 0), (200, 0)])
CROSS_ROADS = [LineString([(0, -100), (0, 100)]), LineString([(200, -100), (200, 100)])]


def lane_result(analysis, fid=1):
    return next(lane for lane in analysis.lanes if lane.fid == fid)


# -- passability -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("width", "status"),
    [
        (3.99, "blocked"),  # just under GB 50016 §7.1.8's 4.0 m
        (4.00, "passable"),  # exactly 4.0 m is enough
    ],
)
def test_lane_width_at_the_boundary(width, status):
    result = analyse_fire_lanes(lanes_frame([LANE], width_m=[width]), roads=roads_frame(CROSS_ROADS))
    lane = lane_result(result)
    assert lane.status == status
    assert lane.min_clear_width_m == width
    if status == "blocked":
        assert [(s.from_m, s.to_m, s.cause) for s in lane.stretches] == [(0.0, 200.0, "lane_width")]
        assert lane.legal_basis[:2] == ("gb50016_7_1_8", "gb50039")
        assert "fire_law_28" not in lane.legal_basis and lane.parties == ()  # nobody occupies it: a design defect
    else:
        assert lane.stretches == () and lane.legal_basis == ()


@pytest.mark.parametrize(
    ("remaining", "status", "effect"),
    [
        (3.99, "blocked", "blocks"),  # under 4.0 m left: impassable, the lane is cut there
        (4.00, "partial", "narrows"),  # 4.0 m left: still passable, but occupied
    ],
)
def test_remaining_width_at_the_boundary(remaining, status, effect):
    obstructions = obstructions_frame([Point(120, 1.5)], remaining_width_m=[remaining])
    result = analyse_fire_lanes(lanes_frame([LANE]), obstructions, roads_frame(CROSS_ROADS))
    lane = lane_result(result)
    assert lane.status == status
    assert lane.min_clear_width_m == remaining
    assert lane.obstruction_fids == (1,)
    assert result.obstructions[0].effect == effect
    assert result.obstructions[0].position_m == pytest.approx(120.0, abs=0.01)
    assert "fire_law_28" in lane.legal_basis and "fire_law_60" in lane.legal_basis
    if status == "blocked":
        assert lane.blocking_obstruction_fids == (1,)
        assert lane.cut_positions_m == pytest.approx((120.0,), abs=0.01)
        assert lane.stretches[0].cause == "obstruction" and lane.stretches[0].obstruction_fid == 1
    else:
        assert lane.blocking_obstruction_fids == () and lane.stretches == ()
        assert "gb50016_7_1_8" not in lane.legal_basis


def test_clear_height_under_4_m_blocks_and_unknown_height_does_not():
    frame = lanes_frame([LANE, LineString([(0, 50), (200, 50)])], clear_height_m=pd.array([3.9, None], dtype="Float64"))
    result = analyse_fire_lanes(frame, roads=roads_frame(CROSS_ROADS))
    low, unknown = lane_result(result, 1), lane_result(result, 2)
    assert low.status == "blocked"
    assert [s.cause for s in low.stretches] == ["clear_height"]
    assert "净空高度3.9 m" in low.reasons[0]
    assert unknown.status == "passable" and unknown.clear_height_m is None


def test_a_cleared_obstruction_is_ignored_but_kept():
    obstructions = obstructions_frame([Point(50, 0.5)], remaining_width_m=[1.0], cleared=[True])
    result = analyse_fire_lanes(lanes_frame([LANE]), obstructions, roads_frame(CROSS_ROADS))
    lane = lane_result(result)
    assert lane.status == "passable" and lane.obstruction_fids == () and lane.min_clear_width_m == 6.0
    assert [(o.fid, o.lane_fid, o.effect) for o in result.obstructions] == [(1, 1, "cleared")]


def test_an_unmeasured_obstruction_blocks_by_default_and_can_be_told_not_to():
    obstructions = obstructions_frame([Point(50, 0.5)], remaining_width_m=pd.array([None], dtype="Float64"))
    args = (lanes_frame([LANE]), obstructions, roads_frame(CROSS_ROADS))
    assert lane_result(analyse_fire_lanes(*args)).status == "blocked"
    rules = LaneRules(unknown_remaining_blocks=False)
    assert lane_result(analyse_fire_lanes(*args, rules=rules)).status == "partial"


def test_computed_status_is_compared_with_the_survey():
    frame = lanes_frame([LANE, LineString([(0, 50), (200, 50)])], status=["passable", "blocked"])
    obstructions = obstructions_frame([Point(100, 0)], remaining_width_m=[2.0])
    result = analyse_fire_lanes(frame, obstructions, roads_frame(CROSS_ROADS))
    assert [(lane.fid, lane.status, lane.surveyed_status, lane.status_agrees) for lane in result.lanes] == [
        (1, "blocked", "passable", False),
        (2, "passable", "blocked", False),
    ]
    assert [d["fid"] for d in result.disagreements] == [1, 2]


# -- placing obstructions ----------------------------------------------------------------------------------------------


def test_an_obstruction_20_m_off_every_lane_is_reported_not_dropped():
    obstructions = obstructions_frame([Point(100, 20)], remaining_width_m=[1.0])
    result = analyse_fire_lanes(lanes_frame([LANE]), obstructions, roads_frame(CROSS_ROADS))
    assert lane_result(result).status == "passable"
    [far] = result.unsnapped
    assert (far.fid, far.lane_fid, far.placement, far.effect) == (1, None, "not_on_lane", "not_on_lane")
    assert far.nearest_lane_fid == 1 and far.nearest_lane_m == pytest.approx(20.0, abs=0.01)
    assert len(result.obstruction_frame()) == 1


def test_the_reported_lane_is_honoured_when_near_and_overridden_when_far():
    # Lanes 1 and 2 run 10 m apart; lane 3 is 100 m away.
    lines = [LineString([(0, 0), (200, 0)]), LineString([(0, 10), (200, 10)]), LineString([(0, 110), (200, 110)])]
    points = [Point(60, 6), Point(80, 6), Point(100, 6)]  # 6 m from lane 1, 4 m from lane 2
    obstructions = obstructions_frame(points, lane_id=[1, 3, None])
    result = analyse_fire_lanes(lanes_frame(lines), obstructions)
    near, far, unreported = result.obstructions
    assert (near.lane_fid, near.placement, near.overridden) == (1, "reported_lane", False)
    assert near.distance_m == pytest.approx(6.0, abs=0.01)
    assert (far.lane_fid, far.placement, far.overridden) == (2, "nearest_lane", True)
    assert far.reported_lane_m == pytest.approx(104.0, abs=0.01)
    assert (unreported.lane_fid, unreported.placement) == (2, "nearest_lane")


def test_a_reported_lane_that_does_not_exist_falls_back_to_the_nearest():
    obstructions = obstructions_frame([Point(30, 2)], lane_id=[99])
    result = analyse_fire_lanes(lanes_frame([LANE]), obstructions)
    assert (result.obstructions[0].lane_fid, result.obstructions[0].placement) == (1, "nearest_lane")


def test_the_snap_distance_is_a_rule():
    obstructions = obstructions_frame([Point(100, 12)])
    assert analyse_fire_lanes(lanes_frame([LANE]), obstructions).obstructions[0].lane_fid == 1
    tight = analyse_fire_lanes(lanes_frame([LANE]), obstructions, rules=LaneRules(snap_max_m=10.0))
    assert tight.obstructions[0].lane_fid is None


# -- legal basis and parties -------------------------------------------------------------------------------------------


def test_blocked_lane_carries_the_law_the_parties_and_the_marking_duty():
    points = [Point(40, 1), Point(90, -1), Point(150, 0)]
    obstructions = obstructions_frame(
        points,
        remaining_width_m=[3.0, 5.0, 2.0],
        responsible_party=["镇供销社", "李四", "镇供销社"],
        party_type=["unit", "individual", "unit"],
    )
    result = analyse_fire_lanes(lanes_frame([LANE], marking=["partial"]), obstructions, roads_frame(CROSS_ROADS))
    lane = lane_result(result)
    assert lane.status == "blocked"
    assert lane.obstruction_fids == (1, 2, 3) and lane.blocking_obstruction_fids == (1, 3)
    assert lane.legal_basis == ("gb50016_7_1_8", "gb50039", "fire_law_28", "fire_law_60", "yjx_2019_334")
    assert "第二十八条" in lane.legal_basis_text and "5,000元以上50,000元以下" in lane.legal_basis_text
    assert [(p.name, p.party_type, p.obstruction_fids) for p in lane.parties] == [
        ("李四", "individual", (2,)),
        ("镇供销社", "unit", (1, 3)),
    ]
    assert "警告或500元以下" in lane.parties[0].penalty and "5,000–50,000元" in lane.parties[1].penalty
    assert "强制执行" in lane.parties[1].penalty
    assert "334号" in lane.marking_duty and "标识不全" in lane.marking_duty


def test_marked_passable_lane_has_no_provision_and_an_unmarked_one_has_the_marking_duty():
    frame = lanes_frame([LANE, LineString([(0, 50), (200, 50)])], marking=["marked", "none"])
    result = analyse_fire_lanes(frame, roads=roads_frame(CROSS_ROADS))
    marked, unmarked = result.lanes
    assert marked.legal_basis == () and marked.marking_duty is None
    assert unmarked.status == "passable" and unmarked.legal_basis == ("yjx_2019_334",)
    assert "未标识" in unmarked.marking_duty


def test_penalties_follow_the_rules():
    rules = LaneRules(unit_fine_min_yuan=10_000, unit_fine_max_yuan=100_000, individual_fine_max_yuan=1_000)
    assert "10,000–100,000元" in penalty_text("unit", rules)
    assert "1,000元以下" in penalty_text("individual", rules)
    assert "10,000元以上100,000元以下" in provision_texts(rules)["fire_law_60"]


def test_rules_are_validated_and_every_parameter_names_its_source():
    with pytest.raises(ValueError, match="min_clear_width_m"):
        LaneRules(min_clear_width_m=0)
    with pytest.raises(ValueError, match="unit fines"):
        LaneRules(unit_fine_min_yuan=60_000)
    with pytest.raises(ValueError, match="spacing_measure"):
        LaneRules(spacing_measure="centroid")
    rows = parameters(LaneRules())
    assert {r["name"] for r in rows} >= {"min_clear_width_m", "turnaround_min_length_m", "max_spacing_m"}
    assert all(r["source"] for r in rows)


# -- dead ends ---------------------------------------------------------------------------------------------------------

#: A north-south road at x = 0 that lanes run east from.
ROAD = LineString([(0, -200), (0, 200)])


@pytest.mark.parametrize(
    ("turnaround", "needs"),
    [
        (False, True),  # 60 m blind, no turnaround: GB 50016 §7.1.9 asks for one
        (True, False),  # it has one
    ],
)
def test_dead_end_with_and_without_turnaround(turnaround, needs):
    frame = lanes_frame([LineString([(0, 0), (60, 0)])], turnaround=[turnaround], dead_end=[True])
    lane = lane_result(analyse_fire_lanes(frame, roads=roads_frame([ROAD])))
    assert lane.dead_end is True and lane.dead_end_agrees is True
    assert lane.blind_ends == ("end",) and lane.dead_end_length_m == pytest.approx(60.0, abs=0.01)
    assert lane.needs_turnaround is needs
    assert ("gb50016_7_1_9" in lane.legal_basis) is needs


def test_a_lane_connected_at_both_ends_is_not_a_dead_end():
    frame = lanes_frame([LANE], dead_end=[True])  # surveyed as a dead end: the geometry says otherwise
    lane = lane_result(analyse_fire_lanes(frame, roads=roads_frame(CROSS_ROADS)))
    assert lane.dead_end is False and lane.dead_end_agrees is False and lane.needs_turnaround is False
    assert lane.blind_ends == () and lane.dead_end_length_m is None


def test_a_blind_start_counts_too_and_length_runs_to_the_nearest_junction():
    # Drawn from inside the block outwards; it crosses the road at x = 0 and overshoots 10 m past it.
    frame = lanes_frame([LineString([(80, 0), (-10, 0)])])
    lane = lane_result(analyse_fire_lanes(frame, roads=roads_frame([ROAD])))
    assert lane.blind_ends == ("start", "end")
    assert lane.dead_end_length_m == pytest.approx(80.0, abs=0.01)  # the longer blind stretch
    assert lane.needs_turnaround


@pytest.mark.parametrize(
    ("gap", "dead"),
    [
        (1.5, False),  # ends 1.5 m short of the road: within the 2 m tolerance, connected
        (3.0, True),  # 3 m short: blind
    ],
)
def test_ends_within_the_tolerance_of_another_line_are_connected(gap, dead):
    frame = lanes_frame([LineString([(0, 0), (100 - gap, 0)])])
    roads = roads_frame([ROAD, LineString([(100, -200), (100, 200)])])
    assert lane_result(analyse_fire_lanes(frame, roads=roads)).dead_end is dead


def test_a_road_drawn_along_the_lane_does_not_connect_its_end_unless_it_carries_on():
    lane = [LineString([(0, 0), (60, 0)])]
    ends_with_it = roads_frame([ROAD, LineString([(0, 0), (60.001, 0.001)])])  # the street, also drawn as a road
    carries_on = roads_frame([ROAD, LineString([(0, 0), (150, 0)])])
    assert lane_result(analyse_fire_lanes(lanes_frame(lane), roads=ends_with_it)).dead_end is True
    assert lane_result(analyse_fire_lanes(lanes_frame(lane), roads=carries_on)).dead_end is False


def test_a_bridge_passing_over_the_end_does_not_connect_it():
    lane = lanes_frame([LineString([(0, 0), (100, 0)])])
    bridge = LineString([(100, -50), (100, 50)])
    at_grade = analyse_fire_lanes(lane, roads=roads_frame([ROAD, bridge], grade_separated=[False, False]))
    over = analyse_fire_lanes(lane, roads=roads_frame([ROAD, bridge], grade_separated=[False, True]))
    assert lane_result(at_grade).dead_end is False
    assert lane_result(over).dead_end is True


def test_a_short_dead_end_needs_no_turnaround_unless_the_rule_says_every_one_does():
    frame = lanes_frame([LineString([(0, 0), (30, 0)])])
    default = lane_result(analyse_fire_lanes(frame, roads=roads_frame([ROAD])))
    literal = lane_result(
        analyse_fire_lanes(frame, roads=roads_frame([ROAD]), rules=LaneRules(turnaround_min_length_m=0))
    )
    assert default.dead_end and not default.needs_turnaround
    assert literal.needs_turnaround


def test_a_ring_lane_has_no_blind_end():
    # Touches the road at (0, 0) half-way round; it starts and ends at (80, 0), far from any other line.
    ring = LineString([(80, 0), (50, 20), (0, 0), (50, -20), (80, 0)])
    assert lane_result(analyse_fire_lanes(lanes_frame([ring]), roads=roads_frame([ROAD]))).dead_end is False


# -- spacing -----------------------------------------------------------------------------------------------------------


def house(cx: float, cy: float):
    return box(cx - 5, cy - 4, cx + 5, cy + 4)


@pytest.mark.parametrize(
    ("side", "reported"),
    [
        (200.0, True),  # centre 100 m from every road: spacing 200 m > 160 m
        (150.0, False),  # centre 75 m from every road: spacing 150 m ≤ 160 m
    ],
)
def test_block_spacing(side, reported):
    lanes = lanes_frame([LineString([(0, 0), (side, 0)])])
    buildings = buildings_frame([house(side / 2, side / 2), house(20, 20)])
    result = analyse_fire_lanes(lanes, roads=square_roads(side), buildings=buildings)
    assert result.blocks_checked == 1 and result.buildings_outside_blocks == 0
    assert bool(result.spacing) is reported
    if reported:
        [block] = result.spacing
        assert block.inscribed_radius_m == pytest.approx(100.0, abs=0.6)
        assert block.spacing_m == pytest.approx(200.0, abs=1.2)
        assert block.buildings == 2 and block.buildings_beyond == 1
        assert block.farthest_building_fid == 1 and block.farthest_building_m == pytest.approx(95.0, abs=0.01)
        centre = transform_geometries([Point(block.centre)], WGS84, LOCAL_METRIC)[0]
        assert centre.distance(Point(X0 + 100, Y0 + 100)) < 1.0
        assert len(result.spacing_frame()) == 1


def test_a_dead_end_road_into_the_block_serves_it():
    roads = pd.concat([square_roads(200.0), roads_frame([LineString([(0, 100), (100, 100)])])], ignore_index=True)
    roads.index = pd.RangeIndex(1, len(roads) + 1, name="fid")
    lanes = lanes_frame([LineString([(0, 0), (200, 0)])])
    result = analyse_fire_lanes(lanes, roads=roads, buildings=buildings_frame([house(100, 110)]))
    assert result.spacing == ()  # the spur reaches the middle: no point is 80 m from every line


def test_blocks_without_buildings_are_left_out_unless_asked_for():
    lanes = lanes_frame([LineString([(0, 0), (200, 0)])])
    assert analyse_fire_lanes(lanes, roads=square_roads(200.0), buildings=buildings_frame([])).spacing == ()
    every = analyse_fire_lanes(
        lanes, roads=square_roads(200.0), rules=LaneRules(spacing_blocks_with_buildings_only=False)
    )
    assert len(every.spacing) == 1 and every.spacing[0].buildings == 0


def test_the_farthest_building_measure_reports_only_blocks_with_a_building_beyond_80_m():
    lanes = lanes_frame([LineString([(0, 0), (200, 0)])])
    rules = LaneRules(spacing_measure="farthest_building")
    near_edge = analyse_fire_lanes(
        lanes, roads=square_roads(200.0), buildings=buildings_frame([house(30, 30)]), rules=rules
    )
    middle = analyse_fire_lanes(
        lanes, roads=square_roads(200.0), buildings=buildings_frame([house(100, 100)]), rules=rules
    )
    assert near_edge.spacing == () and len(middle.spacing) == 1


# -- output ------------------------------------------------------------------------------------------------------------


def test_lane_frame_has_the_table_columns_on_the_lane_geometry():
    obstructions = obstructions_frame([Point(120, 0)], remaining_width_m=[2.0])
    lanes = lanes_frame([LANE])
    result = analyse_fire_lanes(lanes, obstructions, roads_frame(CROSS_ROADS))
    frame = result.lane_frame(lanes)
    assert frame.crs.to_epsg() == 4326 and list(frame.index) == [1]
    for column in (
        "name",
        "status",
        "surveyed_status",
        "status_agrees",
        "min_clear_width_m",
        "blocking_obstruction_fids",
        "stretches",
        "dead_end",
        "turnaround",
        "needs_turnaround",
        "legal_basis_text",
        "parties",
        "marking_duty",
    ):
        assert column in frame.columns
    assert frame.loc[1, "status_label"] == "堵塞不可通行"
    assert frame.loc[1, "blocking_obstruction_fids"] == [1]
    assert frame.geometry.iloc[0].equals_exact(lanes.geometry.iloc[0], 1e-12)
    json.dumps(frame.drop(columns="geometry").reset_index().to_dict("records"), ensure_ascii=False)


def test_empty_layers():
    result = analyse_fire_lanes(lanes_frame([]), obstructions_frame([]), roads_frame([]), buildings_frame([]))
    assert result.lanes == () and result.obstructions == () and result.spacing == ()
    assert len(result.lane_frame(lanes_frame([]))) == 0


# -- the demo town -----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo():
    store = demo_store()
    truth = json.loads((Path(DEMO_GPKG).parent / "demo_town.truth.json").read_text(encoding="utf-8"))["fire_lanes"]
    return run_fire_lanes(store), truth, store


def test_demo_town_blocked_and_partial_lanes_are_the_planted_ones(demo):
    result, truth, _ = demo
    summary = result.summary()
    assert summary["blocked_lane_fids"] == truth["blocked_lane_fids"]
    assert summary["partial_lane_fids"] == truth["partial_lane_fids"]
    assert result.disagreements == []  # the survey agrees with what the data says


def test_demo_town_obstructions_snap_to_their_lanes(demo):
    result, truth, _ = demo
    placed = {o.fid: o for o in result.obstructions}
    assert sorted(placed) == sorted(int(k) for k in truth["obstruction_fids"])
    for fid, expected in truth["obstruction_fids"].items():
        o = placed[int(fid)]
        assert o.lane_fid == expected["lane_fid"], fid
        assert o.cleared is expected["cleared"]
        assert o.effect == (
            "cleared" if expected["cleared"] else "blocks" if expected["remaining_width_m"] < 4 else "narrows"
        )
    assert result.unsnapped == ()


def test_demo_town_dead_end_lane_needs_a_turnaround(demo):
    result, truth, _ = demo
    fid = truth["dead_end"]["lane_fid"]
    lane = lane_result(result, fid)
    assert lane.dead_end and lane.needs_turnaround and not lane.turnaround
    assert lane.blind_ends == ("end",)
    assert truth["dead_end"]["obstruction_fid"] in lane.blocking_obstruction_fids
    assert {"fire_law_28", "fire_law_60", "gb50016_7_1_9"} <= set(lane.legal_basis)
    # The entrance the generator planted is the lane's start, which the analysis finds connected.
    entrance = shapely.get_coordinates(demo[2].read(LAYERS["fire_lanes"]).geometry.loc[fid])[0]
    assert np.allclose(entrance, truth["dead_end"]["entrance"], atol=1e-6)
    assert result.summary()["dead_end_lane_fids"] == [fid]


def test_demo_town_seat_blocks_meet_the_spacing_rule(demo):
    result, _, _ = demo
    # The seat's 125 m street grid is within 160 m; what is reported are village blocks of the rural road mesh.
    seat = box(120.535, 42.835, 120.56, 42.855)
    assert result.spacing and not any(seat.contains(v.geometry) for v in result.spacing)
    assert all(v.inscribed_radius_m > 80 for v in result.spacing)


def test_demo_town_result_is_deterministic(demo):
    result, _, store = demo
    again = run_fire_lanes(store)
    lanes = store.read(LAYERS["fire_lanes"])
    pd.testing.assert_frame_equal(
        pd.DataFrame(result.lane_frame(lanes).drop(columns="geometry")),
        pd.DataFrame(again.lane_frame(lanes).drop(columns="geometry")),
    )
    first, second = result.spacing_frame(), again.spacing_frame()
    pd.testing.assert_frame_equal(
        pd.DataFrame(first.drop(columns="geometry")), pd.DataFrame(second.drop(columns="geometry"))
    )
    assert all(a.equals_exact(b, 0) for a, b in zip(first.geometry, second.geometry, strict=True))


# -- real roads --------------------------------------------------------------------------------------------------------


def shared_roads(name: str) -> Path:
    path = SHARED_DATA / "roads" / name
    if path.is_file():
        return path
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must have the shared test data at {path}")
    pytest.skip(f"real test data not found at {path} (../shared/data sits beside the project in the team's checkout)")


@pytest.mark.shared_data
def test_blind_ends_on_real_osm_roads_match_the_shared_nodes():
    """OSM ways meet where they share a node: an end shared with no other way (and not closing a ring) is blind."""
    from exchange.osm import read_osm_roads

    roads = read_osm_roads(shared_roads("karhula_kotka_fi_drive.osm"))
    roads.index = pd.RangeIndex(1, len(roads) + 1, name="fid")
    is_lane = roads["highway"].isin(["residential", "living_street", "unclassified"]).to_numpy()
    lanes = roads[is_lane].assign(width_m=5.0)
    utm = roads.estimate_utm_crs().to_string()
    result = analyse_fire_lanes(lanes, roads=roads[~is_lane], metric_crs=utm)

    xy, owner = shapely.get_coordinates(roads.geometry.to_numpy(), return_index=True)
    ways_at: dict[tuple[float, float], set[int]] = {}
    for point, way in zip(map(tuple, xy), owner, strict=True):
        ways_at.setdefault(point, set()).add(int(way))
    metric = roads.to_crs(utm).geometry.to_numpy()
    tree = shapely.STRtree(metric)
    tol = LaneRules().connect_tolerance_m
    checked = 0
    for lane in result.lanes:
        row = roads.index.get_loc(lane.fid)
        line = roads.geometry.iloc[row]
        for end, coords in (("start", line.coords[0]), ("end", line.coords[-1])):
            shared = bool(ways_at[tuple(coords)] - {row}) or line.is_closed
            blind = end in lane.blind_ends
            if shared:
                assert not blind, (lane.fid, end)
            elif not blind:  # no shared node, yet connected: only a near miss within the tolerance may do that
                tip = shapely.get_point(metric[row], 0 if end == "start" else -1)
                near = [j for j in tree.query(tip, predicate="dwithin", distance=tol) if j != row]
                assert near, (lane.fid, end)
            checked += 1
    assert checked == 2 * int(is_lane.sum()) > 150
    assert 0 < sum(bool(lane.dead_end) for lane in result.lanes) < len(result.lanes)
