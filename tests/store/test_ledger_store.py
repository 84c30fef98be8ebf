"""The ledger's storage: a step changes the hazard and its history together, or not at all — on the backend under
test; what only a GeoPackage file has (GDAL's index triggers, the online backup, older files) on a file."""

from __future__ import annotations

import sqlite3
import threading
from datetime import datetime
from pathlib import Path

import pyogrio
import pytest
import shapely
from backends import BACKEND, town_copy

from layers import LAYERS
from layers.vocab import HazardStatus
from ledger.workflow import TransitionError
from onemap.settings import DEMO_GPKG
from store import open_store
from store.gpkg_sql import backup, connect, decode, point_blob
from store.ledger import HazardNotFound, LedgerStore, StaleVersion
from store.users import UserStore

AT = datetime(2026, 11, 2, 10, 0)


@pytest.fixture
def path(tmp_path) -> str:
    """The demo town on the backend under test."""
    return town_copy(BACKEND, DEMO_GPKG, tmp_path)


@pytest.fixture
def gpkg(tmp_path) -> Path:
    """The demo town as a file, whatever the backend."""
    return Path(town_copy("gpkg", DEMO_GPKG, tmp_path))


@pytest.fixture
def ledger(path):
    store = LedgerStore(path)
    yield store
    store.close()


def _registered(ledger: LedgerStore) -> int:
    """A general hazard put back to 登记 (the demo's ledger snapshot has none that fresh)."""
    fid = int(ledger._db.execute("SELECT min(fid) FROM hazards WHERE level = 'general'").fetchone()[0])
    ledger._db.execute(
        "UPDATE hazards SET status = 'registered', supervised = ?, supervision_level = NULL, acceptor = NULL,"
        " accepted_on = NULL, closed_on = NULL WHERE fid = ?",
        (ledger._db.flag(False), fid),
    )
    return fid


def _rectifying(ledger: LedgerStore) -> int:
    return int(ledger._db.execute("SELECT fid FROM hazards WHERE status = 'rectifying' ORDER BY fid").fetchone()[0])


def test_a_step_updates_the_hazard_and_appends_its_event(ledger, path):
    fid = _registered(ledger)
    before, version = ledger.hazard(fid)
    assert version == 0 and before.status == HazardStatus.REGISTERED
    after, version, event = ledger.apply(fid, 0, "assess", {"level": "major"}, actor="镇安办", at=AT)
    assert version == 1 and after.status == HazardStatus.ASSESSED and after.supervised
    assert ledger.hazard(fid) == (after, 1)
    history = ledger.history(fid)
    assert [(h["seq"], h["action"], h["from_status"], h["to_status"]) for h in history] == [
        (1, "assess", "registered", "assessed")
    ]
    assert history[0]["changes"]["level"] == ["general", "major"] and history[0]["actor"] == "镇安办"
    # the layer as the map reads it has the change (on a file: GDAL still reads it, and the spatial index is sound)
    frame = open_store(path).read(LAYERS["hazards"])
    assert frame.loc[fid, "status"] == "assessed" and frame.loc[fid, "level"] == "major"
    assert ledger.integrity() == "ok"


def test_a_stale_version_writes_nothing(ledger):
    fid = _rectifying(ledger)
    ledger.apply(fid, 0, "edit", {"measures": "第一次修改"}, actor="甲", at=AT)
    with pytest.raises(StaleVersion) as caught:
        ledger.apply(fid, 0, "edit", {"measures": "基于旧版本的修改"}, actor="乙", at=AT)
    assert caught.value.current == 1 and "请刷新后重试" in str(caught.value)
    assert ledger.hazard(fid)[0].measures == "第一次修改" and len(ledger.history(fid)) == 1


def test_a_refused_step_writes_nothing(ledger):
    fid = _registered(ledger)
    with pytest.raises(TransitionError):
        ledger.apply(fid, 0, "close", {}, actor="甲", at=AT)
    with pytest.raises(HazardNotFound):
        ledger.apply(99_999, 0, "assess", {"level": "general"}, actor="甲", at=AT)
    assert ledger.hazard(fid)[1] == 0 and ledger.history(fid) == []


