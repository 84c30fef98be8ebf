"""Vector tiles over the demo town: each tile holds exactly the features a brute-force scan finds in its box, with the
items endpoint's properties and coordinates within a grid unit of the original; errors and the ledger's rules."""

from __future__ import annotations

import json
from collections.abc import Iterator

import mapbox_vector_tile
import mercantile
import numpy as np
import pytest
import shapely
from backends import BACKEND, settings_for, town_copy
from fastapi.testclient import TestClient
from pyproj import Transformer
from shapely.geometry import box, shape

from api.main import create_app
from geo.tiles import to_tile, to_web_mercator
from layers import LAYERS
from onemap.settings import DEMO_GPKG
from store import Store, open_store
from store.users import UserStore

PASSWORD = "vector tile password"
MVT = "application/vnd.mapbox-vector-tile"
EXTENT = 4096
#: Layers checked tile by tile: polygons, lines, points, and one that mixes points and lines.
LAYER_IDS = ("villages", "buildings", "roads", "crash_density", "accidents", "intersections", "accident_segments")
ZOOMS = (9, 12, 14, 16)
#: A decoded vertex lies within this many tile units of the original geometry: half a unit's rounding on each
#: axis, or the corner of the one-unit mark that stands for a feature too small for the zoom.
GRID_TOLERANCE = 1.5

TO_MERCATOR = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Store:
    path = town_copy(BACKEND, DEMO_GPKG, tmp_path_factory.mktemp("tiles"))
    store = open_store(path)
    hazards = store.read(LAYERS["hazards"])
    codes = hazards["village_code"].value_counts()
    users = UserStore(path)
    users.add("admin", PASSWORD, "admin")
    users.add("village", PASSWORD, "village", village_code=str(codes.index[0]))
    users.close()
    return store


@pytest.fixture(scope="module")
def client(demo: Store) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(demo.location))) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def headers(client: TestClient) -> dict[str, dict[str, str]]:
    out = {}
    for name in ("admin", "village"):
        token = client.post("/auth/token", data={"username": name, "password": PASSWORD}).json()["access_token"]
        out[name] = {"Authorization": f"Bearer {token}"}
    return out


@pytest.fixture(scope="module")
def frames(demo: Store) -> dict:
    return {layer_id: demo.read(LAYERS[layer_id]) for layer_id in (*LAYER_IDS, "hazards", "risk_sources")}


def _brute_force(frame, tile: mercantile.Tile) -> set[int]:
    """Every feature of the whole layer whose geometry meets the tile's lon/lat box."""
    hits = shapely.intersects(box(*mercantile.bounds(tile)), frame.geometry.to_numpy())
    return set(frame.index[hits].tolist())


def _tiles(frame, zoom: int) -> list[mercantile.Tile]:
    """Tiles under three features spread over the layer, and the east and south neighbours of the first."""
    points = shapely.point_on_surface(frame.geometry.to_numpy())
    chosen = [points[i] for i in np.linspace(0, len(points) - 1, 3).astype(int)]
    tiles = [mercantile.tile(p.x, p.y, zoom) for p in chosen]
    first = tiles[0]
    tiles += [mercantile.Tile(first.x + 1, first.y, zoom), mercantile.Tile(first.x, first.y + 1, zoom)]
    return list(dict.fromkeys(tiles))


def _decode(response) -> dict:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == MVT
    return mapbox_vector_tile.decode(response.content)


def _get(client: TestClient, layer_id: str, tile: mercantile.Tile, **kwargs):
    return client.get(f"/collections/{layer_id}/tiles/{tile.z}/{tile.x}/{tile.y}", **kwargs)


def _in_tile_units(geom, tile: mercantile.Tile):
    """A lon/lat geometry in the tile's units (y up from its southern edge), edges densified to stay true."""
    left, bottom, right, top = mercantile.xy_bounds(tile)
    dense = shapely.segmentize(geom, 1e-4)

    def project(xy: np.ndarray) -> np.ndarray:
        x, y = TO_MERCATOR.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([(x - left) * EXTENT / (right - left), (y - bottom) * EXTENT / (top - bottom)])

    return shapely.transform(dense, project)


