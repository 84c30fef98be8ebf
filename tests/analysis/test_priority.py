"""The 千灯万带 priority score: a worked example by hand (every factor), the GB 14886 warrant at its boundaries,
the candidate rule, neutral missing volume, and crashes-within-250 m against a brute-force count."""

from __future__ import annotations

import dataclasses
from datetime import date

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from scene import AS_OF, INTERSECTION_ROW, ORIGIN, lonlat
from shapely.geometry import Point

from analysis.priority import (
    FACTOR_LABELS,
    PriorityRules,
    counted_crashes,
    is_candidate,
    parameters,
    score,
    to_frame,
    warrant,
)
from analysis.screening import counted
from geo.crs import LOCAL_METRIC, transform_geometries


def _junctions(rows: list[dict], xy: list[tuple[float, float]] | None = None, fids=None) -> gpd.GeoDataFrame:
    defaults = INTERSECTION_ROW | {
        "major_speed_kmh": None,
        "major_aadt": None,
        "minor_aadt": None,
        "skew_deg": None,
        "in_settlement": False,
        "school_m": None,
        "market_m": None,
    }
    frame = pd.DataFrame([defaults | r for r in rows])
    xy = xy or [(ORIGIN[0] + 5000 * k, ORIGIN[1]) for k in range(len(rows))]
    index = pd.Index(fids if fids is not None else range(1, len(rows) + 1), name="fid")
    return gpd.GeoDataFrame(frame.set_index(index), geometry=lonlat(xy), crs=4326)


def _crashes(specs: list[dict], fids=None) -> gpd.GeoDataFrame:
    """Crashes from dicts with metric `dx`, `dy` from ORIGIN plus any attribute to override."""
    rows, xy = [], []
    for s in specs:
        s = dict(s)
        xy.append((ORIGIN[0] + s.pop("dx", 0.0), ORIGIN[1] + s.pop("dy", 0.0)))
        severity = s.get("severity", "injury")
        rows.append(
            {
                "occurred_at": pd.Timestamp("2025-06-01 08:00"),
                "severity": severity,
                "deaths": 1 if severity == "fatal" else 0,
                "injuries": 1 if severity == "injury" else 0,
                "crash_type": "other",
                "drunk_driving": False,
                "drug_driving": False,
            }
            | s
        )
    index = pd.Index(fids if fids is not None else range(1, len(rows) + 1), name="fid")
    return gpd.GeoDataFrame(pd.DataFrame(rows, index=index), geometry=lonlat(xy), crs=4326)


def test_worked_example_g_by_c_every_factor_by_hand():
    junction = _junctions(
        [
            {
                "name": "G111与C101交叉口",
                "major_speed_kmh": 80,
                "major_aadt": 6000,
                "minor_aadt": None,  # unknown: neutral, not zero
                "skew_deg": 35.0,
                "sight_obstructed": True,
                "in_settlement": True,
                "school_m": 150.0,
                "market_m": None,
                "speed_belts": True,
            }
        ],
        xy=[ORIGIN],
        fids=[7],
    )
    crashes = _crashes(
        [
            {"severity": "fatal", "crash_type": "angle", "dx": 100},  # 11
            {"severity": "fatal", "crash_type": "rear_end", "dy": -250},  # 12: exactly 250 m counts
            {"severity": "injury", "crash_type": "angle", "dx": -30},  # 13
            {"severity": "injury", "crash_type": "pedestrian", "dy": -60},  # 14
            {"severity": "injury", "crash_type": "rear_end", "dx": 120, "dy": 50},  # 15
            {"severity": "injury", "crash_type": "sideswipe", "dx": -200},  # 16
            {"severity": "injury", "crash_type": "angle", "dx": -251},  # 17: 251 m does not
            {"severity": "fatal", "crash_type": "angle", "dx": 20, "drunk_driving": True},  # 18: drink driving ignored
            {"severity": "fatal", "crash_type": "angle", "dx": 10, "occurred_at": pd.Timestamp("2022-12-31")},  # 19
        ],
        fids=list(range(11, 20)),
    )
    # The boundary crash really is 250 m away after the lon/lat round trip, and the outside one 251 m.
    metric = transform_geometries(crashes.geometry.to_numpy(), "EPSG:4326", LOCAL_METRIC)
    assert shapely.distance(Point(ORIGIN), metric[1]) == pytest.approx(250.0, abs=1e-6)
    assert shapely.distance(Point(ORIGIN), metric[6]) == pytest.approx(251.0, abs=1e-6)

    [p] = score(junction, crashes, AS_OF)
    assert p.factors == {
        "major_road": 12 + 8,  # 国道 12, limit 80 km/h reaches the 80 band: 8
        "volume": 7 + 3,  # major 6,000 veh/d reaches the 5,000 band: 7; minor unknown: neutral 3
        "crashes": 2 * 10 + 4 * 4,  # two fatal, four injury
        "warrant": 0,  # 3 preventable (< 12) and 2 fatal (< 3): not even 80 %
        "skew": 4,  # 35° reaches the 30° band
        "sight": 8,
        "settlement": 6,
        "school_market": 5,  # school 150 m ≤ 300 m; no market
        "existing": -3,  # speed belts already there
    }
    assert p.score == 20 + 10 + 36 + 0 + 4 + 8 + 6 + 5 - 3 == 86
    assert p.crash_ids == (11, 12, 13, 14, 15, 16)
    assert (p.fatal, p.injury, p.property_damage, p.preventable) == (2, 4, 0, 3)
    assert p.observed_per_year == pytest.approx(6 / 3)
    assert not p.warranted and not p.warrant_80pct
    assert p.explanations["major_road"] == "主路为国道、限速80 → +20"
    assert "次路交通量未知，按中性值计+3" in p.explanations["volume"]
    assert "死亡2起、伤人4起、财损0起" in p.explanations["crashes"]
    assert p.explanations["existing"] == "已有减速带-3 → -3"
    assert set(p.explanations) == set(FACTOR_LABELS) and p.summary_zh.count("；") == len(FACTOR_LABELS) - 1
    assert (p.lon, p.lat) == pytest.approx(tuple(junction.geometry.iloc[0].coords[0]))


