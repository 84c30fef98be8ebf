"""The shipped demo town: up to date with its generator, realistic in size, and its planted truths hold.

The truths are checked by recomputing them here from the features alone, with the rules of domain.md written out
again (not imported from the generator), so a generator bug cannot confirm itself.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.ops import linemerge

from data.demo import DEFAULT_SEED, build_demo, truth_path
from geo.crs import LOCAL_METRIC
from layers import LAYERS
from layers.base import SYNTHETIC_NOTICE
from onemap.settings import DEMO_GPKG, NAIMAN_REGION
from store import GeoPackageStore

STORE = GeoPackageStore(DEMO_GPKG)


@pytest.fixture(scope="module")
def town() -> dict[str, gpd.GeoDataFrame]:
    """Every layer of the shipped file, in metres (EPSG:4549)."""
    return {layer_id: STORE.read(layer).to_crs(LOCAL_METRIC) for layer_id, layer in LAYERS.items()}


@pytest.fixture(scope="module")
def truth() -> dict:
    return json.loads(truth_path(DEMO_GPKG).read_text(encoding="utf-8"))


def test_shipped_file_is_what_the_generator_makes(tmp_path):
    summary = build_demo(tmp_path / "town.gpkg", seed=DEFAULT_SEED)
    fresh = GeoPackageStore(summary.path)
    for layer in LAYERS.values():
        shipped, rebuilt = STORE.read(layer), fresh.read(layer)
        pd.testing.assert_frame_equal(
            pd.DataFrame(shipped.drop(columns="geometry")), pd.DataFrame(rebuilt.drop(columns="geometry"))
        )
        assert shipped.geometry.geom_equals_exact(rebuilt.geometry, tolerance=1e-9).all(), layer.id
    assert json.loads(truth_path(summary.path).read_text(encoding="utf-8")) == json.loads(
        truth_path(DEMO_GPKG).read_text(encoding="utf-8")
    ), "regenerate the shipped demo with `onemap demo`"


def test_another_seed_gives_another_town(tmp_path):
    """Seed 20204's first draw cannot route a county road: the generator draws again, deterministically."""
    other = build_demo(tmp_path / "other.gpkg", seed=20204)
    assert other.truth["layout_attempt"] >= 1
    assert other.counts["intersections"] >= 150
    assert (
        not STORE.read(LAYERS["villages"])
        .geometry.geom_equals_exact(GeoPackageStore(other.path).read(LAYERS["villages"]).geometry, tolerance=1e-6)
        .all()
    )


def test_size_and_counts_are_those_of_a_real_town(town):
    assert DEMO_GPKG.stat().st_size < 10 * 2**20
    n = {layer_id: len(frame) for layer_id, frame in town.items()}
    assert 20 <= n["villages"] <= 30
    assert n["intersections"] >= 150
    assert n["accidents"] >= 400
    assert n["risk_sources"] >= 30
    assert n["old_settlements"] >= 10
    assert n["buildings"] >= 2000
    assert n["fire_lanes"] >= 12 and n["obstructions"] >= 6
    assert 40 <= n["hazards"] <= 60
    assert n["emergency_resources"] >= 10
    # Derived layers: the analyses shipped with the demo find the planted black spots, and make a density and a plan.
    assert n["accident_segments"] == 5 and n["crash_density"] > 1000 and n["treatment_plan"] > 20
    kinds = set(town["risk_sources"]["kind"])
    assert {
        "fuel_station",
        "lpg_depot",
        "fireworks_shop",
        "ammonia_cold_store",
        "fertiliser_store",
        "grain_dryer",
        "quarry",
    } <= kinds
    assert {"fire_station", "township_clinic", "village_clinic", "micro_fire_station", "shelter"} <= set(
        town["emergency_resources"]["kind"]
    )


def test_every_layer_says_it_is_synthetic():
    info = STORE.info()
    assert info.synthetic and SYNTHETIC_NOTICE == info.notice
    with sqlite3.connect(DEMO_GPKG) as db:
        rows = dict(db.execute("SELECT table_name, description FROM gpkg_contents").fetchall())
    for layer_id in LAYERS:
        assert SYNTHETIC_NOTICE in rows[layer_id], layer_id


