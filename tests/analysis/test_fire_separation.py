"""Fire separation (GB 50016 Table 5.2.2) at its boundaries, 连片 clusters on hand-built shapes, the index against
a brute-force scan, old buildings and settlements, the score and the 一区一策 drafts, and the demo town's truths."""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from itertools import combinations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from backends import demo_store
from geopandas.testing import assert_geodataframe_equal
from shapely.geometry import box

from analysis.fire_separation import (
    SeparationRules,
    find_clusters,
    grade_classes,
    high_rise,
    is_old,
    parameters,
    required_separation,
    too_close_pairs,
)
from analysis.settlement_plans import FACTOR_LABELS, MEASURES, analyse, draft_plans
from geo.crs import LOCAL_METRIC, WGS84, transform_geometries
from layers import LAYERS
from onemap.settings import DEMO_GPKG

X0, Y0 = 540_000.0, 4_745_000.0  # metres in EPSG:4549, inside the demo town
AS_OF = date(2026, 10, 31)
DEFAULTS = {"storeys": 1, "fire_grade": "3", "use": "residential", "residents": 3, "build_year": 2010,
            "village_code": "150525107201"}  # fmt: skip


def _frame(specs: list[dict], *, lonlat: bool = True, fids=None) -> gpd.GeoDataFrame:
    """Buildings from dicts with a metric footprint `geom` (offset from X0, Y0) or `x`, `y`, `w`, `d` (a box)."""
    rows, geoms = [], []
    for spec in specs:
        spec = dict(spec)
        geom = spec.pop("geom", None)
        if geom is None:
            x, y = spec.pop("x", 0.0), spec.pop("y", 0.0)
            geom = box(x, y, x + spec.pop("w", 10.0), y + spec.pop("d", 8.0))
        geoms.append(shapely.transform(geom, lambda xy: xy + (X0, Y0)))
        rows.append(DEFAULTS | spec)
    index = pd.Index(fids if fids is not None else range(1, len(specs) + 1), name="fid")
    frame = pd.DataFrame(rows, index=index).astype({"storeys": "Int64", "residents": "Int64", "build_year": "Int64"})
    if lonlat:
        return gpd.GeoDataFrame(frame, geometry=list(transform_geometries(geoms, LOCAL_METRIC, WGS84)), crs=WGS84)
    return gpd.GeoDataFrame(frame, geometry=geoms, crs=LOCAL_METRIC)


def _two(gap: float, grade_a: str | None, grade_b: str | None, **extra) -> gpd.GeoDataFrame:
    """Two 10 × 8 m houses side by side, `gap` metres between their facing walls."""
    a = {"x": 0.0, "fire_grade": grade_a} | extra.get("a", {})
    b = {"x": 10.0 + gap, "fire_grade": grade_b} | extra.get("b", {})
    return _frame([a, b])


# ---------------------------------------------------------------------------------------------------------------
# Table 5.2.2


@pytest.mark.parametrize(
    "grade_a, grade_b, gap, too_close",
    [
        ("1", "2", 5.99, True),  # 一二级–一二级 6 m: 5.99 m is short
        ("1", "2", 6.00, False),  # exactly 6.00 m complies ("closer than" is strict)
        ("2", "2", 6.01, False),
        ("2", "3", 6.99, True),  # 一二级–三级 7 m
        ("1", "3", 7.00, False),
        ("2", "4", 8.99, True),  # 一二级–四级 9 m
        ("2", "4", 9.00, False),
        ("3", "3", 7.99, True),  # 三级–三级 8 m
        ("3", "3", 8.00, False),
        ("3", "4", 9.99, True),  # 三级–四级 10 m
        ("4", "3", 10.00, False),
        ("4", "4", 11.99, True),  # 四级–四级 12 m
        ("4", "4", 12.00, False),
        ("unknown", "unknown", 11.99, True),  # unknown counts as 四级 (note 7)
        ("unknown", "4", 12.00, False),
        ("unknown", "3", 9.99, True),  # unknown–三级 = 四级–三级 10 m
        ("unknown", "2", 9.00, False),  # unknown–二级 = 四级–一二级 9 m
        (None, "4", 11.99, True),  # a missing grade is unknown too
        ("1", "1", 0.0, True),  # touching walls
    ],
)
def test_table_5_2_2_boundaries(grade_a, grade_b, gap, too_close):
    pairs = too_close_pairs(_two(gap, grade_a, grade_b))
    assert (len(pairs) == 1) is too_close
    if too_close:
        row = pairs.iloc[0]
        assert (row.fid_a, row.fid_b) == (1, 2)
        assert row.distance_m == pytest.approx(gap, abs=1e-6)
        assert row.shortfall_m == pytest.approx(row.required_m - gap, abs=1e-6)


