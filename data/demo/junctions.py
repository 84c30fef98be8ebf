"""At-grade intersections, and the choice of where the black spots, the decoy and the blocked approaches are planted."""

from __future__ import annotations

import numpy as np
from shapely.geometry import LineString, Point
from shapely.ops import linemerge, substring

from data.demo.area import seat_axes
from data.demo.graph import Graph
from data.demo.roads import CLASS_RANK
from data.demo.sightlines import GENTLE, steep_minor_roads
from data.demo.town import Feature, LayoutError, Town
from layers.roads import IntersectionProperties
from layers.vocab import Control

#: Planted items must sit this far apart so that no screening window can hold two of them.
PLANT_SPACING = 2600.0


def plan_hotspots(town: Town, g: Graph) -> dict:
    """Pick the junctions and stretches where crashes cluster on purpose, plus the blocked-approach junctions."""
    u, v = seat_axes(town)
    o = np.array(town.seat.coords[0])
    degree = g.degree()
    incident = g.incident()
    box = town.extras["seat_box"].buffer(300)
    rural = [n for n in range(len(g.nodes)) if degree[n] >= 3 and not box.contains(g.point(n))]

    def classes(n: int) -> set[str]:
        return {g.edges[k].cls for k in incident[n]}

    def codes(n: int) -> set[str]:
        return {g.edges[k].code for k in incident[n]}

    def near(n: int, offset: tuple[float, float]) -> float:
        return float(np.hypot(*(np.array(g.nodes[n]) - (o + offset[0] * u + offset[1] * v))))

    g111_x512 = next(n for n in rural if {"G111", "X512"} <= codes(n))
    plan: dict = {"spots": [], "segments": []}
    taken: list[Point] = [g.point(g111_x512)]

    def far(p: Point) -> bool:
        return all(p.distance(q) >= PLANT_SPACING for q in taken)

    plan["spots"].append({"node": g111_x512, "grade": "class1", "recipe": "fatal6"})
    spot2 = min(
        (n for n in rural if "G" in classes(n) and classes(n) & {"Y", "C"} and far(g.point(n))),
        key=lambda n: near(n, (-7800, 0)),
    )
    taken.append(g.point(spot2))
    plan["spots"].append({"node": spot2, "grade": "class2", "recipe": "injury7"})
    segment1 = _stretch(town.g111, town.g111.project(Point(o + 2000 * u)), 2000)
    x515 = _route(g, "X515", start=Point(o))
    segment2 = _stretch(x515, 1600, 2000)
    for seg in (segment1, segment2):
        taken.append(seg)
    plan["segments"] = [
        {"line": segment1, "code": "G111", "grade": "class2"},
        {"line": segment2, "code": "X515", "grade": "class2"},
    ]
    spot3 = min(
        (n for n in rural if "X512" in codes(n) and "G" not in classes(n) and far(g.point(n))),
        key=lambda n: near(n, (-4300, -6500)),
    )
    taken.append(g.point(spot3))
    plan["spots"].append({"node": spot3, "grade": "class2", "recipe": "fatal3"})
    decoy = max(
        (n for n in rural if classes(n) & {"X", "Y"} and far(g.point(n))),
        key=lambda n: min(g.point(n).distance(q) for q in taken),
    )
    taken.append(g.point(decoy))
    plan["decoy"] = {"node": decoy}
    planted = {s["node"] for s in plan["spots"]} | {decoy}
    blocked = [
        n
        for n in rural
        if n not in planted
        and classes(n) & {"G", "X"}
        and classes(n) & {"Y", "C"}
        and all(g.point(n).distance(g.point(m)) > 1200 for m in planted)
    ]
    plan["blocked_approach"] = [blocked[k] for k in np.linspace(0, len(blocked) - 1, 4).astype(int)]
    plan["taken"] = taken
    town.extras["plan"] = plan
    return plan


def _route(g: Graph, code: str, start: Point) -> LineString:
    """A route's edges merged into one line, running away from `start`."""
    merged = linemerge([e.line for e in g.edges if e.code == code])
    if merged.geom_type != "LineString":
        raise LayoutError(f"{code} is not one continuous line")
    if Point(merged.coords[0]).distance(start) > Point(merged.coords[-1]).distance(start):
        merged = LineString(merged.coords[::-1])
    return merged


def _stretch(line: LineString, start: float, length: float) -> LineString:
    return substring(line, start, start + length)


def intersection_features(town: Town, g: Graph) -> list[Feature]:
    """Nodes where three or more road features meet at grade, with their treatment; fids follow node order."""
    rng = town.rng("intersections")
    plan = town.extras["plan"]
    degree = g.degree()
    incident = g.incident()
    box = town.extras["seat_box"].buffer(1)
    spots = {s["node"] for s in plan["spots"]} | {plan["decoy"]["node"]}
    blocked = plan["blocked_approach"]
    g111_rural = [n for n in town.extras["g111_nodes"] if degree[n] >= 3 and not box.contains(g.point(n))]
    flashing = [n for n in g111_rural if n not in spots and all(g.point(n).distance(g.point(s)) > 1000 for s in spots)][
        1::3
    ][:3]
    features: list[Feature] = []
    fid_of: dict[int, int] = {}
    for n in range(len(g.nodes)):
        if degree[n] < 3:
            continue
        legs = sorted(incident[n], key=lambda k: (CLASS_RANK.index(g.edges[k].cls), k))
        major, minor = g.edges[legs[0]].cls, g.edges[legs[-1]].cls
        in_seat = box.contains(g.point(n))
        if in_seat and major == "G":
            control = Control.SIGNAL
        elif n in flashing:
            control = Control.FLASHING
        elif n in spots or n in blocked:
            control = Control.NONE
        elif major == "G":
            control = Control.STOP
        elif major == "X" and rng.random() < 0.5:
            control = Control.YIELD
        else:
            control = Control.NONE
        belts = control == Control.FLASHING or (control in (Control.STOP, Control.YIELD) and rng.random() < 0.5)
        props = IntersectionProperties(
            name=_name(g, legs),
            legs=len(legs),
            major_class=major,
            minor_class=minor,
            control=control,
            signal=control == Control.SIGNAL,
            flashing_light=control == Control.FLASHING,
            speed_belts=belts,
            sight_obstructed=n in blocked,
            slope_fix_needed=n in blocked[:3],
            road_ids=sorted(k + 1 for k in legs),
        )
        features.append((props, g.point(n)))
        fid_of[n] = len(features)
    town.extras["junction_fid"] = fid_of
    _grades(town, g)
    town.features["intersections"] = features
    return features


def _name(g: Graph, legs: list[int]) -> str:
    labels: list[str] = []
    for k in legs:
        e = g.edges[k]
        label = e.name if e.cls == "street" else e.code
        if label not in labels:
            labels.append(label)
    if len(labels) == 1:
        return f"{labels[0]}路口"
    return f"{labels[0]}与{labels[1]}交叉口"


def _grades(town: Town, g: Graph) -> None:
    """Survey grades on the roads: steep minor approaches at the planted junctions, gentle ones on some others."""
    steep = steep_minor_roads(town, g)
    rng = town.rng("gentle-grades")
    roads = town.features["roads"]
    for k, (props, line) in enumerate(roads):
        grade = steep.get(k)
        if grade is None and props.admin_class in ("Y", "C") and rng.random() < 0.3:
            grade = round(float(rng.uniform(*GENTLE)), 1)
        if grade is not None:
            roads[k] = (props.model_copy(update={"grade_pct": grade}), line)
    town.extras["steep_roads"] = steep
