"""The map's server side over the demo town: viewport data against brute force, grouping, shifting, popups,
search, what-is-near, and pages that load nothing from outside."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date

import numpy as np
import pytest
import shapely
from backends import BACKEND, settings_for, town_copy
from fastapi.testclient import TestClient

from analysis.risk_grading import COLOUR_NAMES, COLOURS, grade, village_summary
from api.catalog import Catalog
from api.main import create_app
from geo import gcj02
from geo.crs import LOCAL_METRIC, transform_geometries
from layers import LAYERS
from layers.frames import properties_of
from layers.vocab import RiskLevel
from maps import assets
from maps.advice import advice
from maps.export import standalone_html
from maps.four_colour import FourColour
from maps.popups import open_hazards, open_hazards_by_feature, popup_html
from maps.symbols import FOUR_COLOUR_SYMBOLS, SYMBOLS, hazard_state, intersection_treatment
from maps.viewport import degrees_per_pixel, viewport
from onemap.settings import DEMO_GPKG
from store import Store, open_store

SEAT = (120.54, 42.84, 120.556, 42.852)
TOWN = (120.4, 42.7, 120.7, 43.0)


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Store:
    path = town_copy(BACKEND, DEMO_GPKG, tmp_path_factory.mktemp("maps"))
    return open_store(path)


@pytest.fixture(scope="module")
def cat(demo) -> Catalog:
    return Catalog.load(demo)


@pytest.fixture(scope="module")
def client(demo) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(demo.location, tianditu_key="k"))) as test_client:
        yield test_client


def test_every_layer_has_a_symbol_and_every_colour_a_legend_line():
    assert set(SYMBOLS) == set(LAYERS)
    for symbol in SYMBOLS.values():
        assert set(symbol.colors) == set(symbol.labels), symbol.layer_id
        assert all(row["label"] for row in symbol.legend())
    assert list(SYMBOLS["risk_sources"].colors.values()) == ["#e60000", "#ff8c00", "#ffd700", "#1e64c8"]


@pytest.mark.parametrize("layer_id", ["roads", "intersections", "fire_lanes", "old_settlements", "hazards"])
def test_viewport_holds_exactly_the_features_in_the_box(cat, layer_id):
    frame = cat[layer_id].frame
    for bbox in (SEAT, TOWN, (120.45, 42.75, 120.5, 42.8)):
        body = viewport(cat, layer_id, bbox, zoom=16)
        expected = sorted(int(i) for i in frame.index[shapely.intersects(frame.geometry.values, shapely.box(*bbox))])
        assert sorted(f["id"] for f in body["features"]) == expected
        keys = {f["properties"]["k"] for f in body["features"]}
        assert keys <= set(SYMBOLS[layer_id].colors), keys


def test_lines_are_simplified_for_the_zoom_but_stay_close(cat):
    fine = viewport(cat, "roads", TOWN, zoom=18)
    coarse = viewport(cat, "roads", TOWN, zoom=10)
    count = lambda body: sum(len(shapely.get_coordinates(shapely.from_geojson(_json(f)))) for f in body["features"])  # noqa: E731
    assert count(coarse) < count(fine)
    tolerance = degrees_per_pixel(10)
    by_id = {f["id"]: shapely.from_geojson(_json(f)) for f in fine["features"]}
    for f in coarse["features"]:
        assert shapely.hausdorff_distance(shapely.from_geojson(_json(f)), by_id[f["id"]]) <= tolerance


def _json(feature: dict) -> str:
    return json.dumps(feature["geometry"])


def test_dense_points_are_grouped_without_losing_any(cat):
    body = viewport(cat, "accidents", TOWN, zoom=11, max_points=100)
    assert body["grouped"]
    total = sum(f["properties"]["count"] for f in body["features"])
    assert total == body["numberMatched"] == len(cat["accidents"].frame)
    assert viewport(cat, "accidents", TOWN, zoom=11).get("grouped") is None  # 442 points are drawn one by one


def test_layers_too_dense_for_the_zoom_say_so(cat):
    body = viewport(cat, "buildings", TOWN, zoom=12)
    assert body["features"] == [] and "15" in body["hidden"]
    assert viewport(cat, "buildings", SEAT, zoom=16)["features"]


def test_shifted_features_move_by_the_gcj02_offset(cat):
    plain = {f["id"]: f["geometry"]["coordinates"] for f in viewport(cat, "risk_sources", TOWN, zoom=14)["features"]}
    shifted_box = tuple(np.ravel(np.column_stack(gcj02.wgs84_to_gcj02(np.array(TOWN[::2]), np.array(TOWN[1::2])))))
    moved = viewport(cat, "risk_sources", shifted_box, zoom=14, shift=True)["features"]
    assert {f["id"] for f in moved} == set(plain)
    for f in moved:
        lon, lat = plain[f["id"]]
        assert f["geometry"]["coordinates"] == pytest.approx(list(gcj02.wgs84_to_gcj02(lon, lat)), abs=2e-6)
        metres = np.hypot((f["geometry"]["coordinates"][0] - lon) * 111_320 * np.cos(np.radians(lat)),
                          (f["geometry"]["coordinates"][1] - lat) * 110_574)  # fmt: skip
        assert 300 < metres < 800


def test_intersection_treatment_worked_examples():
    assert intersection_treatment({"control": "signal", "signal": True}) == "signal"
    lit_and_belted = {"control": "flashing", "flashing_light": True, "speed_belts": True}
    assert intersection_treatment(lit_and_belted) == "light_and_belts"
    assert intersection_treatment({"control": "stop", "speed_belts": False}) == "signs"
    assert intersection_treatment({"control": "none"}) == "none"
    assert "千灯万带" in " ".join(advice("intersections", {"control": "none", "sight_obstructed": True}))


def test_popup_says_what_it_is_what_to_do_and_which_hazards_are_open_there(cat):
    hazards = cat["hazards"].frame
    linked = hazards[(hazards["linked_layer"] == "obstructions") & hazards["status"].isin(["rectifying", "registered",
                     "assessed", "verification_requested"])]  # fmt: skip
    assert len(linked)
    fid = int(linked["linked_fid"].iloc[0])
    row = cat["obstructions"].frame.loc[fid]
    props = properties_of(LAYERS["obstructions"], row.drop("geometry").to_dict())
    html = popup_html(cat, "obstructions", fid, props, today=date(2026, 11, 1))
    assert "消防通道占用点" in html and "处置建议" in html and "消防法第二十八条" in html
    assert str(linked["code"].iloc[0]) in html
    assert "<script" not in popup_html(cat, "villages", 1, {"name": "<script>x</script>"})


def test_overdue_hazards_are_called_overdue():
    actions = advice("hazards", {"status": "rectifying", "deadline": "2026-01-01"}, today=date(2026, 11, 1))
    assert actions[0].startswith("已逾期")
    assert advice("hazards", {"status": "closed"}, today=date(2026, 11, 1)) == ["已销号"]


def test_search_by_village_name_and_code(client):
    found = client.get("/map/search", params={"q": "西营子"}).json()["results"]
    assert found[0]["layer"] == "villages" and found[0]["name"] == "西营子村"
    by_code = client.get("/map/search", params={"q": found[0]["code"]}).json()["results"]
    assert by_code[0]["name"] == "西营子村"
    assert client.get("/map/search", params={"q": ""}).status_code == 400


def test_near_distances_match_a_brute_force_metric_computation(client, cat):
    lon, lat = 120.548, 42.846
    body = client.get("/map/near", params={"lon": lon, "lat": lat, "radius_m": 3000}).json()
    assert body["village"] == "义隆永村"
    origin = transform_geometries([shapely.Point(lon, lat)], "EPSG:4326", LOCAL_METRIC)[0]
    resources = cat["emergency_resources"].frame
    metric = transform_geometries(resources.geometry.values, "EPSG:4326", LOCAL_METRIC)
    expected = sorted(shapely.distance(origin, metric))[:6]
    section = {s["title"]: s["items"] for s in body["sections"]}
    got = [item["distance_m"] for item in section["最近的应急资源（直线距离）"]]
    assert got == pytest.approx(expected, abs=0.1)
    sources = cat["risk_sources"].frame
    within = shapely.distance(origin, transform_geometries(sources.geometry.values, "EPSG:4326", LOCAL_METRIC)) <= 3000
    assert len(section["3000 m 内的风险源"]) == int(within.sum())
    rings = [item["name"] for item in section["影响范围内人口"]]
    assert rings == ["500 m 内", "1000 m 内", "3000 m 内"] and "居住" in section["影响范围内人口"][0]["note"]
    assert section["最近的避难场所（按路程）"][0]["note"].startswith("路程")
    outside = client.get("/map/near", params={"lon": 100.0, "lat": 30.0})
    assert outside.status_code == 400 and "outside the service area" in outside.json()["description"]


def test_near_times_the_nearest_rescue_forces_by_road_as_the_router_does(client, cat):
    from analysis.incident import IncidentRouter

    lon, lat = 120.5475, 42.8455
    section = client.get("/map/near", params={"lon": lon, "lat": lat, "radius_m": 500}).json()["sections"][0]
    assert section["title"] == "按路网行车时间最近的救援力量"
    router = IncidentRouter.build(cat["roads"].frame, cat["fire_lanes"].frame, cat["emergency_resources"].frame,
                                  obstructions=cat["obstructions"].frame)  # fmt: skip
    expected = router.nearest_by_time(lon, lat).dropna(subset=["minutes"])
    assert [item["fid"] for item in section["items"]] == [int(f) for f in expected["fid"]]
    assert [item["minutes"] for item in section["items"]] == [round(float(m), 1) for m in expected["minutes"]]
    assert section["items"][0]["note"].startswith("消防站，约")
    far = client.get("/map/near", params={"lon": 120.60, "lat": 42.90}).json()["sections"][0]
    assert far["items"] == [] and "离道路过远" in far["note"]


PAGES = [
    "/map",
    "/map/planner",
    "/map/emergency",
    "/map/village/150525107201",
    "/map/village/1",
    "/map/risk",
    "/map/risk/150525107201",
]


@pytest.mark.parametrize("url", PAGES)
def test_pages_load_only_our_own_assets_and_embed_no_features(client, url):
    response = client.get(url)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    html = response.text
    assert not re.findall(r"""(?:src|href)=["']https?://""", html)
    for asset in (*assets.SCRIPTS, *assets.STYLES):
        assert assets.url_of(asset) in html
        assert client.get(assets.url_of(asset)).status_code == 200
    assert len(html) < 60_000  # the page carries configuration, not data
    assert '"embedded": null' in html


