"""Stored cross-site scripting, tried as an attacker would: hostile text goes in through the real API (a hazard
registered by a signed-in user, a public report, village and site names in the data), then the pages that show it
are opened in Chromium. Nothing may run (`window.__xss` stays unset, no CSP violation), and the text must be there to
read, literally, where a person looks for it.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx2 as httpx
import pytest
import shapely
from backends import BACKEND, town_copy, with_account
from hostile_text import (
    HAZARD,
    MEASURES,
    REPORT,
    SOURCE_NAME,
    VILLAGE,
    VILLAGE_NAME,
    hostile_town,
    plant,
    village_outline,
)
from outside_tools import running_service

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"
#: Records every CSP violation of the page, from before its first script runs.
WATCH_CSP = """
window.__csp = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
"""


@pytest.fixture(scope="module")
def town(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The hostile town served, with a hostile hazard (linked to the hostile site) and an accepted hostile report."""
    path, source = hostile_town(tmp_path_factory.mktemp("hostile"))
    data = with_account(town_copy(BACKEND, path, tmp_path_factory.mktemp("served")), "admin", PASSWORD, "admin")
    with running_service(data, ONEMAP_REPORT_LIMIT="100") as url, httpx.Client(base_url=url, timeout=30) as api:
        token = api.post("/auth/token", data={"username": "admin", "password": PASSWORD}).json()["access_token"]
        bearer = {"Authorization": f"Bearer {token}"}
        first, second = _two_points_apart(village_outline(api))
        planted = plant(api, bearer, source, first, second)
        source_at = api.get(f"/collections/risk_sources/items/{source}").json()["geometry"]["coordinates"]
        yield {"url": url, **planted, "source": source, "source_at": source_at, "first": first, "second": second}


def _two_points_apart(outline) -> tuple[shapely.Point, shapely.Point]:
    """Two points in the village about 150 m apart, so their markers are clicked one at a time."""
    first = outline.representative_point()
    for dx, dy in ((0.002, 0), (-0.002, 0), (0, 0.0015), (0, -0.0015)):
        second = shapely.Point(first.x + dx, first.y + dy)
        if outline.contains(second):
            return first, second
    raise AssertionError("no second point inside the village")


class Page:
    """A page in a fresh browser context, signed in through the map's own form (the HttpOnly cookie session)."""

    def __init__(self, browser, url: str, *, sign_in: bool = True) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
        self.context.add_init_script(WATCH_CSP)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(url)
        self.wait_ready()
        if sign_in:
            self.page.click(".om-sign-in-link")
            self.page.fill(".om-sign-in input >> nth=0", "admin")
            self.page.fill(".om-sign-in input >> nth=1", PASSWORD)
            with self.page.expect_navigation():
                self.page.click(".om-sign-in button")
            self.wait_ready()

    def wait_ready(self, after: int = 0) -> None:
        self.page.wait_for_function(f"Number(document.body.dataset.omReady || 0) > {after}", timeout=30_000)

    def ready_count(self) -> int:
        return int(self.page.evaluate("Number(document.body.dataset.omReady || 0)"))

    def assert_nothing_ran(self) -> None:
        assert self.page.evaluate("window.__xss") is None
        assert self.page.evaluate("window.__csp") == []
        assert self.errors == []

    def only(self, layer: str) -> None:
        """Take every other overlay off the map, as a user would in the layer control, so a click hits `layer`."""
        self.page.evaluate(
            f"oneMap.overlays.filter(o => o.spec.layer !== {layer!r}).forEach(o => oneMap.map.removeLayer(o.group))"
        )

    def click_feature(self, layer: str, fid: int, lon: float, lat: float) -> str:
        """Zoom to a feature, click its marker as a person would, and return the text of the popup that opens."""
        count = self.ready_count()
        self.page.evaluate(f"oneMap.map.setView([{lat}, {lon}], 18, {{ animate: false }})")
        self.wait_ready(after=count)
        centre = self.page.evaluate(
            f"""() => {{
              const overlay = oneMap.overlays.find(o => o.spec.layer === {layer!r} && !o.spec.heat && o.visible);
              const marker = overlay.content.getLayers().find(l => l.feature && l.feature.properties.fid === {fid});
              const p = oneMap.map.latLngToContainerPoint(marker.getLatLng());
              const box = oneMap.map.getContainer().getBoundingClientRect();
              return [box.left + p.x, box.top + p.y];
            }}"""
        )
        self.page.mouse.click(*centre)
        content = self.page.locator(".leaflet-popup-content")
        content.locator(".om-popup-title").wait_for(timeout=10_000)
        return content.inner_text()

    def close(self) -> None:
        self.context.close()


