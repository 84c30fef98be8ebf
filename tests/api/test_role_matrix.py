"""Every role against every ledger and report endpoint: allowed or denied, and a denied request changes nothing."""

from __future__ import annotations

import io
import shutil
from collections.abc import Callable, Iterator

import numpy as np
import pytest
import shapely.geometry
from backends import BACKENDS, settings_for, town_on
from fastapi.testclient import TestClient
from PIL import Image

from api.main import create_app
from layers import LAYERS
from onemap.settings import DEMO_GPKG
from store import GeoPackageStore
from store.users import UserStore

PASSWORD = "correct horse battery"
UNIT = "中石油义隆永加油站"
ROLES = ("anonymous", "admin", "own_village", "other_village", "unit", "emergency", "supervisor")


@pytest.fixture(scope="module", params=BACKENDS)
def setup(request, tmp_path_factory) -> Iterator[dict]:
    path = tmp_path_factory.mktemp("matrix") / "town.gpkg"
    shutil.copy(DEMO_GPKG, path)
    hazards = GeoPackageStore(path).read(LAYERS["hazards"])
    mine = hazards[(hazards["unit"] == UNIT) & (hazards["status"] == "rectifying")]
    target = {"id": int(mine.index[0])}
    village = mine["village_code"].iloc[0]
    users = UserStore(path)
    users.add("admin", PASSWORD, "admin")
    users.add("own_village", PASSWORD, "village", village_code=village)
    users.add("other_village", PASSWORD, "village", village_code="150525107299")
    users.add("unit", PASSWORD, "unit", unit=UNIT)
    users.add("emergency", PASSWORD, "emergency")
    users.add("supervisor", PASSWORD, "supervisor", level="banner")
    users.close()
    with (
        town_on(request.param, path) as location,
        TestClient(create_app(settings_for(location, report_limit=1000))) as client,
    ):
        headers = {"anonymous": {}}
        for role in ROLES[1:]:
            token = client.post("/auth/token", data={"username": role, "password": PASSWORD}).json()["access_token"]
            headers[role] = {"Authorization": f"Bearer {token}"}
        villages = client.get("/collections/villages/items", params={"limit": 100}).json()["features"]
        outline = next(f for f in villages if f["properties"]["code"] == village)["geometry"]
        point = shapely.geometry.shape(outline).representative_point()
        yield {"client": client, "headers": headers, "fid": target["id"], "lon": point.x, "lat": point.y}


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((16, 16, 3), 180, np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def _version(s: dict) -> int:
    return s["client"].get(f"/ledger/hazards/{s['fid']}", headers=s["headers"]["admin"]).json()["version"]


def _new_report(s: dict, photo: bool = False) -> int:
    body = {"lon": s["lon"], "lat": s["lat"], "description": "路边有人堆放柴草"}
    code = s["client"].post("/reports", json=body).json()["code"]
    if photo:
        s["client"].post(f"/reports/{code}/photo", files={"file": ("p.png", _png())})
    pending = s["client"].get("/ledger/reports", headers=s["headers"]["admin"]).json()["reports"]
    return next(r["id"] for r in pending if r["code"] == code)


def _code(s: dict) -> str:
    body = {"lon": s["lon"], "lat": s["lat"], "description": "路边有人堆放柴草"}
    return s["client"].post("/reports", json=body).json()["code"]


FILING = {"sector": "fire", "responsible_unit": "村委会", "responsible_person": "孙八"}
NEW = {"sector": "fire", "description": "柴草堆放", "channel": "self_inspection", "responsible_unit": "村委会",
       "responsible_person": "孙八"}  # fmt: skip

#: endpoint → (request, expected status per role in ROLES order).
Call = Callable[[dict, dict], object]
MATRIX: dict[str, tuple[Call, tuple[int, ...]]] = {
    "list hazards": (lambda s, h: s["client"].get("/ledger/hazards", headers=h), (401, 200, 200, 200, 200, 200, 200)),
    "register": (
        lambda s, h: s["client"].post("/ledger/hazards", json={**NEW, "lon": s["lon"], "lat": s["lat"]}, headers=h),
        (401, 201, 201, 403, 201, 403, 403),
    ),
    "overdue list": (
        lambda s, h: s["client"].get("/ledger/lists/overdue", headers=h),
        (401, 200, 200, 200, 200, 200, 200),
    ),
    "due list": (lambda s, h: s["client"].get("/ledger/lists/due", headers=h), (401, 200, 200, 200, 200, 200, 200)),
    "statistics": (lambda s, h: s["client"].get("/ledger/stats", headers=h), (401, 200, 200, 200, 200, 200, 200)),
    "xlsx": (lambda s, h: s["client"].get("/ledger/export.xlsx", headers=h), (401, 200, 200, 200, 200, 200, 200)),
    "read hazard": (
        lambda s, h: s["client"].get(f"/ledger/hazards/{s['fid']}", headers=h),
        (401, 200, 200, 403, 200, 200, 200),
    ),
    "edit step": (
        lambda s, h: s["client"].post(
            f"/ledger/hazards/{s['fid']}/steps",
            json={"action": "edit", "version": _version(s), "fields": {"measures": "矩阵测试"}},
            headers=h,
        ),
        (401, 200, 200, 403, 200, 403, 403),
    ),
    "history": (
        lambda s, h: s["client"].get(f"/ledger/hazards/{s['fid']}/history", headers=h),
        (401, 200, 200, 403, 200, 200, 200),
    ),
    "add photo": (
        lambda s, h: s["client"].post(
            f"/ledger/hazards/{s['fid']}/photos", data={"kind": "before"}, files={"file": ("a.png", _png())}, headers=h
        ),
        (401, 201, 201, 403, 201, 403, 403),
    ),
    "list photos": (
        lambda s, h: s["client"].get(f"/ledger/hazards/{s['fid']}/photos", headers=h),
        (401, 200, 200, 403, 200, 200, 200),
    ),
    "pending reports": (
        lambda s, h: s["client"].get("/ledger/reports", headers=h),
        (401, 200, 200, 200, 403, 403, 403),
    ),
    "accept report": (
        lambda s, h: s["client"].post(f"/ledger/reports/{_new_report(s)}/accept", json=FILING, headers=h),
        (401, 201, 201, 403, 403, 403, 403),
    ),
    "reject report": (
        lambda s, h: s["client"].post(f"/ledger/reports/{_new_report(s)}/reject", json={"reason": "不属实"}, headers=h),
        (401, 200, 200, 403, 403, 403, 403),
    ),
    "report photo (staff)": (
        lambda s, h: s["client"].get(f"/ledger/reports/{_new_report(s, photo=True)}/photo", headers=h),
        (401, 200, 200, 403, 403, 403, 403),
    ),
    "add report photo (public)": (
        lambda s, h: s["client"].post(f"/reports/{_code(s)}/photo", files={"file": ("p.png", _png())}, headers=h),
        (200, 200, 200, 200, 200, 200, 200),
    ),
    "submit report": (
        lambda s, h: s["client"].post(
            "/reports", json={"lon": s["lon"], "lat": s["lat"], "description": "有隐患需要处理"}, headers=h
        ),
        (201, 201, 201, 201, 201, 201, 201),
    ),
}


@pytest.mark.parametrize("endpoint", list(MATRIX))
@pytest.mark.parametrize("role", ROLES)
def test_role_by_endpoint(setup, endpoint, role):
    request, expected = MATRIX[endpoint]
    before = setup["client"].get(f"/ledger/hazards/{setup['fid']}", headers=setup["headers"]["admin"]).json()
    response = request(setup, setup["headers"][role])
    assert response.status_code == expected[ROLES.index(role)], response.text
    if response.status_code >= 400:
        assert response.json()["description"]  # says why
        after = setup["client"].get(f"/ledger/hazards/{setup['fid']}", headers=setup["headers"]["admin"]).json()
        assert after == before  # a refused request changes nothing


def test_every_ledger_endpoint_is_in_the_matrix(setup):
    spec = setup["client"].get("/api").json()["paths"]
    operations = [(m, p) for p, ops in spec.items() if p.startswith(("/ledger", "/reports")) for m in ops]
    # the photo bytes and following a report by its code are checked in their own tests
    assert len(operations) == len(MATRIX) + 2, sorted(operations)