def test_unknown_village_basemap_and_layer_get_a_clear_4xx(client):
    assert client.get("/map/village/999").status_code == 404
    assert client.get("/map", params={"basemap": "google"}).status_code == 400
    response = client.get("/map/data/nope", params={"bbox": "120,42,121,43", "zoom": 12})
    assert response.status_code == 404
    response = client.get("/map/data/roads", params={"bbox": "42,120,43,121", "zoom": 12})
    assert response.status_code == 400 and "swapped" in response.json()["description"]


def test_tianditu_needs_a_key(demo):
    with TestClient(create_app(settings_for(demo.location))) as bare:
        response = bare.get("/map", params={"basemap": "tianditu"})
        assert response.status_code == 400 and "ONEMAP_TIANDITU_KEY" in response.json()["description"]


def test_bulk_hazard_lookup_agrees_with_the_per_feature_one(cat):
    for layer_id in ("obstructions", "intersections", "risk_sources", "old_settlements", "buildings"):
        bulk = open_hazards_by_feature(cat, layer_id)
        for fid in cat[layer_id].frame.index:
            assert [h["code"] for h in bulk.get(int(fid), [])] == [
                h["code"] for h in open_hazards(cat, layer_id, int(fid))
            ]


def test_overdue_hazards_have_their_own_colour_on_the_map(cat):
    assert hazard_state({"status": "rectifying", "deadline": "2020-01-01"}) == "overdue"
    assert hazard_state({"status": "rectifying", "deadline": "2999-01-01"}) == "rectifying"
    assert hazard_state({"status": "closed", "deadline": "2020-01-01"}) == "closed"
    keys = {f["properties"]["k"] for f in viewport(cat, "hazards", TOWN, zoom=14)["features"]}
    assert "overdue" in keys  # the demo ledger has overdue entries


