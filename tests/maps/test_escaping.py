"""Text typed in by users (hazard descriptions, responsible units, measures, public reports, village and site names)
reaches every page, popup, panel and report as text: escaped in HTML, and unable to close the script it sits in."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date
from html import escape

import pandas as pd
import pytest
import shapely
from backends import BACKENDS, settings_for, town_on, with_account
from fastapi.testclient import TestClient
from hostile_text import (
    HAZARD,
    MARKUP,
    MEASURES,
    REPORT,
    SOURCE_NAME,
    VILLAGE,
    VILLAGE_NAME,
    hostile_town,
    plant,
    village_outline,
)

from api.catalog import Catalog
from api.main import create_app
from ledger.annual import VillageMap, html_document
from ledger.annual import build as annual_report
from maps.export import standalone_html
from maps.page import script_json
from store import open_store

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module", params=BACKENDS)
def served(request, tmp_path_factory) -> Iterator[dict]:
    """The hostile town served, with a hostile hazard linked to the hostile risk source and a hostile public report
    accepted into the ledger."""
    path, source = hostile_town(tmp_path_factory.mktemp("escaping"))
    with_account(str(path), "admin", PASSWORD, "admin")
    with (
        town_on(request.param, path) as location,
        TestClient(create_app(settings_for(location, report_limit=100))) as client,
    ):
        token = client.post("/auth/token", data={"username": "admin", "password": PASSWORD}).json()["access_token"]
        bearer = {"Authorization": f"Bearer {token}"}
        spot = village_outline(client).representative_point()
        planted = plant(client, bearer, source, spot, shapely.Point(spot.x + 1e-4, spot.y))
        yield {"client": client, "bearer": bearer, **planted, "source": source, "location": location, "spot": spot}


def _no_markup(text: str, where: str) -> None:
    for fragment in MARKUP:
        assert fragment not in text, (where, fragment)


def _config(page: str) -> dict:
    """The config a map page hands to onemap.js."""
    found = re.search(r"OneMap\.start\(\w+, ", page)
    assert found is not None
    return json.JSONDecoder().raw_decode(page, found.end())[0]


def test_script_json_cannot_close_its_script_and_reads_back_the_same():
    value = {"name": "</script><script>alert(1)</script>", "note": "<!-- & \u2028 \u2029 -->", "n": [1, "a>b"]}
    text = script_json(value)
    assert not re.search(r"[<>&\u2028\u2029]", text)
    assert json.loads(text) == value


def test_the_popup_endpoint_escapes_every_field_of_a_hazard(served):
    client, bearer = served["client"], served["bearer"]
    response = client.get(f"/map/popup/hazards/{served['hazard']}", headers=bearer)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    html = response.text
    _no_markup(html, "hazard popup")
    for text in (*HAZARD.values(), MEASURES):
        assert escape(text) in html, text
    assert "&lt;img src=x onerror=&quot;window.__xss=1&quot;&gt;" in html


def test_a_hazard_from_a_public_report_shows_the_reporters_words_as_text(served):
    html = served["client"].get(f"/map/popup/hazards/{served['report_hazard']}", headers=served["bearer"]).text
    _no_markup(html, "report popup")
    assert escape(REPORT) in html


def test_a_site_popup_escapes_its_name_and_the_hazards_listed_there(served):
    client, bearer = served["client"], served["bearer"]
    html = client.get(f"/map/popup/risk_sources/{served['source']}", headers=bearer).text
    _no_markup(html, "risk source popup")
    assert escape(SOURCE_NAME) in html and escape(HAZARD["description"]) in html


def test_map_pages_hold_user_text_only_escaped(served):
    client, bearer = served["client"], served["bearer"]
    for path in (f"/map/village/{VILLAGE}", "/map", f"/map/risk/{VILLAGE}", "/map/risk"):
        page = client.get(path, headers=bearer).text
        _no_markup(page, path)
        if VILLAGE in path:
            assert _config(page)["title"].endswith(VILLAGE_NAME)
    panel = client.get(f"/map/village/{VILLAGE}", headers=bearer).text
    assert f"<h1>{escape(VILLAGE_NAME)}</h1>" in panel
    assert escape(HAZARD["description"]) in panel and escape(REPORT) in panel


def test_viewport_data_and_search_carry_text_for_the_script_to_set_as_text(served):
    client, bearer, spot = served["client"], served["bearer"], served["spot"]
    box = f"{spot.x - 0.05},{spot.y - 0.05},{spot.x + 0.05},{spot.y + 0.05}"
    villages = client.get("/map/risk/data/villages", params={"bbox": box, "zoom": 13}).json()["features"]
    (popup,) = [f["properties"]["popup"] for f in villages if f["properties"]["n"] == VILLAGE_NAME[:40]]
    _no_markup(popup, "four-colour village popup")
    assert escape(VILLAGE_NAME) in popup
    found = client.get("/map/search", params={"q": "加油站'"}, headers=bearer).json()["results"]
    assert SOURCE_NAME in [r["name"] for r in found]  # JSON: onemap.js puts it in with textContent


def test_the_standalone_export_escapes_popups_panel_and_config(served):
    store = open_store(served["location"])
    cat = Catalog.load(store)
    getattr(store, "close", lambda: None)()
    for view in ("village", "risk", "town"):
        html = standalone_html(cat, view, VILLAGE if view != "town" else None)
        _no_markup(html, view)
        config = _config(html)
        if view != "town":
            assert config["title"].endswith(VILLAGE_NAME)
        popups = [f["properties"].get("popup", "") for layer in config["embedded"].values() for f in layer["features"]]
        assert any(escape(SOURCE_NAME) in p for p in popups), view


def test_the_annual_report_escapes_village_names_and_descriptions(served):
    store = open_store(served["location"])
    try:
        html = annual_report(store, date.today().year, "<b>义隆永镇</b>").html
    finally:
        getattr(store, "close", lambda: None)()
    _no_markup(html, "annual report")
    assert escape(VILLAGE_NAME) in html and "&lt;b&gt;义隆永镇&lt;/b&gt;" in html
    outline = shapely.box(120.5, 42.8, 120.6, 42.9)
    table = pd.DataFrame([{"村": VILLAGE_NAME, "行业领域": "消防", "发现": 1, "整改销号": 0, "逾期": 0, "未销号": 1,
                           "挂牌督办": 1}])  # fmt: skip
    cases = pd.DataFrame([{"隐患编号": "H1", "所属村": VILLAGE_NAME, "隐患描述": HAZARD["description"]}])
    html = html_document(REPORT, table, cases, [VillageMap(VILLAGE_NAME, outline, [], [])], 2025, MEASURES)
    _no_markup(html, "annual report document")
    # pandas escapes <, > and & (quotes are harmless in element text); the map's aria-label escapes quotes too
    assert escape(HAZARD["description"], quote=False) in html and f'aria-label="{escape(VILLAGE_NAME)}"' in html
