"""GB 18218-2018 identification and grading: worked examples, exposure against brute force, the demo town."""

from __future__ import annotations

import dataclasses
import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from backends import demo_store
from shapely.geometry import Point, box

from analysis.major_hazard import (
    DEFAULT_RULES,
    HazardRules,
    alpha_for,
    assess,
    assess_sources,
    grade_for,
    identify,
    identify_substance,
    parameters,
)
from data.demo import truth_path
from geo.crs import LOCAL_METRIC
from layers import LAYERS
from onemap.settings import DEMO_GPKG

SITE = (500_000.0, 4_745_000.0)  # EPSG:4549 metres, inside Naiman Banner's zone


def chlorine(q):
    return {"name": "液氯", "cas": "7782-50-5", "quantity_t": q, "hazard_class": None}


def lpg(q):
    return {"name": "液化石油气", "cas": "68476-85-7", "quantity_t": q, "hazard_class": "W2"}


def petrol(q):
    return {"name": "汽油", "cas": "86290-81-5", "quantity_t": q, "hazard_class": "W5.3"}


def diesel(q):
    return {"name": "柴油", "cas": None, "quantity_t": q, "hazard_class": "W5.4"}


def sources(*inventories, geoms=None, as_json=True):
    geoms = geoms or [Point(SITE)] * len(inventories)
    return gpd.GeoDataFrame(
        {
            "name": [f"site {i}" for i in range(len(inventories))],
            "kind": ["other"] * len(inventories),
            "substances": [json.dumps(inv, ensure_ascii=False) if as_json else inv for inv in inventories],
        },
        geometry=geoms,
        crs=LOCAL_METRIC,
        index=pd_index(len(inventories)),
    )


def pd_index(n, start=1):
    return pd.Index(range(start, start + n), name="fid")


def buildings(footprints, residents):
    return gpd.GeoDataFrame(
        {"residents": residents}, geometry=list(footprints), crs=LOCAL_METRIC, index=pd_index(len(residents), 101)
    )


NO_BUILDINGS = buildings([], [])


# --- identification ---------------------------------------------------------------------------------------------


def test_liquid_chlorine_just_under_the_critical_quantity_is_not_major():
    ident = identify([chlorine(4.99)])
    assert ident.S == pytest.approx(0.998)
    assert not ident.major
    (s,) = ident.substances
    assert (s.q_crit_t, s.beta) == (5.0, 4.0)
    assert s.q_source.startswith("表1 氯") and "CAS" in s.q_source
    assert s.beta_source == "表3 氯"


def test_liquid_chlorine_at_the_critical_quantity_is_major():
    assert identify([chlorine(5.0)]).major
    # found by name alone as well
    by_name = identify_substance({"name": "氯气", "quantity_t": 5.0})
    assert by_name.q_crit_t == 5.0 and "名称" in by_name.q_source


@pytest.mark.parametrize(
    ("petrol_t", "expected_s", "major"),
    [
        (79.8, 0.6 + 79.8 / 200, False),  # just under: 0.999
        (80.0, 1.0, True),  # exactly 1: S ≥ 1
        (80.2, 0.6 + 80.2 / 200, True),  # just over: 1.001
    ],
)
def test_lpg_and_petrol_mixture_sums_q_over_q(petrol_t, expected_s, major):
    ident = identify([lpg(30.0), petrol(petrol_t)])
    assert ident.S == pytest.approx(expected_s, abs=1e-12)
    assert ident.major is major
    q_values = [(s.q_crit_t, s.beta) for s in ident.substances]
    assert q_values == [(50.0, 1.5), (200.0, 1.0)]  # LPG W2 β 1.5; petrol as recorded W5.3, other W → 1
    assert ident.beta_sum == pytest.approx(1.5 * 30 / 50 + petrol_t / 200)


def test_strict_convention_is_configurable_and_shown():
    strict = HazardRules(threshold_inclusive=False)
    assert not identify([chlorine(5.0)], strict).major
    assert identify([chlorine(5.01)], strict).major
    frame = assess(sources([chlorine(5.0)]), NO_BUILDINGS, strict)
    assert frame.loc[1, "rule"] == "S > 1" and not frame.loc[1, "major"]
    assert assess(sources([chlorine(5.0)]), NO_BUILDINGS).loc[1, "rule"] == "S ≥ 1"


@pytest.mark.parametrize(
    ("name", "cas", "q_crit"),
    [
        ("硝酸铵（含可燃物＞0.2%）", "6484-52-2", 5.0),  # full-width forms fold to the table's name
        ("硝酸铵(含可燃物≤0.2%)", "6484-52-2", 50.0),
        ("硝酸铵 (可燃物≤0.2%)", None, 50.0),
        ("硝酸铵肥料", None, 200.0),
        ("硝酸铵", "6484-52-2", 5.0),  # which row is not said: the strictest
    ],
)
def test_ammonium_nitrate_rows_are_told_apart_by_name(name, cas, q_crit):
    s = identify_substance({"name": name, "cas": cas, "quantity_t": 10.0})
    assert s.identified and s.q_crit_t == q_crit


