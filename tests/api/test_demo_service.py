"""The service over the shipped demo town: every layer listed; bbox queries equal a brute-force geopandas scan."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import numpy as np
import pytest
import shapely
from backends import BACKENDS, settings_for, town_on
from fastapi.testclient import TestClient

from api.main import create_app
from layers import LAYERS
from onemap.settings import DEMO_GPKG
from store import GeoPackageStore
from store.users import UserStore

MAX_LIMIT = 10_000


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> GeoPackageStore:
    path = tmp_path_factory.mktemp("demo") / "demo_town.gpkg"
    shutil.copy(DEMO_GPKG, path)
    users = UserStore(path)
    users.add("admin", "admin password", "admin")
    users.close()
    return GeoPackageStore(path)


@pytest.fixture(scope="module", params=BACKENDS)
def location(request, demo: GeoPackageStore) -> Iterator[str]:
    """The demo town served from the file, or from PostgreSQL: every test here runs on both."""
    with town_on(request.param, demo.path) as where:
        yield where


@pytest.fixture(scope="module")
def client(location: str) -> Iterator[TestClient]:
    settings = settings_for(location, max_limit=MAX_LIMIT)
    with TestClient(create_app(settings)) as test_client:
        # Signed in as the town office (the cookie stays with the client), so the ledger is served too.
        signed_in = test_client.post(
            "/auth/token", params={"session": "cookie"}, data={"username": "admin", "password": "admin password"}
        )
        assert signed_in.is_success and "onemap_token" in test_client.cookies
        yield test_client


def test_the_ledger_is_served_only_after_sign_in(location):
    with TestClient(create_app(settings_for(location))) as anonymous:
        response = anonymous.get("/collections/hazards/items")
        assert response.status_code == 401 and "登录" in response.json()["description"]
        assert anonymous.get("/collections/hazards/items/1").status_code == 401
        assert anonymous.get("/collections/roads/items", params={"limit": 1}).status_code == 200
        summary = anonymous.get("/villages/1/summary").json()
        assert "hazards" not in {c["layer"] for c in summary["counts"]}


def test_collections_list_every_layer_and_the_synthetic_notice(client, demo):
    body = client.get("/collections").json()
    assert [c["id"] for c in body["collections"]] == list(LAYERS)
    landing = client.get("/").json()
    assert demo.info().notice in landing["description"]
    for layer in LAYERS.values():
        items = client.get(f"/collections/{layer.id}/items", params={"limit": 1}).json()
        assert items["numberMatched"] == demo.count(layer), layer.id


def _random_boxes(n: int, frame, bounds: np.ndarray, seed: int) -> list[tuple[float, float, float, float]]:
    """Boxes from 50 m to 8 km across: half anywhere over the town and beyond, half near the layer's own features."""
    rng = np.random.default_rng(seed)
    west, south, east, north = bounds
    anchors = shapely.get_coordinates(frame.geometry.representative_point().values) if len(frame) else None
    boxes = []
    for k in range(n):
        size = 10 ** rng.uniform(np.log10(0.0005), np.log10(0.08))
        if anchors is not None and k % 2:
            x, y = anchors[rng.integers(len(anchors))] - size * rng.uniform(0, 1, 2)
        else:
            x, y = rng.uniform(west - 0.02, east), rng.uniform(south - 0.02, north)
        boxes.append((round(x, 6), round(y, 6), round(x + size * rng.uniform(0.5, 2), 6), round(y + size, 6)))
    return boxes


@pytest.mark.parametrize("layer_id", list(LAYERS))
def test_bbox_items_equal_brute_force_intersection(client, demo, layer_id):
    frame = demo.read(LAYERS[layer_id])
    bounds = demo.read(LAYERS["villages"]).total_bounds
    boxes = _random_boxes(30, frame, bounds, seed=sum(map(ord, layer_id)))
    hits = 0
    for bbox in boxes:
        expected = sorted(int(i) for i in frame.index[shapely.intersects(frame.geometry.values, shapely.box(*bbox))])
        body = client.get(
            f"/collections/{layer_id}/items", params={"bbox": ",".join(map(str, bbox)), "limit": MAX_LIMIT}
        ).json()
        assert body["numberMatched"] == len(expected), bbox
        assert [f["id"] for f in body["features"]] == expected, bbox
        hits += bool(expected)
    assert frame.empty or hits >= 10  # the boxes really test something


def test_village_summaries_match_brute_force(client, demo):
    villages = demo.read(LAYERS["villages"])
    frames = {layer_id: demo.read(layer) for layer_id, layer in LAYERS.items() if layer_id != "villages"}
    for fid in villages.index[::5]:
        polygon = villages.geometry[fid]
        counts = {c["layer"]: c["count"] for c in client.get(f"/villages/{fid}/summary").json()["counts"]}
        for layer_id, frame in frames.items():
            assert counts[layer_id] == int(shapely.intersects(frame.geometry.values, polygon).sum()), (fid, layer_id)
