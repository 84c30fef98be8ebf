"""The ledger against a running server under load (loopback only, bounded): no lost update, no 5xx, and every
acknowledged write survives a kill -9."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import defaultdict

import httpx2 as httpx
import pytest
from backends import BACKEND, town_copy
from outside_tools import service_process

from onemap.settings import DEMO_GPKG
from store.ledger import LedgerStore
from store.users import UserStore

pytestmark = pytest.mark.load

CLIENTS = 20
UPDATES = 100
SHARED = 5
MAX_TRIES = 200  # per update: a client that keeps losing the race gives up rather than spin forever
PASSWORD = "load test password"


@pytest.fixture
def data(tmp_path):
    path = town_copy(BACKEND, DEMO_GPKG, tmp_path)
    users = UserStore(path)
    users.add("admin", PASSWORD, "admin")
    users.close()
    return path


def _sign_in(url: str) -> dict[str, str]:
    token = httpx.post(f"{url}/auth/token", data={"username": "admin", "password": PASSWORD}).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def _shared_hazards(url: str, headers: dict[str, str]) -> list[int]:
    hazards = httpx.get(f"{url}/ledger/hazards", params={"status": "rectifying"}, headers=headers).json()["hazards"]
    return sorted(h["id"] for h in hazards)[:SHARED]


def _update(client: httpx.Client, fid: int, value: str) -> tuple[bool, int, list[int]]:
    """Read, then write on that version; retry on 409. (acknowledged, stale retries, unexpected statuses)."""
    stale, odd = 0, []
    for _ in range(MAX_TRIES):
        version = client.get(f"/ledger/hazards/{fid}").json()["version"]
        response = client.post(
            f"/ledger/hazards/{fid}/steps", json={"action": "edit", "version": version, "fields": {"measures": value}}
        )
        if response.status_code == 200:
            return True, stale, odd
        if response.status_code == 409:
            stale += 1
            continue
        odd.append(response.status_code)
        return False, stale, odd
    return False, stale, odd


def test_twenty_clients_lose_no_update(data):
    with service_process(data) as service:
        headers = _sign_in(service.url)
        fids = _shared_hazards(service.url, headers)
        baseline = {
            fid: httpx.get(f"{service.url}/ledger/hazards/{fid}", headers=headers).json()["version"] for fid in fids
        }
        acknowledged: dict[int, list[str]] = defaultdict(list)
        statuses: list[int] = []
        stale_total = 0
        lock = threading.Lock()

        def client_run(k: int) -> None:
            nonlocal stale_total
            with httpx.Client(base_url=service.url, headers=headers, timeout=60) as client:
                for i in range(UPDATES):
                    fid = fids[(k + i) % SHARED]
                    value = f"c{k}-u{i}"
                    ok, stale, odd = _update(client, fid, value)
                    with lock:
                        stale_total += stale
                        statuses.extend(odd)
                        if ok:
                            acknowledged[fid].append(value)

        started = time.monotonic()
        threads = [threading.Thread(target=client_run, args=(k,)) for k in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=600)
        elapsed = time.monotonic() - started
        assert not any(t.is_alive() for t in threads), "clients still running after 10 minutes"
        assert statuses == []  # no 5xx, no other surprise
        assert sum(len(v) for v in acknowledged.values()) == CLIENTS * UPDATES
        for fid in fids:
            events = httpx.get(f"{service.url}/ledger/hazards/{fid}/history", headers=headers).json()["events"]
            new = [e for e in events if e["seq"] > baseline[fid]]
            assert len(new) == len(acknowledged[fid])  # one event per acknowledged update, none lost or doubled
            assert sorted(e["changes"]["measures"][1] for e in new) == sorted(acknowledged[fid])
            assert [e["seq"] for e in new] == list(range(baseline[fid] + 1, baseline[fid] + 1 + len(new)))
            final = httpx.get(f"{service.url}/ledger/hazards/{fid}", headers=headers).json()
            assert final["properties"]["measures"] == new[-1]["changes"]["measures"][1]
        print(f"{CLIENTS * UPDATES} updates in {elapsed:.1f} s, {stale_total} stale writes refused with 409")


def test_acknowledged_writes_survive_kill_9(data):
    acknowledged: list[tuple[int, str]] = []
    with service_process(data) as service:
        headers = _sign_in(service.url)
        fids = _shared_hazards(service.url, headers)
        stop = threading.Event()

        def writer(k: int) -> None:
            with httpx.Client(base_url=service.url, headers=headers, timeout=10) as client:
                i = 0
                while not stop.is_set():
                    fid, value = fids[(k + i) % SHARED], f"w{k}-{i}"
                    try:
                        ok, _, _ = _update(client, fid, value)
                    except httpx.TransportError:
                        return  # the server is gone: this write was never acknowledged
                    if ok:
                        acknowledged.append((fid, value))
                    i += 1

        threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while len(acknowledged) < 150 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(service.proc.pid, signal.SIGKILL)
        service.proc.wait(timeout=10)
        stop.set()
        for t in threads:
            t.join(timeout=30)
    assert len(acknowledged) >= 150
    ledger = LedgerStore(data)  # reopening recovers the WAL
    try:
        assert ledger.integrity() == "ok"
        written = {(fid, e["changes"]["measures"][1]) for fid in fids for e in ledger.history(fid)}
        assert set(acknowledged) <= written
    finally:
        ledger.close()
    with service_process(data) as again:  # and the service starts on it
        headers = _sign_in(again.url)
        assert httpx.get(f"{again.url}/collections/hazards/items", params={"limit": 1}, headers=headers).is_success