def test_boundaries_hold_in_metric_input_and_diagonally():
    # a metric frame skips the lon/lat round trip; a corner-to-corner gap of 8 m (三级–三级) complies exactly
    metric = _frame([{"x": 0.0}, {"x": 10.0 + 7.99}], lonlat=False)
    assert len(too_close_pairs(metric)) == 1
    diagonal = _frame([{"x": 0.0, "y": 0.0}, {"x": 10.0 + 4.8, "y": 8.0 + 6.4}])  # corner gap √(4.8² + 6.4²) = 8
    assert too_close_pairs(diagonal).empty
    closer = _frame([{"x": 0.0, "y": 0.0}, {"x": 10.0 + 4.79, "y": 8.0 + 6.4}])
    assert len(too_close_pairs(closer)) == 1


def test_unknown_grade_treatment_is_configurable():
    rules = SeparationRules(unknown_grade="3")
    assert required_separation("unknown", "unknown", rules=rules) == 8.0
    assert too_close_pairs(_two(8.0, "unknown", None), rules).empty
    assert len(too_close_pairs(_two(7.99, "unknown", None), rules)) == 1
    assert required_separation("unknown", "unknown") == 12.0  # the default: 四级
    with pytest.raises(ValueError, match="unknown_grade"):
        SeparationRules(unknown_grade="2")


@pytest.mark.parametrize(
    "a, b, expected",
    [
        # (grade, storeys, use) of each building → required metres
        (("2", 10, "residential"), ("2", 1, "residential"), 9.0),  # 30 m > 27 m: 高层 vs 一二级
        (("2", 10, "residential"), ("3", 1, "residential"), 11.0),  # 高层 vs 三级
        (("2", 10, "residential"), ("4", 1, "residential"), 14.0),  # 高层 vs 四级
        (("2", 10, "residential"), ("unknown", 1, "residential"), 14.0),  # unknown as 四级
        (("1", 10, "residential"), ("2", 12, "residential"), 13.0),  # 高层 vs 高层
        (("2", 9, "residential"), ("2", 1, "residential"), 6.0),  # 27 m residential is not high-rise
        (("2", 9, "commercial"), ("2", 1, "residential"), 9.0),  # 27 m > 24 m for other uses
        (("2", 8, "commercial"), ("2", 1, "residential"), 6.0),  # 24 m is not above 24 m
        (("4", 10, "residential"), ("4", 1, "residential"), 14.0),  # high-rise recorded 四级: the larger value
        (("4", 10, "residential"), ("2", 1, "residential"), 9.0),
    ],
)
def test_high_rise_rows(a, b, expected):
    got = required_separation(a[0], b[0], storeys_a=a[1], storeys_b=b[1], use_a=a[2], use_b=b[2])
    assert got == expected


