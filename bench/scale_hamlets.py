"""Hamlets (自然屯) for the banner-scale dataset: extra courtyard houses in the rural villages, up to a feature count.

The banner level adds them until the dataset holds MIN_FEATURES features, so that a benchmark over it has a known
size. Each hamlet is a ragged circle of rows of 10 x 8 m houses inside a village, clear of its roads, sites and
buildings, like the demo villages' own clusters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import shapely
from shapely.geometry import Point

from data.demo.town import Feature, Village
from layers.fire import BuildingProperties

if TYPE_CHECKING:
    from bench.scale import PlacedTown

#: Features a banner dataset holds at least (hamlets fill the gap).
MIN_FEATURES = 100_000
#: Hamlet layout: radius range (m), distance range from the village centre (m), house rows and pitch (m).
HAMLET_RADIUS = (70.0, 120.0)
HAMLET_DISTANCE = (500.0, 1800.0)
ROW_PITCH, HOUSE_PITCH = 27.0, 18.0
HOUSE_W, HOUSE_D = 10.0, 8.0
ROAD_CLEARANCE, POINT_CLEARANCE, BUILDING_CLEARANCE = 8.0, 15.0, 4.0


@dataclass
class _Obstacles:
    """What a new house keeps clear of in one town: roads, lanes, sites and existing buildings."""

    lines: shapely.STRtree
    points: shapely.STRtree
    buildings: shapely.STRtree

    @classmethod
    def of(cls, town: PlacedTown) -> _Obstacles:
        def geoms(*layers: str) -> list:
            return [g for layer_id in layers for _, g in town.features.get(layer_id, [])]

        return cls(
            lines=shapely.STRtree(geoms("roads", "fire_lanes")),
            points=shapely.STRtree(geoms("risk_sources", "emergency_resources", "hazards", "intersections")),
            buildings=shapely.STRtree(geoms("buildings")),
        )

    def clear(self, footprints: np.ndarray) -> np.ndarray:
        """A mask of the footprints that keep their distance from everything."""
        ok = np.ones(len(footprints), dtype=bool)
        for tree, distance in (
            (self.lines, ROAD_CLEARANCE),
            (self.points, POINT_CLEARANCE),
            (self.buildings, BUILDING_CLEARANCE),
        ):
            hit, _ = tree.query(footprints, predicate="dwithin", distance=distance)
            ok[hit] = False
        return ok


def _house_footprints(cx: float, cy: float, radius: float, rng: np.random.Generator) -> np.ndarray:
    """Courtyard houses (10 × 8 m, facing roughly south) in rows within a ragged circle, like the demo villages."""
    angle = float(rng.uniform(-0.14, 0.14))
    c, s = math.cos(angle), math.sin(angle)
    t, u = np.meshgrid(np.arange(-radius, radius, ROW_PITCH), np.arange(-radius, radius, HOUSE_PITCH), indexing="ij")
    t, u = t.ravel(), u.ravel()
    keep = u * u + t * t <= radius * radius * rng.uniform(0.75, 1.05, len(t))
    t, u = t[keep], u[keep]
    x, y = cx + u * c - t * s, cy + u * s + t * c
    hw, hd = HOUSE_W / 2, HOUSE_D / 2
    corners = np.array([(-hw, -hd), (hw, -hd), (hw, hd), (-hw, hd), (-hw, -hd)])
    rot = np.array([[c, s], [-s, c]])
    ring = corners @ rot  # (5, 2): each corner turned by `angle`
    coords = np.stack([x, y], axis=1)[:, None, :] + ring[None, :, :]
    return shapely.polygons(coords)


def _hamlet_site(
    village: Village, taken: list[tuple[Point, float]], radius: float, rng: np.random.Generator
) -> Point | None:
    """A hamlet centre inside the village, away from its core cluster and from other hamlets; None if no room."""
    inner = village.polygon.buffer(-(radius + 30.0))
    core = 70 + village.population / 40
    for _ in range(40):
        theta = rng.uniform(0, 2 * math.pi)
        d = rng.uniform(*HAMLET_DISTANCE)
        p = Point(village.centre.x + d * math.cos(theta), village.centre.y + d * math.sin(theta))
        if d < core + radius + 150 or not inner.contains(p):
            continue
        if all(p.distance(q) >= radius + r + 100 for q, r in taken):
            return p
    return None


def _hamlet(
    village: Village, taken: list[tuple[Point, float]], obstacles: _Obstacles, rng: np.random.Generator
) -> list[Feature]:
    """One hamlet of the village: its house footprints that fit, with attributes."""
    radius = float(rng.uniform(*HAMLET_RADIUS))
    site = _hamlet_site(village, taken, radius, rng)
    if site is None:
        return []
    taken.append((site, radius))
    footprints = _house_footprints(site.x, site.y, radius, rng)
    footprints = footprints[shapely.contains(village.polygon, footprints) & obstacles.clear(footprints)]
    grades = rng.choice(["3", "3", "4", "unknown"], len(footprints))
    residents = rng.integers(1, 6, len(footprints))
    years = rng.integers(1980, 2023, len(footprints))
    return [
        (
            BuildingProperties(
                storeys=1,
                fire_grade=str(g),
                use="residential",
                residents=int(r),
                build_year=int(y),
                village_code=village.code,
            ),
            fp,
        )
        for g, r, y, fp in zip(grades, residents, years, footprints, strict=True)
    ]


def add_hamlets(towns: list[PlacedTown], shortfall: int, seed: int) -> int:
    """Add hamlets round by round (village serial, then town) until `shortfall` houses are added; returns the count.

    Each hamlet has its own random stream (seed, town, village, round), so the result does not depend on the order.
    """
    if shortfall <= 0:
        return 0
    obstacles = {t.number: _Obstacles.of(t) for t in towns}
    taken: dict[tuple[int, int], list[tuple[Point, float]]] = {}
    added = 0
    for rnd in range(1, 100):
        added_this_round = 0
        for k in range(1, max(len(t.villages) for t in towns)):
            for town in towns:
                if k >= len(town.villages):
                    continue
                village = town.villages[k]
                rng = np.random.default_rng([seed, town.number, k, rnd])
                houses = _hamlet(village, taken.setdefault((town.number, k), []), obstacles[town.number], rng)
                if not houses:
                    continue
                town.features["buildings"].extend(houses)
                town.hamlet_houses += len(houses)
                town.hamlets += 1
                added += len(houses)
                added_this_round += len(houses)
                if added >= shortfall:
                    return added
        if added_this_round == 0:
            break
    raise RuntimeError(f"no room for more hamlets: added {added:,} of the {shortfall:,} houses needed")
