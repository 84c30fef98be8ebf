"""The town being generated: one shared record that each generation step reads from and adds to."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.base import BaseGeometry

from layers import Properties


class LayoutError(Exception):
    """This draw of the random layout cannot hold every planted item; the generator draws again."""


#: A feature under construction: validated attributes and a metric geometry. Its fid is its position + 1.
Feature = tuple[Properties, BaseGeometry]


@dataclass
class Village:
    """An administrative village: its code, name, boundary and the road node at its centre."""

    code: str
    name: str
    kind: str
    polygon: Polygon
    centre: Point
    population: int
    households: int


@dataclass
class Town:
    """Everything generated so far, in EPSG:4549 metres; `features` holds each layer's features in fid order."""

    seed: int
    outline: Polygon
    seat: Point
    seat_angle: float
    g111: LineString
    villages: list[Village] = field(default_factory=list)
    features: dict[str, list[Feature]] = field(default_factory=dict)
    truth: dict[str, Any] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)
    #: Which draw this is for the seed: 0 first, then 1, 2 … when a draw could not hold the plan.
    attempt: int = 0

    def rng(self, step: str) -> np.random.Generator:
        """An independent random stream per step, so changing one step does not reshuffle the others."""
        key = sum(ord(c) * 31**i for i, c in enumerate(step)) % 2**32
        return np.random.default_rng([self.seed, key] if self.attempt == 0 else [self.seed, key, self.attempt])

    def village_at(self, point: Point) -> Village:
        """The village whose polygon holds `point` (the nearest one for points on a shared edge)."""
        for village in self.villages:
            if village.polygon.covers(point):
                return village
        return min(self.villages, key=lambda v: v.polygon.distance(point))
