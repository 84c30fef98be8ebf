"""The Empirical Bayes second opinion: the HSM formulas by hand, the local calibration factor, sites without volume
left out and reported, and the EB figures carried by the screening's findings and stored layer."""

from __future__ import annotations

import dataclasses
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from scene import AS_OF, ORIGIN, lonlat
from shapely.geometry import LineString

from analysis.safety_performance import (
    HSM_RURAL_3ST,
    HSM_RURAL_4ST,
    HSM_RURAL_TWO_LANE_SEGMENT,
    METRES_PER_MILE,
    EbRules,
    calibration_factor,
    empirical_bayes,
    rank_sites,
)
from analysis.screening import Rules, run_screening, to_frame
from geo.crs import LOCAL_METRIC, transform_geometries


def test_the_eb_formula_by_hand():
    # k = 0.5, three years predicting 3 crashes in all, 6 observed:
    # w = 1 / (1 + 0.5 * 3) = 0.4; expected = 0.4 * 3 + 0.6 * 6 = 4.8; excess = 4.8 - 3 = 1.8.
    weight, expected, excess = empirical_bayes(np.array([6.0]), np.array([3.0]), np.array([0.5]))
    assert weight[0] == pytest.approx(0.4) and expected[0] == pytest.approx(4.8) and excess[0] == pytest.approx(1.8)
    # No dispersion: the model is trusted entirely. Huge dispersion: the count is.
    assert empirical_bayes(np.array([6.0]), np.array([3.0]), np.array([0.0]))[1][0] == pytest.approx(3.0)
    assert empirical_bayes(np.array([6.0]), np.array([3.0]), np.array([1e9]))[1][0] == pytest.approx(6.0)


def test_the_hsm_spfs_by_hand():
    # One mile at 1,000 veh/day: 1000 * 1 * 365e-6 * e^-0.312 crashes a year, k = 0.236 / 1.
    assert HSM_RURAL_TWO_LANE_SEGMENT.predict(np.array([1000]), np.array([METRES_PER_MILE]))[0] == pytest.approx(
        0.365 * math.exp(-0.312)
    )
    assert HSM_RURAL_TWO_LANE_SEGMENT.overdispersion(np.array([METRES_PER_MILE / 2]))[0] == pytest.approx(0.472)
    major, minor = np.array([5000]), np.array([500])
    assert HSM_RURAL_3ST.predict(major, minor)[0] == pytest.approx(
        math.exp(-9.86 + 0.79 * math.log(5000) + 0.49 * math.log(500))
    )
    assert HSM_RURAL_4ST.predict(major, minor)[0] == pytest.approx(
        math.exp(-8.56 + 0.60 * math.log(5000) + 0.61 * math.log(500))
    )
    assert (HSM_RURAL_3ST.overdispersion, HSM_RURAL_4ST.overdispersion) == (0.54, 0.24)


def _sites(rows: list[dict]) -> pd.DataFrame:
    base = {
        "kind": "segment",
        "route_code": None,
        "tech_class": "class3",
        "aadt": np.nan,
        "length_m": np.nan,
        "legs": np.nan,
        "control": None,
        "major_aadt": np.nan,
        "minor_aadt": np.nan,
        "observed": 0,
        "fatal": 0,
    }
    return pd.DataFrame([base | {"fid": i + 1} | row for i, row in enumerate(rows)])


def test_calibration_is_observed_over_predicted_and_sites_without_volume_are_left_out():
    sites = _sites(
        [
            {"aadt": 1000, "length_m": 1000.0, "observed": 4},
            {"aadt": 3000, "length_m": 2000.0, "observed": 2},
            {"aadt": 500, "length_m": 800.0, "observed": 0},
            {"aadt": None, "length_m": 900.0, "observed": 7, "fatal": 1},  # no volume
            {"aadt": 2000, "length_m": 900.0, "observed": 1, "tech_class": "expressway"},  # no two-lane model
        ]
    )
    ranked, notes = rank_sites(sites, years=3)
    raw = 3 * HSM_RURAL_TWO_LANE_SEGMENT.predict(np.array([1000, 3000, 500]), np.array([1000.0, 2000.0, 800.0]))
    c = (4 + 2 + 0) / raw.sum()
    assert calibration_factor(np.array([4, 2, 0]), raw) == pytest.approx(c)
    eb = ranked[ranked["method"] == "eb"].sort_values("fid")
    assert eb["fid"].tolist() == [1, 2, 3]
    assert eb["predicted"].to_numpy() == pytest.approx(c * raw)
    assert eb["predicted"].sum() == pytest.approx(6)  # calibrated on these very sites
    assert any(f"C = {c:.4g}" in note for note in notes)
    left_out = ranked[ranked["method"] == "epdo"].set_index("fid")
    assert left_out.loc[4, "reason"] == "no AADT" and left_out.loc[5, "reason"] == "no SPF for tech class expressway"
    assert left_out["excess"].isna().all() and left_out.loc[4, "epdo"] == 542 + 6 * 11
    assert left_out.loc[4, "rank"] == 1  # the fallback ranking: EPDO
    assert any("2 of 5 road segments have no EB figure" in note for note in notes)
    assert any("HSM asks for at least 30" in note for note in notes)
    # Ranked by excess: the site with the most crashes for its volume first.
    assert eb.sort_values("rank")["excess"].is_monotonic_decreasing


