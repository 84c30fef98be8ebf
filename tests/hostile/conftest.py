"""Fixtures for the hostile-file tests: the town every case imports into, on the backend under test."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
from backends import BACKEND, town_copy
from corpus import STORED_HAZARD_CODE
from shapely.geometry import Point

from layers import get_layer
from layers.frames import frame_from_properties
from store import GeoPackageStore


@pytest.fixture(scope="session")
def hostile_town_file(tmp_path_factory, tiny_town_file: Path) -> Path:
    """The tiny town (two villages, five accidents) with one hazard in the ledger, so codes can clash."""
    path = tmp_path_factory.mktemp("hostile") / "town.gpkg"
    shutil.copy(tiny_town_file, path)
    hazards = get_layer("hazards")
    hazard = hazards.properties(
        code=STORED_HAZARD_CODE,
        sector="fire",
        description="柴草堆占用消防车通道",
        discovered_on=date(2024, 4, 3),
        channel="department_inspection",
        responsible_unit="义隆永镇政府",
        responsible_person="李四",
    )
    GeoPackageStore(path).append(hazards, frame_from_properties(hazards, [hazard], [Point(120.415, 42.815)]))
    return path


@pytest.fixture
def town(tmp_path: Path, hostile_town_file: Path) -> str:
    """A fresh copy of the town on the backend under test: a GeoPackage path or a database URL."""
    return town_copy(BACKEND, hostile_town_file, tmp_path / "town")
