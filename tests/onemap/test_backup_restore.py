"""`onemap backup` then `onemap restore`, through the command line, on the backend under test: a town with ledger
history, photos and accounts comes back exactly as it was backed up, over changed data (with --force) and into an
empty place; a backup that is damaged, cut short or not an onemap GeoPackage is refused, and so is a target in use,
with the target left exactly as it was."""

from __future__ import annotations

import hashlib
import io
import sqlite3
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely.geometry
from backends import BACKENDS, empty_location, settings_for, town_copy
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

from api.main import create_app
from layers import LAYERS, get_layer
from onemap.cli import app
from onemap.settings import DEMO_GPKG
from store import DatasetInfo, open_store
from store.ledger import LedgerStore
from store.sql import open_database
from store.transfer import OWN_TABLES
from store.users import UserStore

PASSWORD = "correct horse battery"
SEAT = "150525107201"
NEW = {
    "sector": "fire",
    "description": "村委会门前柴草垛占用消防车通道",
    "channel": "department_inspection",
    "responsible_unit": "义隆永村民委员会",
    "responsible_person": "赵六",
}
runner = CliRunner()


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


def snapshot(location: str) -> dict:
    """Everything a restore must bring back: metadata, every layer (attributes and exact geometry), and every row
    of the ledger's history and photos, accounts, signing keys and reports."""
    store = open_store(location)
    out: dict = {"info": store.info()}
    for layer in LAYERS.values():
        out[layer.id] = pd.DataFrame(store.read(layer).to_wkb(hex=True)).to_csv()
    getattr(store, "close", lambda: None)()
    db = open_database(location)
    try:
        for table, key in OWN_TABLES.items():
            if db.columns(table):
                rows = db.execute(f"SELECT * FROM {table} ORDER BY {key}").fetchall()
                out[table] = [tuple(bytes(v) if isinstance(v, memoryview) else v for v in row) for row in rows]
    finally:
        db.close()
    return out


