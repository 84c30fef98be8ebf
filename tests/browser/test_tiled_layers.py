"""A layer too large for GeoJSON, drawn from its vector tiles in a real browser (headless Chromium): the service is
told a low threshold, so the demo town's buildings (2,381) are tiled; the page asks for their tiles and not for
/map/data, paints them in the layer's colour, and a click on a building opens the popup the server gives it.

A screenshot is written to tests/artifacts/ (or $ONEMAP_TEST_ARTIFACTS) for a person to look at.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import httpx2 as httpx
import numpy as np
import pytest
import shapely
from backends import BACKEND, demo_store, town_copy
from outside_tools import running_service
from pyproj import Transformer

from layers import LAYERS
from maps.symbols import SYMBOLS
from onemap.settings import DEMO_GPKG

pytestmark = pytest.mark.browser

ARTIFACTS = Path(os.environ.get("ONEMAP_TEST_ARTIFACTS", Path(__file__).resolve().parents[1] / "artifacts"))
#: Over crash density's 3,656 lixels (hidden in the town view) and the buildings' 2,381; under everything else.
THRESHOLD = "1000"
TILES = "/collections/buildings/tiles/"
#: Web-Mercator metres (about 0.73 of a metre on the ground here) between the clicked building and any marker.
MARKER_CLEARANCE_M = 60
TO_LONLAT = Transformer.from_crs("EPSG:3857", "EPSG:4326", always_xy=True)
#: Screen pixels of the buildings' fill, (r, g, b) each within this of the symbol's colour.
COLOUR_SLACK = 3
#: Counts the pixels of the buildings' canvases that are their colour.
PAINTED = """([r, g, b, slack]) => {
  let count = 0;
  for (const canvas of document.querySelectorAll(".om-tiles-buildings canvas")) {
    if (!canvas.width) continue;
    const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 0; i < data.length; i += 4) {
      if (data[i + 3] > 0 && Math.abs(data[i] - r) <= slack && Math.abs(data[i + 1] - g) <= slack
          && Math.abs(data[i + 2] - b) <= slack) count += 1;
    }
  }
  return count;
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo town on the suite's backend (on PostgreSQL the tiles come from ST_AsMVT), with the low threshold."""
    location = town_copy(BACKEND, DEMO_GPKG, tmp_path_factory.mktemp("tiled-browser"))
    with running_service(location, ONEMAP_MAP_TILES_ABOVE=THRESHOLD) as url:
        yield url


@pytest.fixture(scope="module")
def house() -> tuple[int, float, float]:
    """A large building with no marker near it (a click on a marker is the marker's, whereas one inside a village
    polygon is the tiled building's): fid, lon, lat inside it."""
    store = demo_store()
    point_layers = [layer for layer in LAYERS.values() if layer.geometry_types == ("Point",)]
    points = [store.read(layer).geometry.to_crs(3857) for layer in point_layers]
    markers = shapely.union_all([g for frame in points for g in frame.to_numpy()])
    buildings = store.read(LAYERS["buildings"]).to_crs(3857)
    for fid in buildings.geometry.area.sort_values(ascending=False).index:
        inside = shapely.point_on_surface(buildings.geometry.loc[fid])
        if shapely.distance(inside, markers) > MARKER_CLEARANCE_M:
            lon, lat = shapely.get_coordinates(shapely.transform(inside, _to_lonlat))[0]
            return int(fid), float(lon), float(lat)
    raise AssertionError("no building stands clear of the markers")


def _to_lonlat(xy):
    return np.column_stack(TO_LONLAT.transform(xy[:, 0], xy[:, 1]))


def _rgb(color: str) -> list[int]:
    return [int(color[i : i + 2], 16) for i in (1, 3, 5)]


def _outside(url: str) -> bool:
    parsed = urlparse(url)
    return parsed.scheme not in ("data", "blob", "about") and parsed.hostname not in ("127.0.0.1", "localhost")


def test_buildings_are_drawn_from_tiles_and_a_click_opens_their_popup(browser, server, house):
    fid, lon, lat = house
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    requests: list[str] = []
    tiles: list[int] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.on("response", lambda r: tiles.append(r.status) if TILES in r.url else None)
    try:
        page.goto(server + "/map")
        page.wait_for_function("Number(document.body.dataset.omReady || 0) > 0", timeout=30_000)
        tiled = page.evaluate("oneMap.overlays.filter(o => o.tiled).map(o => [o.spec.layer, o.visible])")
        assert tiled == [["buildings", True], ["crash_density", False]]  # crash density is off at first
        # At the town's extent buildings are not drawn yet (zoom 15 and up), as on the GeoJSON map.
        assert page.evaluate("oneMap.map.getZoom()") < SYMBOLS["buildings"].min_zoom
        assert "放大到 15 级后显示" in page.locator(".om-legend").inner_text()

        page.evaluate(f"oneMap.map.setView([{lat}, {lon}], 17, {{ animate: false }})")
        colour = [*_rgb(SYMBOLS["buildings"].colors[""]), COLOUR_SLACK]
        page.wait_for_function(f"({PAINTED})({colour}) > 500", timeout=30_000)
        assert tiles and all(status in (200, 204) for status in tiles) and 200 in tiles
        assert [u for u in requests if "/map/data/buildings" in u] == []  # tiled, never fetched as GeoJSON
        assert any("/map/data/roads" in u for u in requests)  # the other layers as before
        assert "放大到 15 级后显示" not in page.locator(".om-legend").inner_text()

        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "map-tiled-buildings.png"))

        # The building is at the map's centre: a click there opens the popup /map/popup gives it.
        box = page.locator("#" + page.evaluate("oneMap.map.getContainer().id")).bounding_box()
        point = page.evaluate(f"oneMap.map.latLngToContainerPoint([{lat}, {lon}])")
        page.mouse.click(box["x"] + point["x"], box["y"] + point["y"])
        content = page.locator(".leaflet-popup-content")
        content.locator(".om-popup-title").wait_for(timeout=10_000)
        expected = httpx.get(f"{server}/map/popup/buildings/{fid}").text
        same = page.evaluate(
            """([html, shown]) => { const d = document.createElement("div"); d.innerHTML = html;
                                    return d.textContent === shown.textContent; }""",
            [expected, content.element_handle()],
        )
        assert same, (content.inner_text(), expected)
        assert errors == []
        assert [u for u in requests if _outside(u)] == []
    finally:
        context.close()
