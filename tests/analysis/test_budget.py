"""The 千灯万带 budget plan: the knapsack against brute force, the edge budgets, the options each junction gets,
invalid input, the XLSX and GeoJSON exports, and the demo town end to end."""

from __future__ import annotations

import dataclasses
import io
import itertools
import json
import math

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
from backends import demo_store
from scene import AS_OF, INTERSECTION_ROW
from shapely.geometry import Point

from analysis.budget import (
    DEFAULT_TREATMENTS,
    BudgetRules,
    Treatment,
    minor_approaches,
    options_for,
    plan,
    solve,
)
from analysis.plan_export import PLAN_COLUMNS, plan_geojson, plan_workbook
from analysis.priority import Priority, score
from layers import LAYERS

# ---------------------------------------------------------------------------------------------------------------
# The solver against brute force


def _brute_force(costs, values, capacity):
    """(best value, least cost among the best) over every combination, 'none' included, by enumeration."""
    best = (-math.inf, math.inf)
    for combo in itertools.product(*[range(-1, len(c)) for c in costs]):
        cost = sum(costs[g][j] for g, j in enumerate(combo) if j >= 0)
        if cost > capacity:
            continue
        value = sum(values[g][j] for g, j in enumerate(combo) if j >= 0)
        best = max(best, (value, -cost))
    return best[0], -best[1]


def _evaluate(costs, values, chosen):
    cost = sum(costs[g][j] for g, j in enumerate(chosen) if j >= 0)
    value = sum(values[g][j] for g, j in enumerate(chosen) if j >= 0)
    return value, cost


@pytest.mark.parametrize("integer_values", [False, True], ids=["float-values", "integer-values-with-ties"])
def test_knapsack_equals_brute_force_on_random_instances(integer_values):
    rng = np.random.default_rng(2026 + integer_values)
    for _trial in range(50):
        costs = rng.integers(0, 15, size=(6, 4)).tolist()
        if integer_values:
            values = rng.integers(0, 6, size=(6, 4)).astype(float).tolist()  # many ties
        else:
            values = rng.uniform(0, 3, size=(6, 4)).round(6).tolist()
        capacity = int(rng.integers(0, 50))
        chosen = solve(costs, values, capacity)
        value, cost = _evaluate(costs, values, chosen)
        best_value, least_cost = _brute_force(costs, values, capacity)
        assert cost <= capacity
        assert value == pytest.approx(best_value, abs=1e-9)
        assert cost == least_cost  # among the best plans, the cheapest
        assert solve(costs, values, capacity) == chosen  # deterministic


def test_knapsack_edges():
    assert solve([[3, 5]], [[1.0, 2.0]], 0) == [-1]
    assert solve([[3, 5]], [[1.0, 2.0]], 5) == [1]  # exactly the capacity is allowed
    assert solve([[3, 5]], [[1.0, 2.0]], 4) == [0]
    assert solve([[0, 5]], [[0.5, 2.0]], 0) == [0]  # a free option with value is always taken
    assert solve([[2]], [[0.0]], 10) == [-1]  # worth nothing: not bought
    assert solve([], [], 10) == []
    assert solve([[4], [4]], [[1.0], [1.0]], 4) in ([0, -1], [-1, 0])
    with pytest.raises(ValueError, match="capacity"):
        solve([[1]], [[1.0]], -1)
    with pytest.raises(ValueError, match="costs must be ≥ 0"):
        solve([[-1]], [[1.0]], 3)
    with pytest.raises(ValueError, match="2 costs but 1 values"):
        solve([[1, 2]], [[1.0]], 3)


# ---------------------------------------------------------------------------------------------------------------
# Options and the plan on hand-built junctions


def _layer(rows: list[dict]) -> gpd.GeoDataFrame:
    frame = pd.DataFrame([INTERSECTION_ROW | r for r in rows], index=pd.Index(range(1, len(rows) + 1), name="fid"))
    points = [Point(120.50 + 0.01 * k, 42.85) for k in range(len(rows))]
    return gpd.GeoDataFrame(frame, geometry=points, crs=4326)


def _priority(fid: int, per_year: float, score_points: float = 10.0, warranted: bool = False) -> Priority:
    """A scored candidate with `per_year` observed injury-or-fatal crashes a year."""
    return Priority(
        fid=fid,
        name=f"路口{fid}",
        lon=120.50 + 0.01 * (fid - 1),
        lat=42.85,
        major_class="G",
        minor_class="C",
        score=score_points,
        factors={"crashes": score_points},
        explanations={"crashes": f"示例 → +{score_points:g}"},
        warranted=warranted,
        warrant_80pct=warranted,
        crash_ids=(),
        fatal=0,
        injury=round(per_year * 3),
        property_damage=0,
        preventable=0,
        observed_per_year=per_year,
    )