# ---- 安全风险四色分布图 ------------------------------------------------------------------------------------------

LEVELS = [r.value for r in RiskLevel]


@pytest.fixture(scope="module")
def summary(cat):
    """Sources per village and colour as the risk grading counts them, independently of the map."""
    villages = cat["villages"].frame
    return village_summary(grade(cat["risk_sources"].frame, villages), villages)


def _config(html: str) -> dict:
    """The configuration a page hands to onemap.js."""
    start = html.index("OneMap.start(")
    return json.JSONDecoder().raw_decode(html, html.index("{", start))[0]


def _legend(config: dict, key: str) -> dict[str, tuple[str, str]]:
    spec = next(o for o in config["overlays"] if o["key"] == key)
    assert spec["fixedLegend"]  # every colour listed, in view or not
    return {row["key"]: (row["color"], row["label"]) for row in spec["legend"]}


def _highest(row) -> str:
    return next((level for level in LEVELS if row[level] > 0), "none")


def test_four_colour_symbols_have_a_legend_line_for_every_colour():
    for symbol in FOUR_COLOUR_SYMBOLS.values():
        assert set(symbol.colors) == set(symbol.labels), symbol.layer_id
    assert [FOUR_COLOUR_SYMBOLS["villages"].colors[k] for k in LEVELS] == [COLOURS[k] for k in LEVELS]