@pytest.mark.parametrize("layer_id", LAYER_IDS)
def test_each_tile_holds_exactly_the_features_meeting_it(client, frames, layer_id):
    frame = frames[layer_id]
    compared = 0
    for zoom in ZOOMS:
        for tile in _tiles(frame, zoom):
            expected = _brute_force(frame, tile)
            response = _get(client, layer_id, tile)
            if not expected:
                assert response.status_code == 204 and not response.content
                continue
            layers = _decode(response)
            assert list(layers) == [layer_id] and layers[layer_id]["extent"] == EXTENT
            ids = [f["id"] for f in layers[layer_id]["features"]]
            assert len(ids) == len(set(ids)) and set(ids) == expected, (tile, set(ids) ^ expected)
            compared += len(ids)
    assert compared > 0


@pytest.mark.parametrize("layer_id", LAYER_IDS)
def test_coordinates_decode_back_within_a_grid_unit_of_the_original(client, frames, layer_id):
    frame = frames[layer_id]
    for zoom in ZOOMS:
        tile = _tiles(frame, zoom)[0]
        for feature in _decode(_get(client, layer_id, tile))[layer_id]["features"]:
            original = _in_tile_units(frame.geometry.loc[feature["id"]], tile)
            decoded = shape(feature["geometry"])
            assert decoded.is_valid, (zoom, feature["id"], shapely.is_valid_reason(decoded))
            vertices = shapely.points(shapely.get_coordinates(decoded))
            assert shapely.distance(vertices, original).max() <= GRID_TOLERANCE, (zoom, feature["id"])
            if zoom >= 14 and decoded.geom_type != "Point":
                # ... and the other way: the part of the original inside the tile is there, simplified by at most
                # 4 units (half a pixel of a 512-pixel tile)
                inside = shapely.clip_by_rect(original, 0, 0, EXTENT, EXTENT)
                assert shapely.hausdorff_distance(inside, decoded.intersection(box(0, 0, EXTENT, EXTENT))) <= 6


def test_points_decode_to_their_place(client, frames):
    frame = frames["accidents"]
    tile = _tiles(frame, 16)[0]
    for feature in _decode(_get(client, "accidents", tile))["accidents"]["features"]:
        original = _in_tile_units(frame.geometry.loc[feature["id"]], tile)
        x, y = feature["geometry"]["coordinates"]
        assert abs(x - original.x) <= 0.5 and abs(y - original.y) <= 0.5


@pytest.mark.parametrize("layer_id", ["intersections", "accidents", "buildings", "risk_sources", "roads"])
def test_properties_are_those_of_the_items_endpoint(client, frames, layer_id):
    frame = frames[layer_id]
    tile = mercantile.tile(*shapely.point_on_surface(frame.geometry.iloc[0]).coords[0], 14)
    features = _decode(_get(client, layer_id, tile))[layer_id]["features"]
    assert features
    for feature in features[:5]:
        item = client.get(f"/collections/{layer_id}/items/{feature['id']}").json()["properties"]
        got = feature["properties"]
        assert set(got) == {k for k, v in item.items() if v is not None}
        for name, value in got.items():
            assert (json.loads(value) if isinstance(item[name], list | dict) else value) == item[name], name


def test_tiles_are_cached_briefly_and_revalidated_by_etag(client, frames):
    tile = _tiles(frames["roads"], 12)[0]
    first = _get(client, "roads", tile)
    assert first.headers["cache-control"] == "public, max-age=60"
    etag = first.headers["etag"]
    again = _get(client, "roads", tile, headers={"If-None-Match": etag})
    assert again.status_code == 304 and not again.content and again.headers["etag"] == etag
    empty = client.get("/collections/roads/tiles/12/0/0")
    assert empty.status_code == 204 and empty.headers["cache-control"] == "public, max-age=60"


def test_each_collection_links_its_tiles(client, frames):
    body = client.get("/collections/roads").json()
    link = next(link for link in body["links"] if link["rel"] == "tiles")
    assert link["templated"] and link["type"] == MVT
    tile = _tiles(frames["roads"], 12)[0]
    url = link["href"].format(z=tile.z, x=tile.x, y=tile.y)
    assert client.get(url).content == _get(client, "roads", tile).content


def test_unknown_collection_is_404(client):
    response = client.get("/collections/nowhere/tiles/12/3412/1530")
    assert response.status_code == 404 and "known layers" in response.json()["description"]