def test_options_skip_what_is_there_and_count_belts_per_minor_approach():
    layer = _layer(
        [
            {"legs": 4},  # crossroads: 3 measures apply, belts on 2 approaches
            {"legs": 3, "flashing_light": True, "control": "yield", "slope_fix_needed": True},
            {"legs": 5, "speed_belts": True, "sight_obstructed": True, "control": "flashing"},
            {"legs": None},
        ]
    )
    codes = [{o.measures for o in options_for(layer.loc[f])} for f in (1, 2, 3)]
    assert max(codes[0], key=len) == ("flashing_light", "speed_belts", "signs_markings")
    assert len(codes[0]) == 7  # every non-empty combination of three
    assert max(codes[1], key=len) == ("speed_belts", "slope_fix")  # has a light and 让行 signs; slope needs a fix
    assert max(codes[2], key=len) == ("signs_markings", "sight_clearing")  # flashing control counts as a light
    full = max(options_for(layer.loc[1]), key=lambda o: len(o.measures))
    assert full.quantities == (1, 2, 1) and full.cost_yuan == 20_000 + 2 * 4_000 + 6_000
    assert full.cmf == pytest.approx(0.85 * 0.90 * 0.90)
    assert [minor_approaches(n) for n in (3, 4, 5, None)] == [1, 2, 3, 1]
    only = BudgetRules(measures=("speed_belts",))
    assert [o.measures for o in options_for(layer.loc[1], only)] == [("speed_belts",)]


def test_a_worked_plan_by_hand():
    layer = _layer([{"legs": 3}, {"legs": 3}, {"legs": 3}])
    # Belts only (4,000 yuan, CMF 0.9) and the light only (20,000 yuan, CMF 0.85).
    rules = BudgetRules(measures=("flashing_light", "speed_belts"))
    priorities = [_priority(1, 2.0, 30), _priority(2, 1.0, 20), _priority(3, 0.0, 50)]
    result = plan(layer, priorities, 28_000, rules)
    # Options: belts 0.1·N, light 0.15·N, both (24,000) 0.235·N. Best within 28,000:
    # both at 1 (0.47) + belts at 2 (0.1) = 0.57 for 28,000, beating light at 1 + belts at 2 (0.40).
    assert [(i.fid, i.measures) for i in result.items] == [
        (2, ("speed_belts",)),
        (1, ("flashing_light", "speed_belts")),
    ]
    assert [i.rank for i in result.items] == [1, 2]  # 0.25 per 10,000 yuan before 0.196
    assert result.total_cost_yuan == 28_000 and result.remaining_yuan == 0
    assert result.total_crashes_avoided_per_year == pytest.approx(2.0 * (1 - 0.85 * 0.9) + 0.1)
    assert result.items[0].benefit_per_10k_yuan == pytest.approx(0.1 / 4_000 * 10_000)
    assert result.items[1].score == 30 and result.items[1].factors == {"crashes": 30}
    assert result.no_benefit == (3,)  # no crashes: nothing to avoid, whatever its score
    assert result.left_out == ()


def test_budget_zero_gives_an_empty_plan_and_lists_the_left_out():
    layer = _layer([{}, {}])
    result = plan(layer, [_priority(1, 1.0), _priority(2, 2.0)], 0)
    assert result.items == () and result.total_cost_yuan == 0 and result.total_crashes_avoided_per_year == 0
    assert [i.fid for i in result.left_out] == [2, 1]  # the same measures avoid more at fid 2
    assert all(i.measures == ("speed_belts",) for i in result.left_out)  # the most crashes per yuan


def test_a_budget_covering_everything_buys_the_best_option_everywhere():
    layer = _layer([{"legs": 4, "slope_fix_needed": True, "sight_obstructed": True}, {"speed_belts": True}, {}])
    priorities = [_priority(1, 1.0), _priority(2, 0.5), _priority(3, 3.0)]
    result = plan(layer, priorities, 10_000_000)
    assert {i.fid for i in result.items} == {1, 2, 3} and result.left_out == ()
    for item in result.items:
        best = max(options_for(layer.loc[item.fid]), key=lambda o: 1 - o.cmf)
        assert item.measures == best.measures
    assert len(result.items[[i.fid for i in result.items].index(1)].measures) == 5


