"""The one-map views in a real browser (headless Chromium): they load cleanly, stay on this machine, and respond.

Screenshots of every view are written to tests/artifacts/ (or $ONEMAP_TEST_ARTIFACTS) for a person to look at.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import httpx2 as httpx
import pytest
import shapely
from backends import BACKEND, demo_store, town_copy
from outside_tools import running_service

from analysis.risk_grading import COLOUR_NAMES, COLOURS, grade, village_summary
from api.catalog import Catalog
from layers import LAYERS
from onemap.settings import DEMO_GPKG
from store.users import UserStore

pytestmark = pytest.mark.browser

ARTIFACTS = Path(os.environ.get("ONEMAP_TEST_ARTIFACTS", Path(__file__).resolve().parents[1] / "artifacts"))
VIEWS = {
    "town": "/map",
    "planner": "/map/planner",
    "emergency": "/map/emergency",
    "village": "/map/village/150525107201",
    "risk": "/map/risk",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = town_copy(BACKEND, DEMO_GPKG, tmp_path_factory.mktemp("browser"))
    users = UserStore(data)
    users.add("wang", "village password", "village", village_code="150525107201", display_name="王村长")
    users.close()
    with running_service(data, ONEMAP_TIANDITU_KEY="test-key") as url:
        yield url


class Visit:
    """One page in a fresh context, with every console message and request recorded."""

    def __init__(self, browser, url: str, *, block_outside: bool = False, offline: bool = False) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN", offline=offline)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        if block_outside:
            self.page.route("**/*", lambda route: route.abort() if _outside(route.request.url) else route.continue_())
        self.page.goto(url)
        self.wait_ready()

    def wait_ready(self, after: int = 0) -> None:
        """Until every visible overlay has loaded and drawn (the page counts completed refreshes)."""
        self.page.wait_for_function(f"Number(document.body.dataset.omReady || 0) > {after}", timeout=30_000)

    @property
    def ready_count(self) -> int:
        return int(self.page.evaluate("Number(document.body.dataset.omReady || 0)"))

    def close(self) -> None:
        self.context.close()


def _outside(url: str) -> bool:
    parsed = urlparse(url)
    return parsed.scheme not in ("data", "blob", "about") and parsed.hostname not in ("127.0.0.1", "localhost")


@pytest.mark.parametrize("view", list(VIEWS))
def test_view_loads_offline_toggles_every_overlay_and_opens_a_popup(browser, server, view):
    visit = Visit(browser, server + VIEWS[view])
    page = visit.page
    try:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"map-{view}.png"))
        assert visit.errors == []
        assert [u for u in visit.requests if _outside(u)] == []
        assert page.locator(".om-notice").inner_text().startswith("合成示例数据")
        assert page.locator(".om-legend-row").count() > 0

        entries = page.locator(".leaflet-control-layers-overlays label:has(input[type=checkbox])")
        overlays = page.evaluate("oneMap.overlays.map(o => o.spec.title)")
        assert entries.count() == len(overlays) >= 5
        for i in range(entries.count()):
            box = entries.nth(i).locator("input")
            before = box.is_checked()
            title = entries.nth(i).inner_text().strip()
            index = overlays.index(title)
            count = visit.ready_count
            box.click()
            assert box.is_checked() != before
            assert page.evaluate(f"oneMap.overlays[{index}].visible") != before, title
            if not before:
                visit.wait_ready(after=count)  # switching a layer on loads it
            box.click()
            assert box.is_checked() == before
            assert page.evaluate(f"oneMap.overlays[{index}].visible") == before, title

        _open_a_popup(visit)
        assert visit.errors == []
        assert [u for u in visit.requests if _outside(u)] == []
    finally:
        visit.close()


def _open_a_popup(visit: Visit) -> None:
    """Zoom to the first feature of a point overlay, click it, and wait for its popup's details."""
    page = visit.page
    count = visit.ready_count
    page.evaluate(
        """() => {
          const overlay = oneMap.overlays.find(o => o.visible && !o.spec.heat && !o.symbol.cluster
                                               && o.content.getLayers().some(l => l.getLatLng));
          const layer = overlay.content.getLayers().find(l => l.getLatLng);
          window.__popupOverlay = oneMap.overlays.indexOf(overlay);
          oneMap.map.setView(layer.getLatLng(), 16, { animate: false });
        }"""
    )
    visit.wait_ready(after=count)
    centre = page.evaluate(
        """() => {
          const centre = oneMap.map.getCenter();
          const layer = oneMap.overlays[window.__popupOverlay].content.getLayers().filter(l => l.getLatLng)
            .sort((a, b) => a.getLatLng().distanceTo(centre) - b.getLatLng().distanceTo(centre))[0];
          const p = oneMap.map.latLngToContainerPoint(layer.getLatLng());
          const box = oneMap.map.getContainer().getBoundingClientRect();
          return [box.left + p.x, box.top + p.y];
        }"""
    )
    page.mouse.click(*centre)
    title = page.locator(".leaflet-popup-content .om-popup-title")
    title.wait_for(timeout=10_000)
    assert title.inner_text().strip()
    assert page.locator(".leaflet-popup-content .om-popup-kind").inner_text().strip()


