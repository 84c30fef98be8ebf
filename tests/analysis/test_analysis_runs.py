"""The road analyses as a user runs them: `onemap analyse …` and `/analysis/…`, each storing its layer with the
parameters that produced it, and served at once."""

from __future__ import annotations

import json
from io import BytesIO

import geopandas as gpd
import openpyxl
import pytest
from backends import BACKEND, settings_for, town_copy
from fastapi.testclient import TestClient
from scene import bearer
from shapely.geometry import LineString
from typer.testing import CliRunner

from api.main import create_app
from layers import LAYERS
from onemap.cli import app
from onemap.settings import DEMO_GPKG
from store import open_store
from store.users import UserStore

AS_OF = "2026-01-01"


@pytest.fixture
def data(tmp_path):
    path = town_copy(BACKEND, DEMO_GPKG, tmp_path)
    return path


def _run(*args: str):
    return CliRunner().invoke(app, ["analyse", *args])


def test_onemap_analyse_intersections_keeps_the_survey_and_reports_what_it_did(data):
    before = open_store(data).read(LAYERS["intersections"])
    result = _run("intersections", "--data", str(data))
    assert result.exit_code == 0, result.output
    assert "279" in result.output and "视距三角形内有建筑" in result.output
    after = open_store(data).read(LAYERS["intersections"])
    assert list(after.index) == list(before.index)
    assert (after["control"] == before["control"]).all()
    assert after["parameters"].notna().all() and after["major_speed_kmh"].notna().all()
    assert _run("intersections", "--consolidate-m", "-5", "--data", str(data)).exit_code == 2


def test_intersections_from_another_road_file(data, tmp_path):
    roads = gpd.GeoDataFrame(
        {"name": ["东西路", "南北路"], "highway": ["secondary", "residential"]},
        geometry=[LineString([(120.50, 42.85), (120.52, 42.85)]), LineString([(120.51, 42.84), (120.51, 42.86)])],
        crs=4326,
    )
    roads.to_file(tmp_path / "county.geojson")
    result = _run("intersections", "--roads", str(tmp_path / "county.geojson"), "--data", str(data))
    assert result.exit_code == 0, result.output
    stored = open_store(data).read(LAYERS["intersections"])
    new = stored[stored["name"] == "东西路与南北路交叉口"]
    assert len(new) == 1 and new.iloc[0]["legs"] == 4 and new.iloc[0]["major_class"] == "X"
    assert len(stored) == 280  # the surveyed ones are kept: none of them lies on these two roads
    roads.translate(xoff=-94.0, yoff=18.0).to_file(tmp_path / "kotka.geojson")  # another country: refused
    far = _run("intersections", "--roads", str(tmp_path / "kotka.geojson"), "--data", str(data))
    assert far.exit_code == 2 and "outside the service area" in far.output
    assert len(open_store(data).read(LAYERS["intersections"])) == 280  # and nothing written
    (tmp_path / "broken.geojson").write_text("{not json", encoding="utf-8")
    assert _run("intersections", "--roads", str(tmp_path / "broken.geojson"), "--data", str(data)).exit_code == 2
    assert _run("intersections", "--roads", str(tmp_path / "missing.shp"), "--data", str(data)).exit_code == 2


def test_onemap_analyse_nkde_stores_the_density_in_five_classes(data):
    result = _run("nkde", "--as-of", AS_OF, "--lixel-m", "100", "--data", str(data))
    assert result.exit_code == 0, result.output
    stored = open_store(data).read(LAYERS["crash_density"])
    assert len(stored) > 100 and (stored["density_per_km"] > 0).all()
    assert set(stored["level"]) == {"1", "2", "3", "4", "5"}
    top = stored.sort_values("density_per_km").iloc[-1]
    assert top["level"] == "5" and json.loads(top["parameters"])["lixel_m"] == 100.0
    assert _run("nkde", "--kernel", "gaussian", "--data", str(data)).exit_code == 2