def test_a_given_calibration_factor_is_used_as_given():
    sites = _sites([{"aadt": 1000, "length_m": 1000.0, "observed": 4}])
    ranked, notes = rank_sites(sites, years=3, rules=EbRules(calibration_segment=2.0))
    raw = 3 * HSM_RURAL_TWO_LANE_SEGMENT.predict(np.array([1000]), np.array([1000.0]))
    assert ranked["predicted"].iloc[0] == pytest.approx(2 * raw[0]) and "C = 2 (given" in notes[0]


def test_intersections_use_the_3st_and_4st_models_and_need_both_volumes():
    node = {"kind": "intersection", "control": "none", "major_aadt": 6000, "minor_aadt": 900}
    sites = _sites(
        [
            node | {"legs": 3, "major_aadt": 4000, "minor_aadt": 400, "observed": 3},
            node | {"legs": 4, "control": "stop", "observed": 5},
            node | {"legs": 4, "control": "signal"},
            node | {"legs": 4, "minor_aadt": None},
            node | {"legs": 5},
        ]
    )
    ranked, _ = rank_sites(sites, years=3)
    by_fid = ranked.set_index("fid")
    assert by_fid.loc[1, "spf"] == "3ST" and by_fid.loc[2, "spf"] == "4ST"
    # One site of each model: calibrated on itself, the prediction equals the count and the excess is zero.
    assert by_fid.loc[1, "predicted"] == pytest.approx(3) and by_fid.loc[2, "excess"] == pytest.approx(0)
    assert by_fid.loc[2, "weight"] == pytest.approx(1 / (1 + 0.24 * 5))
    assert by_fid.loc[3, "reason"] == "no SPF for signal control"
    assert by_fid.loc[4, "reason"] == "no major/minor AADT"
    assert by_fid.loc[5, "reason"] == "no SPF for 5 legs"


def _scene(roads: list[tuple[int, list, dict]], crashes: list[tuple[tuple[float, float], int, str]]):
    x0, y0 = ORIGIN
    lines = transform_geometries([LineString(c) for _, c, _ in roads], LOCAL_METRIC, "EPSG:4326")
    frame = pd.DataFrame([a for _, _, a in roads], index=pd.Index([fid for fid, _, _ in roads]))
    roads_frame = gpd.GeoDataFrame(frame, geometry=list(lines), crs=4326)
    junction = gpd.GeoDataFrame(
        {"legs": [3], "control": ["none"], "major_aadt": [None], "minor_aadt": [None]},
        geometry=lonlat([ORIGIN]),
        crs=4326,
        index=pd.Index([1]),
    )
    n = len(crashes)
    accidents = gpd.GeoDataFrame(
        {
            "occurred_at": pd.to_datetime(["2025-06-01"] * n),
            "severity": [s for _, _, s in crashes],
            "deaths": [int(s == "fatal") for _, _, s in crashes],
            "injuries": [int(s == "injury") for _, _, s in crashes],
            "drunk_driving": False,
            "drug_driving": False,
            "road_id": [r for _, r, _ in crashes],
        },
        geometry=lonlat([xy for xy, _, _ in crashes]),
        crs=4326,
        index=pd.RangeIndex(1, n + 1),
    )
    return accidents, junction, roads_frame