def test_a_hazards_popup_on_the_town_map_shows_its_hostile_fields_as_text(browser, town):
    visit = Page(browser, town["url"] + "/map")
    try:
        visit.only("hazards")
        text = visit.click_feature("hazards", town["hazard"], town["first"].x, town["first"].y)
        assert "<img src=x onerror=" in text
        for value in (*HAZARD.values(), MEASURES):
            assert value in text, value
        assert visit.page.locator(".leaflet-popup-content img, .leaflet-popup-content svg").count() == 0
        assert visit.page.locator(".leaflet-popup-content script").count() == 0
        visit.assert_nothing_ran()
    finally:
        visit.close()


def test_a_public_reports_words_show_as_text_once_accepted(browser, town):
    visit = Page(browser, town["url"] + "/map")
    try:
        visit.only("hazards")
        text = visit.click_feature("hazards", town["report_hazard"], town["second"].x, town["second"].y)
        assert REPORT in text and visit.page.locator(".leaflet-popup-content iframe").count() == 0
        visit.assert_nothing_ran()
    finally:
        visit.close()


def test_a_sites_popup_shows_its_hostile_name_and_the_hazard_listed_there(browser, town):
    visit = Page(browser, town["url"] + "/map")
    try:
        visit.only("risk_sources")
        lon, lat = town["source_at"]
        text = visit.click_feature("risk_sources", town["source"], lon, lat)
        assert visit.page.locator(".leaflet-popup-content .om-popup-title").inner_text() == SOURCE_NAME
        assert HAZARD["description"] in visit.page.locator(".leaflet-popup-content .om-hazards").inner_text()
        assert "<svg onload=" in text
        visit.assert_nothing_ran()
    finally:
        visit.close()


def test_the_village_page_and_its_hazard_table_show_hostile_text_as_text(browser, town):
    visit = Page(browser, f"{town['url']}/map/village/{VILLAGE}")
    try:
        page = visit.page
        panel = page.locator("#om-village-panel")
        assert panel.locator("h1").inner_text() == VILLAGE_NAME
        table = panel.inner_text()
        assert HAZARD["description"] in table and REPORT in table
        assert panel.locator("img, svg, iframe, script").count() == 0
        assert page.locator(".om-title-main").inner_text().endswith(VILLAGE_NAME)
        visit.assert_nothing_ran()
    finally:
        visit.close()


def test_search_results_show_a_hostile_name_as_text(browser, town):
    visit = Page(browser, town["url"] + "/map")
    try:
        page = visit.page
        page.fill(".om-search input", "加油站'")
        result = page.locator(".om-search-results li").first
        result.wait_for(timeout=10_000)
        assert SOURCE_NAME in result.inner_text()
        assert page.locator(".om-search-results svg").count() == 0
        visit.assert_nothing_ran()
    finally:
        visit.close()


def test_the_four_colour_village_popup_shows_a_hostile_village_name_as_text(browser, town):
    visit = Page(browser, f"{town['url']}/map/risk/{VILLAGE}", sign_in=False)
    try:
        page = visit.page
        assert page.locator(".om-title-main").inner_text().endswith(VILLAGE_NAME)
        page.evaluate(
            """() => oneMap.overlays.find(o => o.spec.layer === "villages").content.getLayers()[0].openPopup()"""
        )
        title = page.locator(".leaflet-popup-content .om-popup-title")
        title.wait_for(timeout=10_000)
        assert title.inner_text() == VILLAGE_NAME
        visit.assert_nothing_ran()
    finally:
        visit.close()


def test_the_incident_panel_lists_hostile_names_as_text(browser, town):
    visit = Page(browser, town["url"] + "/map/emergency")
    try:
        page = visit.page
        lon, lat = town["source_at"]
        count = visit.ready_count()
        page.evaluate(f"oneMap.map.setView([{lat}, {lon}], 15, {{ animate: false }})")
        visit.wait_ready(after=count)
        page.evaluate(f"oneMap.map.fire('click', {{ latlng: L.latLng({lat} + 0.0005, {lon}) }})")
        page.locator(".om-near-section").first.wait_for(timeout=10_000)
        text = page.locator(".om-near-body").inner_text()
        assert f"位于 {VILLAGE_NAME}" in text and SOURCE_NAME in text
        assert page.locator(".om-near-body svg, .om-near-body img").count() == 0
        visit.assert_nothing_ran()
    finally:
        visit.close()