def test_a_cost_exactly_equal_to_the_budget_is_allowed():
    layer = _layer([{}])
    full = 20_000 + 4_000 + 6_000
    assert plan(layer, [_priority(1, 1.0)], full).items[0].measures == (
        "flashing_light",
        "speed_belts",
        "signs_markings",
    )
    assert plan(layer, [_priority(1, 1.0)], full - 1).items[0].cost_yuan < full


def test_costs_off_the_unit_round_up_so_the_plan_never_overspends():
    odd = tuple(dataclasses.replace(t, unit_cost_yuan=t.unit_cost_yuan + 50) for t in DEFAULT_TREATMENTS)
    rules = BudgetRules(treatments=odd, measures=("speed_belts",))
    layer = _layer([{}])
    assert plan(layer, [_priority(1, 1.0)], 4_050, rules).items == ()  # 4,050 needs 41 units of 100; 40.5 fit
    result = plan(layer, [_priority(1, 1.0)], 4_100, rules)
    assert result.items[0].cost_yuan == 4_050 and any("向上取整" in n for n in result.notes)


def test_an_eb_column_replaces_the_observed_average_where_given():
    layer = _layer([{}, {}])
    layer["eb_per_year"] = pd.array([0.5, None], dtype="Float64")
    rules = BudgetRules(expected_column="eb_per_year", measures=("speed_belts",))
    result = plan(layer, [_priority(1, 4.0), _priority(2, 1.0)], 1_000_000, rules)
    by_fid = {i.fid: i for i in result.items}
    assert (by_fid[1].expected_per_year, by_fid[1].expected_source) == (0.5, "eb")
    assert (by_fid[2].expected_per_year, by_fid[2].expected_source) == (1.0, "observed")
    assert by_fid[1].crashes_avoided_per_year == pytest.approx(0.05)


def test_ties_are_settled_by_score_then_fid():
    layer = _layer([{}, {}, {}])
    priorities = [_priority(3, 1.0, 10), _priority(1, 1.0, 10), _priority(2, 1.0, 40)]
    result = plan(layer, priorities, 1_000_000, BudgetRules(measures=("speed_belts",)))
    assert [i.fid for i in result.items] == [2, 1, 3]
    assert plan(layer, list(reversed(priorities)), 1_000_000, BudgetRules(measures=("speed_belts",))) == result


def test_invalid_parameters_are_refused_with_a_clear_message():
    layer = _layer([{}])
    with pytest.raises(ValueError, match="budget must be ≥ 0 yuan, got -1"):
        plan(layer, [_priority(1, 1.0)], -1)
    with pytest.raises(ValueError, match="finite"):
        plan(layer, [_priority(1, 1.0)], float("nan"))
    with pytest.raises(ValueError, match=r"unknown measure\(s\) \['laser'\]; known: \['flashing_light'"):
        BudgetRules(measures=("speed_belts", "laser"))
    with pytest.raises(ValueError, match="unknown measure 'laser'"):
        BudgetRules().treatment("laser")
    with pytest.raises(ValueError, match="CMF must be"):
        Treatment("x", "x", "intersection", 1.0, "", 0.0, "")
    with pytest.raises(ValueError, match="unit cost"):
        Treatment("x", "x", "intersection", -5.0, "", 0.9, "")
    with pytest.raises(ValueError, match="per must be one of"):
        Treatment("x", "x", "approach", 5.0, "", 0.9, "")
    with pytest.raises(ValueError, match="cost_unit_yuan"):
        BudgetRules(cost_unit_yuan=0)
    with pytest.raises(ValueError, match="not in the intersection layer"):
        plan(layer, [_priority(9, 1.0)], 1000)
    with pytest.raises(ValueError, match="expected_column 'eb' is not a column"):
        plan(layer, [_priority(1, 1.0)], 1000, BudgetRules(expected_column="eb"))
    with pytest.raises(ValueError, match="raise cost_unit_yuan"):
        plan(layer, [_priority(1, 1.0)], 1_000_000, BudgetRules(max_table_cells=100))


def test_every_unit_cost_and_cmf_has_a_source_and_unsure_ones_say_so():
    for t in DEFAULT_TREATMENTS:
        assert t.cost_source.startswith("[K]") and "replace" in t.cost_source
        assert t.cmf_source.startswith("[K]") and "replace with local evidence" in t.cmf_source
        assert 0 < t.cmf < 1


# ---------------------------------------------------------------------------------------------------------------
# Export


@pytest.fixture
def small_plan():
    layer = _layer([{"legs": 4}, {}, {"speed_belts": True}])
    priorities = [_priority(1, 2.0, 30, warranted=True), _priority(2, 1.0, 20), _priority(3, 0.5, 10)]
    return plan(layer, priorities, 40_000), priorities


