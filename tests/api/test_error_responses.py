"""Bad requests of every kind get a 4xx with a message a person can act on, and never a stack trace, a file path on
the server or the repr of a Python object."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from backends import BACKENDS, settings_for, town_copy, with_account
from fastapi.testclient import TestClient

from api.main import create_app
from onemap.settings import DEMO_GPKG

PASSWORD = "correct horse battery"
HUGE = "9" * 30
#: What must never appear in an answer: a traceback, where the code or the data lives, a Python object's repr.
LEAKS = ("Traceback", "/work", "site-packages", '.py"', ".py'", 'File "', " object at 0x", "/tmp", "/home", "/usr/")


@pytest.fixture(scope="module", params=BACKENDS)
def served(request, tmp_path_factory) -> Iterator[tuple[TestClient, dict[str, str], str]]:
    location = town_copy(request.param, DEMO_GPKG, tmp_path_factory.mktemp("errors"))
    with_account(location, "admin", PASSWORD, "admin")
    with TestClient(create_app(settings_for(location)), raise_server_exceptions=False) as client:
        token = client.post("/auth/token", data={"username": "admin", "password": PASSWORD}).json()["access_token"]
        yield client, {"Authorization": f"Bearer {token}"}, location


#: (method, path, request options; "auth" sends the admin's token). Each must be refused with a 4xx.
BAD = [
    ("GET", "/collections/nope", {}),
    ("GET", "/collections/nope/items", {}),
    ("GET", "/collections/../../etc/passwd/items", {}),
    ("GET", "/collections/roads/items/999999", {}),
    ("GET", "/collections/roads/items/abc", {}),
    ("GET", f"/collections/roads/items/{HUGE}", {}),
    ("GET", "/collections/roads/items?bbox=1,2,3", {}),
    ("GET", "/collections/roads/items?bbox=a,b,c,d", {}),
    ("GET", "/collections/roads/items?bbox=1e999,0,1,1", {}),
    ("GET", "/collections/roads/items?bbox=200,0,201,1", {}),
    ("GET", f"/collections/roads/items?limit=-1&offset={HUGE}", {}),
    ("GET", "/collections/roads/items?bbox-crs=EPSG:3857&bbox=0,0,1,1", {}),
    ("GET", "/collections/roads/tiles/99/1/1", {}),
    ("GET", f"/collections/roads/tiles/3/{HUGE}/1", {}),
    ("GET", "/collections/roads/tiles/a/b/c", {}),
    ("GET", "/map/data/roads?bbox=nan,1,2,3&zoom=3", {}),
    ("GET", "/map/data/roads?bbox=0,0,1,1&zoom=99", {}),
    ("GET", "/map/data/nope?bbox=0,0,1,1&zoom=3", {}),
    ("GET", "/map/popup/roads/0", {}),
    ("GET", f"/map/popup/roads/{HUGE}", {}),
    ("GET", "/map/popup/nope/1", {}),
    ("GET", "/map/popup/hazards/1", {}),
    ("GET", "/map/village/999", {}),
    ("GET", "/map/village/%00", {}),
    ("GET", "/map/village/..%2f..%2fetc%2fpasswd", {}),
    ("GET", "/map/risk/abc", {}),
    ("GET", "/map?basemap=nope", {}),
    ("GET", "/map?basemap=tianditu", {}),
    ("GET", "/map/near?lon=1e308&lat=1", {}),
    ("GET", "/map/near?lon=0&lat=0", {}),
    ("GET", "/map/search?q=" + "x" * 100, {}),
    ("GET", "/villages/zz/summary", {}),
    ("POST", "/analysis/plan?cost=garbage&cmf=x%3Dy", "auth"),
    ("POST", "/analysis/plan?budget=-1", "auth"),
    ("POST", "/analysis/nkde?lixel_m=-1&kernel=nope", "auth"),
    ("GET", "/analysis/fire/coverage?scenario=nope", {}),
    ("GET", "/analysis/risk/incident?lon=120.55&lat=42.85&radius_m=-5", {}),
    ("POST", "/analysis/risk/surface?weight=nope%3D1", "auth"),
    ("POST", f"/analysis/fire/settlements/{HUGE}/register", "auth"),
    ("GET", "/ledger/hazards", {}),
    ("GET", "/ledger/hazards", {"headers": {"Authorization": "Bearer a.b.c"}}),
    ("GET", "/ledger/hazards", {"headers": {"Authorization": "Basic YWRtaW46YWRtaW4="}}),
    ("GET", "/ledger/hazards?status=nope", "auth"),
    ("GET", "/ledger/hazards/99999999", "auth"),
    ("GET", f"/ledger/hazards/{HUGE}", "auth"),
    ("GET", "/ledger/hazards/-1", "auth"),
    ("GET", f"/ledger/hazards/{2**63}/history", "auth"),
    ("GET", f"/ledger/photos/{HUGE}", "auth"),
    ("GET", "/ledger/photos/99999", "auth"),
    ("GET", "/ledger/lists/due?days=-1", "auth"),
    ("GET", "/ledger/stats?by=x", "auth"),
    ("POST", "/ledger/hazards", {"content": b"{not json", "headers": {"Content-Type": "application/json"}}),
    ("POST", "/ledger/hazards", {"content": b"<xml/>", "headers": {"Content-Type": "application/xml"}}),
    ("POST", "/ledger/hazards", {"content": b"\xff\xfe\x00", "headers": {"Content-Type": "application/json"}}),
    ("POST", "/ledger/hazards", {"json": [1, 2]}),
    ("POST", "/ledger/hazards", {"json": {"lon": 1e308, "lat": -1e308}}),
    ("POST", "/ledger/hazards", {"data": {"lon": "1"}}),
    ("POST", "/ledger/hazards/1/steps", {"json": {"action": "nope"}}),
    ("POST", "/ledger/hazards/1/steps", {"json": {"action": "edit"}, "headers": {"If-Match": "zzz"}}),
    ("POST", "/ledger/hazards/1/steps", {"json": {"action": "edit", "version": 10**30}}),
    ("POST", f"/ledger/reports/{HUGE}/accept", {"json": {}}),
    ("POST", "/reports", {"content": b"\xff\xfe", "headers": {"Content-Type": "application/json"}}),
    ("POST", "/reports", {"json": {"lon": "x"}}),
    ("POST", "/reports", {"json": {"lon": 120.5, "lat": 42.8, "description": "x" * 5000}}),
    ("GET", "/reports/zzzzzz", {}),
    ("GET", "/reports/" + "z" * 300, {}),
    ("POST", "/auth/token", {"json": {"username": "a"}}),
    ("POST", "/auth/token", {"data": {"username": "admin", "password": "wrong"}}),
    ("POST", "/auth/token?session=forever", {"data": {"username": "admin", "password": PASSWORD}}),
    ("DELETE", "/collections", {}),
    ("PUT", "/ledger/hazards", {}),
    ("GET", "/static/vendor/%2e%2e/%2e%2e/etc/passwd", {}),
    ("GET", "/static/vendor/..%2f..%2f..%2f..%2fetc%2fpasswd", {}),
    ("GET", "/static/onemap/%2e%2e/%2e%2e/onemap/settings.py", {}),
    ("GET", "/static/onemap/%2e%2e%2f%2e%2e%2fdata%2fdemo_town.gpkg", {}),
    ("GET", "/nope", {}),
]


def _check(response, where: str, location: str) -> None:
    assert 400 <= response.status_code < 500, (where, response.status_code, response.text[:300])
    kind = response.headers.get("content-type", "")
    assert kind.startswith(("application/json", "text/plain")), (where, kind)
    for leak in (*LEAKS, location, Path(location).name if "://" not in location else location):
        assert leak not in response.text, (where, leak, response.text[:300])
    if kind.startswith("application/json"):
        body = response.json()
        assert isinstance(body.get("detail") or body.get("description"), str | list), (where, body)


@pytest.mark.parametrize(("method", "path", "options"), BAD, ids=[f"{m} {p[:60]}" for m, p, _ in BAD])
def test_a_bad_request_gets_a_plain_4xx(served, method, path, options):
    client, bearer, location = served
    options = {"headers": bearer} if options == "auth" else options
    if path.startswith(("/ledger", "/reports")) and method == "POST":
        options = {**options, "headers": {**bearer, **options.get("headers", {})}}
    _check(client.request(method, path, **options), f"{method} {path}", location)


def test_a_body_that_does_not_parse_is_a_400_saying_so(served):
    client, bearer, location = served
    nested = b'{"description": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"
    for body in (nested, b"[" * 100_000):  # deeper than the JSON parser recurses
        response = client.post("/ledger/hazards", content=body, headers={**bearer, "Content-Type": "application/json"})
        _check(response, "POST /ledger/hazards", location)
        assert response.status_code == 400 and response.json()["code"] == "InvalidBody"
        assert "could not be parsed" in response.json()["description"]
    broken = client.post(
        "/ledger/hazards", content=b"{not json", headers={**bearer, "Content-Type": "application/json"}
    )
    assert broken.status_code == 400 and "JSON" in broken.json()["description"]


def test_a_file_that_is_not_an_image_is_refused_without_the_decoders_words(served):
    client, bearer, location = served
    files = {"file": ("x.jpg", io.BytesIO(b"%PDF-1.4 not a photo"), "image/jpeg")}
    response = client.post("/ledger/hazards/1/photos", data={"kind": "before"}, files=files, headers=bearer)
    _check(response, "photo", location)
    assert "not a readable image" in response.json()["description"]


@pytest.mark.parametrize(
    "raw",
    [b"/static/vendor/../../../etc/passwd", b"/static/onemap/../../onemap/settings.py",
     b"/static/vendor/leaflet/../../../data/demo_town.gpkg", b"/static/vendor/..%2f..%2f..%2fetc/passwd"],
)  # fmt: skip
def test_dot_segments_sent_as_they_are_cannot_leave_the_static_folders(served, raw):
    """HTTP clients remove "/../" before sending; a hostile one need not, so the path goes to the app unchanged."""
    client, _, location = served
    status, body = asyncio.run(_raw_get(client.app, raw))
    assert status == 404, (raw, status)
    assert b"root:" not in body and b"SQLite" not in body and b"BaseSettings" not in body
    for leak in (*LEAKS, location):
        assert leak.encode() not in body


async def _raw_get(app, raw_path: bytes) -> tuple[int, bytes]:
    """One GET straight into the ASGI app with the path exactly as given."""
    from urllib.parse import unquote_to_bytes

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": unquote_to_bytes(raw_path).decode("latin-1"), "raw_path": raw_path, "root_path": "",
        "query_string": b"", "headers": [(b"host", b"testserver")], "client": ("127.0.0.1", 1),
        "server": ("testserver", 80), "state": {},
    }  # fmt: skip
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