def test_high_rise_pairs_are_found_at_their_distance_and_storey_height_is_configurable():
    tower = {"storeys": 10, "fire_grade": "2"}
    frame = _two(12.99, None, None, a=tower, b=tower)
    assert too_close_pairs(frame)["required_m"].tolist() == [13.0]
    assert too_close_pairs(_two(13.0, None, None, a=tower, b=tower)).empty
    pair = too_close_pairs(_two(13.99, None, None, a=tower, b={"fire_grade": "4"}))  # 14 m to a 四级 house
    assert pair[["class_a", "class_b", "required_m"]].values.tolist() == [["high", "4", 14.0]]
    low = SeparationRules(storey_height_m=2.5)  # 10 × 2.5 = 25 m: no longer high-rise as a dwelling
    assert not high_rise([10], ["residential"], low)[0] and high_rise([10], ["residential"])[0]
    assert required_separation("2", "2", storeys_a=10, storeys_b=10, rules=low) == 6.0


def test_grade_classes_map_the_stored_codes():
    assert grade_classes(["1", "2", "3", "4", "unknown", None, "x"]).tolist() == [0, 0, 1, 2, 2, 2, 2]


# ---------------------------------------------------------------------------------------------------------------
# Clusters


def _clusters(frame: gpd.GeoDataFrame) -> tuple[pd.Series, gpd.GeoDataFrame]:
    return find_clusters(frame, too_close_pairs(frame))


def test_a_chain_is_one_cluster_even_where_its_ends_are_far_apart():
    frame = _frame([{"x": 0.0}, {"x": 15.0}, {"x": 30.0}], fids=[11, 12, 13])  # 5 m gaps, 三级: 8 m required
    pairs = too_close_pairs(frame)
    assert pairs[["fid_a", "fid_b"]].values.tolist() == [[11, 12], [12, 13]]  # A and C are 20 m apart
    labels, table = find_clusters(frame, pairs)
    assert labels.tolist() == [1, 1, 1]
    row = table.loc[1]
    assert row.buildings == 3 and row.too_close_pairs == 2 and row.households == 3 and row.residents == 9
    assert row.area_m2 == pytest.approx(240.0, rel=1e-6) and row.length_m == pytest.approx(40.0, abs=0.01)
    assert row.grades == "3" and row.min_distance_m == pytest.approx(5.0, abs=1e-6)
    assert row.village_code == "150525107201" and row.largest_in_village
    # the map polygon covers every member, in lon/lat like the input
    assert table.crs.to_epsg() == 4326 and table.geometry.iloc[0].covers(shapely.union_all(frame.geometry))


def test_a_ring_is_one_cluster_with_every_link():
    centres = [(30 * np.cos(a), 30 * np.sin(a)) for a in np.linspace(0, 2 * np.pi, 8, endpoint=False)]
    frame = _frame([{"geom": box(x - 5, y - 5, x + 5, y + 5), "fire_grade": "4"} for x, y in centres])
    pairs = too_close_pairs(frame)  # neighbours ≈ 13 m apart centre to centre: 3–6 m gaps, 四级 needs 12 m
    assert len(pairs) >= 8
    labels, table = find_clusters(frame, pairs)
    assert set(labels) == {1} and table.loc[1, "buildings"] == 8
    # cutting one house out of the ring leaves a chain: still one cluster
    labels, _ = _clusters(frame.drop(index=3))
    assert set(labels) == {1}


def test_isolated_buildings_are_in_no_cluster_and_separate_groups_are_separate_clusters():
    frame = _frame(
        [
            {"x": 0.0},  # group 1: three houses 2 m apart
            {"x": 12.0},
            {"x": 24.0},
            {"x": 200.0},  # group 2: two houses
            {"x": 212.0},
            {"x": 400.0},  # alone
            {"x": 600.0, "fire_grade": "1"},  # 7 m from a 二级 house: 6 m required, complies
            {"x": 617.0, "fire_grade": "2"},
        ],
        fids=[8, 7, 6, 5, 4, 3, 2, 1],
    )
    labels, table = _clusters(frame)
    assert labels.to_dict() == {8: 1, 7: 1, 6: 1, 5: 2, 4: 2, 3: 0, 2: 0, 1: 0}  # larger group first
    assert table["buildings"].tolist() == [3, 2]
    assert table["largest_in_village"].tolist() == [True, False]


