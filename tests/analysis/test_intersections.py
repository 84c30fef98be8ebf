"""Intersection extraction with its attributes: hand-worked geometry, survey records kept, and every planted
blocked-approach junction of the demo town found from the buildings and road grades alone."""

from __future__ import annotations

import json
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from backends import demo_store
from shapely.geometry import LineString, Point, box

from analysis.intersections import ExtractRules, _settled, extract
from analysis.sight import SightRules, stopping_sight_m
from geo.crs import LOCAL_METRIC, WGS84
from layers import LAYERS
from onemap.settings import DEMO_GPKG

X0, Y0 = 540_000.0, 4_745_000.0  # metres in EPSG:4549, inside the demo town


def _frame(rows: list[dict], geoms: list, start: int = 1) -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame(rows, geometry=geoms, crs=LOCAL_METRIC, index=pd.RangeIndex(start, start + len(rows)))
    return frame.to_crs(WGS84)


def _tee(minor_angle_deg: float = 90.0) -> gpd.GeoDataFrame:
    """G999 east-west (80 km/h, 8,000 vehicles a day) and a village road C999 leaving it northwards at an angle."""
    a = math.radians(minor_angle_deg)
    minor_end = (X0 + 400 * math.cos(a), Y0 + 400 * math.sin(a))
    rows = [
        {"name": "G999西段", "route_code": "G999", "admin_class": "G", "speed_limit_kmh": 80, "aadt": 8000},
        {"name": "G999东段", "route_code": "G999", "admin_class": "G", "speed_limit_kmh": 80, "aadt": 8000},
        {"name": "C999", "route_code": "C999", "admin_class": "C", "speed_limit_kmh": 30, "grade_pct": 6.5},
    ]
    lines = [
        LineString([(X0 - 600, Y0), (X0, Y0)]),
        LineString([(X0, Y0), (X0 + 600, Y0)]),
        LineString([(X0, Y0), minor_end]),
    ]
    return _frame(rows, lines)


def _buildings(footprints: list, uses: list[str] | None = None) -> gpd.GeoDataFrame:
    uses = uses or ["residential"] * len(footprints)
    return _frame([{"use": u, "village_code": "150525100200"} for u in uses], footprints)


def test_a_tee_reads_as_a_planner_would():
    found = extract(_tee(60.0)).frame
    assert len(found) == 1
    row = found.iloc[0]
    assert row["legs"] == 3 and row["major_class"] == "G" and row["minor_class"] == "C"
    assert row["major_route"] == "G999" and row["minor_route"] == "C999"
    assert row["major_speed_kmh"] == 80 and row["major_aadt"] == 8000 and pd.isna(row["minor_aadt"])
    assert row["skew_deg"] == pytest.approx(30.0, abs=0.5)  # 60° from the main road: 30° off square
    assert sorted(round(b) for b in json.loads(row["bearings"])) == [30, 90, 270]
    assert row["minor_grade_pct"] == 6.5 and row["slope_fix_needed"]  # steeper than 5 %
    assert not extract(_tee(), rules=ExtractRules(steep_grade_pct=7.0)).frame.iloc[0]["slope_fix_needed"]
    assert row["name"] == "G999与C999交叉口" and not row["sight_obstructed"] and not row["in_settlement"]
    assert json.loads(row["parameters"])["rules"]["network"]["consolidate_m"] == 15.0


def test_a_building_inside_the_sight_triangle_blocks_it_and_one_beside_it_does_not():
    # Triangle: the centre, the driver's eye 12 m up the minor road, and 110 m (80 km/h) along each major leg.
    assert stopping_sight_m(80) == 110.0 and stopping_sight_m(70) == 110.0 and SightRules().eye_m == 12.0
    inside = box(X0 + 10, Y0 + 4, X0 + 16, Y0 + 8)  # 10–16 m along, 4–8 m off: under the hypotenuse
    outside = box(X0 + 60, Y0 + 9, X0 + 70, Y0 + 15)  # beyond it: 12 · (1 − 60/110) = 5.5 m tall there
    blocked = extract(_tee(), buildings=_buildings([inside, outside])).frame.iloc[0]
    assert blocked["sight_obstructed"]
    clear = extract(_tee(), buildings=_buildings([outside])).frame.iloc[0]
    assert not clear["sight_obstructed"]
    across = box(X0 + 10, Y0 - 8, X0 + 16, Y0 - 4)  # the far side of the main road, where no minor road joins
    assert not extract(_tee(), buildings=_buildings([across])).frame.iloc[0]["sight_obstructed"]


