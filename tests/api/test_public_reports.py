"""Public reports: anyone reports and follows by code; staff of the right village accept (into the ledger) or reject."""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator

import numpy as np
import pytest
import shapely.geometry
from backends import BACKENDS, settings_for, town_on
from fastapi.testclient import TestClient
from PIL import Image

from api.main import create_app
from api.ratelimit import RateLimited, SlidingWindow
from onemap.settings import DEMO_GPKG
from store.users import UserStore

SEAT, OTHER = "150525107201", "150525107202"
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module", params=BACKENDS)
def client(request, tmp_path_factory) -> Iterator[TestClient]:
    path = tmp_path_factory.mktemp("reports") / "town.gpkg"
    shutil.copy(DEMO_GPKG, path)
    users = UserStore(path)
    users.add("admin", PASSWORD, "admin")
    users.add("seat", PASSWORD, "village", village_code=SEAT)
    users.add("other", PASSWORD, "village", village_code=OTHER)
    users.add("emergency", PASSWORD, "emergency")
    users.close()
    with (
        town_on(request.param, path) as location,
        TestClient(create_app(settings_for(location, report_limit=50))) as test_client,
    ):
        yield test_client


def _auth(client, who):
    token = client.post("/auth/token", data={"username": who, "password": PASSWORD}).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def _point_in(client, code):
    villages = client.get("/collections/villages/items", params={"limit": 100}).json()["features"]
    polygon = shapely.geometry.shape(next(f for f in villages if f["properties"]["code"] == code)["geometry"])
    p = polygon.representative_point()
    return p.x, p.y


def _report(client, code=SEAT, text="路口的树挡住了视线，经常有车抢行"):
    lon, lat = _point_in(client, code)
    body = {"lon": lon, "lat": lat, "description": text, "reporter": "热心村民", "phone": "13800000000"}
    return client.post("/reports", json=body)


def _pending(client, who):
    return client.get("/ledger/reports", headers=_auth(client, who)).json()["reports"]


def test_report_follow_accept_into_the_ledger(client):
    submitted = _report(client)
    assert submitted.status_code == 201
    code = submitted.json()["code"]
    public = client.get(f"/reports/{code}").json()
    assert public["status"] == "pending" and "phone" not in public and "reporter" not in public
    pending = client.get("/ledger/reports", headers=_auth(client, "seat")).json()["reports"]
    mine = next(r for r in pending if r["code"] == code)
    assert mine["phone"] == "13800000000"  # staff see the contact
    assert all(
        r["code"] != code for r in client.get("/ledger/reports", headers=_auth(client, "other")).json()["reports"]
    )
    assert client.get("/ledger/reports", headers=_auth(client, "emergency")).status_code == 403
    filing = {"sector": "road_traffic", "responsible_unit": "镇交通管理站", "responsible_person": "钱七"}
    denied = client.post(f"/ledger/reports/{mine['id']}/accept", json=filing, headers=_auth(client, "other"))
    assert denied.status_code == 403
    accepted = client.post(f"/ledger/reports/{mine['id']}/accept", json=filing, headers=_auth(client, "seat"))
    assert accepted.status_code == 201, accepted.text
    fid = accepted.json()["hazard_id"]
    hazard = client.get(f"/ledger/hazards/{fid}", headers=_auth(client, "seat")).json()
    assert hazard["properties"]["channel"] == "public_report" and hazard["properties"]["village_code"] == SEAT
    assert client.get(f"/reports/{code}").json()["status"] == "accepted"
    again = client.post(f"/ledger/reports/{mine['id']}/accept", json=filing, headers=_auth(client, "admin"))
    assert again.status_code == 409
    assert client.get(f"/ledger/hazards/{fid + 1}", headers=_auth(client, "admin")).status_code == 404  # one hazard


def test_reject_with_a_reason_the_reporter_sees(client):
    code = _report(client, code=OTHER, text="有人在河边钓鱼不安全吧").json()["code"]
    report = next(
        r for r in client.get("/ledger/reports", headers=_auth(client, "admin")).json()["reports"] if r["code"] == code
    )
    rejected = client.post(
        f"/ledger/reports/{report['id']}/reject", json={"reason": "不属于安全生产隐患"}, headers=_auth(client, "other")
    )
    assert rejected.status_code == 200
    public = client.get(f"/reports/{code}").json()
    assert public["status"] == "rejected" and public["reason"] == "不属于安全生产隐患"


def test_bad_reports_are_refused_and_floods_are_limited(client):
    lon, lat = _point_in(client, SEAT)
    swapped = client.post("/reports", json={"lon": lat, "lat": lon, "description": "位置写反了的举报"})
    assert swapped.status_code == 400 and "swapped" in swapped.json()["description"]
    outside = client.post("/reports", json={"lon": 121.9, "lat": 43.9, "description": "镇外面的举报内容"})
    assert outside.status_code == 400
    assert client.get("/reports/NOSUCHCODE").status_code == 404
    client.app.state.report_limit = SlidingWindow(2, 600)
    statuses = [_report(client).status_code for _ in range(4)]
    assert statuses == [201, 201, 429, 429]
    assert "秒后再试" in _report(client).json()["description"]


def test_the_window_slides():
    window = SlidingWindow(2, 10)
    window.hit("a", now=0)
    window.hit("a", now=1)
    with pytest.raises(RateLimited):
        window.hit("a", now=9)
    window.hit("b", now=9)  # another address has its own window
    window.hit("a", now=10.5)  # the first hit has left the window


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((24, 24, 3), 90, np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_report_photo_travels_into_the_ledger(client):
    client.app.state.report_limit = SlidingWindow(50, 600)
    code = _report(client, text="变压器旁边堆满了纸箱").json()["code"]
    added = client.post(f"/reports/{code}/photo", files={"file": ("p.png", _png(), "image/png")})
    assert added.status_code == 200 and added.json()["has_photo"]
    again = client.post(f"/reports/{code}/photo", files={"file": ("p.png", _png(), "image/png")})
    assert again.status_code == 409
    junk = _report(client, text="另一个举报的内容").json()["code"]
    assert (
        client.post(f"/reports/{junk}/photo", files={"file": ("x.png", b"not an image", "image/png")}).status_code
        == 400
    )
    report = next(r for r in _pending(client, "admin") if r["code"] == code)
    assert client.get(f"/ledger/reports/{report['id']}/photo", headers=_auth(client, "seat")).content == _png()
    filing = {"sector": "fire", "responsible_unit": "供电所", "responsible_person": "周九"}
    fid = client.post(f"/ledger/reports/{report['id']}/accept", json=filing, headers=_auth(client, "seat")).json()[
        "hazard_id"
    ]
    photos = client.get(f"/ledger/hazards/{fid}/photos", headers=_auth(client, "seat")).json()["photos"]
    assert [(p["kind"], p["media_type"], p["width"]) for p in photos] == [("before", "image/png", 24)]
