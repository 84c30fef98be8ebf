"""The ledger over HTTP: sign-in, every role against every ledger endpoint, optimistic concurrency, and history."""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import jwt
import openpyxl
import pytest
import shapely.geometry
from backends import BACKENDS, settings_for, town_on
from fastapi.testclient import TestClient

from api.main import create_app
from onemap.settings import DEMO_GPKG
from store.users import UserStore

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SEAT = "150525107201"
OTHER = "150525107202"
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module", params=BACKENDS)
def data(request, tmp_path_factory) -> Iterator[str]:
    """The demo town with its accounts, in a GeoPackage or in PostgreSQL: every test here runs on both."""
    path = tmp_path_factory.mktemp("ledger") / "town.gpkg"
    shutil.copy(DEMO_GPKG, path)
    users = UserStore(path)
    users.add("admin", PASSWORD, "admin", display_name="镇安办")
    users.add("seat", PASSWORD, "village", village_code=SEAT, display_name="义隆永村干部")
    users.add("other", PASSWORD, "village", village_code=OTHER)
    users.add("station", PASSWORD, "unit", unit="中石油义隆永加油站")
    users.add("emergency", PASSWORD, "emergency")
    users.close()
    with town_on(request.param, path) as location:
        yield location


@pytest.fixture(scope="module")
def client(data) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(data))) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def tokens(client) -> dict[str, str]:
    out = {}
    for name in ("admin", "seat", "other", "station", "emergency"):
        response = client.post("/auth/token", data={"username": name, "password": PASSWORD})
        assert response.status_code == 200, response.text
        out[name] = response.json()["access_token"]
    return out


def auth(tokens, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[who]}"}


def _hazard(client, tokens, *, village=None, unit=None, status="rectifying") -> int:
    hazards = client.get("/ledger/hazards", headers=auth(tokens, "admin")).json()["hazards"]
    for h in hazards:
        if (
            h["status"] == status
            and (village is None or h["village_code"] == village)
            and (unit is None or h["unit"] == unit)
        ):
            return h["id"]
    raise AssertionError(f"no {status} hazard for {village or unit}")