def test_search_finds_a_village_and_flies_there(browser, server):
    visit = Visit(browser, server + "/map")
    try:
        page = visit.page
        page.fill(".om-search input", "西营子")
        result = page.locator(".om-search-results li", has_text="西营子村").first
        result.wait_for(timeout=10_000)
        before = page.evaluate("oneMap.map.getZoom()")
        result.click()
        page.wait_for_function(f"oneMap.map.getZoom() > {before}", timeout=10_000)
        assert visit.errors == []
    finally:
        visit.close()


def test_emergency_view_lists_what_is_near_a_clicked_point(browser, server):
    visit = Visit(browser, server + "/map/emergency")
    try:
        page = visit.page
        count = visit.ready_count
        page.evaluate("oneMap.map.setView([42.846, 120.548], 15, { animate: false })")
        visit.wait_ready(after=count)
        page.evaluate("oneMap.map.fire('click', { latlng: L.latLng(42.846, 120.548) })")
        page.locator(".om-near-section").first.wait_for(timeout=10_000)
        text = page.locator(".om-near-body").inner_text()
        assert "最近的应急资源" in text and "义隆永镇" in text and " m" in text
        assert "按路网行车时间最近的救援力量" in text and "分钟" in text
        assert "影响范围内人口" in text and "500 m 内" in text and "居住" in text
        assert "最近的避难场所" in text and "避难场所" in text
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "map-emergency-near.png"))
        assert visit.errors == []
    finally:
        visit.close()


@pytest.mark.parametrize(("basemap", "shifted"), [("offline", False), ("tianditu", False), ("amap", True)])
def test_only_the_amap_view_asks_for_gcj02_coordinates(browser, server, basemap, shifted):
    """Tile requests leave this machine and are blocked here; the data requests show whether features are shifted."""
    visit = Visit(browser, f"{server}/map?basemap={basemap}", block_outside=True)
    try:
        data = [u for u in visit.requests if "/map/data/" in u]
        assert data
        assert all(("shift=gcj02" in u) == shifted for u in data)
        assert visit.page.evaluate("oneMap.cfg.shift") is shifted
        tiles = [u for u in visit.requests if _outside(u)]
        assert bool(tiles) == (basemap != "offline")
    finally:
        visit.close()


@pytest.mark.parametrize(("view", "village"), [("village", "150525107201"), ("town", None), ("risk", None)])
def test_standalone_export_opens_from_a_file_with_the_network_off(browser, tmp_path, view, village):
    out, data = tmp_path / f"{view}.html", town_copy(BACKEND, DEMO_GPKG, tmp_path)
    args = [sys.executable, "-m", "onemap", "map", "--view", view, "--out", str(out), "--data", data]
    subprocess.run([*args, *(["--village", village] if village else [])], check=True, capture_output=True)
    html = out.read_text(encoding="utf-8")
    assert "<script src=" not in html and 'rel="stylesheet" href=' not in html
    visit = Visit(browser, out.as_uri(), offline=True)
    page, errors, requests = visit.page, visit.errors, visit.requests
    try:
        drawn = page.evaluate("oneMap.overlays.filter(o => o.visible).map(o => o.content.getLayers().length)")
        assert sum(drawn) > 50
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"standalone-{view}.png"))
        assert errors == []
        assert [u for u in requests if not u.startswith(("file:", "data:"))] == []
        page.evaluate(
            """() => {
              const o = oneMap.overlays.find(o => o.visible && !o.spec.heat && !o.symbol.cluster
                                                  && o.content.getLayers().some(l => l.getLatLng));
              o.content.getLayers().find(l => l.getLatLng).openPopup();
            }"""
        )
        assert page.locator(".leaflet-popup-content .om-popup-title").inner_text().strip()
    finally:
        visit.close()