def test_cluster_ids_break_size_ties_by_the_smallest_fid():
    frame = _frame([{"x": 0.0}, {"x": 12.0}, {"x": 300.0}, {"x": 312.0}], fids=[20, 21, 3, 4])
    labels, _ = _clusters(frame)
    assert labels.to_dict() == {20: 2, 21: 2, 3: 1, 4: 1}


def test_multipolygon_footprints_and_missing_attributes_are_handled():
    two_parts = shapely.MultiPolygon([box(0, 0, 10, 8), box(0, 20, 10, 28)])
    frame = _frame([{"geom": two_parts}, {"x": 13.0, "y": 20.0}, {"x": 100.0}])
    frame.loc[2, ["fire_grade", "storeys", "use", "build_year"]] = [None, pd.NA, None, pd.NA]
    labels, table = _clusters(frame)  # 3 m from the second part; unknown (四级) vs 三级 needs 10 m
    assert labels.tolist() == [1, 1, 0] and table.loc[1, "grades"] == "3,unknown"
    assert table.loc[1, "households"] == 1  # a house of unknown use is not counted as a household
    assert table.geometry.iloc[0].covers(frame.geometry.iloc[0])


def _random_town(n: int, seed: int) -> gpd.GeoDataFrame:
    """`n` rotated houses of random size, grade, storeys and use scattered over a 400 × 400 m square."""
    rng = np.random.default_rng(seed)
    specs = []
    for _ in range(n):
        x, y = rng.uniform(0, 400, 2)
        w, d = rng.uniform(6, 16), rng.uniform(5, 10)
        geom = shapely.affinity.rotate(box(x, y, x + w, y + d), float(rng.uniform(0, 90)), origin="centroid")
        specs.append(
            {
                "geom": geom,
                "fire_grade": rng.choice(["1", "2", "3", "4", "unknown", None]),
                "storeys": int(rng.choice([1, 1, 2, 3, 10])),
                "use": rng.choice(["residential", "commercial"]),
            }
        )
    return _frame(specs)


#: Table 5.2.2 written out again for the brute-force check, by (row, column) class, 高层 as "H".
ORACLE = {("12", "12"): 6, ("12", "3"): 7, ("12", "4"): 9, ("3", "3"): 8, ("3", "4"): 10, ("4", "4"): 12,
          ("H", "H"): 13, ("H", "12"): 9, ("H", "3"): 11, ("H", "4"): 14}  # fmt: skip


def _oracle_required(a: dict, b: dict) -> float:
    """Required separation by hand: unknown as 四级; a high-rise takes the larger of its 高层 and its grade value."""

    def grade(r):
        return {"1": "12", "2": "12", "3": "3"}.get(r["fire_grade"], "4")

    def look(x, y):
        return ORACLE.get((x, y), ORACLE.get((y, x)))

    def high(r):
        return r["storeys"] * 3.0 > (27.0 if r["use"] == "residential" else 24.0)

    plain = look(grade(a), grade(b))
    tall = look("H" if high(a) else grade(a), "H" if high(b) else grade(b))
    return float(max(plain, tall))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_pairs_match_a_brute_force_scan_of_all_pairs(seed):
    frame = _random_town(300, seed)
    found = too_close_pairs(frame)
    metric = transform_geometries(frame.geometry.to_numpy(), WGS84, LOCAL_METRIC)
    rows = frame.reset_index().to_dict("records")
    expected = {}
    for a, b in combinations(range(len(rows)), 2):
        required = _oracle_required(rows[a], rows[b])
        distance = metric[a].distance(metric[b])
        if distance < required - 0.001:
            expected[(rows[a]["fid"], rows[b]["fid"])] = (distance, required)
    assert len(expected) > 50  # the scene is dense enough to mean something
    got = {(r.fid_a, r.fid_b): (r.distance_m, r.required_m) for r in found.itertuples()}
    assert got.keys() == expected.keys()
    for key, (distance, required) in expected.items():
        assert got[key][0] == pytest.approx(distance, abs=1e-9) and got[key][1] == required
    # the clusters are the connected components of those pairs, checked with a plain union-find
    parent = {f: f for f in frame.index}

    def root(f):
        while parent[f] != f:
            parent[f] = parent[parent[f]]
            f = parent[f]
        return f

    for a, b in expected:
        parent[root(a)] = root(b)
    groups: dict[int, set[int]] = {}
    for f in frame.index:
        groups.setdefault(root(f), set()).add(f)
    expected_clusters = sorted((sorted(g) for g in groups.values() if len(g) > 1), key=lambda g: (-len(g), g[0]))
    labels, table = find_clusters(frame, found)
    assert [sorted(labels.index[labels == k]) for k in table.index] == expected_clusters


