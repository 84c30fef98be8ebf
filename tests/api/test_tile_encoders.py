"""The two ways a vector tile is written on PostgreSQL + PostGIS give the same tile: the in-process encoder over the
catalogue and ST_AsMVT over the layer's table hold the same features with the same ids and properties, geometries
within the simplification of each other; a hazard registered through the API is in the next tile of both, and the
catalogue and the table hold the same hazards."""

from __future__ import annotations

from collections.abc import Iterator

import mapbox_vector_tile
import mercantile
import numpy as np
import psycopg
import pytest
import shapely
from backends import settings_for, town_copy, with_account
from fastapi.testclient import TestClient
from shapely.geometry import shape

from api.main import create_app
from api.tile_encoders import in_database
from geo.tiles import SIMPLIFY
from onemap.settings import DEMO_GPKG
from store.postgis_sql import split_url

PASSWORD = "tile encoder password"
#: Polygons, lines, points, both at once, JSON lists and objects, times, dates (the ledger), flags and numbers.
LAYER_IDS = (
    "villages",
    "buildings",
    "roads",
    "crash_density",
    "accidents",
    "intersections",
    "accident_segments",
    "risk_sources",
    "obstructions",
    "hazards",
)
ZOOMS = (6, 9, 12, 14, 16)
#: Rounding to the grid is half a unit on each axis; a feature too small for the zoom is a one-unit mark.
GRID = 1.5
#: Lines and rings are simplified by up to SIMPLIFY units on each side, and the GEOS in PostGIS and the one in shapely
#: need not drop the same vertices (newer GEOS also simplifies at a ring's first vertex).
SIMPLIFIED = SIMPLIFY + GRID


@pytest.fixture(scope="module")
def town(tmp_path_factory) -> str:
    """The demo town in a database of its own (both encoders need PostGIS), with an account to sign in."""
    location = town_copy("postgis", DEMO_GPKG, tmp_path_factory.mktemp("encoders"))
    return with_account(location, "admin", PASSWORD, "admin")


@pytest.fixture(scope="module")
def client(town: str) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(town))) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def admin(client: TestClient) -> dict[str, str]:
    token = client.post("/auth/token", data={"username": "admin", "password": PASSWORD}).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def _tile(client: TestClient, encoder: str, layer_id: str, tile: mercantile.Tile, headers: dict) -> dict[int, dict]:
    """The tile as `encoder` writes it (the app's settings switched for the one request): features by id."""
    settings = client.app.state.settings
    client.app.state.settings = settings.model_copy(update={"tile_encoder": encoder})
    try:
        response = client.get(f"/collections/{layer_id}/tiles/{tile.z}/{tile.x}/{tile.y}", headers=headers)
    finally:
        client.app.state.settings = settings
    if response.status_code == 204:
        return {}
    assert response.status_code == 200, response.text
    features = mapbox_vector_tile.decode(response.content)[layer_id]["features"]
    return {f["id"]: f for f in features}


def _tiles(client: TestClient, layer_id: str, zoom: int) -> list[mercantile.Tile]:
    """Tiles under three features spread over the layer, and the east neighbour of the first."""
    frame = client.app.state.catalog[layer_id].frame
    points = shapely.point_on_surface(frame.geometry.to_numpy())
    tiles = [mercantile.tile(points[i].x, points[i].y, zoom) for i in np.linspace(0, len(points) - 1, 3).astype(int)]
    return list(dict.fromkeys([*tiles, mercantile.Tile(tiles[0].x + 1, tiles[0].y, zoom)]))


def test_a_geopackage_is_always_encoded_in_process_and_a_database_as_asked():
    class Database:
        def mvt(self) -> bytes:
            return b""

    assert not in_database("database", object())
    assert not in_database("memory", Database())
    assert in_database("database", Database()) and in_database("auto", Database())


@pytest.mark.parametrize("layer_id", LAYER_IDS)
def test_both_encoders_give_the_same_features_properties_and_shapes(client, admin, layer_id):
    compared = within_grid = 0
    for zoom in ZOOMS:
        for tile in _tiles(client, layer_id, zoom):
            memory = _tile(client, "memory", layer_id, tile, admin)
            database = _tile(client, "database", layer_id, tile, admin)
            assert set(memory) == set(database), (tile, set(memory) ^ set(database))
            for fid, feature in memory.items():
                other = database[fid]
                assert other["properties"] == feature["properties"], (tile, fid)
                a, b = shape(feature["geometry"]), shape(other["geometry"])
                assert b.is_valid and shapely.get_dimensions(b) == shapely.get_dimensions(a), (tile, fid, b.wkt[:200])
                gap = a.hausdorff_distance(b)
                limit = GRID if a.geom_type == "Point" else SIMPLIFIED
                assert gap <= limit, (tile, fid, gap)
                compared += 1
                within_grid += gap <= GRID
    assert compared > 0
    # the simplifications disagree on few features: nearly all are the same to the grid
    assert within_grid >= 0.9 * compared, (within_grid, compared)


def test_the_ledger_on_the_database_path_needs_a_sign_in_and_keeps_to_the_remit(client, admin):
    hazards = client.app.state.catalog["hazards"].frame
    tile = mercantile.bounding_tile(*hazards.total_bounds)
    settings = client.app.state.settings
    client.app.state.settings = settings.model_copy(update={"tile_encoder": "database"})
    try:
        anonymous = client.get(f"/collections/hazards/tiles/{tile.z}/{tile.x}/{tile.y}")
    finally:
        client.app.state.settings = settings
    assert anonymous.status_code == 401
    assert set(_tile(client, "database", "hazards", tile, admin)) == set(hazards.index)


def test_a_hazard_registered_through_the_api_is_in_the_next_tile_of_both(client, admin, town):
    villages = client.app.state.catalog["villages"].frame
    point = villages.geometry.iloc[0].representative_point()
    tile = mercantile.tile(point.x, point.y, 15)
    before = {name: set(_tile(client, name, "hazards", tile, admin)) for name in ("memory", "database")}
    assert before["memory"] == before["database"]
    body = {"lon": point.x, "lat": point.y, "sector": "fire", "description": "柴草堆放", "channel": "self_inspection",
            "responsible_unit": "村委会", "responsible_person": "孙八"}  # fmt: skip
    created = client.post("/ledger/hazards", json=body, headers=admin)
    assert created.status_code == 201, created.text
    fid = created.json()["id"]
    after = {name: _tile(client, name, "hazards", tile, admin) for name in ("memory", "database")}
    assert set(after["memory"]) == set(after["database"]) == before["memory"] | {fid}
    assert after["memory"][fid]["properties"] == after["database"][fid]["properties"]
    assert after["database"][fid]["properties"]["status"] == "registered"
    # the catalogue the one encoder reads and the table the other reads hold the same hazards
    conninfo, schema = split_url(town)
    with psycopg.connect(conninfo) as conn:
        stored = {r[0] for r in conn.execute(f'SELECT fid FROM "{schema}".hazards')}
    assert stored == set(client.app.state.catalog["hazards"].frame.index.tolist())


def test_layers_are_the_same_in_the_catalogue_and_the_table(client, town):
    conninfo, schema = split_url(town)
    with psycopg.connect(conninfo) as conn:
        for layer_id in LAYER_IDS:
            stored = {r[0] for r in conn.execute(f'SELECT fid FROM "{schema}"."{layer_id}"')}
            assert stored == set(client.app.state.catalog[layer_id].frame.index.tolist()), layer_id