def _png(seed: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def _session(client: TestClient, who: str = "admin") -> dict[str, str]:
    token = client.post("/auth/token", data={"username": who, "password": PASSWORD}).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def _register(client: TestClient, auth: dict[str, str]) -> int:
    villages = client.get("/collections/villages/items", params={"limit": 100}).json()["features"]
    shape = shapely.geometry.shape(next(f for f in villages if f["properties"]["code"] == SEAT)["geometry"])
    point = shape.representative_point()
    response = client.post("/ledger/hazards", json={**NEW, "lon": point.x, "lat": point.y}, headers=auth)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _photo(client: TestClient, auth: dict[str, str], fid: int, seed: int) -> int:
    files = {"file": ("photo.png", _png(seed), "image/png")}
    response = client.post(f"/ledger/hazards/{fid}/photos", data={"kind": "before"}, files=files, headers=auth)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _with_history(location: str) -> int:
    """Accounts, then through the service: a hazard registered, assessed, photographed; its fid."""
    users = UserStore(location)
    users.add("admin", PASSWORD, "admin", display_name="镇安办")
    users.add("seat", PASSWORD, "village", village_code=SEAT)
    users.close()
    with TestClient(create_app(settings_for(location))) as client:
        auth = _session(client)
        fid = _register(client, auth)
        step = {"action": "assess", "version": 1, "fields": {"level": "general"}}
        assert client.post(f"/ledger/hazards/{fid}/steps", json=step, headers=auth).status_code == 200
        _photo(client, auth, fid, seed=1)
    return fid


def _change(location: str, fid: int) -> None:
    """What happens after the backup and is to be undone: steps, a new hazard, a photo, an account, lost features."""
    with TestClient(create_app(settings_for(location))) as client:
        auth = _session(client)
        step = {"action": "edit", "version": 3, "fields": {"measures": "备份之后的修改"}}
        assert client.post(f"/ledger/hazards/{fid}/steps", json=step, headers=auth).status_code == 200
        _photo(client, auth, _register(client, auth), seed=2)
    users = UserStore(location)
    users.add("newcomer", PASSWORD, "emergency")
    users.close()
    store = open_store(location)
    accidents = get_layer("accidents")
    store.delete(accidents, [int(f) for f in store.read(accidents).index[:3]])
    store.set_info(DatasetInfo(title="改过的镇", synthetic=True))
    getattr(store, "close", lambda: None)()


def test_restore_brings_back_exactly_what_was_backed_up(backend, tmp_path):
    location = town_copy(backend, DEMO_GPKG, tmp_path / "town")
    fid = _with_history(location)
    backup = tmp_path / "backup.gpkg"
    made = runner.invoke(app, ["backup", str(backup), "--data", location])
    assert made.exit_code == 0, made.output
    saved = snapshot(location)
    assert [e[5] for e in saved["hazard_events"] if e[1] == fid] == ["register", "assess", "attach"]
    assert len(saved["hazard_photos"]) >= 1 and {u[0] for u in saved["onemap_users"]} >= {"admin", "seat"}

    _change(location, fid)
    changed = snapshot(location)
    assert changed != saved
    refused = runner.invoke(app, ["restore", str(backup), "--data", location])
    assert refused.exit_code == 2 and "--force" in refused.output, refused.output
    assert snapshot(location) == changed  # refused: nothing touched

    done = runner.invoke(app, ["restore", str(backup), "--data", location, "--force"])
    assert done.exit_code == 0, done.output
    restored = snapshot(location)
    for part in saved:
        assert restored[part] == saved[part], part
    assert restored == saved

    with TestClient(create_app(settings_for(location))) as client:  # it serves, and new ids follow the restored
        assert client.get("/readyz").status_code == 200
        auth = _session(client, "seat")
        assert client.get("/auth/me", headers=auth).json()["village_code"] == SEAT
        history = client.get(f"/ledger/hazards/{fid}/history", headers=auth).json()["events"]
        assert [e["action"] for e in history] == ["register", "assess", "attach"]
        auth = _session(client)
        new_fid = _register(client, auth)
        photo = _photo(client, auth, new_fid, seed=3)
    assert new_fid > max(r[1] for r in saved["hazard_events"]) and photo > max(r[0] for r in saved["hazard_photos"])

    fresh = empty_location(backend, tmp_path / "fresh")  # nothing there yet: no --force needed
    into_empty = runner.invoke(app, ["restore", str(backup), "--data", fresh])
    assert into_empty.exit_code == 0, into_empty.output
    assert snapshot(fresh) == saved


def _overwrite_page(good: bytes, path: Path, table: str) -> None:
    """The backup with the root page of `table` overwritten: a b-tree SQLite's integrity check cannot read."""
    path.write_bytes(good)
    with sqlite3.connect(path) as db:
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        root = db.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
    db.close()
    data = bytearray(good)
    data[(root - 1) * page_size : root * page_size] = bytes(range(256)) * (page_size // 256)
    path.write_bytes(bytes(data))


def _foreign(good: bytes, path: Path) -> None:
    frame = gpd.GeoDataFrame({"name": ["地块"]}, geometry=[shapely.geometry.Point(120.4, 42.8)], crs=4326)
    frame.to_file(path, layer="parcels", driver="GPKG")


def _plain_sqlite(good: bytes, path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE notes (text TEXT)")
    db.close()


BAD = {
    "not a database": (lambda good, path: path.write_text("隐患台账.xlsx，不是数据库", encoding="utf-8"), "SQLite"),
    "empty": (lambda good, path: path.write_bytes(b""), "SQLite"),
    "cut short": (lambda good, path: path.write_bytes(good[: len(good) // 2]), "damaged"),
    "damaged": (lambda good, path: _overwrite_page(good, path, "hazards"), "damaged"),
    "another GeoPackage": (_foreign, "not an onemap backup"),
    "SQLite, not GeoPackage": (_plain_sqlite, "not a GeoPackage"),
    "missing": (lambda good, path: None, "no such backup"),
}


def _fingerprint(location: str, folder: Path) -> object:
    """A file target byte for byte, with every file beside it (no partial copy or log left); a database's rows."""
    if (folder / Path(location).name).exists():
        return sorted(p.name for p in folder.iterdir()), hashlib.sha256(Path(location).read_bytes()).hexdigest()
    return snapshot(location)


def test_a_bad_backup_is_refused_and_the_target_left_as_it_was(backend, tmp_path):
    location = town_copy(backend, DEMO_GPKG, tmp_path / "town")
    good = tmp_path / "good.gpkg"
    assert runner.invoke(app, ["backup", str(good), "--data", location]).exit_code == 0
    before = _fingerprint(location, tmp_path / "town")
    for kind, (make, says) in BAD.items():
        path = tmp_path / f"{kind}.gpkg"
        make(good.read_bytes(), path)
        result = runner.invoke(app, ["restore", str(path), "--data", location, "--force"])
        assert result.exit_code == 2, (kind, result.output)
        assert says in " ".join(result.output.split()) and "nothing was changed" in result.output, (kind, result.output)
        assert "Traceback" not in result.output
        assert _fingerprint(location, tmp_path / "town") == before, kind


def test_a_file_in_use_is_not_replaced(tmp_path):
    location = town_copy("gpkg", DEMO_GPKG, tmp_path / "town")
    backup = tmp_path / "backup.gpkg"
    assert runner.invoke(app, ["backup", str(backup), "--data", location]).exit_code == 0
    service = LedgerStore(location)  # a running service holds the file open, as this store does
    service._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # its tables, made on opening, are in the file itself
    before = hashlib.sha256(Path(location).read_bytes()).hexdigest()
    try:
        result = runner.invoke(app, ["restore", str(backup), "--data", location, "--force"])
        assert result.exit_code == 2 and "stop the service" in " ".join(result.output.split()), result.output
        assert service.ping() is None  # still the file it opened
    finally:
        service.close()
    assert hashlib.sha256(Path(location).read_bytes()).hexdigest() == before
    assert not list((tmp_path / "town").glob(".*restoring*"))


def test_without_data_the_demo_working_copy_is_restored_never_the_shipped_town(tmp_path, tiny_town_file, monkeypatch):
    for name in ("ONEMAP_DATA", "ONEMAP_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ONEMAP_HOME", str(tmp_path / "home"))
    shipped = hashlib.sha256(DEMO_GPKG.read_bytes()).hexdigest()
    result = runner.invoke(app, ["restore", str(tiny_town_file)])
    assert result.exit_code == 0, result.output
    copy = tmp_path / "home" / DEMO_GPKG.name
    assert copy.read_bytes() == tiny_town_file.read_bytes()
    assert hashlib.sha256(DEMO_GPKG.read_bytes()).hexdigest() == shipped
    assert runner.invoke(app, ["restore", str(tiny_town_file)]).exit_code == 2  # it is there now: --force
