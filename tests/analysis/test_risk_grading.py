"""Four-colour risk grading: LEC and LS at every band boundary under both conventions, the classic Graham–Kinney
reading, rejected factor scores, the choice of method, villages through the STRtree, and the demo town's survey."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from backends import demo_store
from shapely.geometry import Point, box

import layers
from analysis.risk_grading import (
    COLOURS,
    LEC_FOUR_COLOUR,
    LS_COAL_MINE,
    LS_COMMON,
    LS_TEMPLATE_VARIANT,
    BandTable,
    GradingRules,
    InvalidScore,
    disagreements,
    grade,
    village_of,
    village_summary,
)
from layers.vocab import RiskLevel

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo_town.gpkg"

# The standard scores cannot make D = 160 or 320 (no product of §4.2's L, E, C equals them), so the boundary tests
# use a county table that adds E = 4 and 8; D = 70 is reachable with the standard scores (1×10×7).
WIDE_E = (10, 8, 6, 4, 3, 2, 1, 0.5)
GE = GradingRules(lec_e_scores=WIDE_E)
GT = GE.with_lec_convention("gt")


def _frame(rows: list[dict]) -> pd.DataFrame:
    """Risk-source rows as the store reads them: nullable Float64 LEC and Int64 LS columns, fid index."""
    cols = {"lec_l": None, "lec_e": None, "lec_c": None, "ls_l": None, "ls_s": None, "level": None}
    frame = pd.DataFrame([cols | r for r in rows], index=pd.Index(range(1, len(rows) + 1), name="fid"))
    for c in ("lec_l", "lec_e", "lec_c"):
        frame[c] = frame[c].astype("Float64")
    for c in ("ls_l", "ls_s"):
        frame[c] = frame[c].astype("Int64")
    return frame


def _lec(l: float, e: float, c: float, level: str | None = None) -> dict:  # noqa: E741 - L is the method's letter
    return {"lec_l": l, "lec_e": e, "lec_c": c, "level": level}


# -- LEC ---------------------------------------------------------------------------------------------------------

LEC_BOUNDARIES = [
    # L, E, C, D, level with "ge" (lower bound inclusive), level with "gt" (exclusive)
    (1, 10, 7, 70, "yellow", "blue"),  # D = 70: the yellow/blue cut
    (0.5, 10, 15, 75, "yellow", "yellow"),  # just above 70 under both readings
    (3, 3, 7, 63, "blue", "blue"),  # just below 70 under both readings
    (1, 4, 40, 160, "orange", "yellow"),  # D = 160: the orange/yellow cut
    (3, 6, 7, 126, "yellow", "yellow"),  # inside yellow
    (3, 10, 7, 210, "orange", "orange"),  # inside orange
    (1, 8, 40, 320, "red", "orange"),  # D = 320: the red/orange cut
    (3, 6, 15, 270, "orange", "orange"),  # below 320 under both
    (10, 1, 40, 400, "red", "red"),  # above 320 under both
    (0.2, 10, 40, 80, "yellow", "yellow"),  # 0.2×10×40 as floats must land on 80, not beside it
]


@pytest.mark.parametrize(("l", "e", "c", "d", "ge_level", "gt_level"), LEC_BOUNDARIES)
def test_lec_bands_at_each_cut_follow_the_convention(l, e, c, d, ge_level, gt_level):  # noqa: E741
    rows = _frame([_lec(l, e, c)])
    for rules, expected, convention in ((GE, ge_level, "ge"), (GT, gt_level, "gt")):
        row = grade(rows, rules=rules).iloc[0]
        assert row["method"] == "LEC"
        assert row["score"] == d
        assert row["level"] == expected
        assert row["convention"] == convention  # the convention is visible on every graded row
        assert row["level_label"] == RiskLevel(expected).label
        assert row["colour"] == COLOURS[expected]


def test_lec_band_text_shows_which_side_of_the_cut_is_inclusive():
    rows = _frame([_lec(1, 10, 7), _lec(3, 6, 15), _lec(1, 3, 7)])
    assert grade(rows, rules=GE)["band"].tolist() == ["70 ≤ D < 160", "160 ≤ D < 320", "D < 70"]
    assert grade(rows, rules=GT)["band"].tolist() == ["D ≤ 70", "160 < D ≤ 320", "D ≤ 70"]


def test_lec_rule_is_spelled_out_in_chinese():
    rows = _frame([_lec(6, 6, 15), _lec(1, 6, 15), _lec(1, 3, 7), _lec(1, 10, 7)])
    assert grade(rows)["rule"].tolist() == [
        "D = 6×6×15 = 540 ≥ 320 → 重大风险（红）",
        "D = 1×6×15 = 90，70 ≤ 90 < 160 → 一般风险（黄）",
        "D = 1×3×7 = 21 < 70 → 低风险（蓝）",
        "D = 1×10×7 = 70，70 ≤ 70 < 160 → 一般风险（黄）",
    ]
    gt = grade(rows, rules=GradingRules().with_lec_convention("gt"))["rule"].tolist()
    assert gt[0] == "D = 6×6×15 = 540 > 320 → 重大风险（红）"
    assert gt[3] == "D = 1×10×7 = 70 ≤ 70 → 低风险（蓝）"


@pytest.mark.parametrize(
    ("l", "e", "c", "ge_class", "gt_class"),
    [
        (0.5, 1, 40, "一般危险，需要注意", "稍有危险，可以接受"),  # D = 20
        (1, 10, 7, "显著危险，需要整改", "一般危险，需要注意"),  # D = 70
        (1, 4, 40, "高度危险，要立即整改", "显著危险，需要整改"),  # D = 160
        (1, 8, 40, "极其危险，不能继续作业", "高度危险，要立即整改"),  # D = 320
        (0.1, 0.5, 1, "稍有危险，可以接受", "稍有危险，可以接受"),  # D = 0.05
    ],
)
def test_classic_graham_kinney_reading_at_its_cuts(l, e, c, ge_class, gt_class):  # noqa: E741
    rows = _frame([_lec(l, e, c)])
    assert grade(rows, rules=GE).iloc[0]["lec_class"] == ge_class
    assert grade(rows, rules=GT).iloc[0]["lec_class"] == gt_class


# -- LS ----------------------------------------------------------------------------------------------------------

LS_BOUNDARIES = [
    # L, S, R, level in the common table
    (2, 4, 8, "blue"),
    (3, 3, 9, "yellow"),
    (3, 4, 12, "yellow"),
    (3, 5, 15, "orange"),
    (4, 4, 16, "orange"),
    (4, 5, 20, "red"),
    (5, 5, 25, "red"),
    (1, 1, 1, "blue"),
]


@pytest.mark.parametrize(("l", "s", "r", "level"), LS_BOUNDARIES)
def test_ls_common_bands_on_both_sides_of_each_cut(l, s, r, level):  # noqa: E741
    row = grade(_frame([{"ls_l": l, "ls_s": s}])).iloc[0]
    assert (row["method"], row["score"], row["level"], row["convention"]) == ("LS", r, level, "ge")
    assert row["rule"].startswith(f"R = {l}×{s} = {r}")
    assert row["rule"].endswith(
        f"→ {RiskLevel(level).label}（{'红橙黄蓝'[['red', 'orange', 'yellow', 'blue'].index(level)]}）"
    )
    assert pd.isna(row["lec_class"])


def test_ls_common_bands_cover_every_product_and_match_the_source_ranges():
    products = sorted({a * b for a in range(1, 6) for b in range(1, 6)})
    levels = LS_COMMON.levels
    got = {r: levels[b] for r, b in zip(products, LS_COMMON.classify(np.array(products, float)), strict=True)}
    # domain.md §4.3: 20–25 重大, 15–16 较大, 9–12 一般, 1–8 低.
    expected = {
        r: "red" if r >= 20 else "orange" if 15 <= r <= 16 else "yellow" if 9 <= r <= 12 else "blue" for r in products
    }
    assert got == expected


def test_ls_same_bands_written_with_exclusive_bounds_grade_alike():
    exclusive = BandTable(cuts=(19, 14, 8), names=LS_COMMON.names, levels=LS_COMMON.levels, convention="gt", symbol="R")
    rows = _frame([{"ls_l": a, "ls_s": b} for a in range(1, 6) for b in range(1, 6)])
    common = grade(rows)
    other = grade(rows, rules=GradingRules(ls=exclusive))
    assert other["level"].tolist() == common["level"].tolist()
    assert set(other["convention"]) == {"gt"}
    assert "14 < R ≤ 19" in set(other["band"])


@pytest.mark.parametrize(
    ("table", "r_to_level"),
    [
        # zgmkw template: 20–25 重大, 9–16 较大, 4–8 一般, 1–3 轻微 (drawn blue)
        (LS_TEMPLATE_VARIANT, {3: "blue", 4: "yellow", 8: "yellow", 9: "orange", 16: "orange", 20: "red"}),
        # coal-mine: 20–25, 15–19, 10–14, 1–9
        (LS_COAL_MINE, {9: "blue", 10: "yellow", 12: "yellow", 15: "orange", 16: "orange", 20: "red"}),
    ],
)
def test_ls_variant_presets(table, r_to_level):
    pairs = {1: (1, 1), 3: (1, 3), 4: (2, 2), 8: (2, 4), 9: (3, 3), 10: (2, 5), 12: (3, 4), 15: (3, 5), 16: (4, 4)}
    pairs[20] = (4, 5)
    rows = _frame([{"ls_l": pairs[r][0], "ls_s": pairs[r][1]} for r in r_to_level])
    graded = grade(rows, rules=GradingRules(ls=table))
    assert graded["level"].tolist() == list(r_to_level.values())
    if table is LS_TEMPLATE_VARIANT:
        assert graded["level_label"].iloc[0] == "轻微风险"
        assert graded["rule"].iloc[0] == "R = 1×3 = 3 < 4 → 轻微风险（蓝）"


# -- validation and method choice ---------------------------------------------------------------------------------


def test_invalid_factor_scores_are_rejected_naming_row_factor_value_and_allowed_scores():
    rows = _frame([_lec(3, 6, 15), _lec(2, 6, 15), {"ls_l": 3, "ls_s": 6}, _lec(1, 6, 20)])
    with pytest.raises(InvalidScore) as info:
        grade(rows)
    message = str(info.value)
    assert message.startswith("3 invalid factor score(s)")
    assert "2: LEC L = 2 is not one of 10, 6, 3, 1, 0.5, 0.2, 0.1" in message
    assert "4: LEC C = 20 is not one of 100, 40, 15, 7, 3, 1" in message
    assert "3: LS S = 6 is not one of 1, 2, 3, 4, 5" in message
    assert isinstance(info.value, ValueError)


def test_invalid_lec_exposure_is_rejected_even_when_ls_could_grade_the_row():
    with pytest.raises(InvalidScore, match="LEC E = 4 is not one of"):
        grade(_frame([_lec(1, 4, 40) | {"ls_l": 3, "ls_s": 3}]))


def test_method_is_lec_when_complete_else_ls_else_none():
    rows = _frame(
        [
            _lec(3, 6, 40) | {"ls_l": 1, "ls_s": 1, "level": "red"},  # LEC wins over LS
            {"lec_l": 3, "lec_e": 6, "ls_l": 3, "ls_s": 5, "level": "orange"},  # C missing: LS
            {"lec_l": 3, "ls_l": 3, "level": "yellow"},  # neither complete
        ]
    )
    graded = grade(rows)
    assert graded["method"].tolist() == ["LEC", "LS", "none"]
    assert graded["score"].iloc[:2].tolist() == [720, 15]
    assert np.isnan(graded["score"].iloc[2])
    assert graded["level"].iloc[:2].tolist() == ["red", "orange"]
    assert (
        pd.isna(graded["level"].iloc[2]) and pd.isna(graded["colour"].iloc[2]) and pd.isna(graded["convention"].iloc[2])
    )
    assert graded["rule"].iloc[2] == "LEC（L、E、C）与LS（L、S）因子均不全，未评级"
    assert graded["agrees"].tolist() == [True, True, pd.NA]
    assert disagreements(graded) == 0


def test_disagreement_with_the_surveyed_level_is_flagged_and_counted():
    rows = _frame([_lec(3, 6, 15, "orange"), _lec(3, 6, 15, "yellow"), _lec(1, 3, 7, "green"), _lec(1, 3, 7, None)])
    graded = grade(rows)
    assert graded["agrees"].tolist() == [True, False, False, pd.NA]
    assert graded["surveyed_level"].iloc[:3].tolist() == ["orange", "yellow", "green"]
    assert pd.isna(graded["surveyed_level"].iloc[3])
    assert disagreements(graded) == 2


def test_factor_columns_may_be_absent():
    graded = grade(pd.DataFrame({"ls_l": [4], "ls_s": [5], "level": ["red"]}))
    assert graded[["method", "level", "agrees"]].iloc[0].tolist() == ["LS", "red", True]


def test_band_tables_reject_bad_definitions():
    with pytest.raises(ValueError, match="convention must be 'ge'"):
        LEC_FOUR_COLOUR.with_convention("geq")
    with pytest.raises(ValueError, match="strictly descending"):
        BandTable(cuts=(70, 160), names=("a", "b", "c"), levels=("red", "orange", "blue"))
    with pytest.raises(ValueError, match="3 names and levels"):
        BandTable(cuts=(70, 20), names=("a", "b"), levels=("red", "blue"))
    with pytest.raises(ValueError, match="unknown level codes"):
        BandTable(cuts=(70,), names=("a", "b"), levels=("red", "green"))


# -- villages ----------------------------------------------------------------------------------------------------


def _villages(crs="EPSG:4326") -> gpd.GeoDataFrame:
    """Two unit squares side by side sharing the edge x = 1, and a third far away with nothing in it."""
    return gpd.GeoDataFrame(
        {"name": ["东村", "西村", "空村"]},
        geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1), box(10, 10, 11, 11)],
        index=pd.Index([7, 8, 9], name="fid"),
        crs=crs,
    )


def test_sources_are_placed_in_villages_and_counted_per_colour():
    rows = _frame(
        [
            _lec(3, 6, 40),  # red, inside 东村
            _lec(3, 6, 15),  # orange, inside 西村
            _lec(1, 6, 15),  # yellow, on the shared edge: the first village in frame order (东村)
            _lec(1, 3, 7),  # blue, outside every village
            {"ls_l": 2},  # ungraded, inside 西村
            _lec(1, 6, 15),  # yellow polygon straddling into 西村 but mostly inside it
        ]
    )
    geoms = [Point(0.5, 0.5), Point(1.5, 0.5), Point(1, 0.5), Point(5, 5), Point(1.2, 0.2), box(1.1, 0.1, 1.9, 0.9)]
    sources = gpd.GeoDataFrame(rows, geometry=geoms, crs="EPSG:4326")
    villages = _villages()
    graded = grade(sources, villages)
    assert graded["village_id"].tolist() == [7, 8, 7, pd.NA, 8, 8]
    assert graded["village_name"].fillna("-").tolist() == ["东村", "西村", "东村", "-", "西村", "西村"]
    summary = village_summary(graded, villages)
    assert summary.index.tolist() == [7, 8, 9]
    assert summary.columns.tolist() == ["name", "red", "orange", "yellow", "blue", "ungraded", "total"]
    assert summary.loc[7, ["red", "orange", "yellow", "blue", "ungraded", "total"]].tolist() == [1, 0, 1, 0, 0, 2]
    assert summary.loc[8, ["red", "orange", "yellow", "blue", "ungraded", "total"]].tolist() == [0, 1, 1, 0, 1, 3]
    assert summary.loc[9, "total"] == 0


def test_village_ids_keep_a_text_index_and_empty_geometry_finds_no_village():
    villages = _villages().set_index(pd.Index(["150525107201", "150525107202", "150525107203"], name="code"))
    rows = _frame([_lec(1, 3, 7), _lec(1, 3, 7), _lec(1, 3, 7)])
    sources = gpd.GeoDataFrame(rows, geometry=[Point(1.5, 0.5), None, Point(20, 20)], crs=4326)
    graded = grade(sources, villages)
    assert graded["village_id"].tolist() == ["150525107202", None, None]
    assert village_summary(graded, villages)["blue"].tolist() == [0, 1, 0]


def test_non_numeric_factor_columns_are_rejected():
    with pytest.raises(InvalidScore, match="column lec_c must hold numbers"):
        grade(pd.DataFrame({"lec_l": [1], "lec_e": [3], "lec_c": ["seven"]}))


def test_villages_in_another_crs_are_converted_before_matching():
    metric = _villages().to_crs("EPSG:4549")
    sources = gpd.GeoSeries([Point(0.5, 0.5), Point(1.5, 0.5), Point(5, 5)], crs="EPSG:4326")
    assert village_of(sources, metric).tolist() == [0, 1, -1]
    with pytest.raises(ValueError, match="need a CRS"):
        village_of(sources.set_crs(None, allow_override=True), metric)


def test_village_of_matches_a_brute_force_scan():
    rng = np.random.default_rng(7)
    cells = [box(x, y, x + 1, y + 1) for x in range(12) for y in range(9)]
    villages = gpd.GeoDataFrame({"name": [f"v{i}" for i in range(len(cells))]}, geometry=cells, crs=4326)
    xy = rng.uniform(-1, 13, size=(600, 2))
    xy[:50] = np.round(xy[:50])  # corners and edges shared by up to four villages
    points = gpd.GeoSeries(shapely.points(xy), crs=4326)
    expected = [next((j for j, cell in enumerate(cells) if cell.intersects(p)), -1) for p in points]
    assert village_of(points, villages).tolist() == expected


def test_grading_by_village_needs_geometry():
    with pytest.raises(TypeError, match="GeoDataFrame"):
        grade(_frame([_lec(1, 3, 7)]), _villages())
    with pytest.raises(ValueError, match="village_id"):
        village_summary(grade(_frame([_lec(1, 3, 7)])), _villages())


# -- the demo town -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    if not DEMO.exists():
        pytest.fail(f"the demo town ships with the project at {DEMO}")
    gpkg = demo_store()
    return gpkg.read(layers.LAYERS["risk_sources"]), gpkg.read(layers.LAYERS["villages"])


def test_demo_town_graded_by_lec_agrees_with_its_survey(demo):
    sources, villages = demo
    graded = grade(sources, villages)
    assert len(graded) == len(sources) == 31
    assert set(graded["method"]) == {"LEC"}
    # Each row's D recomputed from its own factors, banded by hand at ≥ 320 / 160 / 70.
    d = (sources["lec_l"] * sources["lec_e"] * sources["lec_c"]).astype(float).to_numpy()
    by_hand = np.select([d >= 320, d >= 160, d >= 70], ["red", "orange", "yellow"], "blue")
    assert graded["level"].tolist() == by_hand.tolist()
    mismatches = int((by_hand != sources["level"].to_numpy()).sum())
    assert disagreements(graded) == mismatches == 0
    summary = village_summary(graded, villages)
    assert summary["total"].sum() == graded["village_id"].notna().sum()
    assert (
        summary[["red", "orange", "yellow", "blue"]].sum().to_dict()
        == sources["level"].value_counts().reindex(["red", "orange", "yellow", "blue"], fill_value=0).to_dict()
    )


def test_demo_town_graded_by_ls_under_the_template_variant_disagrees_where_the_bands_differ(demo):
    sources, _ = demo
    by_ls = sources.drop(columns=["lec_l", "lec_e", "lec_c"])
    assert disagreements(grade(by_ls)) == 0  # the common LS bands give the surveyed colours
    graded = grade(by_ls, rules=GradingRules(ls=LS_TEMPLATE_VARIANT))
    r = (sources["ls_l"] * sources["ls_s"]).astype(int).to_numpy()
    variant = np.select([r >= 20, r >= 9, r >= 4], ["red", "orange", "yellow"], "blue")
    expected = int((variant != sources["level"].to_numpy()).sum())
    assert expected > 0
    assert disagreements(graded) == expected
    assert graded.loc[~graded["agrees"].astype(bool), "surveyed_level"].isin(["yellow", "blue"]).all()
