"""Synthetic road networks and crash records for the road-analysis benchmarks, of any size, repeatably.

A jittered grid of junctions about 250 m apart (a rural county's road density), with a share of links removed so
that T junctions and dead ends appear, each link a two-piece line with a bent middle vertex. Routes run along grid
rows and columns, so linear referencing has long routes to work on. Everything is in metres (EPSG:4549, centred
on Naiman Banner); `to_lonlat` converts for code that takes lon/lat.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.crs import LOCAL_METRIC, WGS84

#: Grid origin in EPSG:4549 metres, inside the banner; spacing between junctions.
ORIGIN = (500_000.0, 4_700_000.0)
SPACING_M = 250.0
#: Share of grid links left out, so the network has T junctions and dead ends, not only crossroads.
DROPPED = 0.15


def road_network(segments: int, seed: int = 1) -> gpd.GeoDataFrame:
    """About `segments` road lines (EPSG:4549) meeting only at their ends, with route code, class, speed and AADT."""
    rng = np.random.default_rng(seed)
    k = max(2, math.ceil(math.sqrt(segments / (2 * (1 - DROPPED)))) + 1)
    ij = np.stack(np.meshgrid(np.arange(k), np.arange(k), indexing="ij"), axis=-1).reshape(-1, 2)
    nodes = ORIGIN + ij * SPACING_M + rng.uniform(-40, 40, size=(len(ij), 2))
    node_id = np.arange(k * k).reshape(k, k)
    east = np.stack([node_id[:-1, :].ravel(), node_id[1:, :].ravel()], axis=1)
    north = np.stack([node_id[:, :-1].ravel(), node_id[:, 1:].ravel()], axis=1)
    links = np.concatenate([east, north])
    along = np.concatenate([np.zeros(len(east), int), np.ones(len(north), int)])
    row = np.concatenate([ij[east[:, 0], 1], ij[north[:, 0], 0]])
    keep = rng.random(len(links)) >= DROPPED
    keep[along == 0] |= row[along == 0] % 8 == 0  # every eighth row and column is a through route
    keep[along == 1] |= row[along == 1] % 8 == 0
    links, along, row = links[keep][:segments], along[keep][:segments], row[keep][:segments]
    a, b = nodes[links[:, 0]], nodes[links[:, 1]]
    mid = (a + b) / 2 + rng.uniform(-15, 15, size=a.shape)
    coords = np.stack([a, mid, b], axis=1)
    lines = shapely.linestrings(coords.reshape(-1, 2), indices=np.repeat(np.arange(len(links)), 3))
    trunk = row % 8 == 0
    cls = np.where(trunk & (row % 32 == 0), "G", np.where(trunk, "X", np.where(rng.random(len(links)) < 0.5, "Y", "C")))
    number = row + 1000 * along  # one route per grid row or column
    code = np.char.add(cls.astype(str), number.astype(str))
    speed = pd.Series(cls).map({"G": 80, "X": 60, "Y": 40, "C": 30}).to_numpy()
    aadt = pd.Series(cls).map({"G": 8000, "X": 3000, "Y": 800, "C": 300}).to_numpy() * rng.uniform(0.7, 1.3, len(cls))
    return gpd.GeoDataFrame(
        {
            "name": code,
            "route_code": code,
            "admin_class": cls,
            "tech_class": np.where(cls == "G", "class2", np.where(cls == "X", "class3", "class4")),
            "speed_limit_kmh": speed,
            "aadt": aadt.round().astype(int),
            "grade_separated": np.zeros(len(cls), bool),
        },
        geometry=lines,
        crs=LOCAL_METRIC,
        index=pd.RangeIndex(1, len(lines) + 1),
    )


def crashes(roads: gpd.GeoDataFrame, n: int, seed: int = 2, *, start: str = "2023-01-01") -> gpd.GeoDataFrame:
    """`n` crashes on random roads, up to 10 m off the centreline, over three years; a tenth fatal, half injury."""
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(roads), n)
    lines = roads.geometry.to_numpy()[pick]
    at = shapely.line_interpolate_point(lines, rng.random(n), normalized=True)
    xy = shapely.get_coordinates(at) + rng.uniform(-10, 10, size=(n, 2))
    severity = rng.choice(["fatal", "injury", "property"], size=n, p=[0.1, 0.5, 0.4])
    deaths = np.where(severity == "fatal", rng.integers(1, 3, n), 0)
    injuries = np.where(severity == "injury", rng.integers(1, 4, n), 0)
    return gpd.GeoDataFrame(
        {
            "occurred_at": pd.Timestamp(start) + pd.to_timedelta(rng.integers(0, 3 * 365 * 24, n), unit="h"),
            "severity": severity,
            "deaths": deaths,
            "injuries": injuries,
            "road_id": roads.index.to_numpy()[pick],
            "drunk_driving": rng.random(n) < 0.03,
            "drug_driving": np.zeros(n, bool),
        },
        geometry=shapely.points(xy),
        crs=LOCAL_METRIC,
        index=pd.RangeIndex(1, n + 1),
    )


def to_lonlat(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The frame in lon/lat (EPSG:4326), for code that takes stored layers."""
    return frame.to_crs(WGS84)


def buildings(roads: gpd.GeoDataFrame, n: int, seed: int = 3) -> gpd.GeoDataFrame:
    """`n` house footprints (10 × 8 m) beside random roads, 8 to 40 m off the centreline; a tenth schools or markets."""
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(roads), n)
    lines = roads.geometry.to_numpy()[pick]
    at = rng.random(n)
    a = shapely.get_coordinates(shapely.line_interpolate_point(lines, np.maximum(at - 0.01, 0), normalized=True))
    b = shapely.get_coordinates(shapely.line_interpolate_point(lines, np.minimum(at + 0.01, 1), normalized=True))
    along = (b - a) / np.maximum(np.hypot(*(b - a).T), 1e-9)[:, None]
    side = rng.choice([-1.0, 1.0], n)[:, None] * rng.uniform(8, 40, (n, 1))
    centre = (a + b) / 2 + np.stack([-along[:, 1], along[:, 0]], axis=1) * side
    corners = np.array([(-5, -4), (5, -4), (5, 4), (-5, 4)], dtype=float)
    rings = centre[:, None, :] + corners[None, :, :]
    use = rng.choice(["residential", "school", "market"], size=n, p=[0.9, 0.05, 0.05])
    return gpd.GeoDataFrame(
        {"use": use, "village_code": None}, geometry=shapely.polygons(rings), crs=LOCAL_METRIC,
        index=pd.RangeIndex(1, n + 1),
    )  # fmt: skip