def _warrant_scene(n: int, severity: str = "property", crash_type: str = "angle"):
    junction = _junctions([{}], xy=[ORIGIN])
    crashes = _crashes([{"severity": severity, "crash_type": crash_type, "dx": 5 * k} for k in range(n)])
    return junction, crashes


@pytest.mark.parametrize(
    ("preventable", "fatal", "met", "partial"),
    [
        (15, 0, True, True),  # 5 a year over 3 years: §5.1.3 met
        (14, 0, False, True),  # 4.67 a year: not met, but above 80 % (4 a year)
        (12, 0, False, True),  # exactly 80 %: the §5.1.4.1 level
        (11, 0, False, False),  # below 80 %
        (0, 3, True, True),  # one fatal crash a year on average
        (0, 2, False, False),  # 2/3 a year: below the line and below 80 % of it (0.8 a year)
        (14, 2, False, True),
    ],
)
def test_gb14886_accident_warrant_boundaries(preventable, fatal, met, partial):
    w = warrant(preventable, fatal)
    assert (w.met, w.partial) == (met, partial)
    assert (w.preventable_needed, w.fatal_needed) == (15, 3)


@pytest.mark.parametrize(
    ("n", "met", "partial"), [(15, True, True), (14, False, True), (12, False, True), (11, False, False)]
)
def test_warrant_through_the_score_counts_preventable_crashes(n, met, partial):
    [p] = score(*_warrant_scene(n), AS_OF)
    assert (p.warranted, p.warrant_80pct, p.preventable) == (met, partial, n)
    assert p.factors["warrant"] == (15 if met else 6 if partial else 0)
    # The preventable kinds are configurable: counting only rear-end crashes, these angle crashes do not count.
    [q] = score(*_warrant_scene(n), AS_OF, PriorityRules(preventable_types=("rear_end",)))
    assert (q.warranted, q.warrant_80pct, q.preventable) == (False, False, 0)


@pytest.mark.parametrize(("n", "met"), [(3, True), (2, False)])
def test_warrant_fatal_crashes_of_any_kind(n, met):
    [p] = score(*_warrant_scene(n, severity="fatal", crash_type="head_on"), AS_OF)
    assert p.warranted is met and p.preventable == 0 and p.fatal == n
    assert ("满足GB 14886-2016 §5.1.3" in p.explanations["warrant"]) is met


def test_candidates_are_major_g_s_x_by_minor_x_y_c_without_signal():
    frame = _junctions(
        [
            {"major_class": "G", "minor_class": "C"},  # candidate
            {"major_class": "S", "minor_class": "Y"},  # candidate
            {"major_class": "X", "minor_class": "Y"},  # candidate: the "(or X)" of §1.3
            {"major_class": "G", "minor_class": "C", "signal": True, "control": "signal"},  # signalised
            {"major_class": "G", "minor_class": "C", "signal": True},  # flag says signal, control not updated
            {"major_class": "G", "minor_class": "C", "control": "signal"},  # control says signal
            {"major_class": "C", "minor_class": "C"},  # two village roads
            {"major_class": "Y", "minor_class": "C"},  # township major road: not by default
            {"major_class": "G", "minor_class": "street"},  # town street
            {
                "major_class": "G",
                "minor_class": "C",
                "control": "flashing",
                "flashing_light": True,
            },  # still a candidate
        ]
    )
    assert is_candidate(frame).tolist() == [True, True, True, False, False, False, False, False, False, True]
    wider = PriorityRules(major_classes=("G", "S", "X", "Y"))
    assert is_candidate(frame, wider).tolist()[7] is True
    assert [p.fid for p in score(frame, _crashes([]), AS_OF)] == [1, 2, 3, 10]  # 19, 17, 13, 13 (tie: fid)
    assert len(score(frame, _crashes([]), AS_OF, candidates_only=False)) == len(frame)


