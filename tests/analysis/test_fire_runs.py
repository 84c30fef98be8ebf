"""The fire analyses as a user runs them: `onemap analyse fire` and `/analysis/fire…`, stored as layers with their
parameters, and the planted dead-end blockage found with the settlement it cuts off."""

from __future__ import annotations

import json
from io import BytesIO

import openpyxl
import pytest
from backends import BACKEND, settings_for, town_copy
from fastapi.testclient import TestClient
from scene import bearer
from typer.testing import CliRunner

from api.main import create_app
from layers import LAYERS
from layers.frames import empty_frame
from onemap.cli import app
from onemap.settings import DEMO_GPKG
from store import open_store
from store.users import UserStore

TRUTH = json.loads(DEMO_GPKG.with_name("demo_town.truth.json").read_text(encoding="utf-8"))
DERIVED = ("response_bands", "cut_off", "fire_clusters")


@pytest.fixture
def data(tmp_path):
    path = town_copy(BACKEND, DEMO_GPKG, tmp_path)
    store = open_store(path)
    for name in DERIVED:  # start from nothing, so what is there afterwards is what the run wrote
        store.replace(LAYERS[name], empty_frame(LAYERS[name]))
    return path


def test_onemap_analyse_fire_stores_its_layers_and_names_the_blockage_to_clear(data, tmp_path):
    result = CliRunner().invoke(app, ["analyse", "fire", "--as-of", "2026-01-01", "--xlsx", str(tmp_path / "f.xlsx"),
                                      "--data", str(data)])  # fmt: skip
    assert result.exit_code == 0, result.output
    store = open_store(data)
    dead_end = TRUTH["fire_lanes"]["dead_end"]
    cut = store.read(LAYERS["cut_off"])
    mine = cut[cut["settlement_id"] == dead_end["settlement_fid"]]
    assert len(mine) > 0
    assert {tuple(json.loads(x)) for x in mine["obstruction_ids"]} == {(dead_end["obstruction_fid"],)}
    assert {tuple(json.loads(x)) for x in mine["lane_ids"]} == {(dead_end["lane_fid"],)}
    assert set(mine["reason"]) == {"unreachable"} and "消防法 第二十八条" in mine["legal_basis"].iloc[0]
    bands = store.read(LAYERS["response_bands"])
    assert set(bands["band"]) == {"3", "5", "10", "15", "30"} and json.loads(bands["parameters"].iloc[0])["bands_min"]
    clusters = store.read(LAYERS["fire_clusters"])
    assert len(clusters) > 0 and (clusters["buildings"] >= 2).all() and clusters.geometry.is_valid.all()
    book = openpyxl.load_workbook(tmp_path / "f.xlsx")
    assert {"消防车通道", "堵塞影响建筑", "到场时间覆盖", "老旧场所排序", "一区一策草案"} <= set(book.sheetnames)
    assert "粮站家属院" in result.output and "消防法 第二十八条" in result.output


def test_the_fire_analyses_over_http(data):
    users = UserStore(data)
    users.add("admin", "admin password", "admin")
    users.add("viewer", "viewer password", "emergency")
    users.close()
    with TestClient(create_app(settings_for(data))) as client:
        assert client.post("/analysis/fire").status_code == 401
        assert client.post("/analysis/fire", headers=bearer(client, "viewer", "viewer password")).status_code == 403
        assert client.get("/collections/cut_off/items").json()["numberMatched"] == 0
        ran = client.post("/analysis/fire?as_of=2026-01-01", headers=bearer(client, "admin", "admin password")).json()
        assert ran["lanes"]["blocked_lane_fids"] == TRUTH["fire_lanes"]["blocked_lane_fids"]
        assert ran["lanes"]["partial_lane_fids"] == TRUTH["fire_lanes"]["partial_lane_fids"]
        assert TRUTH["fire_lanes"]["dead_end"]["settlement_fid"] in ran["cut_off_settlements"]
        assert ran["settlements_ranked"][0]["name"] == "粮站家属院"
        served = client.get("/collections/cut_off/items").json()["numberMatched"]
        assert served == ran["stored"]["cut_off"] > 0  # served at once
        cut = client.get("/analysis/fire/cut-off?as_of=2026-01-01").json()
        assert cut["count"] == ran["stored"]["cut_off"]
        lanes = client.get("/analysis/fire/lanes").json()
        assert {row["fid"] for row in lanes["lanes"] if row["status"] == "blocked"} == {5, 14, 17}
        coverage = client.get("/analysis/fire/coverage?scenario=clear").json()
        assert coverage["coverage"] and {row["scenario"] for row in coverage["coverage"]} == {"clear"}
        assert client.get("/analysis/fire/coverage?scenario=someday").status_code == 400
        plans = client.get("/analysis/fire/settlements").json()
        assert plans["drafts"][0]["linked_layer"] == "old_settlements" and "一区一策" in plans["drafts"][0]["plan_zh"]
        book = client.get("/analysis/fire.xlsx")
        assert book.status_code == 200 and "一区一策草案" in openpyxl.load_workbook(BytesIO(book.content)).sheetnames
        popup = client.get("/map/popup/cut_off/1").text
        assert "清除占用点" in popup and "消防站类型" in popup

        admin = bearer(client, "admin", "admin password")
        path = "/analysis/fire/settlements/1/register?as_of=2026-01-01"
        assert client.post(path, headers=bearer(client, "viewer", "viewer password")).status_code == 403
        made = client.post(path, headers=admin)
        assert made.status_code == 201, made.text
        hazard = client.get(f"/ledger/hazards/{made.json()['hazard_fid']}", headers=admin).json()
        assert hazard["properties"]["linked_layer"] == "old_settlements" and hazard["properties"]["linked_fid"] == 1
        assert hazard["properties"]["sector"] == "fire" and "一区一策" in hazard["properties"]["description"]
        assert hazard["properties"]["deadline"] == "2027-01-01"
        again = client.post(path, headers=admin)
        assert again.status_code == 409 and made.json()["code"] in again.json()["detail"]
        assert client.post("/analysis/fire/settlements/999/register", headers=admin).status_code == 404