def test_a_member_of_the_public_reports_a_hazard_from_the_map(browser, server):
    visit = Visit(browser, server + "/map/village/150525107201")
    try:
        page = visit.page
        page.click(".om-report-button")
        box = page.locator(".folium-map").bounding_box()
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.fill(".om-report-form textarea", "村口柴草垛紧挨着民房，容易着火")
        page.fill(".om-report-form input >> nth=1", "13900000000")
        page.click(".om-report-form button")
        code = page.locator(".om-report-code")
        code.wait_for(timeout=10_000)
        status = httpx.get(f"{server}/reports/{code.inner_text().strip()}").json()
        assert status["status"] == "pending" and "phone" not in status
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "map-report.png"))
        assert visit.errors == []
    finally:
        visit.close()


def test_a_village_official_signs_in_on_the_map_and_sees_their_village_ledger(browser, server):
    visit = Visit(browser, server + "/map/village/150525107201")
    try:
        page = visit.page
        assert "登录后查看本村隐患" in page.locator("#om-village-panel").inner_text()
        hazards = page.evaluate("oneMap.overlays.findIndex(o => o.spec.layer === 'hazards' && !o.spec.heat)")
        assert page.evaluate(f"oneMap.overlays[{hazards}].spec.locked")
        page.click(".om-sign-in-link")
        page.fill(".om-sign-in input >> nth=0", "wang")
        page.fill(".om-sign-in input >> nth=1", "village password")
        with page.expect_navigation():
            page.click(".om-sign-in button")
        visit.wait_ready()
        assert "王村长" in page.locator(".om-account").inner_text()
        panel = page.locator("#om-village-panel").inner_text()
        assert "未销号隐患" in panel and "登录后" not in panel
        drawn = page.evaluate(f"oneMap.overlays[{hazards}].content.getLayers().length")
        assert drawn > 0
        jar = {c["name"]: c["value"] for c in page.context.cookies()}  # the page's HttpOnly sign-in cookie
        codes = httpx.get(f"{server}/ledger/hazards", cookies=jar).json()["hazards"]
        assert {h["village_code"] for h in codes} == {"150525107201"} and drawn <= len(codes)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "map-village-signed-in.png"))
        assert visit.errors == []
    finally:
        visit.close()


