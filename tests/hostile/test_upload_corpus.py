"""The same hostile files uploaded to POST /collections/{id}/import: each refused with a 4xx whose body names the
problem (and, for refused rows, lists them), and the data unchanged; a good file is stored and served at once.
A 200 MB upload to the real service is refused before it is read, with the service's memory bounded."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import httpx2 as httpx
import psutil
import pytest
from backends import settings_for, with_account
from corpus import CASES, Case, snapshot
from fastapi.testclient import TestClient
from outside_tools import service_process

from api.main import create_app

PASSWORD = "correct horse battery"
#: Where the upload answers differently from the command line, and why.
OVER_HTTP = {
    # a bare .shp cannot bring its .dbf along in one upload: only a zipped Shapefile is taken
    "shp_without_dbf": (400, ("不支持的文件类型", "send one of", ".zip")),
    # the service's body limit refuses it before the import sees a byte (test_a_200_mb_upload_… below)
    "file_over_size_limit": None,
}
HAZARDS = (400, ("POST /ledger/hazards", "register hazards via the ledger"))


def _query(case: Case) -> dict[str, str]:
    options, query = list(case.options), {}
    while options:
        flag = options.pop(0)
        if flag == "--repair":
            query["repair"] = "true"
        elif flag == "--skip-invalid":
            query["skip_invalid"] = "true"
        elif flag == "--crs":
            query["crs"] = options.pop(0)
        else:
            raise AssertionError(f"option {flag} has no HTTP equivalent")
    return query


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    cache: dict[str, Path] = {}

    def build(c: Case) -> Path:
        if c.id not in cache:
            cache[c.id] = c.build(tmp_path_factory.mktemp(f"upload-{c.id}"))
        return cache[c.id]

    return build


@pytest.fixture
def admin_town(town: str) -> str:
    """The town with an office account, started once so the service's own tables exist before any snapshot."""
    with_account(town, "office", PASSWORD, "admin")
    with TestClient(create_app(settings_for(town))):
        pass
    return town


def _upload(location: str, layer: str, path: Path, query: dict[str, str]) -> httpx.Response:
    with TestClient(create_app(settings_for(location))) as client:
        token = client.post("/auth/token", data={"username": "office", "password": PASSWORD}).json()["access_token"]
        with path.open("rb") as f:
            return client.post(
                f"/collections/{layer}/import",
                params=query,
                files={"file": (path.name, f, "application/octet-stream")},
                headers={"Authorization": f"Bearer {token}"},
            )


@pytest.mark.parametrize("case", [c for c in CASES if OVER_HTTP.get(c.id, ()) is not None], ids=lambda c: c.id)
def test_a_hostile_upload_is_refused_naming_the_problem(case: Case, admin_town: str, built) -> None:
    path = built(case)
    before = snapshot(admin_town)
    response = _upload(admin_town, case.layer, path, _query(case))
    status, expected = OVER_HTTP.get(case.id) or (HAZARDS if case.layer == "hazards" else (400, case.expected))
    assert response.status_code == status, response.text[:2000]
    body = response.json()
    refused_whole = case.id in OVER_HTTP or case.layer == "hazards"
    assert body["code"] == ("InvalidParameter" if refused_whole else "ImportRefused")
    shown = "\n".join([body["description"], *body.get("notes", []), *map(_line, body.get("problems", []))])
    for fragment in expected:
        counted = re.fullmatch(r"invalid rows\): (\d+)", fragment)  # the command line's count of bad rows
        if counted:
            assert len(body["problems"]) == int(counted.group(1))
        else:
            assert fragment in shown, (fragment, shown[:3000])
    assert "Traceback" not in shown and "/tmp" not in shown and "onemap-import-" not in shown
    if case.exit_code == 1 and case.layer != "hazards":  # refused rows: each one is listed for the user to fix
        assert body["problems"] and all(p["reasons"] for p in body["problems"])
    after = snapshot(admin_town)
    before.pop("file", None), after.pop("file", None)  # the service's connections may touch the file's pages
    assert after == before


def _line(problem: dict) -> str:
    """A refused row as the command line prints it."""
    return f"{problem['where']}: {'; '.join(problem['reasons'])}"


def _accidents(n: int, *, bad: int = 0) -> bytes:
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [120.41 + i * 1e-4, 42.81]},
            "properties": {"occurred_at": "2025-05-01T08:30:00", "severity": "property"},
        }
        for i in range(n)
    ]
    for i in range(bad):
        features[i]["properties"]["severity"] = "不知道"
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False).encode()