def test_geometries_are_valid_and_inside_the_town(town):
    outline = shapely.union_all(town["villages"].geometry.values).buffer(1.0)
    for layer_id, frame in town.items():
        if frame.empty:
            continue
        assert frame.geometry.is_valid.all() and not frame.geometry.is_empty.any(), layer_id
        assert frame.geometry.within(outline).all(), layer_id
        lon0, lat0, lon1, lat1 = frame.to_crs(4326).total_bounds
        west, south, east, north = NAIMAN_REGION
        assert west < lon0 and lon1 < east and south < lat0 and lat1 < north, layer_id


def test_villages_tile_the_town(town):
    villages = town["villages"]
    union = shapely.union_all(villages.geometry.values)
    assert union.geom_type == "Polygon"  # one piece, no holes left between villages
    assert len(union.interiors) == 0
    assert villages.area.sum() == pytest.approx(union.area, rel=1e-9)  # no overlaps
    assert 200e6 < union.area < 500e6  # a rural town of some 15 × 20 km
    assert villages["code"].is_unique and villages["code"].str.startswith("150525107").all()


def test_roads_meet_only_at_their_ends_except_the_bridge(town, truth):
    roads = town["roads"]
    lines = roads.geometry.values
    ends = [{shapely.Point(line.coords[0]).wkb, shapely.Point(line.coords[-1]).wkb} for line in lines]
    left, right = shapely.STRtree(lines).query(lines, predicate="intersects")
    crossings = set()
    for i, j in zip(left, right, strict=True):
        if i >= j:
            continue
        meet = shapely.intersection(lines[i], lines[j])
        if meet.geom_type == "Point" and meet.wkb in ends[i] & ends[j]:
            continue
        crossings.add((roads.index[i], roads.index[j]))
    bridge = truth["grade_separated_road_fids"]
    assert len(bridge) == 1 and roads.loc[bridge[0], "grade_separated"]
    assert crossings and all(bridge[0] in pair for pair in crossings)
    crossed = {fid for pair in crossings for fid in pair} - set(bridge)
    assert set(roads.loc[sorted(crossed), "route_code"]) == {"G111"}
    codes = set(roads["route_code"].dropna())
    assert "G111" in codes and {c for c in codes if c[0] == "X"} and {c for c in codes if c[0] == "Y"}


def test_intersections_are_exactly_the_at_grade_nodes_of_three_or_more_legs(town):
    roads, junctions = town["roads"], town["intersections"]
    degree: dict[tuple[float, float], list[int]] = {}
    for fid, line in zip(roads.index, roads.geometry, strict=True):
        for xy in (line.coords[0], line.coords[-1]):
            degree.setdefault((round(xy[0], 1), round(xy[1], 1)), []).append(fid)
    nodes = {xy: fids for xy, fids in degree.items() if len(fids) >= 3}
    found = {(round(p.x, 1), round(p.y, 1)): fid for fid, p in zip(junctions.index, junctions.geometry, strict=True)}
    assert set(found) == set(nodes)
    for xy, fid in found.items():
        assert junctions.loc[fid, "legs"] == len(nodes[xy])
        assert sorted(json.loads(junctions.loc[fid, "road_ids"])) == sorted(nodes[xy])


def _grade(fatal: int, casualty: int) -> str | None:
    """domain.md §2.1 by counts alone: 一类 ≥6 fatal crashes; 二类 3–5 fatal or ≥6 injury-or-fatal crashes."""
    if fatal >= 6:
        return "class1"
    if fatal >= 3 or casualty >= 6:
        return "class2"
    return None


def _counted(accidents: gpd.GeoDataFrame, *, impaired_too: bool = False) -> gpd.GeoDataFrame:
    start, end = datetime(2023, 1, 1), datetime(2026, 1, 1)
    keep = (
        (accidents["occurred_at"] >= start) & (accidents["occurred_at"] < end) & (accidents["severity"] != "property")
    )
    if not impaired_too:
        keep &= ~accidents["drunk_driving"] & ~accidents["drug_driving"]
    return accidents[keep]


