"""What the road-analysis tests build their scenes from: a place in the demo town, the screening date, lon/lat points
from metric ones, an intersection row's defaults, and a signed-in user's headers for the service."""

from __future__ import annotations

from datetime import date

from fastapi.testclient import TestClient
from shapely.geometry import Point

from geo.crs import LOCAL_METRIC, transform_geometries

ORIGIN = (540_000.0, 4_745_000.0)  # metres in EPSG:4549, inside the demo town
#: The screening date: crashes of 2023 to 2025 fall in its three-year window.
AS_OF = date(2026, 1, 1)

#: An ordinary uncontrolled T junction of a national road with a village road, with no 千灯万带 measure yet.
INTERSECTION_ROW = {
    "name": "路口",
    "legs": 3,
    "major_class": "G",
    "minor_class": "C",
    "control": "none",
    "signal": False,
    "flashing_light": False,
    "speed_belts": False,
    "sight_obstructed": False,
    "slope_fix_needed": False,
}


def lonlat(points: list[tuple[float, float]]) -> list[Point]:
    """Lon/lat points from EPSG:4549 metres, since the analyses take lon/lat as stored."""
    return list(transform_geometries([Point(x, y) for x, y in points], LOCAL_METRIC, "EPSG:4326"))


def bearer(client: TestClient, name: str, password: str) -> dict[str, str]:
    """The Authorization header of a user signed in through /auth/token."""
    token = client.post("/auth/token", data={"username": name, "password": password}).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}