def test_findings_carry_the_eb_excess_worked_by_hand():
    x0, y0 = ORIGIN
    mile = METRES_PER_MILE
    # A T junction at ORIGIN: road 1 runs west from it, road 2 east (one mile each), road 3 north (no volume).
    roads = [
        (1, [(x0 - mile, y0), (x0, y0)], {"name": "X1", "route_code": "X001", "tech_class": "class3", "aadt": 2000}),
        (2, [(x0, y0), (x0 + mile, y0)], {"name": "X1", "route_code": "X001", "tech_class": "class3", "aadt": 1000}),
        (3, [(x0, y0), (x0, y0 + 900)], {"name": "Y9", "route_code": "Y009", "tech_class": "class4", "aadt": None}),
    ]
    heap = [((x0 + 400 + 30 * k, y0 + 5), 2, "injury") for k in range(6)]  # a section spot on road 2
    crashes = [*heap, ((x0 - 800, y0 - 3), 1, "fatal"), ((x0, y0 + 500), 3, "injury")]
    rules = Rules(eb=EbRules(calibration_segment=1.0))
    result = run_screening(*_scene(roads, crashes), AS_OF, rules)
    (spot,) = result.findings
    assert (spot.kind, spot.route_code, spot.casualty) == ("spot", "X001", 6)
    # By hand for road 2: three years at 1,000 veh/day over one mile; k = 0.236 per mile.
    predicted = 3 * 1000 * 1 * 365e-6 * math.exp(-0.312)
    w = 1 / (1 + 0.236 * predicted)
    expected = w * predicted + (1 - w) * 6
    sites = result.sites.set_index(["kind", "fid"])
    road2 = sites.loc[("segment", 2)]
    assert road2["observed"] == 6 and road2["predicted"] == pytest.approx(predicted)
    assert road2["weight"] == pytest.approx(w) and road2["expected"] == pytest.approx(expected)
    assert spot.eb_excess == pytest.approx(expected - predicted, abs=1e-3) and spot.eb_rank == 1
    assert spot.epdo == 6 * 11 and spot.notes["eb_sites"] == ["segment 2"]
    # Road 1's fatal crash and road 3 (no volume) are ranked too; road 3 by EPDO only, and said so.
    assert sites.loc[("segment", 1), "observed"] == 1 and sites.loc[("segment", 1), "method"] == "eb"
    assert sites.loc[("segment", 3), "method"] == "epdo" and sites.loc[("segment", 3), "reason"] == "no AADT"
    # The junction took its volumes from its legs, every one of which has AADT... except road 3: so none.
    assert sites.loc[("intersection", 1), "reason"] == "no major/minor AADT"
    frame = to_frame(result.findings, _scene(roads, crashes)[0], AS_OF, rules)
    assert frame["eb_excess"].iloc[0] == pytest.approx(spot.eb_excess) and frame["eb_rank"].iloc[0] == 1
    assert frame["epdo"].iloc[0] == 66


def test_a_finding_on_a_road_without_volume_has_no_eb_figure_and_says_why():
    x0, y0 = ORIGIN
    roads = [(1, [(x0 - 3000, y0), (x0 + 3000, y0)], {"name": "C1", "route_code": "C001", "tech_class": "class4"})]
    crashes = [((x0 + 1000 + 30 * k, y0), 1, "injury") for k in range(6)]
    (spot,) = run_screening(*_scene(roads, crashes), AS_OF).findings
    assert spot.eb_excess is None and spot.eb_rank is None and spot.notes["eb"] == "segment 1: no AADT"
    assert spot.epdo == 66


def test_junction_volumes_come_from_the_legs_when_the_layer_has_none():
    x0, y0 = ORIGIN
    a = {"name": "X1", "route_code": "X001", "tech_class": "class3"}
    roads = [
        (1, [(x0 - 2000, y0), (x0, y0)], a | {"aadt": 3000}),
        (2, [(x0, y0), (x0 + 2000, y0)], a | {"aadt": 2500}),
        (3, [(x0, y0), (x0, y0 + 900)], {"name": "Y9", "route_code": "Y009", "tech_class": "class4", "aadt": 400}),
    ]
    crashes = [((x0 + 20, y0 + 3), 2, "injury"), ((x0 + 1000, y0), 2, "injury")]
    result = run_screening(*_scene(roads, crashes), AS_OF, Rules(eb=EbRules(calibration_3st=1.0)))
    node = result.sites.set_index(["kind", "fid"]).loc[("intersection", 1)]
    assert (node["major_aadt"], node["minor_aadt"], node["spf"], node["observed"]) == (3000, 400, "3ST", 1)
    assert node["predicted"] == pytest.approx(3 * HSM_RURAL_3ST.predict(np.array([3000]), np.array([400]))[0])
    # The crash 20 m from the centre is the junction's (HSM 76.2 m), the one 1 km away the road's.
    assert result.sites.set_index(["kind", "fid"]).loc[("segment", 2), "observed"] == 1
    assert any("took major/minor AADT from their legs" in note for note in result.notes)
    narrower = dataclasses.replace(Rules().eb, intersection_radius_m=10.0)
    again = run_screening(*_scene(roads, crashes), AS_OF, Rules(eb=narrower))
    assert again.sites.set_index(["kind", "fid"]).loc[("intersection", 1), "observed"] == 0
