"""Which layers a served map page draws from vector tiles: those over the threshold that tiles can draw as GeoJSON
draws them, with the tile URL in the page and no GeoJSON of theirs in it; never in a standalone export, which
leaves a layer too large for a file out and says so."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from backends import BACKEND, settings_for, town_copy
from fastapi.testclient import TestClient

from api.catalog import Catalog
from api.main import create_app
from layers import LAYERS
from maps import assets, export
from maps.export import standalone_html
from maps.symbols import SYMBOLS
from onemap.settings import DEMO_GPKG
from store import Store, open_store

#: Below the demo town's buildings (2,381), crash-density lixels (3,656), accidents (442) and intersections (279).
LOW = 250
PROTOMAPS = assets.url_of(assets.TILE_SCRIPTS[0])


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Store:
    path = town_copy(BACKEND, DEMO_GPKG, tmp_path_factory.mktemp("tiled"))
    return open_store(path)


def _client(demo: Store, **settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(demo.location, **settings))) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def low(demo) -> Iterator[TestClient]:
    yield from _client(demo, map_tiles_above=LOW)


@pytest.fixture(scope="module")
def everything(demo) -> Iterator[TestClient]:
    yield from _client(demo, map_tiles_above=0)


@pytest.fixture(scope="module")
def default(demo) -> Iterator[TestClient]:
    yield from _client(demo)


def _config(html: str) -> dict:
    """The configuration the page hands onemap.js."""
    found = re.search(r"OneMap\.start\([^,]+, ", html)
    assert found, "the page starts onemap.js"
    return json.JSONDecoder().raw_decode(html, found.end())[0]


def _tiled(config: dict) -> dict[str, str]:
    return {o["layer"]: o["tiles"] for o in config["overlays"] if o["tiles"]}


def test_a_layer_over_the_threshold_is_drawn_from_tiles_and_not_embedded(low):
    html = low.get("/map").text
    config = _config(html)
    tiled = _tiled(config)
    assert tiled["buildings"] == "/collections/buildings/tiles/{z}/{x}/{y}"
    assert tiled["crash_density"] == "/collections/crash_density/tiles/{z}/{x}/{y}"
    assert config["embedded"] is None and '"FeatureCollection"' not in html and '"coordinates"' not in html
    assert f'<script src="{PROTOMAPS}"></script>' in html
    assert html.index(PROTOMAPS) < html.index(assets.url_of("onemap/onemap.js"))
    assert low.get(PROTOMAPS).status_code == 200
    # the legend and styling the browser draws the tiles with are the layer's own
    spec = next(o for o in config["overlays"] if o["layer"] == "crash_density")
    assert spec["symbol"]["field"] == "level" and spec["legend"] == SYMBOLS["crash_density"].legend()


def test_the_tile_url_serves_the_layer(low):
    response = low.get("/collections/buildings/tiles/14/13678/6029")
    assert response.status_code == 200 and response.headers["content-type"] == "application/vnd.mapbox-vector-tile"


@pytest.mark.parametrize(
    ("layer_id", "why"),
    [
        ("accidents", "clustered markers and a heat map are drawn from points"),
        ("intersections", "its category is worked out from several properties"),
        ("emergency_resources", "icons"),
        ("hazards", "the ledger is private"),
    ],
)
def test_layers_tiles_cannot_draw_alike_stay_on_geojson_whatever_their_size(everything, layer_id, why):
    for view in ("/map", "/map/planner", "/map/emergency", "/map/village/150525107201"):
        assert layer_id not in _tiled(_config(everything.get(view).text)), (view, why)


def test_every_other_layer_over_the_threshold_is_tiled(everything):
    tiled = _tiled(_config(everything.get("/map").text))
    assert {"villages", "buildings", "roads", "old_settlements", "fire_lanes", "risk_sources"} <= set(tiled)
    assert "roads" not in _tiled(_config(everything.get("/map", params={"basemap": "amap"}).text))


def test_the_four_colour_map_keeps_its_graded_layers(everything):
    tiled = _tiled(_config(everything.get("/map/risk").text))
    assert "roads" in tiled and tiled.keys().isdisjoint({"villages", "risk_sources"})


def test_by_default_the_demo_towns_layers_stay_embedded(default):
    for view in ("/map", "/map/planner", "/map/emergency", "/map/village/150525107201", "/map/risk"):
        html = default.get(view).text
        assert _tiled(_config(html)) == {} and PROTOMAPS not in html, view


def test_an_export_embeds_never_tiles_and_says_what_it_left_out(demo, monkeypatch):
    cat = Catalog.load(demo)
    monkeypatch.setattr(export, "EXPORT_MAX_FEATURES", 100)
    html = standalone_html(cat, "village", "150525107201")
    area = cat["villages"].index.geometry(cat.village_fid("150525107201")).bounds
    config = _config(html)
    assert _tiled(config) == {} and "/* vendor/protomaps-leaflet/" not in html
    left_out = {k for k, body in config["embedded"].items() if body.get("hidden", "").startswith("离线文件未收录")}
    assert "buildings" in left_out and len(config["notes"]) == len(left_out)
    for layer_id, body in config["embedded"].items():
        if layer_id in left_out:
            # said in the layer's legend and under the title, with the count
            assert body["features"] == [] and f"「{LAYERS[layer_id].title}」" in body["hidden"]
            assert body["hidden"] in config["notes"] and re.search(r"区域内 [\d,]+ 个要素", body["hidden"])
        else:
            assert len(body["features"]) == len(cat[layer_id].index.bbox(area)), layer_id  # the rest stays whole