def test_ambiguous_ammonium_nitrate_can_be_refused():
    rules = HazardRules(ambiguous_ammonium_nitrate_q_t=None)
    s = identify_substance({"name": "硝酸铵", "cas": "6484-52-2", "quantity_t": 10.0}, rules)
    assert not s.identified and "6484-52-2" in s.reason


def test_table_2_by_class_and_table_4_beta():
    s = identify_substance(diesel(100.0))
    assert (s.q_crit_t, s.beta, s.q_source) == (5000.0, 1.0, "表2 W5.4")
    explosive = identify_substance({"name": "工业炸药", "quantity_t": 0.5, "hazard_class": "w1.1"})
    assert (explosive.q_crit_t, explosive.beta) == (1.0, 2.0)
    toxic = identify_substance({"name": "某剧毒品", "quantity_t": 1.0, "hazard_class": "J1"})
    assert (toxic.q_crit_t, toxic.beta) == (5.0, 4.0)


def test_unknown_substances_are_reported_not_dropped():
    ident = identify(
        [lpg(10.0), {"name": "神秘物质", "quantity_t": 3.0}, {"name": "X", "quantity_t": 1, "hazard_class": "Z9"}]
    )
    assert ident.S == pytest.approx(0.2) and not ident.complete
    reasons = [s.reason for s in ident.substances if not s.identified]
    assert len(reasons) == 2 and "未填写危险性类别" in reasons[0] and "Z9" in reasons[1]
    frame = assess(sources([lpg(10.0), {"name": "神秘物质", "quantity_t": 3.0}]), NO_BUILDINGS)
    assert frame.loc[1, "unidentified"] == ["神秘物质"]
    assert frame.loc[1, "status"] == "incomplete"
    assert "未能辨识: 神秘物质" in frame.loc[1, "explanation"]


def test_missing_quantity_is_reported():
    s = identify_substance({"name": "液氨", "quantity_t": None})
    assert not s.identified and "储量" in s.reason


# --- α and grade bands ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("people", "alpha"),
    [(0, 0.5), (1, 1.0), (29, 1.0), (30, 1.2), (49, 1.2), (50, 1.5), (99, 1.5), (100, 2.0), (5000, 2.0)],
)
def test_alpha_band_boundaries(people, alpha):
    assert alpha_for(people) == alpha
    near = [box(SITE[0] + 100, SITE[1], SITE[0] + 110, SITE[1] + 10)] if people else []
    frame = assess(sources([chlorine(5.0)]), buildings(near, [people] if people else []))
    assert frame.loc[1, "exposed_people"] == people and frame.loc[1, "alpha"] == alpha
    assert frame.loc[1, "R"] == pytest.approx(alpha * 4.0)


@pytest.mark.parametrize(
    ("ratio", "grade"),
    [(9.99, "四级"), (10.0, "三级"), (49.99, "三级"), (50.0, "二级"), (99.99, "二级"), (100.0, "一级")],
)
def test_grade_boundaries(ratio, grade):
    # One resident nearby: α = 1; diesel (W5.4, β = 1): R = q/Q.
    near = buildings([box(SITE[0] + 10, SITE[1], SITE[0] + 20, SITE[1] + 10)], [1])
    frame = assess(sources([diesel(ratio * 5000.0)]), near)
    assert frame.loc[1, "R"] == pytest.approx(ratio)
    assert frame.loc[1, "grade"] == grade == grade_for(ratio)
    assert grade in frame.loc[1, "explanation"]


def test_no_grade_below_s_of_one_whatever_r():
    phosgene = {"name": "光气", "cas": "75-44-5", "quantity_t": 0.27}  # S 0.9, β 20
    near = buildings([box(SITE[0], SITE[1] + 50, SITE[0] + 10, SITE[1] + 60)], [500])
    row = assess(sources([phosgene]), near).loc[1]
    assert not row["major"] and row["R"] == pytest.approx(2.0 * 20 * 0.9) and row["grade"] is None
    assert "不分级" in row["explanation"]


# --- exposed people ---------------------------------------------------------------------------------------------


def brute_force(site, footprints, reach, centroid=False):
    targets = [f.centroid if centroid else f for f in footprints]
    return [i for i, t in enumerate(targets) if site.distance(t) <= reach]


def layout(seed=7, n=600):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(-800, 800, size=(n, 2)) + SITE
    size = rng.uniform(5, 40, size=(n, 2))
    footprints = list(shapely.box(xy[:, 0], xy[:, 1], xy[:, 0] + size[:, 0], xy[:, 1] + size[:, 1]))
    # a building straddling the circle: 490–520 m east, its west wall inside 500 m, its centroid outside
    footprints.append(box(SITE[0] + 490, SITE[1] - 10, SITE[0] + 520, SITE[1] + 10))
    # just outside and exactly on the circle
    footprints.append(box(SITE[0] - 530, SITE[1] - 5, SITE[0] - 500.5, SITE[1] + 5))
    footprints.append(box(SITE[0] - 10, SITE[1] + 500, SITE[0] + 10, SITE[1] + 520))
    residents = list(rng.integers(0, 8, size=len(footprints)))
    return footprints, residents