def test_the_workbook_holds_the_plan_rows_totals_parameters_and_candidates(small_plan):
    result, priorities = small_plan
    assert len(result.items) >= 2 and result.left_out  # some in, some out
    book = openpyxl.load_workbook(io.BytesIO(plan_workbook(result, priorities)))
    assert book.sheetnames == ["投资计划", "预算外候选", "全部候选路口", "参数与来源"]
    sheet = book["投资计划"]
    rows = list(sheet.iter_rows(values_only=True))
    header = rows[0]
    assert header[0] == "排名" and PLAN_COLUMNS["cost_yuan"] in header and sheet.freeze_panes == "B2"
    col = {name: header.index(name) for name in header}
    body = rows[1 : 1 + len(result.items)]
    assert [r[col["路口编号"]] for r in body] == [i.fid for i in result.items]
    assert [r[col["措施"]] for r in body] == [i.measures_zh for i in result.items]
    totals = rows[1 + len(result.items)]
    assert totals[0] == "合计" and totals[col["费用(元)"]] == result.total_cost_yuan == sum(
        r[col["费用(元)"]] for r in body
    )
    assert totals[col["预期减少伤亡事故(起/年)"]] == pytest.approx(result.total_crashes_avoided_per_year, abs=1e-4)
    assert rows[2 + len(result.items)][0] == "预算(元)" and rows[2 + len(result.items)][col["费用(元)"]] == 40_000
    assert sheet.column_dimensions["D"].width >= 20  # the measures column fits its Chinese text
    left = list(book["预算外候选"].iter_rows(values_only=True))
    assert [r[1] for r in left[1:]] == [i.fid for i in result.left_out]
    candidates = list(book["全部候选路口"].iter_rows(values_only=True))
    assert "3年事故(分)" in candidates[0] and len(candidates) == 1 + len(priorities)
    parameters = list(book["参数与来源"].iter_rows(values_only=True))
    assert parameters[0] == ("类别", "参数", "说明", "取值", "来源")
    cmf_rows = [r for r in parameters if r[0] == "事故修正系数CMF"]
    assert len(cmf_rows) == len(DEFAULT_TREATMENTS) and all(r[4] for r in cmf_rows)
    assert any(r[1] == "fatal_points" and r[4].startswith("[K]") for r in parameters)


def test_the_geojson_has_one_lonlat_feature_per_planned_intersection(small_plan):
    result, _ = small_plan
    collection = json.loads(plan_geojson(result))
    assert collection["type"] == "FeatureCollection"
    assert [f["properties"]["fid"] for f in collection["features"]] == [i.fid for i in result.items]
    for feature, item in zip(collection["features"], result.items, strict=True):
        lon, lat = feature["geometry"]["coordinates"]
        assert feature["geometry"]["type"] == "Point" and (lon, lat) == pytest.approx((item.lon, item.lat))
        assert 73 < lon < 136 and 3 < lat < 54  # lon/lat order, inside China
        props = feature["properties"]
        assert props["measures"] == list(item.measures) and props["measures_zh"] == list(item.measure_labels)
        assert props["cost_yuan"] == item.cost_yuan and props["rank"] == item.rank
        assert all(key.isascii() for key in props)
    assert collection["plan"]["total_cost_yuan"] == result.total_cost_yuan


# ---------------------------------------------------------------------------------------------------------------
# The demo town end to end


def test_the_demo_town_plan_spends_within_budget_and_beats_a_greedy_plan():
    store = demo_store()
    intersections = store.read(LAYERS["intersections"])
    accidents = store.read(LAYERS["accidents"])
    priorities = score(intersections, accidents, AS_OF)
    assert priorities, "the demo town has 千灯万带 candidates"
    budget = 150_000
    result = plan(intersections, priorities, budget)
    assert 0 < result.total_cost_yuan <= budget
    assert {i.fid for i in result.items} <= {p.fid for p in priorities}
    # Greedy by crashes avoided per yuan (each junction's most cost-effective option) cannot beat the exact plan.
    spent = avoided = 0.0
    for item in sorted(result.items + result.left_out, key=lambda i: -i.crashes_avoided_per_year / i.cost_yuan):
        if spent + item.cost_yuan <= budget:
            spent += item.cost_yuan
            avoided += item.crashes_avoided_per_year
    assert result.total_crashes_avoided_per_year >= avoided - 1e-9
    collection = json.loads(plan_geojson(result))
    assert len(collection["features"]) == len(result.items)
