"""Road classes and attributes: G111, the county roads (one on a bridge), township roads to the seat, village roads."""

from __future__ import annotations

import numpy as np
from shapely.geometry import Point

from data.demo.area import seat_axes
from data.demo.graph import Edge, Graph
from data.demo.names import STREETS_ACROSS, STREETS_ALONG
from data.demo.network import GRID_N
from data.demo.town import Feature, LayoutError, Town
from layers.roads import RoadProperties
from layers.vocab import Surface

#: Admin classes from most to least important, for ranking the legs of a junction.
CLASS_RANK = ("G", "S", "X", "Y", "street", "C", "Z")

#: County roads: code, name, where they run (metres from the seat centre along G111 u and across it v).
COUNTY_ROADS = (
    ("X512", "X512义隆永—沙日浩来线", (-4500, 9000), (-4500, 0), (-4000, -9000)),
    ("X515", "X515义隆永—八仙筒线", None, None, (-800, 9000)),
    ("X518", "X518敖汉界—东明线", (5200, 9000), None, (6500, -9000)),
)


def classify(town: Town, g: Graph) -> None:
    """Give every edge its class, route code and name: county roads first, then township roads, then the rest."""
    _name_seat(town, g)
    for e in g.edges:
        if e.cls == "G":
            e.code, e.name = "G111", "G111京漠线"
    _county_roads(town, g)
    _township_roads(town, g)
    serial = 101
    for e in g.edges:
        if e.cls is None:
            village = town.village_at(e.line.interpolate(0.5, normalized=True))
            e.cls, e.code = "C", f"C{serial}"
            e.name = f"{e.code}{village.name.removesuffix('村')}村道"
            serial += 1


def _name_seat(town: Town, g: Graph) -> None:
    grid = town.extras["grid"]
    along = {}
    across = {}
    for i in range(GRID_N + 1):
        for j in range(GRID_N + 1):
            along[int(grid[i, j])] = j
            across[int(grid[i, j])] = i
    for e in g.edges:
        if e.cls != "street":
            continue
        if along[e.a] == along[e.b]:
            e.name = STREETS_ALONG[along[e.a]] or "G111镇区段"
        else:
            e.name = STREETS_ACROSS[across[e.a]]


def _nearest_node(g: Graph, point: Point, allowed: list[int] | None = None) -> int:
    pts = np.array(g.nodes)
    idx = np.arange(len(pts)) if allowed is None else np.array(allowed)
    d = np.hypot(*(pts[idx] - np.array(point.coords[0])).T)
    return int(idx[int(np.argmin(d))])


def _county_roads(town: Town, g: Graph) -> None:
    """Each county road follows the cheapest path through its waypoints over still-unclassed edges."""
    u, v = seat_axes(town)
    o = np.array(town.seat.coords[0])
    degree = g.degree()
    exits = [n for n in town.extras["exits"] if degree[n] > 0]
    g111_nodes = town.extras["g111_nodes"]
    grid = town.extras["grid"]
    bridge = next(e for e in g.edges if e.grade_separated)
    for code, name, north, cross, south in COUNTY_ROADS:

        def at(offset: tuple[float, float]) -> Point:
            return Point(o + offset[0] * u + offset[1] * v)

        if code == "X518":
            north_end = _nearest_node(g, at(north), exits)
            south_end = _nearest_node(g, at(south), exits)
            top, bottom = (bridge.a, bridge.b) if g.nodes[bridge.a][1] > g.nodes[bridge.b][1] else (bridge.b, bridge.a)
            legs = [([north_end], top), ([bottom], south_end)]
            _label(g, [g.edges.index(bridge)], code, name)
        elif code == "X515":
            top_row = [int(grid[i, GRID_N]) for i in range(GRID_N + 1)]
            legs = [(top_row, _nearest_node(g, at(south), exits))]
        else:
            junction = _nearest_node(g, at(cross), g111_nodes)
            legs = [([_nearest_node(g, at(north), exits)], junction), ([junction], _nearest_node(g, at(south), exits))]
        for a, b in legs:
            path = g.shortest(a, b, lambda e: None if e.cls is not None else e.line.length)
            if path is None:
                raise LayoutError(f"{code}: no route through the road mesh")
            _label(g, path, code, name)


def _label(g: Graph, path: list[int], code: str, name: str) -> None:
    for k in path:
        e = g.edges[k]
        e.cls, e.code, e.name = code[0], code, name


def _township_roads(town: Town, g: Graph) -> None:
    """Each village centre gets a township road to the seat, joining existing roads where that is shorter."""
    grid = town.extras["grid"]
    perimeter = [int(n) for n in np.unique(np.concatenate([grid[0], grid[-1], grid[:, 0], grid[:, -1]]))]
    serial = 1
    centres = [_nearest_node(g, v.centre) for v in town.villages[1:]]
    for village, node in zip(town.villages[1:], centres, strict=True):
        path = g.shortest(perimeter, node, _township_cost)
        if path is None:
            continue
        fresh = [k for k in path if g.edges[k].cls is None]
        if not fresh:
            continue
        code = f"Y{serial:03d}"
        _label(g, fresh, code, f"{code}镇区—{village.name}线")
        serial += 1


def _township_cost(e: Edge) -> float | None:
    if e.cls == "street":
        return None
    return e.line.length * (0.6 if e.cls in ("G", "X", "Y") else 1.0)


SPEEDS = {"G": 80, "X": 60, "Y": 40, "C": 30, "street": 30}
TECH = {"G": "class2", "X": "class3", "Y": "class4", "street": "street"}


def road_features(town: Town, g: Graph) -> list[Feature]:
    """One road feature per edge, fid = edge index + 1."""
    rng = town.rng("road-attributes")
    box = town.extras["seat_box"]
    features: list[Feature] = []
    for e in g.edges:
        in_seat = box.buffer(1).contains(e.line)
        speed = 40 if (e.cls == "G" and in_seat) else SPEEDS[e.cls]
        aadt = None
        if e.cls == "G":
            aadt = int(rng.integers(6500, 9000))
        elif e.cls == "X":
            aadt = int(rng.integers(1500, 3600))
        elif e.cls == "Y" and rng.random() < 0.4:
            aadt = int(rng.integers(300, 900))
        if e.cls in ("G", "X", "street"):
            surface = Surface.ASPHALT
        elif e.cls == "Y":
            surface = Surface.ASPHALT if rng.random() < 0.6 else Surface.CONCRETE
        else:
            surface = [Surface.CONCRETE, Surface.CONCRETE, Surface.GRAVEL, Surface.EARTH][int(rng.integers(4))]
        tech = TECH.get(e.cls) or ("class4" if surface == Surface.CONCRETE else "substandard")
        props = RoadProperties(
            name=e.name,
            route_code=None if e.cls == "street" else e.code,
            admin_class=e.cls,
            tech_class=tech,
            lanes=1 if e.cls == "C" else 2,
            speed_limit_kmh=speed,
            surface=surface,
            aadt=aadt,
            grade_separated=e.grade_separated,
        )
        features.append((props, e.line))
    town.features["roads"] = features
    return features