def test_worked_examples_of_the_grading_rule():
    assert _grade(6, 6) == "class1"
    assert _grade(5, 5) == "class2" and _grade(3, 3) == "class2"
    assert _grade(0, 6) == "class2" and _grade(2, 5) is None


def test_planted_black_spots_and_only_they_qualify_within_250_m(town, truth):
    """Screen every intersection with the 250 m spot rule; exactly the planted spots come out, each with its grade."""
    accidents, junctions = town["accidents"], town["intersections"]
    assert accidents["occurred_at"].min() >= datetime(2023, 1, 1) and accidents["occurred_at"].max() < datetime(
        2026, 1, 1
    )
    counted = _counted(accidents)
    tree = shapely.STRtree(counted.geometry.values)
    graded = {}
    for fid, centre in zip(junctions.index, junctions.geometry, strict=True):
        near = counted.iloc[tree.query(centre, predicate="dwithin", distance=250.0)]
        grade = _grade(int((near["severity"] == "fatal").sum()), len(near))
        if grade:
            graded[fid] = grade
    planted = {spot["intersection_fid"]: spot["grade"] for spot in truth["accident_black_spots"]["spots"]}
    # A spot's crashes may also fall within 250 m of a neighbouring junction in the seat grid; none is planted there.
    assert {fid: graded[fid] for fid in planted} == planted
    assert all(any(junctions.geometry[f].distance(junctions.geometry[p]) < 500 for p in planted) for f in graded)


def test_the_decoy_qualifies_only_if_impaired_driving_is_counted(town, truth):
    decoy = truth["accident_black_spots"]["decoy"]
    centre = town["intersections"].geometry[decoy["intersection_fid"]]
    accidents = town["accidents"]
    near = accidents[accidents.distance(centre) <= 250]
    strict, lax = _counted(near), _counted(near, impaired_too=True)
    assert _grade(int((strict["severity"] == "fatal").sum()), len(strict)) is None
    assert _grade(int((lax["severity"] == "fatal").sum()), len(lax)) == "class2"


def test_planted_segments_hold_six_casualty_crashes_in_2_km(town, truth):
    """Along the route, between the segment's ends (at most 2 km apart by route distance), ≥ 6 casualty crashes."""
    counted, roads = _counted(town["accidents"]), town["roads"]
    for seg in truth["accident_black_spots"]["segments"]:
        route = linemerge(list(roads[roads["route_code"] == seg["route_code"]].geometry))
        ends = gpd.GeoSeries.from_xy([seg["start"][0], seg["end"][0]], [seg["start"][1], seg["end"][1]], crs=4326)
        a, b = sorted(route.project(p) for p in ends.to_crs(LOCAL_METRIC))
        assert b - a == pytest.approx(2000, abs=1)
        on_route = counted[counted.distance(route) < 6]
        along = on_route.geometry.map(route.project)
        inside = on_route[(along >= a) & (along <= b)]
        assert len(inside) >= 6 and set(inside.index) <= set(seg["accident_fids"])


def test_every_accident_lies_on_its_road(town):
    accidents, roads = town["accidents"], town["roads"]
    gap = accidents.geometry.distance(
        gpd.GeoSeries(roads.geometry.loc[accidents["road_id"]].values, index=accidents.index)
    )
    assert gap.max() < 6.0


#: GB 18218-2018 Table 1 and Table 2 critical quantities (t) for the substances used, by name or by class.
CRITICAL_T = {"汽油": 200, "液化石油气": 50, "天然气": 50, "液氨": 10, "乙炔": 1, "硝酸铵肥料": 200}
CRITICAL_BY_CLASS = {"W1.1": 1, "W1.3": 50, "W5.4": 5000}