# ---------------------------------------------------------------------------------------------------------------
# Old buildings


def test_old_means_built_on_or_before_the_cut_off():
    years = [1999, 2000, 2001, 2005, 2006, None, pd.NA]
    assert is_old(years).tolist() == [True, True, False, False, False, False, False]
    extended = SeparationRules(old_extension_until=date(2005, 12, 31))
    assert is_old(years, extended).tolist() == [True, True, True, True, False, False, False]
    mid_year = SeparationRules(old_cutoff=date(2000, 6, 30))  # a house of 2000 may be finished after June
    assert is_old([1999, 2000], mid_year).tolist() == [True, False]
    with pytest.raises(ValueError, match="old_extension_until"):
        SeparationRules(old_extension_until=date(1999, 12, 31))


# ---------------------------------------------------------------------------------------------------------------
# Settlements, villages, the score and the drafts


def _settlement(x0, y0, x1, y1, **attrs) -> dict:
    return (
        {"name": "老村片区", "build_year": 1988, "households": 0, "village_code": "150525107201"}
        | attrs
        | {"geometry": box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)}
    )


def _settlements(rows: list[dict]) -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame(rows, geometry="geometry", crs=LOCAL_METRIC).to_crs(WGS84)
    frame.index = pd.RangeIndex(1, len(rows) + 1, name="fid")
    return frame


@pytest.fixture
def small_town():
    """Settlement 1: an old chain of three 四级 houses and one new house apart; settlement 2: two old 三级 houses
    far apart; a new pair in another village outside both."""
    buildings = _frame(
        [
            {"x": 0.0, "fire_grade": "4", "build_year": 1985, "residents": 4},
            {"x": 14.0, "fire_grade": "unknown", "build_year": 1990, "residents": 2},
            {"x": 28.0, "fire_grade": "4", "build_year": 2000, "residents": 5},
            {"x": 28.0, "y": 40.0, "fire_grade": "2", "build_year": 2015, "use": "commercial", "residents": 0},
            {"x": 300.0, "build_year": 1995},
            {"x": 340.0, "build_year": 1996},
            {"x": 600.0, "village_code": "150525107202"},
            {"x": 612.0, "village_code": "150525107202"},
        ]
    )
    settlements = _settlements(
        [_settlement(-5, -5, 45, 55, name="粮站家属院", households=6), _settlement(290, -5, 360, 15, name="老供销社")]
    )
    villages = pd.DataFrame({"code": ["150525107201", "150525107202"], "name": ["义隆永村", "西营子村"]})
    return buildings, settlements, villages


