"""A real GIS client reads the service: GDAL's OGC API – Features driver against a running server, and its MVT
driver on a tile the server made."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import mercantile
import pytest
import shapely
from backends import BACKENDS, town_on
from outside_tools import need_tool, running_service
from shapely.geometry import box

from layers import LAYERS
from onemap.settings import DEMO_GPKG
from store import GeoPackageStore
from store.users import UserStore

PASSWORD = "gis client password"

pytestmark = pytest.mark.gdal


def _ogrinfo() -> str:
    return need_tool("ogrinfo", "Debian: apt-get install gdal-bin")


@pytest.fixture(scope="module")
def demo_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped demo town, copied so the server cannot change the original."""
    target = tmp_path_factory.mktemp("gdal") / "demo.gpkg"
    shutil.copy(DEMO_GPKG, target)
    users = UserStore(target)
    users.add("gis", PASSWORD, "emergency", display_name="GIS 客户端")
    users.close()
    return target


@pytest.fixture(scope="module", params=BACKENDS)
def server(request, demo_copy: Path) -> Iterator[str]:
    """The service over the copy, or over PostgreSQL holding it, on a free loopback port."""
    with town_on(request.param, demo_copy) as location, running_service(location) as url:
        yield url


@pytest.fixture(scope="module")
def token(server: str) -> str:
    """A bearer token: the hazard ledger is served to signed-in users only, GIS clients included."""
    return httpx.post(f"{server}/auth/token", data={"username": "gis", "password": PASSWORD}).json()["access_token"]


def _run(*args: str, token: str | None = None) -> subprocess.CompletedProcess:
    headers = ["--config", "GDAL_HTTP_HEADERS", f"Authorization: Bearer {token}"] if token else []
    return subprocess.run([_ogrinfo(), *headers, *args], capture_output=True, text=True, timeout=300)


def _ok(*args: str, token: str | None = None) -> str:
    result = _run(*args, token=token)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_ogrinfo_lists_every_collection(server):
    listing = _ok("-ro", "-q", f"OAPIF:{server}")
    names = re.findall(r"^\d+: (\w+)", listing, flags=re.MULTILINE)
    assert names == list(LAYERS)


@pytest.mark.parametrize("layer_id", list(LAYERS))
def test_ogrinfo_reads_every_feature_of_each_collection(server, token, demo_copy, layer_id):
    expected = GeoPackageStore(demo_copy).count(LAYERS[layer_id])
    summary = _ok("-ro", "-so", f"OAPIF:{server}", layer_id, token=token)
    assert f"Feature Count: {expected}" in summary
    # Reading the features themselves follows the service's next links page by page.
    features = _ok("-ro", "-q", f"OAPIF:{server}", layer_id, token=token)
    assert features.count("OGRFeature(") == expected


def test_without_a_token_gdal_reads_the_map_layers_but_not_the_ledger(server):
    assert _run("-ro", "-so", f"OAPIF:{server}", "roads").returncode == 0
    ledger = _run("-ro", "-q", f"OAPIF:{server}", "hazards")
    assert "OGRFeature(" not in ledger.stdout and ("401" in ledger.stderr or ledger.returncode != 0)


@pytest.mark.parametrize("layer_id", ["buildings", "roads", "accidents"])
def test_ogrinfo_reads_a_vector_tile(server, demo_copy, tmp_path, layer_id):
    frame = GeoPackageStore(demo_copy).read(LAYERS[layer_id])
    point = shapely.point_on_surface(frame.geometry.iloc[0])
    tile = mercantile.tile(point.x, point.y, 14)
    expected = int(shapely.intersects(box(*mercantile.bounds(tile)), frame.geometry.to_numpy()).sum())
    response = httpx.get(f"{server}/collections/{layer_id}/tiles/{tile.z}/{tile.x}/{tile.y}")
    assert response.status_code == 200 and response.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    path = tmp_path / f"{layer_id}.mvt"
    path.write_bytes(response.content)
    where = ("-oo", f"Z={tile.z}", "-oo", f"X={tile.x}", "-oo", f"Y={tile.y}")
    summary = _ok("-ro", "-al", "-so", *where, str(path))
    assert f"Layer name: {layer_id}" in summary and f"Feature Count: {expected}" in summary
    # GDAL places the tile in web-Mercator metres: the features lie within it and its buffer (64 of 4096 units).
    found = re.search(r"Extent: \(([-\d.]+), ([-\d.]+)\) - \(([-\d.]+), ([-\d.]+)\)", summary)
    min_x, min_y, max_x, max_y = (float(v) for v in found.groups())
    left, bottom, right, top = mercantile.xy_bounds(tile)
    pad = (right - left) * 64 / 4096 + 1e-6
    assert left - pad <= min_x <= max_x <= right + pad and bottom - pad <= min_y <= max_y <= top + pad