def test_risk_map_counts_each_colour_as_the_grading_does(client, cat, summary):
    response = client.get("/map/risk")
    assert response.status_code == 200
    config = _config(response.text)
    assert config["view"] == "risk" and config["title"] == "安全风险四色分布图"
    assert config["dataUrl"] == "/map/risk/data" and config["village"] is None
    assert any(link["href"] == "/map/risk" and link["current"] for link in config["links"])
    sources = _legend(config, "risk_sources")
    assert list(sources) == LEVELS  # the demo town grades every source
    for level in LEVELS:
        total = int(summary[level].sum())
        assert sources[level] == (COLOURS[level], f"{RiskLevel(level).label}（{COLOUR_NAMES[level]}）：{total} 处")
    assert int(summary[LEVELS].to_numpy().sum()) == len(cat["risk_sources"].frame)  # each source counted once
    areas = _legend(config, "villages")
    highest = summary.apply(_highest, axis=1)
    for key, (colour, label) in areas.items():
        assert colour == FOUR_COLOUR_SYMBOLS["villages"].colors[key]
        assert label.endswith(f"：{int((highest == key).sum())} 个村"), label


def test_risk_map_data_colours_villages_by_their_highest_level_and_sources_by_their_grade(client, cat, summary):
    params = {"bbox": ",".join(map(str, TOWN)), "zoom": 12}
    villages = client.get("/map/risk/data/villages", params=params).json()["features"]
    assert sorted(f["id"] for f in villages) == sorted(summary.index)
    for feature in villages:
        row = summary.loc[feature["id"]]
        props = feature["properties"]
        assert props["k"] == _highest(row)
        popup = props["popup"]
        assert f'<div class="om-popup-title">{row["name"]}</div>' in popup and "处置建议" in popup
        for level in LEVELS:
            assert re.search(rf'data-level="{level}">.*?<td>{row[level]} 处</td>', popup), (row["name"], level)
        assert f"<td>{row['total']} 处</td>" in popup
    graded = grade(cat["risk_sources"].frame)["level"]
    sources = client.get("/map/risk/data/risk_sources", params=params).json()["features"]
    assert {f["id"]: f["properties"]["k"] for f in sources} == graded.to_dict()
    assert "popup" not in sources[0]["properties"]  # the risk-source popup is the usual one, fetched on click
    roads = client.get("/map/risk/data/roads", params=params).json()
    assert roads["features"] == client.get("/map/data/roads", params=params).json()["features"]
    assert client.get("/map/risk/data/hazards", params=params).status_code == 401  # the ledger stays private