@pytest.fixture(scope="module")
def analysed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo town after the road analyses, served: the planner view then shows the plan and the density."""
    data = town_copy(BACKEND, DEMO_GPKG, tmp_path_factory.mktemp("analysed"))
    for args in (["plan", "--budget", "300000", "--as-of", "2026-01-01"], ["nkde", "--as-of", "2026-01-01"]):
        subprocess.run([sys.executable, "-m", "onemap", "analyse", *args, "--data", data], check=True,
                       capture_output=True)  # fmt: skip
    with running_service(data) as url:
        yield url


def test_the_planner_sees_each_factor_of_the_top_ranked_intersection(browser, analysed):
    visit = Visit(browser, analysed + "/map/planner")
    page = visit.page
    try:
        top = httpx.get(analysed + "/analysis/plan").json()["candidates"][0]
        lon, lat = httpx.get(analysed + f"/collections/treatment_plan/items/{top['fid']}").json()["geometry"][
            "coordinates"
        ]
        density = page.evaluate("oneMap.overlays.findIndex(o => o.spec.layer === 'crash_density')")
        assert density >= 0 and page.evaluate(f"oneMap.overlays[{density}].visible") is False  # on demand only
        # Only the plan on the map, as a planner would switch the others off in the layer control.
        page.evaluate("oneMap.overlays.filter(o => o.spec.layer !== 'treatment_plan')"
                      ".forEach(o => oneMap.map.removeLayer(o.group))")  # fmt: skip
        count = visit.ready_count
        page.evaluate(f"oneMap.map.setView([{lat}, {lon}], 17, {{ animate: false }})")
        visit.wait_ready(after=count)
        box = page.evaluate(
            f"""() => {{
              const p = oneMap.map.latLngToContainerPoint(L.latLng({lat}, {lon}));
              const box = oneMap.map.getContainer().getBoundingClientRect();
              return [box.left + p.x, box.top + p.y];
            }}"""
        )
        page.mouse.click(*box)
        factors = page.locator(".leaflet-popup-content .om-factors")
        factors.wait_for(timeout=10_000)
        text = factors.inner_text()
        for label in ("主路等级与限速", "3年事故", "GB 14886事故条件", "视距三角形受阻", "穿镇"):
            assert label in text
        assert "千灯万带整治计划" in page.locator(".leaflet-popup-content .om-popup-kind").inner_text()
        assert "黄闪警示灯" in page.locator(".leaflet-popup-content").inner_text()
        page.screenshot(path=str(ARTIFACTS / "map-planner-plan-popup.png"))
        assert visit.errors == []
    finally:
        visit.close()


def _click_at(visit: Visit, lon: float, lat: float, zoom: int) -> None:
    """Centre the map on a place at a zoom, wait until it has drawn, and click there."""
    page = visit.page
    count = visit.ready_count
    page.evaluate(f"oneMap.map.setView([{lat}, {lon}], {zoom}, {{ animate: false }})")
    visit.wait_ready(after=count)
    box = page.evaluate(
        f"""() => {{
          const p = oneMap.map.latLngToContainerPoint(L.latLng({lat}, {lon}));
          const box = oneMap.map.getContainer().getBoundingClientRect();
          return [box.left + p.x, box.top + p.y];
        }}"""
    )
    page.mouse.click(*box)


def test_four_colour_map_counts_each_colour_and_a_village_tells_its_own(browser, server):
    """The legend counts the graded sources of each colour; a click on a village (not on a source) gives its counts
    per colour; a click on a source, drawn above the village, gives the source's own popup."""
    cat = Catalog.load(demo_store())
    villages, sources = cat["villages"].frame, cat["risk_sources"].frame
    summary = village_summary(grade(sources, villages), villages)
    levels = ["red", "orange", "yellow", "blue"]
    village = 14  # 北沙窝村: one red, one yellow and one blue source
    polygon = villages.geometry[village]
    west, south, east, north = polygon.bounds
    grid = [shapely.Point(west + (east - west) * i / 24, south + (north - south) * j / 24) for i in range(25)
            for j in range(25)]  # fmt: skip
    inside = [p for p in grid if polygon.contains(p)]
    # The place in the village farthest from both its boundary and every source: a click there hits the village.
    points = sources.geometry.to_numpy()
    spot = max(inside, key=lambda p: min(polygon.exterior.distance(p), shapely.distance(points, p).min()))

    visit = Visit(browser, server + "/map/risk")
    page = visit.page
    try:
        rows = page.evaluate(
            """() => [...document.querySelectorAll(".om-legend-section")]
              .filter(s => s.querySelector(".om-legend-layer").textContent === "重大风险源")
              .flatMap(s => [...s.querySelectorAll(".om-legend-row")])
              .map(r => [r.textContent, getComputedStyle(r.querySelector(".om-swatch")).backgroundColor])"""
        )
        expected = [f"{label}（{COLOUR_NAMES[k]}）：{int(summary[k].sum())} 处" for k, label in
                    zip(levels, ["重大风险", "较大风险", "一般风险", "低风险"], strict=True)]  # fmt: skip
        assert [text for text, _ in rows] == expected
        rgb = [f"rgb({int(c[1:3], 16)}, {int(c[3:5], 16)}, {int(c[5:7], 16)})" for c in (COLOURS[k] for k in levels)]
        assert [colour for _, colour in rows] == rgb

        _click_at(visit, spot.x, spot.y, 14)
        table = page.locator(".leaflet-popup-content .om-four-colour")
        table.wait_for(timeout=10_000)
        assert page.locator(".leaflet-popup-content .om-popup-title").inner_text() == "北沙窝村"
        counts = {k: table.locator(f"tr[data-level={k}] td").inner_text() for k in levels}
        assert counts == {k: f"{summary.loc[village, k]} 处" for k in levels}
        assert "红色区域：重点管控" in page.locator(".leaflet-popup-content").inner_text()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "map-risk-village-popup.png"))
        page.locator(".leaflet-popup-close-button").click()

        red = sources.index[grade(sources)["level"] == "red"][0]
        _click_at(visit, sources.geometry[red].x, sources.geometry[red].y, 16)
        kind = page.locator(".leaflet-popup-content .om-popup-kind")
        kind.wait_for(timeout=10_000)
        assert kind.inner_text() == "重大风险源"
        assert visit.errors == []
    finally:
        visit.close()


