"""OGC API – Features over the tiny town: documents, paging, bbox and property filters, errors."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely
from openapi_spec_validator import validate

from layers import LAYERS, get_layer


def test_landing_page_links_to_api_conformance_and_collections(client):
    body = client.get("/").json()
    rels = {link["rel"]: link["href"] for link in body["links"]}
    assert {"self", "service-desc", "service-doc", "conformance", "data"} <= set(rels)
    assert rels["data"].endswith("/collections")
    assert "合成示例数据" in body["description"]


def test_conformance_declares_core_geojson_and_oas30(client):
    classes = client.get("/conformance").json()["conformsTo"]
    assert {c.rsplit("/", 1)[-1] for c in classes} == {"core", "geojson", "oas30"}


def test_api_definition_is_valid_openapi_30(client):
    spec = client.get("/api").json()
    assert spec["openapi"] == "3.0.3"
    validate(spec)


def test_collections_list_every_declared_layer_with_chinese_title(client):
    body = client.get("/collections").json()
    listed = {c["id"]: c for c in body["collections"]}
    assert list(listed) == list(LAYERS)
    assert listed["accidents"]["title"] == "交通事故"
    assert listed["accidents"]["extent"]["spatial"]["bbox"] == [[120.38, 42.82, 120.445, 42.835]]


def test_items_are_geojson_in_fid_order_with_counts(client):
    response = client.get("/collections/accidents/items", params={"limit": 3})
    assert response.headers["content-type"].startswith("application/geo+json")
    body = response.json()
    assert body["type"] == "FeatureCollection"
    assert (body["numberMatched"], body["numberReturned"]) == (5, 3)
    assert [f["id"] for f in body["features"]] == [1, 2, 3]
    assert body["features"][0]["geometry"] == {"type": "Point", "coordinates": [120.42, 42.82]}
    assert body["features"][0]["properties"]["severity"] == "fatal"


def test_paging_follows_next_and_prev_links(client):
    first = client.get("/collections/accidents/items").json()  # default_limit = 2
    assert [f["id"] for f in first["features"]] == [1, 2]
    links = {link["rel"]: link["href"] for link in first["links"]}
    assert "prev" not in links
    second = client.get(links["next"]).json()
    assert [f["id"] for f in second["features"]] == [3, 4]
    back = {link["rel"]: link["href"] for link in second["links"]}
    assert [f["id"] for f in client.get(back["prev"]).json()["features"]] == [1, 2]
    last = client.get({link["rel"]: link["href"] for link in second["links"]}["next"]).json()
    assert [f["id"] for f in last["features"]] == [5]
    assert "next" not in {link["rel"] for link in last["links"]}


def test_limit_above_maximum_is_capped_not_refused(client):
    body = client.get("/collections/accidents/items", params={"limit": 1000}).json()
    assert body["numberReturned"] == 3  # max_limit = 3


@pytest.mark.parametrize(
    "bbox",
    [
        "120.39,42.81,120.43,42.84",  # around the crossing: fatal, drunk-driving and one injury crash
        "120.42,42.82,120.42,42.82",  # a degenerate box exactly on crash 1
        "120.0,42.0,120.1,42.1",  # nowhere near the town
        "120.445,42.80,120.5,42.9",  # crash 5 lies on the west edge: edges count
    ],
)
def test_bbox_returns_exactly_what_brute_force_intersects(client, tiny_store, bbox):
    expected = _brute_force(tiny_store.read(get_layer("accidents")), bbox)
    body = client.get("/collections/accidents/items", params={"bbox": bbox, "limit": 3}).json()
    assert body["numberMatched"] == len(expected)
    assert [f["id"] for f in body["features"]] == expected[:3]


def _brute_force(frame: gpd.GeoDataFrame, bbox: str) -> list[int]:
    box = shapely.box(*(float(v) for v in bbox.split(",")))
    return sorted(int(i) for i in frame.index[shapely.intersects(frame.geometry.values, box)])


def test_lines_crossing_the_bbox_are_returned_even_without_a_vertex_inside(client):
    body = client.get("/collections/roads/items", params={"bbox": "120.415,42.815,120.425,42.825"}).json()
    assert sorted(f["id"] for f in body["features"]) == [1, 2]


def test_property_filters_combine_with_bbox(client):
    body = client.get("/collections/accidents/items", params={"severity": "injury", "road_id": 2}).json()
    assert [f["id"] for f in body["features"]] == [4]
    body = client.get("/collections/accidents/items", params={"drunk_driving": "true"}).json()
    assert [f["id"] for f in body["features"]] == [3]


def test_single_item_and_its_links(client):
    body = client.get("/collections/roads/items/2").json()
    assert body["id"] == 2 and body["properties"]["route_code"] == "C101"
    assert {link["rel"] for link in body["links"]} == {"self", "collection"}


@pytest.mark.parametrize(
    ("url", "status", "message"),
    [
        ("/collections/nope", 404, "unknown layer 'nope'; known layers: villages"),
        ("/collections/nope/items", 404, "unknown layer 'nope'"),
        ("/collections/accidents/items/99", 404, "has no feature with id 99"),
        ("/collections/accidents/items/abc", 400, "feature_id"),
        ("/collections/accidents/items?bbox=1,2,3", 400, "bbox needs 4 numbers"),
        ("/collections/accidents/items?bbox=a,b,c,d", 400, "bbox values must be numbers"),
        ("/collections/accidents/items?bbox=120.5,42.8,120.4,42.9", 400, "min_lon must be <= max_lon"),
        ("/collections/accidents/items?bbox=42.81,120.39,42.84,120.43", 400, "longitude and latitude swapped"),
        ("/collections/accidents/items?bbox=nan,1,2,3", 400, "finite"),
        ("/collections/accidents/items?bbox-crs=EPSG:3857&bbox=1,2,3,4", 400, "bbox-crs"),
        ("/collections/accidents/items?limit=0", 400, "limit"),
        ("/collections/accidents/items?limit=ten", 400, "limit"),
        ("/collections/accidents/items?offset=-1", 400, "offset"),
        ("/collections/accidents/items?colour=red", 400, "unknown query parameter 'colour'"),
        ("/collections/accidents/items?deaths=many", 400, "deaths must be a number"),
        ("/collections/accidents/items?drunk_driving=perhaps", 400, "true or false"),
        ("/collections/accidents/items?f=html", 400, "f=json"),
        ("/villages/9/summary", 404, "no village with id or code '9'"),
    ],
)
def test_bad_requests_get_a_4xx_that_says_what_to_fix(client, url, status, message):
    response = client.get(url)
    assert response.status_code == status
    assert message in response.json()["detail"]


def test_queryables_list_filterable_properties(client):
    body = client.get("/collections/accidents/queryables").json()
    assert "severity" in body["properties"] and "occurred_at" not in body["properties"]


def test_village_summary_counts_match_brute_force(client, tiny_store):
    villages = tiny_store.read(get_layer("villages"))
    for fid, code in ((1, "150525107201"), (2, "150525107202")):
        polygon = villages.geometry[fid]
        by_fid = client.get(f"/villages/{fid}/summary").json()
        assert client.get(f"/villages/{code}/summary").json() == by_fid
        counts = {c["layer"]: c["count"] for c in by_fid["counts"]}
        for layer_id in ("roads", "accidents"):
            frame = tiny_store.read(get_layer(layer_id))
            assert counts[layer_id] == int(shapely.intersects(frame.geometry.values, polygon).sum()), layer_id
    assert {c["layer"]: c["count"] for c in client.get("/villages/1/summary").json()["counts"]}["accidents"] == 4