def test_settlement_and_village_counts(small_town):
    buildings, settlements, villages = small_town
    result = analyse(buildings, old_settlements=settlements, villages=villages, as_of=AS_OF)
    s = result.settlements
    assert s.loc[1, ["buildings", "old_buildings", "too_close_pairs", "buildings_in_clusters"]].tolist() == [4, 3, 2, 3]
    assert s.loc[1, ["households", "residents", "low_grade_buildings", "largest_cluster_buildings"]].tolist() == [
        3, 11, 3, 3,
    ]  # fmt: skip
    assert s.loc[1, "households_affected"] == 6  # the surveyed households, not the 3 houses
    assert s.loc[2, ["buildings", "old_buildings", "too_close_pairs", "buildings_in_clusters"]].tolist() == [2, 2, 0, 0]
    assert s.loc[2, "households_affected"] == 2  # no survey: one household per house
    assert bool(s.loc[1, "old"]) and bool(s.loc[2, "old"])
    assert result.buildings["settlement_fid"].tolist() == [1, 1, 1, 1, 2, 2, pd.NA, pd.NA]
    v = result.villages
    assert v.loc["150525107201", "name"] == "义隆永村" and v.loc["150525107202", "name"] == "西营子村"
    assert v.loc["150525107201", ["buildings", "too_close_pairs", "buildings_in_clusters"]].tolist() == [6, 2, 3]
    counts = ["buildings", "too_close_pairs", "clusters", "largest_cluster_buildings"]
    assert v.loc["150525107202", counts].tolist() == [2, 1, 1, 2]


def test_the_score_shows_every_factor_and_ranks_the_worse_settlement_first(small_town):
    buildings, settlements, villages = small_town
    rules = SeparationRules()
    s = analyse(buildings, old_settlements=settlements, villages=villages, as_of=AS_OF, rules=rules).settlements
    one = s.loc[1]
    assert one.points_old == pytest.approx(rules.weight_old * 3 / 4, abs=0.01)
    assert one.points_clustered == pytest.approx(rules.weight_clustered * 3 / 4, abs=0.01)
    assert one.points_largest_cluster == pytest.approx(rules.weight_largest_cluster * 3 / 50, abs=0.01)
    assert one.points_households == pytest.approx(rules.weight_households * 6 / 100, abs=0.01)
    assert one.points_low_grade == pytest.approx(rules.weight_low_grade * 3 / 4, abs=0.01)
    assert one.score == pytest.approx(sum(one[f"points_{k}"] for k in FACTOR_LABELS), abs=0.011)
    assert s["rank"].to_dict() == {1: 1, 2: 2}
    assert "连片建筑3/4栋" in one.explanation and "调查户数6户" in one.explanation and "→ +" in one.explanation
    # the weights are the planner's: with all weight on households the bigger settlement still wins, 6 to 2
    only_households = SeparationRules(
        weight_old=0, weight_clustered=0, weight_largest_cluster=0, weight_low_grade=0, weight_households=10
    )
    again = analyse(buildings, old_settlements=settlements, as_of=AS_OF, rules=only_households).settlements
    assert again["score"].tolist() == [0.6, 0.2]


def test_drafts_name_the_measures_the_findings_call_for(small_town):
    buildings, settlements, villages = small_town
    lanes = gpd.GeoDataFrame(
        {"name": ["进院通道", "远处通道"], "width_m": [3.2, 6.0], "status": ["blocked", "passable"]},
        geometry=[shapely.LineString([(X0 - 20, Y0 + 20), (X0 - 8, Y0 + 20)]),
                  shapely.LineString([(X0 + 500, Y0 + 500), (X0 + 600, Y0 + 500)])],
        crs=LOCAL_METRIC,
    ).to_crs(WGS84)  # fmt: skip
    result = analyse(buildings, old_settlements=settlements, villages=villages, fire_lanes=lanes, as_of=AS_OF)
    first, second = result.drafts
    assert (first.linked_fid, first.rank, second.linked_fid) == (1, 1, 2)
    assert first.status == "draft" and first.linked_layer == "old_settlements" and first.sector == "fire"
    assert first.deadline == date(2027, 10, 31) and first.as_of == AS_OF
    assert first.measures == (
        "fire_separation", "clear_lane", "rewiring", "fire_resistance", "water_source", "renovation", "extinguishers"
    )  # fmt: skip
    assert first.measure_labels[0] == MEASURES["fire_separation"][0] == "拆除违建、形成防火分隔"
    assert "进院通道（堵塞、净宽3.2 m）" in first.plan_zh and "2027-10-31" in first.plan_zh
    assert "粮站家属院" in first.plan_zh and len(first.plan_zh) <= 1000 and len(first.basis) <= 200
    # no lane within 15 m of the second settlement: open one; no cluster there: no separation measure
    assert second.measures[0] == "fire_lane" and "fire_separation" not in second.measures
    assert "15 m内无消防车道" in second.plan_zh
    json.dumps([d.to_dict() for d in result.drafts], ensure_ascii=False)
    later = draft_plans(result.settlements, AS_OF, dataclasses.replace(SeparationRules(), deadline_months=3))
    assert later[0].deadline == date(2027, 1, 31)