def test_settlement_school_market_and_village_centre_distances():
    houses = [
        box(X0 + 20 + 15 * i, Y0 + 20 + 15 * j, X0 + 30 + 15 * i, Y0 + 28 + 15 * j) for i in range(4) for j in range(3)
    ]
    school = box(X0 - 200, Y0 + 100, X0 - 150, Y0 + 120)  # nearest corner 150 m west, 100 m north: 180.3 m
    market = box(X0 + 300, Y0 - 40, X0 + 330, Y0 - 20)
    buildings = _buildings([*houses, school, market], ["residential"] * 12 + ["school", "market"])
    village = _frame([{"code": "150525100200", "name": "测试村"}], [box(X0 - 1000, Y0 - 1000, X0 + 1000, Y0 + 1000)])
    row = extract(_tee(), buildings=buildings, villages=village).frame.iloc[0]
    assert row["in_settlement"]  # twelve houses within 40 m of one another, the junction 28 m from the first
    assert row["school_m"] == pytest.approx(math.hypot(150, 100), abs=0.2)
    assert row["market_m"] == pytest.approx(math.hypot(300, 20), abs=0.2)
    assert row["village_centre_m"] > 0
    few = extract(_tee(), buildings=_buildings(houses[:5])).frame.iloc[0]
    assert not few["in_settlement"]  # five houses are a hamlet, not a settlement


def test_surveyed_intersections_keep_their_id_and_treatment_and_none_is_lost():
    roads = _tee()
    surveyed = LAYERS["intersections"]
    props = [
        surveyed.properties(
            name="调查名",
            legs=3,
            major_class="G",
            minor_class="C",
            control="flashing",
            flashing_light=True,
            speed_belts=True,
            sight_obstructed=True,
        ),  # fmt: skip
        surveyed.properties(name="已拆除路口", legs=3, major_class="X", minor_class="C"),
    ]
    geoms = [Point(X0 + 3, Y0 - 2), Point(X0 + 5000, Y0)]
    frame = gpd.GeoDataFrame(
        [p.model_dump(mode="json") for p in props], geometry=geoms, crs=LOCAL_METRIC, index=pd.Index([41, 42])
    ).to_crs(WGS84)
    result = extract(roads, surveyed=frame)
    assert sorted(result.frame.index) == [41, 42]
    kept = result.frame.loc[41]
    assert kept["name"] == "调查名" and kept["control"] == "flashing" and kept["speed_belts"]
    assert kept["sight_obstructed"]  # the survey knows of an obstruction the buildings layer does not show
    assert kept["major_aadt"] == 8000  # ... and the network adds what it knows
    assert result.report["surveyed_not_found"] == [42] and result.report["new"] == 0
    assert result.frame.loc[42, "name"] == "已拆除路口"


def test_a_new_road_makes_a_new_intersection_with_a_fresh_id():
    y777 = _frame([{"name": "Y777", "route_code": "Y777", "admin_class": "Y"}],
                  [LineString([(X0 + 300, Y0 - 500), (X0 + 300, Y0 + 500)])], start=4)  # fmt: skip
    roads = pd.concat([_tee(), y777])
    surveyed = extract(_tee()).frame.set_axis([7])
    result = extract(roads, surveyed=surveyed)
    assert sorted(result.frame.index) == [7, 8]  # the crossing of Y777 and G999 is new
    assert result.report["new"] == 1 and result.frame.loc[8, "legs"] == 4
    assert result.report["repairs"]["split_points_added"] == 1  # G999 had no vertex where Y777 crosses it


