"""Accident-prone spots and segments: the norm's rules on hand-built examples (boundaries included), and every
planted black spot of the demo town found with nothing else."""

from __future__ import annotations

import json
import shutil
from datetime import date

import geopandas as gpd
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from shapely.geometry import LineString, Point
from typer.testing import CliRunner

from analysis.screening import Rules, grade, screen
from api.main import create_app
from geo.crs import LOCAL_METRIC, transform_geometries
from layers import LAYERS
from onemap.cli import app
from onemap.settings import DEMO_GPKG, Settings
from store import GeoPackageStore
from store.users import UserStore

ORIGIN = (540_000.0, 4_745_000.0)  # metres in EPSG:4549, inside the demo town
AS_OF = date(2026, 1, 1)


def test_grades_at_the_boundaries():
    assert grade(6, 6) == "class1"  # exactly six fatal crashes: 一类
    assert grade(5, 5) == "class2" and grade(3, 3) == "class2"  # three to five fatal: 二类
    assert grade(2, 6) == "class2"  # six injury-or-fatal crashes: 二类
    assert grade(2, 5) is None and grade(0, 0) is None


def _lonlat(points: list[tuple[float, float]]) -> list[Point]:
    return list(transform_geometries([Point(x, y) for x, y in points], LOCAL_METRIC, "EPSG:4326"))


def _scene(crash_xy: list[tuple[float, float]], severity="injury", **columns):
    """A straight east-west road through a junction at ORIGIN, and crashes at the given metric positions."""
    x0, y0 = ORIGIN
    road = LineString(
        transform_geometries([LineString([(x0 - 3000, y0), (x0 + 3000, y0)])], LOCAL_METRIC, "EPSG:4326")[0]
    )
    roads = gpd.GeoDataFrame({"route_code": ["X999"], "name": ["X999"]}, geometry=[road], crs=4326, index=pd.Index([1]))
    junction = gpd.GeoDataFrame({"name": ["路口"]}, geometry=_lonlat([ORIGIN]), crs=4326, index=pd.Index([1]))
    n = len(crash_xy)
    frame = {
        "occurred_at": pd.to_datetime(["2025-06-01"] * n),
        "severity": [severity] * n if isinstance(severity, str) else severity,
        "drunk_driving": [False] * n,
        "drug_driving": [False] * n,
        "road_id": [1] * n,
    } | columns
    accidents = gpd.GeoDataFrame(frame, geometry=_lonlat(crash_xy), crs=4326, index=pd.RangeIndex(1, n + 1))
    return accidents, junction, roads


def test_a_crash_250_m_from_the_centre_counts_and_251_m_does_not():
    x0, y0 = ORIGIN
    near = [(x0 + 100 * k / 5, y0) for k in range(5)]
    inside, _ = screen(*_scene([*near, (x0 + 250, y0)]), AS_OF)
    assert [(f.kind, f.grade, f.intersection_fid, f.casualty) for f in inside] == [("spot", "class2", 1, 6)]
    outside, _ = screen(*_scene([*near, (x0 + 251, y0)]), AS_OF)
    # No longer the junction's spot; the six still lie within 500 m of road, so a section spot remains.
    assert [(f.kind, f.intersection_fid) for f in outside] == [("spot", None)]


def test_drink_drugs_and_old_crashes_do_not_count():
    x0, y0 = ORIGIN
    spot = [(x0 + 20 * k, y0) for k in range(6)]
    found, _ = screen(*_scene(spot), AS_OF)
    assert found and found[0].grade == "class2"
    for column, values in (("drunk_driving", [True] + [False] * 5), ("drug_driving", [False] * 5 + [True])):
        assert screen(*_scene(spot, **{column: values}), AS_OF)[0] == []
    old = pd.to_datetime(["2022-12-31"] + ["2025-06-01"] * 5)
    assert screen(*_scene(spot, occurred_at=old), AS_OF)[0] == []
    fatal, _ = screen(*_scene(spot, severity="fatal"), AS_OF)
    assert fatal[0].grade == "class1" and fatal[0].fatal == 6


def test_spread_crashes_make_a_segment_only_within_2_km():
    x0, y0 = ORIGIN
    spread = [(x0 + 600 + 350 * k, y0) for k in range(6)]  # 1,750 m from first to last, away from the junction
    found, _ = screen(*_scene(spread), AS_OF)
    assert [(f.kind, f.grade, f.casualty) for f in found] == [("segment", "class2", 6)]
    assert found[0].end_m - found[0].start_m == pytest.approx(1750, abs=1)
    wider = [(x0 + 600 + 420 * k, y0) for k in range(6)]  # 2,100 m: no 2 km window holds six
    assert screen(*_scene(wider), AS_OF)[0] == []
    heaped = [(x0 + 1500 + 40 * k, y0) for k in range(6)]  # within 500 m on a section: a spot, not a segment
    assert [(f.kind, f.intersection_fid) for f in screen(*_scene(heaped), AS_OF)[0]] == [("spot", None)]


