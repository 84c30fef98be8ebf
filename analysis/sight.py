"""Sight triangles at an at-grade intersection, and whether something stands inside one (GB 14886-2016 §5.1.1.3).

A driver waiting on a minor approach must see a vehicle on the major road early enough for it to stop. The clear
area is the triangle between the intersection centre, the driver's eye on the minor approach, and the point on each
major leg one stopping sight distance away. A building inside it blocks the view: GB 14886 §5.1.1.3 says a signal
宜 be installed then, and the "千灯万带" checklist asks for the triangle to be cleared (domain.md §1.3).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely


def _default_sight() -> dict[int, float]:
    # [K] 停车视距 by design speed, JTG D20-2017 / JTG B01-2014 (km/h → m); check against the edition in force.
    return {120: 210.0, 100: 160.0, 80: 110.0, 60: 75.0, 40: 40.0, 30: 30.0, 20: 20.0}


@dataclass(frozen=True)
class SightRules:
    """The triangle's size and what counts as blocking it."""

    stopping_sight_m: dict[int, float] = field(default_factory=_default_sight)
    #: [K] the driver's eye on the minor approach, from the major road's centreline: a stop line about 5 m back from a
    #: two-lane carriageway's edge (AASHTO's decision point is 4.4 m from the edge), plus half the carriageway.
    eye_m: float = 12.0
    #: Less overlap than this is a drawing tolerance, not an obstruction.
    min_overlap_m2: float = 1.0


def stopping_sight_m(speed_kmh: float | None, rules: SightRules = SightRules()) -> float:
    """The stopping sight distance for a speed: the table's value at the next speed up (unknown → the slowest)."""
    table = sorted(rules.stopping_sight_m.items())
    if speed_kmh is None or not np.isfinite(speed_kmh):
        return table[0][1]
    for speed, distance in table:
        if speed >= speed_kmh:
            return distance
    return table[-1][1]


def triangles(centres: np.ndarray, minor: np.ndarray, major: np.ndarray, sight_m: np.ndarray, rules: SightRules):
    """One triangle per row: the centre, the eye `eye_m` up the minor leg, `sight_m` up the major leg.

    Legs are lines running outward from the centre (arrays, one row per minor × major pair); a leg shorter than
    the distance ends the triangle at its end.
    """
    eye = shapely.line_interpolate_point(minor, np.minimum(rules.eye_m, shapely.length(minor)))
    far = shapely.line_interpolate_point(major, np.minimum(sight_m, shapely.length(major)))
    ring = np.stack([shapely.get_coordinates(p) for p in (centres, eye, far)], axis=1)
    return shapely.polygons(ring)


def obstructing(tris: np.ndarray, obstacles: shapely.STRtree, rules: SightRules = SightRules()):
    """(triangle, obstacle) index pairs where an obstacle covers at least `min_overlap_m2` of a triangle."""
    tri, hit = obstacles.query(tris, predicate="intersects")
    overlap = shapely.area(shapely.intersection(tris[tri], obstacles.geometries[hit]))
    keep = overlap >= rules.min_overlap_m2
    return tri[keep], hit[keep]