@pytest.fixture(scope="module")
def demo():
    store = demo_store()
    return {name: store.read(LAYERS[name]) for name in ("roads", "buildings", "villages", "intersections")}


def test_every_planted_blocked_approach_of_the_demo_town_is_found(demo):
    truth = json.loads(DEMO_GPKG.with_name("demo_town.truth.json").read_text(encoding="utf-8"))["blocked_approach"]
    result = extract(demo["roads"], buildings=demo["buildings"], villages=demo["villages"])
    found = result.frame.to_crs(LOCAL_METRIC)
    planted = gpd.GeoSeries([Point(t["location"]) for t in truth["intersections"]], crs=WGS84).to_crs(LOCAL_METRIC)

    def flagged(column: str) -> list[Point]:
        return list(found.geometry[found[column].astype(bool)])

    def at(points: list[Point], p: Point) -> bool:
        return any(p.distance(q) < 1.0 for q in points)

    sight = flagged("sight_obstructed")
    assert all(at(sight, p) for p in planted)  # recall 100 %
    assert len(sight) == len(planted)  # and no house elsewhere stands in a sight triangle
    obstacles = {b for ids in result.report["obstacles"].values() for b in ids}
    assert obstacles == {t["obstruction_building_fid"] for t in truth["intersections"]}
    steep = flagged("slope_fix_needed")
    assert all(at(steep, p) for p, t in zip(planted, truth["intersections"], strict=True) if t["slope_fix"])
    steep_roads = {t["steep_road_fid"] for t in truth["intersections"] if t["slope_fix"]}
    for fid in found.index[found["slope_fix_needed"].astype(bool)]:  # any other flag is the far end of a steep road
        assert set(json.loads(found.loc[fid, "road_ids"])) & steep_roads
    print(f"blocked approaches: {len(planted)} planted, {len(sight)} flagged; 坡改平 flags {len(steep)}")


def test_on_the_demo_town_extraction_matches_the_survey_one_for_one(demo):
    result = extract(
        demo["roads"], buildings=demo["buildings"], villages=demo["villages"], surveyed=demo["intersections"]
    )
    assert result.report["junction_nodes"] == len(demo["intersections"]) == len(result.frame)
    assert result.report["surveyed_matched"] == len(demo["intersections"]) and result.report["new"] == 0
    survey = demo["intersections"]
    assert (result.frame["legs"] == survey["legs"]).all()
    assert (result.frame["control"] == survey["control"]).all()
    assert (result.frame["major_class"] == survey["major_class"]).all()
    again = extract(demo["roads"], buildings=demo["buildings"], villages=demo["villages"], surveyed=survey)
    pd.testing.assert_frame_equal(pd.DataFrame(again.frame), pd.DataFrame(result.frame))


def test_built_up_areas_equal_dissolving_the_buffers():
    rng = np.random.default_rng(7)
    clusters = rng.uniform(0, 3000, (12, 2))
    xy = np.concatenate([c + rng.normal(0, 60 * (k % 3 + 1), (25, 2)) for k, c in enumerate(clusters)])
    footprints = shapely.box(xy[:, 0], xy[:, 1], xy[:, 0] + 10, xy[:, 1] + 8)
    centres = shapely.points(rng.uniform(-100, 3100, (400, 2)))
    rules = ExtractRules()
    # Buffers drawn with many segments: a coarse circle would miss points just inside 40 m.
    zones = shapely.get_parts(shapely.union_all(shapely.buffer(footprints, rules.settlement_buffer_m, quad_segs=256)))
    members = shapely.STRtree(footprints).query(zones, predicate="intersects")[0]
    big = zones[np.bincount(members, minlength=len(zones)) >= rules.settlement_min_buildings]
    expected = shapely.STRtree(big).query(centres, predicate="intersects")[0]
    found = _settled(footprints, centres, rules)
    assert 0 < found.sum() < len(centres)
    assert set(np.flatnonzero(found)) == set(expected.tolist())
