"""Shared fixtures: a tiny hand-built town in a temporary GeoPackage, and a client for the service over it."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from backends import BACKENDS, drop_databases, settings_for, town_on
from fastapi.testclient import TestClient
from shapely.geometry import LineString, Point, box

from api.main import create_app
from layers import get_layer
from layers.frames import frame_from_properties
from onemap.settings import DEMO_GPKG
from store import DatasetInfo, GeoPackageStore

DEMO_DIGEST = pytest.StashKey[str]()
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def pytest_report_header(config) -> str:
    return f"storage backend: {', '.join(BACKENDS)} (ONEMAP_TEST_BACKEND)"


def pytest_sessionstart(session) -> None:
    session.config.stash[DEMO_DIGEST] = _digest(DEMO_GPKG)


def pytest_sessionfinish(session, exitstatus) -> None:
    drop_databases()
    if DEMO_DIGEST in session.config.stash and _digest(DEMO_GPKG) != session.config.stash[DEMO_DIGEST]:
        # tests work on copies: the town the project ships must come out of a run exactly as it went in
        session.config.get_terminal_writer().line(f"the shipped demo town {DEMO_GPKG} was changed by a test", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _digest(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest() if path.exists() else ""


def need_shared_data() -> Path:
    """The real public test data beside the project; skip without it, except in CI where it must be there."""
    if SHARED_DATA.is_dir():
        return SHARED_DATA
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must have the shared test data at {SHARED_DATA}")
    pytest.skip(f"real test data not found at {SHARED_DATA} (it sits beside the project in the team's checkout)")


def build_tiny_town(path: Path) -> GeoPackageStore:
    """Two square villages side by side, two roads, five accidents: small enough to reason about by hand."""
    store = GeoPackageStore(path)
    villages = get_layer("villages")
    v = villages.properties
    store.replace(
        villages,
        frame_from_properties(
            villages,
            [
                v(name="东村", code="150525107201", population=800, households=260, official="张三"),
                v(name="西嘎查", code="150525107202", kind="gacha", population=500, households=170, official="李四"),
            ],
            [box(120.40, 42.80, 120.45, 42.85), box(120.35, 42.80, 120.40, 42.85)],
            fids=[1, 2],
        ),
    )
    roads = get_layer("roads")
    r = roads.properties
    store.replace(
        roads,
        frame_from_properties(
            roads,
            [
                r(name="G111", route_code="G111", admin_class="G", tech_class="class2", speed_limit_kmh=80, aadt=6000),
                r(
                    name="村道",
                    route_code="C101",
                    admin_class="C",
                    tech_class="class4",
                    speed_limit_kmh=40,
                    surface="concrete",
                ),
            ],
            [LineString([(120.36, 42.82), (120.44, 42.82)]), LineString([(120.42, 42.81), (120.42, 42.84)])],
            fids=[1, 2],
        ),
    )
    accidents = get_layer("accidents")
    a = accidents.properties
    store.replace(
        accidents,
        frame_from_properties(
            accidents,
            [
                a(
                    occurred_at="2024-03-01T08:30",
                    severity="fatal",
                    deaths=1,
                    injuries=2,
                    road_id=1,
                    crash_type="angle",
                ),
                a(occurred_at="2024-05-11T19:00", severity="injury", injuries=1, road_id=1),
                a(occurred_at="2025-01-20T07:10", severity="property", road_id=2, drunk_driving=True),
                a(occurred_at="2025-06-02T13:45", severity="injury", injuries=3, road_id=2),
                a(occurred_at="2025-08-09T22:05", severity="property", road_id=1),
            ],
            [
                Point(120.42, 42.82),
                Point(120.38, 42.82),
                Point(120.42, 42.835),
                Point(120.40, 42.83),
                Point(120.445, 42.82),
            ],
            fids=[1, 2, 3, 4, 5],
        ),
    )
    store.set_info(DatasetInfo(title="测试镇", synthetic=True, notice="test"))
    return store


@pytest.fixture(scope="session")
def tiny_town_file(tmp_path_factory) -> Path:
    """The tiny town, built once: each test gets a byte-for-byte copy (so PostgreSQL copies one template)."""
    return build_tiny_town(tmp_path_factory.mktemp("tiny") / "tiny.gpkg").path


@pytest.fixture
def tiny_store(tmp_path: Path, tiny_town_file: Path) -> GeoPackageStore:
    """A fresh copy of the tiny town for each test."""
    shutil.copy(tiny_town_file, tmp_path / "tiny.gpkg")
    return GeoPackageStore(tmp_path / "tiny.gpkg")


@pytest.fixture(params=BACKENDS)
def client(request, tiny_store: GeoPackageStore) -> Iterator[TestClient]:
    """The service over the tiny town, with a small page size to exercise paging; from the file and from
    PostgreSQL (tests/backends.py), so every test that uses it runs on both backends."""
    with town_on(request.param, tiny_store.path) as location:
        settings = settings_for(location, default_limit=2, max_limit=3)
        with TestClient(create_app(settings)) as test_client:
            yield test_client