def test_a_crash_far_from_its_road_is_reported_not_placed():
    x0, y0 = ORIGIN
    accidents, junction, roads = _scene([(x0 + 1000, y0 + 200)])
    assert screen(accidents, junction, roads, AS_OF, Rules())[1] == [1]


def test_the_demo_town_black_spots_are_found_and_nothing_else():
    store = GeoPackageStore(DEMO_GPKG)
    layers = [store.read(LAYERS[name]) for name in ("accidents", "intersections", "roads")]
    findings, unplaced = screen(*layers, AS_OF)
    truth = json.loads(DEMO_GPKG.with_name("demo_town.truth.json").read_text(encoding="utf-8"))["accident_black_spots"]
    spots = {(f.intersection_fid, f.grade) for f in findings if f.kind == "spot"}
    assert spots == {(t["intersection_fid"], t["grade"]) for t in truth["spots"]}
    for planted in truth["segments"]:
        match = [f for f in findings if f.kind == "segment" and f.route_code == planted["route_code"]]
        assert len(match) == 1 and match[0].grade == planted["grade"]
        assert set(match[0].accident_fids) == set(planted["accident_fids"])
    assert truth["decoy"]["intersection_fid"] not in {f.intersection_fid for f in findings}
    false_positives = len(findings) - len(truth["spots"]) - len(truth["segments"])
    assert false_positives == 0 and unplaced == []
    again, _ = screen(*layers, AS_OF)
    assert [(f.kind, f.grade, f.accident_fids) for f in again] == [(f.kind, f.grade, f.accident_fids) for f in findings]


def test_onemap_analyse_blackspots_stores_the_layer_with_its_parameters(tmp_path):
    data = tmp_path / "town.gpkg"
    shutil.copy(DEMO_GPKG, data)
    result = CliRunner().invoke(app, ["analyse", "blackspots", "--as-of", "2026-01-01", "--data", str(data)])
    assert result.exit_code == 0, result.output
    stored = GeoPackageStore(data).read(LAYERS["accident_segments"])
    assert sorted(stored["kind"]) == ["segment", "segment", "spot", "spot", "spot"]
    assert (stored["grade"] == "class1").sum() == 1
    parameters = json.loads(stored["parameters"].iloc[0])
    assert parameters["as_of"] == "2026-01-01" and parameters["spot_radius_m"] == 250.0
    assert stored.geometry.is_valid.all() and str(stored["window_from"].iloc[0]) == "2023-01-01"
    bad = CliRunner().invoke(app, ["analyse", "blackspots", "--as-of", "yesterday", "--data", str(data)])
    assert bad.exit_code == 2


def test_the_screening_over_http_is_run_by_the_town_office_and_served_at_once(tmp_path):
    data = tmp_path / "town.gpkg"
    shutil.copy(DEMO_GPKG, data)
    users = UserStore(data)
    users.add("admin", "admin password", "admin")
    users.add("viewer", "viewer password", "emergency")
    users.close()
    with TestClient(create_app(Settings(_env_file=None, data=data))) as client:

        def auth(name: str, password: str) -> dict[str, str]:
            token = client.post("/auth/token", data={"username": name, "password": password}).json()["access_token"]
            return {"Authorization": f"Bearer {token}"}

        assert client.get("/analysis/blackspots").json()["count"] == 0
        assert client.post("/analysis/blackspots", params={"as_of": "2026-01-01"}).status_code == 401
        denied = client.post(
            "/analysis/blackspots", params={"as_of": "2026-01-01"}, headers=auth("viewer", "viewer password")
        )
        assert denied.status_code == 403
        ran = client.post(
            "/analysis/blackspots", params={"as_of": "2026-01-01"}, headers=auth("admin", "admin password")
        )
        assert ran.status_code == 200 and len(ran.json()["found"]) == 5
        assert client.get("/analysis/blackspots").json()["count"] == 5
        served = client.get("/collections/accident_segments/items").json()
        assert served["numberMatched"] == 5  # on the map and the OGC API at once
        assert GeoPackageStore(data).count(LAYERS["accident_segments"]) == 5  # and stored