@pytest.mark.parametrize("village", ["150525107214", "14"])
def test_village_four_colour_map_keeps_the_full_width_and_draws_only_its_own_sources(browser, server, village):
    visit = Visit(browser, f"{server}/map/risk/{village}")
    page = visit.page
    try:
        assert page.evaluate("document.body.classList.contains('om-with-panel')") is False
        assert page.locator(".om-title-main").inner_text() == "安全风险四色分布图 · 北沙窝村"
        drawn = page.evaluate(
            """() => oneMap.overlays.filter(o => o.spec.key === "risk_sources")[0].content.getLayers()
                 .map(l => l.feature.properties.k).sort()"""
        )
        assert drawn == ["blue", "red", "yellow"]
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "map-risk-village.png"))
        assert visit.errors == []
    finally:
        visit.close()


def test_emergency_view_shows_the_composite_risk_surface_with_its_legend_and_why_a_cell_scores(browser, server):
    """The hexagons are on at first with a five-class legend; a hexagon's popup gives each component's points."""
    cells = demo_store().read(LAYERS["risk_surface"])
    top = cells.sort_values("rank").iloc[0]
    visit = Visit(browser, server + "/map/emergency")
    page = visit.page
    try:
        surface = page.evaluate("oneMap.overlays.findIndex(o => o.spec.layer === 'risk_surface')")
        assert surface >= 0 and page.evaluate(f"oneMap.overlays[{surface}].visible") is True
        rows = page.evaluate(
            """() => [...document.querySelectorAll(".om-legend-section")]
              .filter(s => s.querySelector(".om-legend-layer").textContent === "综合风险格网")
              .flatMap(s => [...s.querySelectorAll(".om-legend-row")]).map(r => r.textContent)"""
        )
        assert "综合风险：高" in rows and len(rows) >= 3
        page.evaluate("oneMap.overlays.filter(o => o.spec.layer !== 'risk_surface')"
                      ".forEach(o => oneMap.map.removeLayer(o.group))")  # fmt: skip
        centre = top.geometry.representative_point()
        _click_at(visit, centre.x, centre.y, 14)
        factors = page.locator(".leaflet-popup-content .om-factors")
        factors.wait_for(timeout=10_000)
        text = factors.inner_text()
        for label in ("风险源", "未销号隐患", "交通事故", "事故多发点段", "消防救援盲区人口", "人口"):
            assert label in text
        content = page.locator(".leaflet-popup-content").inner_text()
        assert "综合风险第 1 位" in content and "处置建议" in content
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "map-emergency-risk-surface.png"))
        assert visit.errors == []
    finally:
        visit.close()


def test_a_heat_map_switched_off_while_it_loads_raises_nothing(browser, server):
    """Switching a heat map on and straight off again, many times, as a quick hand in the layer control does."""
    visit = Visit(browser, server + "/map/risk")
    page = visit.page
    try:
        page.evaluate(
            """async () => {
              const heat = oneMap.overlays.find(o => o.spec.heat);
              for (let i = 0; i < 30; i++) {
                oneMap.map.addLayer(heat.group);
                heat.content.setLatLngs([[42.85, 120.55, 1], [42.84, 120.54, 1]]);
                oneMap.map.removeLayer(heat.group);
                heat.content.setLatLngs([[42.85, 120.55, 1]]);
                await new Promise(r => requestAnimationFrame(r));
              }
            }"""
        )
        page.wait_for_timeout(300)
        assert visit.errors == []
    finally:
        visit.close()
