"""A real GIS client reads the service: GDAL's OGC API – Features driver against a running server."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest

from layers import LAYERS
from onemap.settings import DEMO_GPKG
from store import GeoPackageStore

pytestmark = pytest.mark.gdal


def _ogrinfo() -> str:
    path = shutil.which("ogrinfo")
    if path:
        return path
    if os.environ.get("CI") == "true":
        pytest.fail("ogrinfo (Debian gdal-bin) must be installed in CI")
    pytest.skip("ogrinfo not found: install GDAL's command line tools (Debian: apt-get install gdal-bin)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def demo_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped demo town, copied so the server cannot change the original."""
    target = tmp_path_factory.mktemp("gdal") / "demo.gpkg"
    shutil.copy(DEMO_GPKG, target)
    return target


@pytest.fixture(scope="module")
def server(demo_copy: Path) -> Iterator[str]:
    """`onemap serve` in a child process on a free loopback port; yields its base URL."""
    port = _free_port()
    env = {**os.environ, "ONEMAP_DATA": str(demo_copy)}
    log_path = demo_copy.with_name("server.log")
    log = log_path.open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "onemap", "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None:
                pytest.fail(f"server exited early:\n{log_path.read_text()}")
            time.sleep(0.1)
        else:
            pytest.fail("server did not answer /healthz within 30 s")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


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