@pytest.mark.parametrize("village", ["150525107201", "1"])
def test_village_risk_map_shows_that_village_and_its_own_sources(client, cat, summary, village):
    response = client.get(f"/map/risk/{village}")
    assert response.status_code == 200
    config = _config(response.text)
    assert config["village"]["fid"] == 1 and config["title"] == "安全风险四色分布图 · 义隆永村"
    assert config["dataUrl"] == "/map/risk/1/data"
    row = summary.loc[1]
    sources = _legend(config, "risk_sources")
    assert [label.rsplit("：", 1)[1] for _, label in sources.values()] == [f"{row[k]} 处" for k in LEVELS]
    params = {"bbox": ",".join(map(str, TOWN)), "zoom": 12}
    for data in (f"/map/risk/{village}/data", config["dataUrl"]):
        drawn = client.get(f"{data}/risk_sources", params=params).json()["features"]
        graded = grade(cat["risk_sources"].frame, cat["villages"].frame)
        assert sorted(f["id"] for f in drawn) == sorted(graded.index[graded["village_id"] == 1])
        assert [f["id"] for f in client.get(f"{data}/villages", params=params).json()["features"]] == [1]


@pytest.mark.parametrize("url", ["/map/risk/999", "/map/risk/150525999999", "/map/risk/nowhere",
                                 "/map/risk/999/data/villages?bbox=120,42,121,43&zoom=12"])  # fmt: skip
def test_unknown_village_gets_a_404_that_says_so_in_both_languages(client, url):
    response = client.get(url)
    assert response.status_code == 404
    message = response.json()["description"]
    assert "村（嘎查）" in message and "no village with id or code" in message


def test_a_source_that_cannot_be_graded_keeps_its_level_on_record(cat):
    sources = cat["risk_sources"].frame.copy()
    sources.loc[6, ["lec_l", "lec_e", "lec_c", "ls_l", "ls_s"]] = np.nan  # not surveyed
    sources.loc[14, "lec_l"] = 4.0  # not an LEC score: grading refuses it
    sources.loc[[6, 14], "level"] = ["orange", "red"]
    colours = FourColour.build(sources, cat["villages"].frame)
    assert colours.levels[6] == "orange" and colours.levels[14] == "red"
    assert colours.levels.drop([6, 14]).to_dict() == grade(sources.drop([6, 14]))["level"].to_dict()
    assert colours.areas[4] == "red"  # 东营子村: its blue source on record as red


def test_standalone_risk_map_embeds_the_village_and_its_sources_coloured(cat, summary):
    html = standalone_html(cat, "risk", "150525107201")
    config = _config(html)
    embedded = config["embedded"]
    assert [f["id"] for f in embedded["villages"]["features"]] == [1]
    assert embedded["villages"]["features"][0]["properties"]["k"] == _highest(summary.loc[1])
    keys = [f["properties"]["k"] for f in embedded["risk_sources"]["features"]]
    assert len(keys) == summary.loc[1, "total"] and all(f["properties"]["popup"] for f in
                                                        embedded["risk_sources"]["features"])  # fmt: skip
    assert 'id="om-village-panel"' not in html  # no hazard panel: the map keeps the full width
