"""A real GIS client reads the service: GDAL's OGC API – Features driver against a running server."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from outside_tools import need_tool, running_service

from layers import LAYERS
from onemap.settings import DEMO_GPKG
from store import GeoPackageStore

pytestmark = pytest.mark.gdal


def _ogrinfo() -> str:
    return need_tool("ogrinfo", "Debian: apt-get install gdal-bin")


@pytest.fixture(scope="module")
def demo_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped demo town, copied so the server cannot change the original."""
    target = tmp_path_factory.mktemp("gdal") / "demo.gpkg"
    shutil.copy(DEMO_GPKG, target)
    return target


@pytest.fixture(scope="module")
def server(demo_copy: Path) -> Iterator[str]:
    """The service over the copy, on a free loopback port."""
    with running_service(demo_copy) as url:
        yield url


def _run(*args: str) -> str:
    result = subprocess.run([_ogrinfo(), *args], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_ogrinfo_lists_every_collection(server):
    listing = _run("-ro", "-q", f"OAPIF:{server}")
    names = re.findall(r"^\d+: (\w+)", listing, flags=re.MULTILINE)
    assert names == list(LAYERS)


@pytest.mark.parametrize("layer_id", list(LAYERS))
def test_ogrinfo_reads_every_feature_of_each_collection(server, demo_copy, layer_id):
    expected = GeoPackageStore(demo_copy).count(LAYERS[layer_id])
    summary = _run("-ro", "-so", f"OAPIF:{server}", layer_id)
    assert f"Feature Count: {expected}" in summary
    # Reading the features themselves follows the service's next links page by page.
    features = _run("-ro", "-q", f"OAPIF:{server}", layer_id)
    assert features.count("OGRFeature(") == expected