def test_a_good_upload_is_stored_and_served_at_once(admin_town: str, tmp_path: Path) -> None:
    with TestClient(create_app(settings_for(admin_town))) as client:
        token = client.post("/auth/token", data={"username": "office", "password": PASSWORD}).json()["access_token"]
        office = {"Authorization": f"Bearer {token}"}
        count = client.get("/collections/accidents/items", params={"limit": 1}).json()["numberMatched"]
        files = {"file": ("事故.geojson", _accidents(12), "application/geo+json")}
        response = client.post("/collections/accidents/import", files=files, headers=office)
        assert response.status_code == 201, response.text
        report = response.json()
        assert report["written"] == report["total"] == len(report["fids"]) == 12
        assert client.get("/collections/accidents/items", params={"limit": 1}).json()["numberMatched"] == count + 12
        served = client.get(f"/collections/accidents/items/{report['fids'][-1]}").json()
        assert served["properties"]["severity"] == "property"
        box = "120.4095,42.8095,120.4125,42.8105"
        found = client.get("/collections/accidents/items", params={"bbox": box, "limit": 100}).json()["features"]
        assert set(report["fids"]) <= {f["id"] for f in found}  # in the spatial index, not only the table

        partly = {"file": ("事故.geojson", _accidents(5, bad=2), "application/geo+json")}
        refused = client.post("/collections/accidents/import", files=partly, headers=office)
        assert refused.status_code == 400
        assert [p["row"] for p in refused.json()["problems"]] == [1, 2]
        assert "事故等级" in refused.json()["problems"][0]["reasons"][0]
        skipped = client.post(
            "/collections/accidents/import", files=partly, params={"skip_invalid": "true"}, headers=office
        )
        assert skipped.status_code == 201 and skipped.json()["written"] == 3
        assert client.get("/collections/accidents/items", params={"limit": 1}).json()["numberMatched"] == count + 15


def test_only_the_town_office_imports(admin_town: str) -> None:
    with_account(admin_town, "cun", PASSWORD, "village", village_code="150525107201")
    with TestClient(create_app(settings_for(admin_town))) as client:
        files = {"file": ("事故.geojson", _accidents(1), "application/geo+json")}
        assert client.post("/collections/accidents/import", files=files).status_code == 401
        token = client.post("/auth/token", data={"username": "cun", "password": PASSWORD}).json()["access_token"]
        village = {"Authorization": f"Bearer {token}"}
        assert client.post("/collections/accidents/import", files=files, headers=village).status_code == 403
        derived = client.post("/collections/blackspots/import", files=files, headers=village)
        assert derived.status_code in (400, 403, 404)


def _send_raw(url: str, head: bytes, preamble: bytes, body_bytes: int, chunked: bool) -> tuple[int, bytes]:
    """Send headers, then a multipart body (its preamble and zeros to `body_bytes` in all), stopping early when the
    service answers and closes; its status and body."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=60) as sock:
        sock.sendall(head)
        sent, chunk = 0, b"\0" * 2**20
        try:
            sock.sendall(b"%x\r\n%s\r\n" % (len(preamble), preamble) if chunked else preamble)
            body_bytes -= len(preamble)
            while sent < body_bytes:
                piece = chunk[: body_bytes - sent]
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
                sent += len(piece)
            if chunked:
                sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the service answered and closed the connection: the rest was never read
        answer = b""
        while b"\r\n\r\n" not in answer or len(answer) < answer.index(b"\r\n\r\n") + 4 + 10:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    status = int(answer.split(b" ", 2)[1])
    return status, answer.split(b"\r\n\r\n", 1)[1]


@pytest.mark.parametrize("chunked", [False, True], ids=["with-length", "chunked"])
def test_a_200_mb_upload_is_refused_before_it_is_read(admin_town: str, chunked: bool) -> None:
    size = 200 * 2**20
    with service_process(admin_town) as served:
        token = httpx.post(f"{served.url}/auth/token", data={"username": "office", "password": PASSWORD})
        bearer = token.json()["access_token"]
        count = httpx.get(f"{served.url}/collections/accidents/items", params={"limit": 1}).json()["numberMatched"]
        server = psutil.Process(served.proc.pid)
        rss_before = server.memory_info().rss
        framing = "transfer-encoding: chunked" if chunked else f"content-length: {size}"
        head = (
            f"POST /collections/accidents/import HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {bearer}\r\n"
            f"content-type: multipart/form-data; boundary=b\r\n{framing}\r\n\r\n"
        ).encode()
        preamble = b'--b\r\ncontent-disposition: form-data; name="file"; filename="big.csv"\r\n\r\n'
        status, body = _send_raw(served.url, head, preamble, size, chunked)
        assert status == 413, body[:500]
        assert "too large" in body.decode("utf-8", "replace")
        grown = server.memory_info().rss - rss_before
        assert grown < 64 * 2**20, f"the service grew by {grown / 2**20:.0f} MB"
        assert httpx.get(f"{served.url}/readyz").status_code == 200
        after = httpx.get(f"{served.url}/collections/accidents/items", params={"limit": 1}).json()["numberMatched"]
        assert after == count
