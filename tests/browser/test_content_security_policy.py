"""The pages work under their Content-Security-Policy: every view, each online basemap and the API docs load in
Chromium without a single CSP violation, and an inline script that the page did not write is refused."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlparse

import httpx2 as httpx
import pytest
from backends import BACKEND, town_copy
from outside_tools import running_service

from onemap.settings import DEMO_GPKG

pytestmark = pytest.mark.browser

WATCH_CSP = """
window.__csp = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
"""
VIEWS = ["/map", "/map/planner", "/map/emergency", "/map/village/150525107201", "/map/risk", "/map/risk/150525107201"]
#: Stands in for Swagger UI from the CDN (no network here): it starts as the real one does, fetching the API
#: definition from this service.
SWAGGER_STUB = """
window.SwaggerUIBundle = function (config) {
  fetch(config.url).then((r) => r.json()).then((spec) => { window.__spec = spec.openapi; });
  return {};
};
SwaggerUIBundle.presets = { apis: {} };
SwaggerUIBundle.SwaggerUIStandalonePreset = {};
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = town_copy(BACKEND, DEMO_GPKG, tmp_path_factory.mktemp("csp"))
    with running_service(data, ONEMAP_TIANDITU_KEY="test-key") as url:
        yield url


def _outside(url: str) -> bool:
    parsed = urlparse(url)
    return parsed.scheme not in ("data", "blob", "about") and parsed.hostname not in ("127.0.0.1", "localhost")


def _open(browser, url: str, route=None):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    context.add_init_script(WATCH_CSP)
    page = context.new_page()
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.route("**/*", route or (lambda r: r.abort() if _outside(r.request.url) else r.continue_()))
    response = page.goto(url)
    return context, page, response, errors, requests


@pytest.mark.parametrize("path", VIEWS)
def test_every_view_runs_under_its_policy(browser, server, path):
    context, page, response, errors, _ = _open(browser, server + path)
    try:
        assert "'nonce-" in response.headers["content-security-policy"]
        page.wait_for_function("Number(document.body.dataset.omReady || 0) > 0", timeout=30_000)
        # Every control that compiles or injects something at start-up is there: measure, fullscreen, layers.
        for control in (".leaflet-control-measure", ".leaflet-control-zoom-fullscreen", ".leaflet-control-layers"):
            assert page.locator(control).count() == 1, control
        page.evaluate("oneMap.overlays.filter(o => !o.visible).forEach(o => oneMap.map.addLayer(o.group))")
        page.wait_for_timeout(500)
        assert page.evaluate("window.__csp") == [] and errors == []
    finally:
        context.close()


@pytest.mark.parametrize("basemap", ["tianditu", "osm", "amap"])
def test_an_online_basemap_may_fetch_its_tiles(browser, server, basemap):
    """Tile requests leave the machine and are blocked here, after the CSP let the page ask for them."""
    context, page, _, _, requests = _open(browser, f"{server}/map?basemap={basemap}")
    try:
        page.wait_for_function("Number(document.body.dataset.omReady || 0) > 0", timeout=30_000)
        assert [u for u in requests if _outside(u)]
        assert page.evaluate("window.__csp") == []
    finally:
        context.close()


def test_a_script_the_page_did_not_write_is_refused(browser, server):
    """Markup that reached the page by any route (here: put in by hand) cannot run: no nonce, no inline handler."""
    context, page, _, _, _ = _open(browser, server + "/map")
    try:
        page.wait_for_function("Number(document.body.dataset.omReady || 0) > 0", timeout=30_000)
        page.evaluate(
            """() => {
              const box = document.createElement("div");
              box.innerHTML = '<img src="data:," onerror="window.__xss = 1">';
              document.body.appendChild(box);
              const script = document.createElement("script");
              script.textContent = "window.__xss = 2";
              document.body.appendChild(script);
            }"""
        )
        page.wait_for_function("window.__csp.length >= 2", timeout=5_000)
        assert page.evaluate("window.__xss") is None
        assert {v.split()[0] for v in page.evaluate("window.__csp")} <= {"script-src-attr", "script-src-elem"}
    finally:
        context.close()


def test_the_api_docs_page_loads_swagger_ui_from_its_cdn_and_reads_the_api(browser, server):
    def route(r):
        host = urlparse(r.request.url).hostname
        if host == "cdn.jsdelivr.net":
            js = r.request.url.endswith(".js")
            r.fulfill(status=200, content_type="text/javascript" if js else "text/css", body=SWAGGER_STUB if js else "")
        elif _outside(r.request.url):
            r.abort()
        else:
            r.continue_()

    context, page, response, _, requests = _open(browser, server + "/api.html", route)
    try:
        assert response.status == 200
        # Polled from the test: Playwright's in-page polling would need eval, which this page's policy refuses.
        for _ in range(100):
            if page.evaluate("window.__spec") is not None:
                break
            page.wait_for_timeout(100)
        assert page.evaluate("window.__spec") == "3.0.3"
        assert any("swagger-ui-bundle.js" in u for u in requests) and any("swagger-ui.css" in u for u in requests)
        assert page.evaluate("window.__csp") == []
    finally:
        context.close()


def test_the_headers_reach_the_browser_from_a_real_server(server):
    response = httpx.get(server + "/map")
    assert response.headers["x-frame-options"] == "DENY" and response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