def test_a_long_cluster_calls_for_a_fire_lane_through_it():
    houses = _frame([{"x": 12.0 * k, "fire_grade": "4", "build_year": 1980} for k in range(14)])  # 166 m of houses
    settlements = _settlements([_settlement(-5, -5, 175, 15)])
    result = analyse(houses, old_settlements=settlements, as_of=AS_OF)
    assert result.clusters.loc[1, "length_m"] == pytest.approx(166.0, abs=0.01)
    (draft,) = result.drafts
    assert "fire_lane" in draft.measures and "连片长166 m超过150 m" in draft.plan_zh
    assert "firebreak_zone" not in draft.measures  # 14 houses, not 50
    big = analyse(houses, old_settlements=settlements, as_of=AS_OF, rules=SeparationRules(contiguous_households=10))
    assert "firebreak_zone" in big.drafts[0].measures


def test_empty_inputs_give_empty_results():
    empty = _frame([{"x": 0.0}]).iloc[:0]
    result = analyse(empty, as_of=AS_OF)
    assert result.pairs.empty and result.clusters.empty and result.villages.empty and result.drafts == []
    assert too_close_pairs(empty).empty


def test_every_rule_has_a_label_and_a_source():
    rows = parameters(SeparationRules())
    assert len(rows) == len(dataclasses.fields(SeparationRules))
    assert all(r["label"] and r["source"] for r in rows)
    table = {r["name"]: r["value"] for r in rows}
    assert [table[k] for k in ("sep_12_12_m", "sep_12_3_m", "sep_12_4_m", "sep_3_3_m", "sep_3_4_m", "sep_4_4_m")] == [
        6.0, 7.0, 9.0, 8.0, 10.0, 12.0,
    ]  # fmt: skip
    with pytest.raises(ValueError, match="positive"):
        SeparationRules(sep_3_3_m=0)


# ---------------------------------------------------------------------------------------------------------------
# The demo town


@pytest.fixture(scope="module")
def demo():
    store = demo_store()
    layers = {name: store.read(LAYERS[name]) for name in ("buildings", "old_settlements", "villages", "fire_lanes")}
    truth = json.loads(DEMO_GPKG.with_name("demo_town.truth.json").read_text(encoding="utf-8"))
    result = analyse(
        layers["buildings"],
        old_settlements=layers["old_settlements"],
        villages=layers["villages"],
        fire_lanes=layers["fire_lanes"],
        as_of=date.fromisoformat(truth["as_of"]),
    )
    return layers, truth, result


def _linked_below(fids: list[int], geoms: pd.Series, limit_m: float) -> list[set[int]]:
    """Groups of the given buildings joined by gaps below `limit_m`, by brute force over their pairs."""
    groups = [{f} for f in fids]
    for a, b in combinations(fids, 2):
        if geoms[a].distance(geoms[b]) < limit_m:
            ga = next(g for g in groups if a in g)
            gb = next(g for g in groups if b in g)
            if ga is not gb:
                ga |= gb
                groups.remove(gb)
    return groups


