"""The service over PostgreSQL + PostGIS answers as it does over the GeoPackage: collections, bbox queries,
vector tiles, the incident report; an analysis run writes its layer to the database; and what the ledger
recorded there moves back to a GeoPackage with its history."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import mapbox_vector_tile
import pytest
from backends import settings_for, town_copy, with_account
from fastapi.testclient import TestClient

from api.main import create_app
from layers import LAYERS
from onemap.settings import DEMO_GPKG
from store.postgis import PostGISStore
from store.transfer import migrate

PASSWORD = "correct horse battery"
BOXES = ["120.54,42.84,120.56,42.85", "120.45,42.75,120.62,42.93", "120.60,42.90,120.61,42.91"]


@pytest.fixture(scope="module")
def both(tmp_path_factory) -> Iterator[dict]:
    """The demo town served from a file and from a database of its own, with the same account on each."""
    folder = tmp_path_factory.mktemp("both")
    path = with_account(town_copy("gpkg", DEMO_GPKG, folder), "admin", PASSWORD, "admin")
    url = with_account(town_copy("postgis", DEMO_GPKG, folder), "admin", PASSWORD, "admin")
    with (
        TestClient(create_app(settings_for(path))) as file_client,
        TestClient(create_app(settings_for(url))) as db_client,
    ):
        yield {"file": file_client, "db": db_client, "url": url, "path": Path(path)}


def _admin(client: TestClient) -> dict[str, str]:
    token = client.post("/auth/token", data={"username": "admin", "password": PASSWORD}).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("layer_id", ["roads", "buildings", "risk_sources", "accidents", "risk_surface"])
def test_items_in_a_bbox_are_the_same(both, layer_id):
    for bbox in BOXES:
        params = {"bbox": bbox, "limit": 10_000}
        a = both["file"].get(f"/collections/{layer_id}/items", params=params).json()
        b = both["db"].get(f"/collections/{layer_id}/items", params=params).json()
        assert a["numberMatched"] == b["numberMatched"]
        assert a["features"] == b["features"]


def test_tiles_collections_and_the_incident_report_are_the_same(both):
    for url in ("/collections", "/collections/buildings", "/analysis/risk/incident?lon=120.548&lat=42.846"):
        assert both["file"].get(url).json() == both["db"].get(url).json(), url
    for layer_id in ("buildings", "roads"):
        tile = f"/collections/{layer_id}/tiles/14/13678/6029"  # the town centre
        a, b = both["file"].get(tile), both["db"].get(tile)
        assert a.status_code == b.status_code == 200
        # on the database ST_AsMVT writes the tile: the same features and properties, shapes within the
        # simplification (tests/api/test_tile_encoders.py compares the two encoders feature by feature)
        ours, theirs = (mapbox_vector_tile.decode(r.content)[layer_id]["features"] for r in (a, b))
        assert {f["id"]: f["properties"] for f in ours} == {f["id"]: f["properties"] for f in theirs}


def test_an_analysis_run_writes_its_layer_to_the_database(both):
    db = both["db"]
    ran = db.post("/analysis/risk/surface", params={"as_of": "2026-01-01"}, headers=_admin(db))
    assert ran.status_code == 200
    stored = PostGISStore(both["url"]).read(LAYERS["risk_surface"])
    assert len(stored) == ran.json()["cells"] and stored.sort_values("rank").iloc[0]["rank"] == 1


def test_ledger_writes_land_in_the_database_and_move_back_with_their_history(both, tmp_path):
    db = both["db"]
    admin = _admin(db)
    hazards = db.get("/ledger/hazards", headers=admin).json()["hazards"]
    target = next(h for h in hazards if h["status"] == "rectifying")
    detail = db.get(f"/ledger/hazards/{target['id']}", headers=admin)
    step = {"action": "edit", "version": detail.json()["version"], "fields": {"measures": "设置围挡，限期清理"}}
    assert db.post(f"/ledger/hazards/{target['id']}/steps", json=step, headers=admin).status_code == 200
    stale = db.post(f"/ledger/hazards/{target['id']}/steps", json=step, headers=admin)
    assert stale.status_code == 409  # the same optimistic concurrency as on the file
    history = db.get(f"/ledger/hazards/{target['id']}/history", headers=admin).json()
    back = tmp_path / "back.gpkg"
    migrate(both["url"], str(back))
    with sqlite3.connect(back) as conn:
        rows = conn.execute("SELECT action, note FROM hazard_events WHERE hazard_fid = ? ORDER BY seq",
                            (target["id"],)).fetchall()  # fmt: skip
        measures = conn.execute("SELECT measures FROM hazards WHERE fid = ?", (target["id"],)).fetchone()[0]
    assert len(rows) == len(history["events"]) and rows[-1][0] == "edit" and measures == "设置围挡，限期清理"