def test_sign_in_and_bad_tokens(client, tokens, data):
    assert client.post("/auth/token", data={"username": "admin", "password": "wrong"}).status_code == 401
    assert client.post("/auth/token", data={"username": "nobody", "password": PASSWORD}).status_code == 401
    me = client.get("/auth/me", headers=auth(tokens, "seat")).json()
    assert me["role"] == "village" and me["village_code"] == SEAT
    for headers in ({}, {"Authorization": "Bearer nonsense"}):
        response = client.get("/ledger/hazards", headers=headers)
        assert response.status_code == 401 and response.headers["WWW-Authenticate"] == "Bearer"
    store = UserStore(data)
    expired = jwt.encode(
        {"sub": "admin", "exp": datetime.now(UTC) - timedelta(minutes=1)}, store.signing_key(), algorithm="HS256"
    )
    store.close()
    response = client.get("/ledger/hazards", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401 and "过期" in response.json()["description"]


def test_lists_show_each_role_only_its_remit(client, tokens):
    def codes(who):
        return {h["village_code"] for h in client.get("/ledger/hazards", headers=auth(tokens, who)).json()["hazards"]}

    everything = client.get("/ledger/hazards", headers=auth(tokens, "admin")).json()["count"]
    assert client.get("/ledger/hazards", headers=auth(tokens, "emergency")).json()["count"] == everything
    assert codes("seat") == {SEAT}
    assert codes("other") <= {OTHER}
    units = {h["unit"] for h in client.get("/ledger/hazards", headers=auth(tokens, "station")).json()["hazards"]}
    assert units == {"中石油义隆永加油站"}


#: (role, whose hazard) → expected status for read, history and an edit step.
MATRIX = [
    ("admin", "seat", 200, 200, 200),
    ("emergency", "seat", 200, 200, 403),
    ("seat", "seat", 200, 200, 200),
    ("other", "seat", 403, 403, 403),
    ("station", "seat", 403, 403, 403),
    ("station", "station", 200, 200, 200),
    ("seat", "station", None, None, None),  # a village official sees a unit's hazard when it lies in the village
    ("other", "station", None, None, None),
]
VILLAGE_OF = {"seat": SEAT, "other": OTHER}


@pytest.mark.parametrize(("who", "whose", "read", "history", "edit"), MATRIX)
def test_role_by_endpoint(client, tokens, who, whose, read, history, edit):
    fid = (
        _hazard(client, tokens, village=SEAT, status="rectifying")
        if whose == "seat"
        else _hazard(client, tokens, unit="中石油义隆永加油站", status="rectifying")
    )
    if read is None:
        village = client.get(f"/ledger/hazards/{fid}", headers=auth(tokens, "admin")).json()["properties"][
            "village_code"
        ]
        read = history = edit = 200 if village == VILLAGE_OF[who] else 403
    assert client.get(f"/ledger/hazards/{fid}", headers=auth(tokens, who)).status_code == read
    assert client.get(f"/ledger/hazards/{fid}/history", headers=auth(tokens, who)).status_code == history
    before = client.get(f"/ledger/hazards/{fid}", headers=auth(tokens, "admin")).json()
    step = {"action": "edit", "version": before["version"], "fields": {"measures": f"{who} 修改"}}
    response = client.post(f"/ledger/hazards/{fid}/steps", json=step, headers=auth(tokens, who))
    assert response.status_code == edit, response.text
    after = client.get(f"/ledger/hazards/{fid}", headers=auth(tokens, "admin")).json()
    if edit == 200:
        assert after["version"] == before["version"] + 1 and after["properties"]["measures"] == f"{who} 修改"
    else:
        assert after == before  # nothing changed


def test_a_village_official_cannot_move_a_hazard_out_or_take_town_steps(client, tokens):
    fid = _hazard(client, tokens, village=SEAT, status="rectifying")
    before = client.get(f"/ledger/hazards/{fid}", headers=auth(tokens, "seat")).json()
    move = {"action": "edit", "version": before["version"], "fields": {"village_code": OTHER}}
    response = client.post(f"/ledger/hazards/{fid}/steps", json=move, headers=auth(tokens, "seat"))
    assert response.status_code == 403 and "本村" in response.json()["description"]
    void = {"action": "void", "version": before["version"], "reason": "不想整改"}
    assert client.post(f"/ledger/hazards/{fid}/steps", json=void, headers=auth(tokens, "seat")).status_code == 403
    assert client.get(f"/ledger/hazards/{fid}", headers=auth(tokens, "seat")).json() == before


def test_a_stale_version_gets_409_and_if_match_works(client, tokens):
    fid = _hazard(client, tokens, village=SEAT, status="rectifying")
    current = client.get(f"/ledger/hazards/{fid}", headers=auth(tokens, "admin"))
    etag, version = current.headers["ETag"], current.json()["version"]
    first = {"action": "edit", "fields": {"measures": "甲的修改"}}
    ok = client.post(f"/ledger/hazards/{fid}/steps", json=first, headers={**auth(tokens, "admin"), "If-Match": etag})
    assert ok.status_code == 200 and ok.headers["ETag"] == f'"v{version + 1}"'
    stale = {"action": "edit", "version": version, "fields": {"measures": "乙基于旧版本的修改"}}
    response = client.post(f"/ledger/hazards/{fid}/steps", json=stale, headers=auth(tokens, "admin"))
    assert response.status_code == 409 and "刷新" in response.json()["description"]
    assert (
        client.get(f"/ledger/hazards/{fid}", headers=auth(tokens, "admin")).json()["properties"]["measures"]
        == "甲的修改"
    )
    missing = client.post(f"/ledger/hazards/{fid}/steps", json={"action": "edit"}, headers=auth(tokens, "admin"))
    assert missing.status_code == 400 and "If-Match" in missing.json()["description"]


def test_an_illegal_step_says_what_is_allowed_and_history_reads_in_order(client, tokens):
    fid = _hazard(client, tokens, village=SEAT, status="rectifying")
    version = client.get(f"/ledger/hazards/{fid}", headers=auth(tokens, "admin")).json()["version"]
    close = {"action": "close", "version": version}
    response = client.post(f"/ledger/hazards/{fid}/steps", json=close, headers=auth(tokens, "admin"))
    assert response.status_code == 400 and "申请验收" in response.json()["description"]
    for action, extra in (("request_verification", {}), ("reject", {"reason": "仍有占用"})):
        body = {"action": action, "version": version, **extra}
        response = client.post(f"/ledger/hazards/{fid}/steps", json=body, headers=auth(tokens, "admin"))
        assert response.status_code == 200, response.text
        version = response.json()["version"]
    events = client.get(f"/ledger/hazards/{fid}/history", headers=auth(tokens, "admin")).json()["events"]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert [e["action"] for e in events[-2:]] == ["request_verification", "reject"] and events[-1]["note"] == "仍有占用"
    served = client.get(f"/collections/hazards/items/{fid}", headers=auth(tokens, "admin")).json()
    assert served["properties"]["status"] == "rectifying"  # the map and the OGC API see the ledger's state
    assert client.get(f"/map/popup/hazards/{fid}").status_code == 401  # the ledger is for signed-in users
    popup = client.get(f"/map/popup/hazards/{fid}", headers=auth(tokens, "admin")).text
    assert "处理记录" in popup and "验收不通过" in popup and "仍有占用" not in popup  # steps and dates, not notes


def test_unknown_hazard_is_404(client, tokens):
    assert client.get("/ledger/hazards/99999", headers=auth(tokens, "admin")).status_code == 404


NEW = {
    "sector": "fire",
    "description": "村委会门前柴草垛占用消防车通道",
    "channel": "department_inspection",
    "responsible_unit": "义隆永村民委员会",
    "responsible_person": "赵六",
}


def _inside(client, code: str) -> tuple[float, float]:
    villages = client.get("/collections/villages/items", params={"limit": 100}).json()["features"]
    polygon = shapely.geometry.shape(next(f for f in villages if f["properties"]["code"] == code)["geometry"])
    point = polygon.representative_point()
    return point.x, point.y


def test_registering_a_hazard_derives_its_village_and_starts_its_history(client, tokens):
    lon, lat = _inside(client, SEAT)
    response = client.post("/ledger/hazards", json={**NEW, "lon": lon, "lat": lat}, headers=auth(tokens, "seat"))
    assert response.status_code == 201, response.text
    body = response.json()
    fid = body["id"]
    assert (
        body["version"] == 1
        and body["properties"]["village_code"] == SEAT
        and body["properties"]["status"] == "registered"
    )
    events = client.get(f"/ledger/hazards/{fid}/history", headers=auth(tokens, "seat")).json()["events"]
    assert [e["action"] for e in events] == ["register"]
    served = client.get(f"/collections/hazards/items/{fid}", headers=auth(tokens, "seat")).json()
    assert served["geometry"]["coordinates"] == pytest.approx([lon, lat])
    box = f"{lon - 0.001},{lat - 0.001},{lon + 0.001},{lat + 0.001}"
    found = client.get("/collections/hazards/items", params={"bbox": box}, headers=auth(tokens, "seat")).json()
    assert fid in [f["id"] for f in found["features"]]
    step = {"action": "assess", "version": 1, "fields": {"level": "general"}}
    assert client.post(f"/ledger/hazards/{fid}/steps", json=step, headers=auth(tokens, "seat")).status_code == 200


def test_registering_elsewhere_or_badly_is_refused_and_stores_nothing(client, tokens):
    before = client.get("/ledger/hazards", headers=auth(tokens, "admin")).json()["count"]
    lon, lat = _inside(client, OTHER)
    elsewhere = client.post("/ledger/hazards", json={**NEW, "lon": lon, "lat": lat}, headers=auth(tokens, "seat"))
    assert elsewhere.status_code == 403
    viewer = client.post("/ledger/hazards", json={**NEW, "lon": lon, "lat": lat}, headers=auth(tokens, "emergency"))
    assert viewer.status_code == 403
    swapped = client.post("/ledger/hazards", json={**NEW, "lon": lat, "lat": lon}, headers=auth(tokens, "admin"))
    assert swapped.status_code == 400 and "swapped" in swapped.json()["description"]
    outside = client.post("/ledger/hazards", json={**NEW, "lon": 121.5, "lat": 43.5}, headers=auth(tokens, "admin"))
    assert outside.status_code == 400 and "村界" in outside.json()["description"]
    bad = client.post(
        "/ledger/hazards", json={**NEW, "sector": "magic", "lon": lon, "lat": lat}, headers=auth(tokens, "admin")
    )
    assert bad.status_code == 400 and "sector" in bad.json()["description"]
    assert client.get("/ledger/hazards", headers=auth(tokens, "admin")).json()["count"] == before


def test_a_unit_registers_its_own_hazards(client, tokens):
    lon, lat = _inside(client, SEAT)
    body = {**NEW, "lon": lon, "lat": lat, "unit": "别的单位"}
    response = client.post("/ledger/hazards", json=body, headers=auth(tokens, "station"))
    assert response.status_code == 201 and response.json()["properties"]["unit"] == "中石油义隆永加油站"


def test_the_two_lists_as_xlsx_with_chinese_headers_within_the_remit(client, tokens):
    response = client.get("/ledger/export.xlsx", headers=auth(tokens, "seat"))
    assert response.status_code == 200 and response.headers["content-type"].startswith(XLSX_TYPE)
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["问题隐患清单", "制度措施清单", "责任单位汇总", "逾期隐患", "7日内到期"]
    problems = list(book["问题隐患清单"].values)
    header = problems[0]
    assert header[:5] == ("序号", "隐患编号", "所属村", "所属单位", "行业领域") and "整改时限" in header
    mine = client.get("/ledger/hazards", headers=auth(tokens, "seat")).json()
    assert len(problems) - 1 == mine["count"]
    assert {row[header.index("所属村")] for row in problems[1:]} == {"义隆永村"}
    assert {row[header.index("状态")] for row in problems[1:]} <= {
        "登记",
        "评估定级",
        "整改中",
        "申请验收",
        "验收通过",
        "销号",
        "作废",
    }
    overdue = client.get("/ledger/lists/overdue", headers=auth(tokens, "seat")).json()
    assert len(list(book["逾期隐患"].values)) - 1 == overdue["count"] == sum(h["overdue"] for h in mine["hazards"])
    measures = list(book["制度措施清单"].values)
    assert measures[0][:3] == ("序号", "责任单位", "隐患编号") and len(measures) == len(problems)


def test_statistics_add_up_to_the_list(client, tokens):
    everything = client.get("/ledger/hazards", headers=auth(tokens, "admin")).json()["hazards"]
    for by in ("village", "sector", "level", "month"):
        rows = client.get("/ledger/stats", params={"by": by}, headers=auth(tokens, "admin")).json()["rows"]
        assert sum(r["发现"] for r in rows) == len(everything)
        assert sum(r["已销号"] for r in rows) == sum(h["status"] == "closed" for h in everything)
        assert sum(r["逾期"] for r in rows) == sum(h["overdue"] for h in everything)
    assert client.get("/ledger/stats", params={"by": "weather"}, headers=auth(tokens, "admin")).status_code == 400
    due = client.get("/ledger/lists/due", params={"days": 30}, headers=auth(tokens, "admin")).json()
    today, horizon = date.today().isoformat(), (date.today() + timedelta(days=30)).isoformat()
    assert due["count"] == sum(
        h["status"] in ("assessed", "rectifying") and h["deadline"] is not None and today <= h["deadline"] <= horizon
        for h in everything
    )


def test_a_major_hazard_closes_only_with_its_supervising_level(client, tokens, data):
    users = UserStore(data)
    users.add("banner", PASSWORD, "supervisor", level="banner", display_name="旗应急管理局")
    users.close()
    banner = client.post("/auth/token", data={"username": "banner", "password": PASSWORD}).json()["access_token"]
    as_banner = {"Authorization": f"Bearer {banner}"}
    lon, lat = _inside(client, SEAT)
    fid = client.post("/ledger/hazards", json={**NEW, "lon": lon, "lat": lat}, headers=auth(tokens, "admin")).json()[
        "id"
    ]

    def step(who_headers, action, version, **extra):
        body = {"action": action, "version": version, **extra}
        return client.post(f"/ledger/hazards/{fid}/steps", json=body, headers=who_headers)

    v = 1
    for action, extra in (
        ("assess", {"fields": {"level": "major"}}),
        ("start", {"fields": {"measures": "清理", "deadline": "2027-01-01"}}),
        ("request_verification", {}),
        ("accept", {"fields": {"acceptor": "镇验收组"}}),
    ):
        response = step(auth(tokens, "admin"), action, v, **extra)
        assert response.status_code == 200, response.text
        v = response.json()["version"]
    refused = step(auth(tokens, "admin"), "close", v)
    assert refused.status_code == 400 and "签字" in refused.json()["description"]
    assert step(as_banner, "edit", v, fields={"measures": "x"}).status_code == 403  # supervisors only sign off
    closed = step(as_banner, "close", v)
    assert closed.status_code == 200 and closed.json()["properties"]["status"] == "closed"
    events = client.get(f"/ledger/hazards/{fid}/history", headers=as_banner).json()["events"]
    assert events[-1]["actor"] == "旗应急管理局" and events[-1]["action"] == "close"


def test_a_disabled_account_loses_access_at_once(client, data):
    users = UserStore(data)
    users.add("leaver", PASSWORD, "emergency")
    users.close()
    token = client.post("/auth/token", data={"username": "leaver", "password": PASSWORD}).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/ledger/hazards", headers=headers).status_code == 200
    users = UserStore(data)
    users.set_active("leaver", False)
    users.close()
    response = client.get("/ledger/hazards", headers=headers)
    assert response.status_code == 401 and "停用" in response.json()["description"]


def test_the_ogc_collection_and_the_map_show_each_user_their_remit(client, tokens):
    def fids(who, path, **params):
        body = client.get(path, params={"limit": 10_000, **params}, headers=auth(tokens, who)).json()
        return {f["id"] for f in body["features"]}

    everything = fids("admin", "/collections/hazards/items")
    seat = fids("seat", "/collections/hazards/items")
    listed = {h["id"] for h in client.get("/ledger/hazards", headers=auth(tokens, "seat")).json()["hazards"]}
    assert seat == listed and seat < everything
    town = {"bbox": "120.3,42.6,120.8,43.1", "zoom": 16}
    assert fids("seat", "/map/data/hazards", **town) == seat
    assert fids("emergency", "/map/data/hazards", **town) == everything
    outsider = next(iter(everything - seat))
    assert client.get(f"/collections/hazards/items/{outsider}", headers=auth(tokens, "seat")).status_code == 403
    assert client.get(f"/map/popup/hazards/{outsider}", headers=auth(tokens, "seat")).status_code == 403
    assert client.get("/map/data/hazards", params=town).status_code == 401
    found = client.get("/map/search", params={"q": "YLY"}, headers=auth(tokens, "seat")).json()["results"]
    assert found and all(r["layer"] != "hazards" or r["code"] for r in found)
    assert not client.get("/map/search", params={"q": "YLY"}).json()["results"]  # anonymous: no ledger entries