def test_concurrent_writers_lose_no_update(path):
    """Eight writers, each with its own connection, edit the same hazard; stale writes retry, none is lost."""
    setup = LedgerStore(path)
    fid = _rectifying(setup)
    setup.close()
    done: list[str] = []
    stale = 0
    lock = threading.Lock()

    def writer(name: str) -> None:
        nonlocal stale
        store = LedgerStore(path)
        try:
            for i in range(15):
                while True:
                    _, version = store.hazard(fid)
                    try:
                        store.apply(fid, version, "edit", {"measures": f"{name}-{i}"}, actor=name, at=AT)
                    except StaleVersion:
                        with lock:
                            stale += 1
                        continue
                    with lock:
                        done.append(f"{name}-{i}")
                    break
        finally:
            store.close()

    threads = [threading.Thread(target=writer, args=(f"w{k}",)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check = LedgerStore(path)
    history = check.history(fid)
    assert len(history) == len(done) == 120
    assert [h["seq"] for h in history] == list(range(1, 121))
    assert sorted(h["changes"]["measures"][1] for h in history) == sorted(done)  # each once, none lost
    assert check.hazard(fid)[0].measures == history[-1]["changes"]["measures"][1]
    assert check.integrity() == "ok"
    check.close()


def test_geometry_functions_keep_gdal_spatial_index_right(gpkg):
    db = connect(gpkg)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    blob = point_blob(120.55, 42.85)
    assert decode(blob).equals_exact(shapely.Point(120.55, 42.85), 0)
    db.execute("UPDATE hazards SET geom = ? WHERE fid = 1", (blob,))
    minx, maxy = db.execute("SELECT minx, maxy FROM rtree_hazards_geom WHERE id = 1").fetchone()
    assert minx == pytest.approx(120.55) and maxy == pytest.approx(42.85)
    db.close()
    frame = pyogrio.read_dataframe(gpkg, layer="hazards", fid_as_index=True)
    assert frame.geometry[1].x == pytest.approx(120.55)
    with pytest.raises(sqlite3.Error):
        sqlite3.connect(gpkg).execute("UPDATE hazards SET geom = ? WHERE fid = 1", (blob,))  # why the functions exist


def test_backup_while_writing_gives_a_sound_consistent_copy(gpkg, tmp_path):
    writer = LedgerStore(gpkg)
    fid = _rectifying(writer)
    stop = threading.Event()

    def write() -> None:
        i = 0
        while not stop.is_set():
            _, version = writer.hazard(fid)
            writer.apply(fid, version, "edit", {"measures": f"m{i}"}, actor="w", at=AT)
            i += 1

    thread = threading.Thread(target=write)
    thread.start()
    try:
        copies = [backup(gpkg, tmp_path / f"copy{k}.gpkg") for k in range(3)]
    finally:
        stop.set()
        thread.join()
        writer.close()
    for copy in copies:
        assert sqlite3.connect(copy).execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        frame = pyogrio.read_dataframe(copy, layer="hazards", fid_as_index=True)
        store = LedgerStore(copy)
        history = store.history(fid)
        assert [h["seq"] for h in history] == list(range(1, len(history) + 1))
        if history:  # the hazard row and its history were copied at the same moment
            assert frame.loc[fid, "measures"] == history[-1]["changes"]["measures"][1]
        assert store.integrity() == "ok"
        store.close()


def test_files_from_older_versions_gain_the_new_columns(gpkg):
    with sqlite3.connect(gpkg) as db:
        db.execute(
            "CREATE TABLE onemap_users (username TEXT PRIMARY KEY, password_hash TEXT NOT NULL, role TEXT NOT NULL,"
            " village_code TEXT, unit TEXT, display_name TEXT NOT NULL DEFAULT '',"
            " active INTEGER NOT NULL DEFAULT 1, created_at TEXT NOT NULL)"
        )  # the table as it was before supervisors had a level
    users = UserStore(gpkg)
    users.add("banner", "long enough password", "supervisor", level="banner")
    assert users.get("banner").level == "banner"
    users.close()