def test_major_hazard_sources_follow_gb_18218(town, truth):
    majors = {}
    for fid, text in town["risk_sources"]["substances"].items():
        substances = json.loads(text)
        s = sum(
            x["quantity_t"] / CRITICAL_T.get(x["name"], CRITICAL_BY_CLASS.get(x["hazard_class"], np.inf))
            for x in substances
        )
        if s >= 1:
            majors[fid] = s
    assert len(majors) >= 2
    assert {site["fid"]: site["S"] for site in truth["major_hazard_sources"]["sites"]} == pytest.approx(
        majors, abs=1e-3
    )


def test_risk_levels_follow_the_lec_bands(town):
    """domain.md §4.2: D ≥ 320 red, 160–320 orange, 70–160 yellow, below 70 blue."""
    sources = town["risk_sources"]
    d = sources["lec_l"] * sources["lec_e"] * sources["lec_c"]
    expected = np.select([d >= 320, d >= 160, d >= 70], ["red", "orange", "yellow"], "blue")
    assert list(sources["level"]) == list(expected)
    assert set(expected) == {"red", "orange", "yellow", "blue"}


def test_blocked_lanes_are_those_with_less_than_4_m_left(town, truth):
    lanes, obstructions = town["fire_lanes"], town["obstructions"]
    standing = obstructions[~obstructions["cleared"]]
    assert (
        standing.geometry.distance(gpd.GeoSeries(lanes.geometry.loc[standing["lane_id"]].values, index=standing.index))
        < 2
    ).all()
    narrowest = standing.groupby("lane_id")["remaining_width_m"].min()
    assert sorted(narrowest[narrowest < 4.0].index) == truth["fire_lanes"]["blocked_lane_fids"]
    assert sorted(narrowest[narrowest >= 4.0].index) == truth["fire_lanes"]["partial_lane_fids"]
    assert len(truth["fire_lanes"]["blocked_lane_fids"]) == 3 and len(truth["fire_lanes"]["partial_lane_fids"]) == 2
    status = lanes["status"].where(lanes["status"] != "passable")
    assert sorted(status[status == "blocked"].index) == truth["fire_lanes"]["blocked_lane_fids"]


def test_the_dead_end_lane_is_the_only_way_into_the_old_compound(town, truth):
    dead = truth["fire_lanes"]["dead_end"]
    lane = town["fire_lanes"].loc[dead["lane_fid"]]
    compound = town["old_settlements"].geometry[dead["settlement_fid"]]
    assert lane["dead_end"] and not lane["turnaround"] and lane["status"] == "blocked"
    streets = town["roads"][town["roads"]["admin_class"] == "street"]
    others = town["fire_lanes"].drop(index=dead["lane_fid"])
    reach = lane.geometry.distance(compound)
    assert reach < 15 < min(streets.distance(compound).min(), others.distance(compound).min())
    between = town["buildings"][town["buildings"].distance(compound) < 15]
    assert len(between) >= 10  # the frontage houses that wall it in


def test_old_settlements_are_old(town):
    settlements, buildings = town["old_settlements"], town["buildings"]
    assert (settlements["build_year"] <= 2000).all()
    inside = gpd.sjoin(buildings, settlements[["geometry"]], predicate="within")
    assert (inside["build_year"] <= 2000).mean() > 0.8


def test_hazards_sit_in_their_villages_and_follow_the_ledger_rules(town):
    hazards, villages = town["hazards"], town["villages"].set_index("code")
    for _, hazard in hazards.iterrows():
        assert villages.geometry[hazard["village_code"]].buffer(1).contains(hazard.geometry)
    major = hazards[hazards["level"] == "major"]
    assert len(major) >= 2 and major["supervised"].all() and major["supervision_level"].notna().all()
    assert not major["status"].isin(["accepted", "closed"]).any()
    closed = hazards[hazards["status"] == "closed"]
    assert len(closed) and closed["closed_on"].notna().all() and closed["acceptor"].notna().all()
    assert hazards["code"].is_unique
    assert len(set(hazards["status"])) >= 4
    linked = hazards.dropna(subset=["linked_layer"])
    for layer_id, fid in zip(linked["linked_layer"], linked["linked_fid"], strict=True):
        assert int(fid) in town[layer_id].index
