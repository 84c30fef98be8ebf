"""Fixtures for the exchange tests: stores made afresh on the backend under test, never the shipped demo town."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
from backends import BACKEND, empty_location
from shapely.geometry import Point, box

from layers import get_layer
from layers.frames import frame_from_properties
from store import Store, open_store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    """An empty store on the backend under test."""
    return open_store(empty_location(BACKEND, tmp_path, "store.gpkg"))


@pytest.fixture
def filled_store(tmp_path: Path) -> Store:
    """A tiny store with accidents (points), villages (polygons) and hazards (dates, booleans)."""
    store = open_store(empty_location(BACKEND, tmp_path, "filled.gpkg"))
    accidents = get_layer("accidents")
    props = [
        accidents.properties(
            occurred_at=datetime(2024, 5, 1, 8, 30), severity="fatal", deaths=1, description="前进嘎查路口"
        ),
        accidents.properties(
            occurred_at=datetime(2024, 6, 2, 17, 5), severity="injury", injuries=2, drunk_driving=True
        ),
    ]
    store.append(accidents, frame_from_properties(accidents, props, [Point(120.61, 42.81), Point(120.62, 42.82)]))
    villages = get_layer("villages")
    village = villages.properties(
        name="前进嘎查", code="150525107001", kind="gacha", population=812, households=260, official="张三"
    )
    store.append(villages, frame_from_properties(villages, [village], [box(120.60, 42.80, 120.63, 42.83)]))
    hazards = get_layer("hazards")
    hazard = hazards.properties(
        code="YLY-2024-001",
        sector="fire",
        description="柴草堆占用消防车通道",
        discovered_on=date(2024, 4, 3),
        channel="department_inspection",
        responsible_unit="义隆永镇政府",
        responsible_person="李四",
        deadline=date(2024, 5, 3),
    )
    store.append(hazards, frame_from_properties(hazards, [hazard], [Point(120.615, 42.815)]))
    return store