@pytest.mark.parametrize(
    ("address", "says"),
    [
        ("3/8/0", "x and y must be 0 to 7"),
        ("3/0/8", "x and y must be 0 to 7"),
        ("3/-1/0", "x and y must be 0 to 7"),
        ("23/0/0", "zoom must be 0 to 22"),
        ("-1/0/0", "zoom must be 0 to 22"),
        ("a/0/0", "whole numbers"),
        ("12/1.5/3", "whole numbers"),
        ("12/3412/1530.png", "whole numbers"),
    ],
)
def test_a_bad_tile_address_is_400_with_the_valid_range(client, address, says):
    response = client.get(f"/collections/roads/tiles/{address}")
    assert response.status_code == 400, response.text
    assert says in response.json()["description"] and response.json()["code"] == "InvalidTile"


def test_a_pbf_or_mvt_suffix_is_accepted(client, frames):
    tile = _tiles(frames["roads"], 12)[0]
    plain = _get(client, "roads", tile).content
    for suffix in (".pbf", ".mvt"):
        assert client.get(f"/collections/roads/tiles/{tile.z}/{tile.x}/{tile.y}{suffix}").content == plain


def test_the_ledger_needs_a_sign_in_and_shows_only_the_users_remit(client, frames, headers):
    hazards = frames["hazards"]
    west, south, east, north = hazards.total_bounds
    tile = mercantile.bounding_tile(west, south, east, north)
    anonymous = _get(client, "hazards", tile)
    assert anonymous.status_code == 401 and "登录" in anonymous.json()["description"]
    assert anonymous.headers["www-authenticate"] == "Bearer"

    everything = _brute_force(hazards, tile)
    admin = _get(client, "hazards", tile, headers=headers["admin"])
    assert {f["id"] for f in _decode(admin)["hazards"]["features"]} == everything
    assert admin.headers["cache-control"].startswith("private")

    code = client.get("/auth/me", headers=headers["village"]).json()["village_code"]
    own = set(hazards.index[hazards["village_code"] == code].tolist()) & everything
    village = _decode(_get(client, "hazards", tile, headers=headers["village"]))["hazards"]["features"]
    assert {f["id"] for f in village} == own and 0 < len(own) < len(everything)
    assert {f["properties"]["village_code"] for f in village} == {code}


def test_a_hazard_registered_after_the_first_tile_is_in_the_next(client, frames, headers):
    villages = client.get("/collections/villages/items", params={"limit": 100}).json()["features"]
    point = shape(villages[0]["geometry"]).representative_point()
    tile = mercantile.tile(point.x, point.y, 15)
    before = _get(client, "hazards", tile, headers=headers["admin"])
    held = {f["id"] for f in _decode(before)["hazards"]["features"]} if before.status_code == 200 else set()
    body = {"lon": point.x, "lat": point.y, "sector": "fire", "description": "柴草堆放", "channel": "self_inspection",
            "responsible_unit": "村委会", "responsible_person": "孙八"}  # fmt: skip
    created = client.post("/ledger/hazards", json=body, headers=headers["admin"])
    assert created.status_code == 201, created.text
    after = _decode(_get(client, "hazards", tile, headers=headers["admin"]))["hazards"]["features"]
    assert {f["id"] for f in after} == held | {created.json()["id"]}


def test_a_long_lon_lat_edge_is_drawn_where_it_runs():
    # A 2-degree straight lon/lat edge bows about a kilometre away from the straight web-Mercator chord: the tile
    # at its midpoint holds it only because edges are densified before projection.
    line = shapely.linestrings([(120.0, 42.0), (122.0, 44.0)])
    middle = line.interpolate(0.5, normalized=True)
    tile = mercantile.tile(middle.x, middle.y, 16)
    drawn = to_tile(to_web_mercator(np.array([line])), tile)[0]
    assert drawn.geom_type == "LineString" and not drawn.is_empty
    assert drawn.distance(_in_tile_units(middle, tile)) <= 1


def test_a_feature_too_small_for_the_zoom_stays_as_a_one_unit_mark():
    house = box(120.5, 42.8, 120.5001, 42.8001)  # about 8 x 11 m
    road = shapely.linestrings([(120.5, 42.8), (120.5001, 42.8)])
    tile = mercantile.tile(120.5, 42.8, 6)
    square, segment, point = to_tile(to_web_mercator(np.array([house, road, house.centroid])), tile)
    assert square.geom_type == "Polygon" and square.area == 1
    assert segment.geom_type == "LineString" and segment.length == 1
    assert point.geom_type == "Point"
    place = _in_tile_units(house.centroid, tile)
    assert square.distance(place) <= 1 and segment.distance(place) <= 1 and point.distance(place) <= 1