def test_missing_volume_is_neutral_not_zero():
    frame = _junctions(
        [
            {"major_aadt": None, "minor_aadt": None},
            {"major_aadt": 0, "minor_aadt": 0},
            {"major_aadt": 12000, "minor_aadt": 1500},
        ]
    )
    frame["major_aadt"] = frame["major_aadt"].astype("Int64")  # as stored: nullable integers with pd.NA
    frame["minor_aadt"] = frame["minor_aadt"].astype("Int64")
    by_fid = {p.fid: p for p in score(frame, _crashes([]), AS_OF)}
    assert by_fid[1].factors["volume"] == 4 + 3
    assert by_fid[2].factors["volume"] == 1 + 1
    assert by_fid[3].factors["volume"] == 10 + 5
    assert "主路交通量未知，按中性值计+4" in by_fid[1].explanations["volume"]
    assert "主路0辆/日+1" in by_fid[2].explanations["volume"]


def test_flashing_control_and_school_market_distances_are_inclusive():
    frame = _junctions(
        [
            {"control": "flashing", "school_m": 300.0, "market_m": 300.0},
            {"flashing_light": True, "speed_belts": True, "school_m": 300.5, "market_m": 0.0},
        ]
    )
    by_fid = {p.fid: p for p in score(frame, _crashes([]), AS_OF)}
    assert by_fid[1].factors["existing"] == -6 and by_fid[1].factors["school_market"] == 5 + 3
    assert by_fid[2].factors["existing"] == -6 - 3 and by_fid[2].factors["school_market"] == 3


def test_crashes_within_the_radius_match_a_brute_force_count():
    rng = np.random.default_rng(7)
    junction_xy = [(ORIGIN[0] + x, ORIGIN[1] + y) for x, y in rng.uniform(0, 3000, size=(40, 2))]
    junctions = _junctions([{} for _ in junction_xy], xy=junction_xy)
    offsets = rng.uniform(0, 3000, size=(600, 2))
    crashes = _crashes([{"dx": x, "dy": y, "severity": "injury"} for x, y in offsets])
    by_fid = {p.fid: p for p in score(junctions, crashes, AS_OF)}
    for k, (jx, jy) in enumerate(junction_xy, start=1):
        distance = np.hypot(ORIGIN[0] + offsets[:, 0] - jx, ORIGIN[1] + offsets[:, 1] - jy)
        expected = tuple(int(i) + 1 for i in np.flatnonzero(distance <= 250.0))
        assert by_fid[k].crash_ids == expected


def test_counted_crashes_agree_with_screening_and_survive_29_february():
    crashes = _crashes(
        [
            {"severity": "fatal", "occurred_at": pd.Timestamp("2023-01-01 00:00")},  # first day of the window
            {"severity": "injury", "occurred_at": pd.Timestamp("2022-12-31 23:59")},  # before it
            {"severity": "property", "occurred_at": pd.Timestamp("2025-12-31 23:00")},
            {"severity": "injury", "drug_driving": True},
            {"severity": "injury", "occurred_at": pd.Timestamp("2026-01-01 00:00")},  # as_of itself is outside
        ]
    )
    ours = counted_crashes(crashes, AS_OF)
    assert list(ours.index) == [1, 3]
    casualty = ours[ours["severity"].isin(["fatal", "injury"])]
    assert list(casualty.index) == list(counted(crashes, AS_OF).index)
    assert list(counted_crashes(crashes, date(2024, 2, 29)).index) == [1, 2]  # from 2021-02-28
    assert list(counted_crashes(crashes, AS_OF, PriorityRules(exclude_impaired=False)).index) == [1, 3, 4]


def test_ties_go_to_the_lower_fid_and_the_table_has_a_column_per_factor():
    frame = _junctions([{}, {}, {}], fids=[30, 10, 20])
    ranked = score(frame, _crashes([]), AS_OF)
    assert [p.fid for p in ranked] == [10, 20, 30]
    table = to_frame(ranked)
    assert list(table.index) == [10, 20, 30]
    assert [c for c in table.columns if c.startswith("points_")] == [f"points_{k}" for k in FACTOR_LABELS]
    assert table.loc[10, "score"] == ranked[0].score


def test_every_parameter_has_a_label_and_a_source_and_bad_rules_are_refused():
    rows = parameters(PriorityRules())
    assert len(rows) == len(dataclasses.fields(PriorityRules))
    assert all(r["label"] and r["source"] for r in rows)
    judged = [r["name"] for r in rows if r["source"].startswith("[K]")]
    assert "fatal_points" in judged and "warrant_crashes_per_year" not in judged
    with pytest.raises(ValueError, match="major_classes: unknown code"):
        PriorityRules(major_classes=("Q",))
    with pytest.raises(ValueError, match="from high to low"):
        PriorityRules(speed_points=((40.0, 2.0), (80.0, 8.0)))
    with pytest.raises(ValueError, match="radius_m"):
        PriorityRules(radius_m=0)
    with pytest.raises(ValueError, match="preventable_types"):
        PriorityRules(preventable_types=("t_bone",))


def test_empty_layers_give_no_scores_or_all_zero_crashes():
    assert score(_junctions([{}]).iloc[:0], _crashes([]), AS_OF) == []
    [p] = score(_junctions([{}]), _crashes([]), AS_OF)
    assert p.crash_ids == () and p.factors["crashes"] == 0