@pytest.mark.parametrize("rule_name", ["intersects", "centroid"])
@pytest.mark.parametrize("site_radius", [0.0, 60.0])
def test_exposed_buildings_equal_brute_force(rule_name, site_radius):
    footprints, residents = layout()
    rules = HazardRules(exposure_rule=rule_name, site_radius_m=site_radius)
    result = assess_sources(sources([lpg(60.0)]), buildings(footprints, residents), rules)[1]
    expected = brute_force(Point(SITE), footprints, 500 + site_radius, centroid=rule_name == "centroid")
    assert list(result.exposed_building_fids) == [101 + i for i in expected]
    assert result.exposed_people == sum(residents[i] for i in expected)
    straddler = 101 + len(footprints) - 3
    assert (straddler in result.exposed_building_fids) is (rule_name == "intersects" or site_radius > 0)
    assert (101 + len(footprints) - 2 in result.exposed_building_fids) is (site_radius > 0)  # 500.5 m away
    # its wall exactly 500 m away counts; its centroid (510 m) only with a site radius
    assert (101 + len(footprints) - 1 in result.exposed_building_fids) is (rule_name == "intersects" or site_radius > 0)


def test_polygon_site_counts_from_its_boundary_and_leaves_out_its_own_buildings():
    plant = box(SITE[0] - 100, SITE[1] - 100, SITE[0] + 100, SITE[1] + 100)
    footprints = [
        box(SITE[0] - 20, SITE[1] - 20, SITE[0] + 20, SITE[1] + 20),  # inside the plant: not 厂外
        box(SITE[0] + 590, SITE[1], SITE[0] + 620, SITE[1] + 20),  # 490 m from the boundary
        box(SITE[0] + 605, SITE[1], SITE[0] + 620, SITE[1] + 20),  # 505 m from the boundary
        box(SITE[0] + 90, SITE[1] - 10, SITE[0] + 130, SITE[1] + 10),  # across the fence: counts
    ]
    got = assess_sources(sources([lpg(60.0)], geoms=[plant]), buildings(footprints, [5, 7, 11, 13]))[1]
    assert got.exposed_building_fids == (102, 104) and got.exposed_people == 20
    keep_all = HazardRules(exclude_inside_site=False)
    assert assess_sources(sources([lpg(60.0)], geoms=[plant]), buildings(footprints, [5, 7, 11, 13]), keep_all)[
        1
    ].exposed_building_fids == (101, 102, 104)


def test_many_sites_each_match_brute_force():
    footprints, residents = layout(seed=3, n=400)
    rng = np.random.default_rng(5)
    points = [Point(SITE[0] + dx, SITE[1] + dy) for dx, dy in rng.uniform(-600, 600, size=(12, 2))]
    detail = assess_sources(sources(*([lpg(1.0)] for _ in points), geoms=points), buildings(footprints, residents))
    for k, site in enumerate(points, start=1):
        assert list(detail[k].exposed_building_fids) == [101 + i for i in brute_force(site, footprints, 500)]


def test_lists_and_json_text_give_the_same_result():
    inv = [lpg(30.0), petrol(80.0)]
    a = assess(sources(inv), NO_BUILDINGS)
    b = assess(sources(inv, as_json=False), NO_BUILDINGS)
    assert a.loc[1, "S"] == b.loc[1, "S"] == pytest.approx(1.0)
    assert a.index.name == "fid"


def test_explanation_shows_the_arithmetic():
    row = assess(sources([lpg(60.0)]), NO_BUILDINGS).loc[1]
    assert "S = 60/50" in row["explanation"] and "R = 0.5 × (1.5×60/50)" in row["explanation"]
    assert row["grade"] == "四级" and row["R"] == pytest.approx(0.9)


def test_every_rule_has_a_label_and_source():
    rows = parameters(DEFAULT_RULES)
    assert len(rows) == len(dataclasses.fields(DEFAULT_RULES))
    assert all(r["label"] and r["source"] for r in rows)


# --- the demo town ------------------------------------------------------------------------------------------------


def test_demo_town_major_sources_are_the_planted_ones():
    store = demo_store()
    truth = json.loads(truth_path(DEMO_GPKG).read_text(encoding="utf-8"))["major_hazard_sources"]["sites"]
    frame = assess(store.read(LAYERS["risk_sources"]), store.read(LAYERS["buildings"]))
    majors = frame[frame["major"]]
    assert set(majors.index) == {site["fid"] for site in truth}
    for site in truth:
        assert frame.loc[site["fid"], "S"] == pytest.approx(site["S"])
        assert frame.loc[site["fid"], "grade"] in {"一级", "二级", "三级", "四级"}
    assert (frame["status"] != "incomplete").all()
