"""Sight triangles kept clear at every junction, except at the planted blocked approaches, and their steep side roads.

At each blocked-approach junction a roadside shed stands in the sight triangle between the minor approach and a major
leg, and (for the first three) the minor road climbs into the junction more steeply than 坡改平 allows. Everywhere
else houses keep out of a triangle larger than the analysis uses, so what the analysis flags is exactly what was
planted, whatever reasonable parameters it runs with.
"""

from __future__ import annotations

import numpy as np
from shapely.geometry import LineString, Point, Polygon

from analysis.sight import SightRules, stopping_sight_m, triangles
from data.demo.graph import Graph
from data.demo.metric import lonlat_of, rotated_rect
from data.demo.roads import CLASS_RANK, SPEEDS
from data.demo.town import Town

#: The keep-clear triangles are this much larger than the analysis' own, so a village house never grazes one.
MARGIN = 1.3
#: The planted shed: size, and where its centre stands (metres along the major leg, metres off it toward the minor).
SHED = (7.0, 5.0)
SHED_AT = (13.0, 6.5)
#: The steep minor approaches' grade (%), above the 坡改平 threshold; other roads get gentle grades or none.
STEEP = (7.0, 9.5)
GENTLE = (0.5, 3.5)


def _outward(g: Graph, node: int, edge: int) -> LineString:
    """The edge as a line running away from `node`."""
    e = g.edges[edge]
    return e.line if e.a == node else LineString(e.line.coords[::-1])


def _legs(g: Graph, node: int, incident: list[list[int]]) -> tuple[list[int], list[int]]:
    """Major legs (the top class) and minor legs (the rest) at a junction."""
    legs = sorted(incident[node], key=lambda k: (CLASS_RANK.index(g.edges[k].cls), k))
    top = g.edges[legs[0]].cls
    major = [k for k in legs if g.edges[k].cls == top]
    return major, [k for k in legs if k not in major] or major[2:]


def keep_clear(town: Town, g: Graph) -> list[Polygon]:
    """Generous sight triangles at every junction outside the planted ones; houses are not built in them."""
    incident = g.incident()
    degree = g.degree()
    blocked = set(town.extras["plan"]["blocked_approach"])
    rules = SightRules(eye_m=SightRules().eye_m * MARGIN)
    zones: list[Polygon] = []
    for n in range(len(g.nodes)):
        if degree[n] < 3 or n in blocked:
            continue
        major, minor = _legs(g, n, incident)
        sight = stopping_sight_m(SPEEDS[g.edges[major[0]].cls]) * MARGIN
        pairs = [(m, k) for m in minor for k in major]
        tris = triangles(
            np.array([g.point(n)] * len(pairs)),
            np.array([_outward(g, n, m) for m, _ in pairs]),
            np.array([_outward(g, n, k) for _, k in pairs]),
            np.full(len(pairs), sight),
            rules,
        )
        zones += [t for t in tris if t.area > 0]
    return zones


def sheds(town: Town, g: Graph) -> list[tuple[int, Polygon]]:
    """(junction node, footprint) of the shed standing in a sight triangle at each blocked-approach junction."""
    incident = g.incident()
    out = []
    for n in town.extras["plan"]["blocked_approach"]:
        major, minor = _legs(g, n, incident)
        centre = np.array(g.nodes[n])
        leg = _outward(g, n, major[0])
        u = np.array(leg.interpolate(30.0).coords[0]) - centre
        u /= np.linalg.norm(u)
        m = np.array(_outward(g, n, minor[0]).interpolate(30.0).coords[0]) - centre
        p = np.array([-u[1], u[0]])
        if np.dot(p, m) < 0:
            p = -p
        x, y = centre + SHED_AT[0] * u + SHED_AT[1] * p
        out.append((n, rotated_rect(x, y, *SHED, float(np.arctan2(u[1], u[0])))))
    return out


def steep_minor_roads(town: Town, g: Graph) -> dict[int, float]:
    """Edge index → grade (%) for the minor approach of the first three blocked junctions."""
    rng = town.rng("grades")
    incident = g.incident()
    degree = g.degree()
    out = {}
    for n in town.extras["plan"]["blocked_approach"][:3]:
        _, minor = _legs(g, n, incident)

        def minor_at_far_end(k: int, n: int = n) -> bool:
            """Whether the road might be read as a minor approach where it ends: unless it is one of exactly two
            top-class legs there, it could be, whichever way a reader breaks ties between equal classes."""
            far = g.edges[k].other(n)
            if degree[far] < 3:
                return False
            major, _ = _legs(g, far, incident)
            return not (k in major and len(major) == 2)

        # A grade belongs to the whole road: rather one that is not also a minor approach at its other end.
        pick = next((k for k in minor if not minor_at_far_end(k)), minor[0])
        out[pick] = round(float(rng.uniform(*STEEP)), 1)
    return out


def blocked_truth(town: Town, g: Graph, shed_fids: dict[int, int], steep: dict[int, float]) -> list[dict]:
    """What the truth file records of each blocked approach."""
    fid_of = town.extras["junction_fid"]
    incident = g.incident()
    out = []
    for n in town.extras["plan"]["blocked_approach"]:
        _, minor = _legs(g, n, incident)
        road = next((k for k in minor if k in steep), None)
        out.append(
            {
                "intersection_fid": fid_of[n],
                "location": lonlat_of(Point(g.nodes[n])),
                "obstruction_building_fid": shed_fids[n],
                "slope_fix": road is not None,
                "steep_road_fid": None if road is None else road + 1,
                "minor_grade_pct": steep.get(road),
            }
        )
    return out