def test_every_planted_dense_row_of_the_demo_town_is_found_whole(demo):
    """The planted contiguous villages: every run of houses under 6 m apart is one cluster, with nothing else.

    The planted blocks span several rows 19 m apart (27 m row pitch, 8 m deep houses) — farther than any Table
    5.2.2 value — so a block is found as one cluster per row, and a planted house whose neighbours were left out of
    its row stands 15 m or more from every house and is rightly in no cluster.
    """
    layers, truth, result = demo
    metric = pd.Series(
        transform_geometries(layers["buildings"].geometry.to_numpy(), WGS84, LOCAL_METRIC),
        index=layers["buildings"].index,
    )
    label = result.buildings["cluster_id"]
    assert len(truth["dense_clusters"]["clusters"]) == 6
    for planted in truth["dense_clusters"]["clusters"]:
        fids = planted["building_fids"]
        rows = [g for g in _linked_below(fids, metric, 6.0) if len(g) > 1]
        assert len(rows) >= 2
        for row in rows:
            (cluster_id,) = set(label[sorted(row)])
            assert cluster_id > 0 and set(result.members(cluster_id)) <= set(fids)  # found whole, nothing added
            assert result.clusters.loc[cluster_id, "village_code"] == planted["village_code"]
            assert result.clusters.loc[cluster_id, "min_distance_m"] < 6.0
        in_clusters = [f for f in fids if label[f] > 0]
        assert len(in_clusters) >= 0.85 * len(fids)
        grades = layers["buildings"]["fire_grade"]
        for f in set(fids) - set(in_clusters):  # the houses left out comply with every other building
            others = metric.drop(index=f)
            gaps = pd.Series(shapely.distance(metric[f], others.to_numpy()), index=others.index)
            near = gaps[gaps < 14.0]  # no requirement exceeds 14 m (高层–四级)
            assert all(near[o] >= required_separation(grades[f], grades[o]) - 0.001 for o in near.index)
        village = result.villages.loc[planted["village_code"]]
        assert village["largest_cluster_buildings"] >= max(len(r) for r in rows)


def test_every_planted_old_settlement_is_recognised_as_old_and_ranked(demo):
    layers, truth, result = demo
    s = result.settlements
    planted = truth["old_settlements"]
    assert sorted(s.index) == sorted(p["fid"] for p in planted)
    assert sorted(s["rank"]) == list(range(1, len(planted) + 1))
    members = result.buildings["settlement_fid"]
    for p in planted:
        assert bool(s.loc[p["fid"], "old"]) and s.loc[p["fid"], "name"] == p["name"]
        assert sorted(members.index[members == p["fid"]]) == sorted(p["building_fids"])
        assert s.loc[p["fid"], "old_buildings"] == len(p["building_fids"])  # every planted member predates 2001
    assert [d.linked_fid for d in result.drafts] == s.sort_values("rank").index.tolist()
    # the compound walled in by frontage houses, reached only by a blocked dead-end lane, comes first
    dead_end = truth["fire_lanes"]["dead_end"]
    first = result.drafts[0]
    assert first.linked_fid == dead_end["settlement_fid"] and "clear_lane" in first.measures
    lane_name = layers["fire_lanes"].loc[dead_end["lane_fid"], "name"]
    assert lane_name in first.plan_zh and "fire_separation" in first.measures


def test_the_demo_town_result_is_the_same_every_time(demo):
    layers, truth, result = demo
    again = analyse(
        layers["buildings"],
        old_settlements=layers["old_settlements"],
        villages=layers["villages"],
        fire_lanes=layers["fire_lanes"],
        as_of=date.fromisoformat(truth["as_of"]),
    )
    pd.testing.assert_frame_equal(again.pairs, result.pairs)
    pd.testing.assert_frame_equal(again.buildings, result.buildings)
    pd.testing.assert_frame_equal(again.settlements, result.settlements)
    pd.testing.assert_frame_equal(again.villages, result.villages)
    assert_geodataframe_equal(again.clusters, result.clusters)
    assert [d.to_dict() for d in again.drafts] == [d.to_dict() for d in result.drafts]