def test_onemap_analyse_plan_writes_the_layer_and_both_exports(data, tmp_path):
    xlsx, geojson = tmp_path / "plan.xlsx", tmp_path / "plan.geojson"
    result = _run("plan", "--budget", "200000", "--as-of", AS_OF, "--xlsx", str(xlsx), "--geojson", str(geojson),
                  "--data", str(data))  # fmt: skip
    assert result.exit_code == 0, result.output
    stored = open_store(data).read(LAYERS["treatment_plan"])
    planned = stored[stored["planned"]]
    assert 0 < len(planned) < len(stored) and planned["cost_yuan"].sum() <= 200_000
    first = stored.sort_values("rank").iloc[0]
    assert first["intersection_id"] == 86  # G111 × X512, the planted 一类 black spot, scores highest
    factors = json.loads(first["factors"])
    assert sum(f["points"] for f in factors) == pytest.approx(first["score"])
    book = openpyxl.load_workbook(xlsx)
    assert len(book.worksheets) >= 3
    features = json.loads(geojson.read_text(encoding="utf-8"))["features"]
    assert len(features) == len(planned)
    assert _run("plan", "--budget", "-1", "--data", str(data)).exit_code == 2
    dear = _run("plan", "--budget", "200000", "--as-of", AS_OF, "--cost", "flashing_light=100000", "--data", str(data))
    assert dear.exit_code == 0, dear.output  # a light dearer than half the budget: fewer lights in the plan
    fewer = open_store(data).read(LAYERS["treatment_plan"])
    lights = [m for ms in fewer.loc[fewer["planned"], "measures"] for m in json.loads(ms) if m == "flashing_light"]
    assert len(lights) <= 2
    assert "planner's local figure" in fewer["parameters"].iloc[0]
    for bad in (["--cost", "lights=5"], ["--cmf", "speed_belts"], ["--measures", "bridges"]):
        assert _run("plan", "--budget", "1000", *bad, "--data", str(data)).exit_code == 2


def test_the_analyses_over_http(data):
    users = UserStore(data)
    users.add("admin", "admin password", "admin")
    users.add("viewer", "viewer password", "emergency")
    users.close()
    with TestClient(create_app(settings_for(data))) as client:
        admin, viewer = bearer(client, "admin", "admin password"), bearer(client, "viewer", "viewer password")
        for path in ("/analysis/intersections", "/analysis/nkde", "/analysis/plan?budget=100000"):
            assert client.post(path).status_code == 401
            assert client.post(path, headers=viewer).status_code == 403
        # who may run it is settled before the parameters are read: a village office learns nothing from a 400
        assert client.post("/analysis/plan?budget=5000&cost=bogus", headers=viewer).status_code == 403
        ran = client.post("/analysis/intersections", headers=admin).json()
        assert ran["intersections"] == 279 and ran["sight_obstructed"] == 4
        assert len(client.get("/analysis/intersections").json()["sight_obstructed"]) == 4

        shipped = client.get("/collections/crash_density/items").json()["numberMatched"]  # 50 m lixels
        density = client.post(f"/analysis/nkde?as_of={AS_OF}&lixel_m=100", headers=admin).json()
        assert 0 < density["stored"] < shipped
        assert density["stored"] > 0 and density["crashes"] > 0
        assert client.get("/collections/crash_density/items").json()["numberMatched"] == density["stored"]
        densest = client.get("/analysis/nkde?top=3").json()["densest"]
        assert len(densest) == 3 and densest[0]["density_per_km"] >= densest[1]["density_per_km"]
        bad = client.post("/analysis/nkde?bandwidth_m=-3", headers=admin)
        assert bad.status_code == 400 and "bandwidth" in bad.json()["detail"]

        plan = client.post(f"/analysis/plan?budget=150000&as_of={AS_OF}", headers=admin).json()
        assert plan["total_cost_yuan"] <= 150_000 and plan["planned"]
        stored = client.get("/analysis/plan").json()
        assert stored["count"] == plan["candidates"] and stored["candidates"][0]["factors"]
        assert client.post("/analysis/plan?budget=-5", headers=admin).status_code == 400
        unknown = client.post("/analysis/plan?budget=5000&cost=bridge=5", headers=admin)
        assert unknown.status_code == 400 and "unknown measure" in unknown.json()["detail"]
        belts_only = client.get(
            f"/analysis/plan.geojson?budget=150000&as_of={AS_OF}&measure=speed_belts", headers=viewer
        ).json()
        assert {m for f in belts_only["features"] for m in f["properties"]["measures"]} == {"speed_belts"}
        assert client.get("/analysis/plan.xlsx?budget=150000").status_code == 401
        book = client.get(f"/analysis/plan.xlsx?budget=150000&as_of={AS_OF}", headers=viewer)
        assert book.status_code == 200 and book.headers["content-type"].startswith("application/vnd.openxml")
        assert openpyxl.load_workbook(BytesIO(book.content)).worksheets
        geo = client.get(f"/analysis/plan.geojson?budget=150000&as_of={AS_OF}", headers=viewer).json()
        assert len(geo["features"]) == len(plan["planned"])
        popup = client.get("/map/popup/treatment_plan/1").text
        assert "评分构成" in popup and "3年事故" in popup
