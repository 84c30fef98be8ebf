"""The planar road network: seat grid, G111, rural junctions joined by Gabriel edges, and one bridge over G111."""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import LineString, MultiPoint, Point
from shapely.ops import substring

from data.demo.area import SEAT_HALF, seat_axes, seat_box
from data.demo.graph import Edge, Graph
from data.demo.town import Town

BLOCK = 125.0
GRID_N = int(2 * SEAT_HALF / BLOCK)  # blocks per side
G111_NODE_SPACING = 800.0
JUNCTION_SPACING = 950.0
#: Share of Gabriel edges kept beyond the relative-neighbourhood graph: sets how meshed the rural roads are.
GABRIEL_KEEP = 0.45
#: Roughly where the bridge crosses G111, in metres east of the seat centre.
BRIDGE_AT = 5200.0


def build_network(town: Town) -> Graph:
    """Nodes and edges with no crossings except the one bridge; edges are not yet classed."""
    rng = town.rng("network")
    g = Graph()
    grid = _seat_grid(town, g)
    chain = _g111_chain(town, g, grid)
    rural = _rural_nodes(town, g, rng)
    exits = _exits(town, g)
    perimeter = [
        grid[i, j] for i in range(GRID_N + 1) for j in range(GRID_N + 1) if i in (0, GRID_N) or j in (0, GRID_N)
    ]
    town.extras["grid"] = grid
    town.extras["g111_nodes"] = chain["all"]
    forced = _forced_edges(town, g, grid, chain)
    g.edges.extend(forced)
    bridge = _bridge(town, g, chain)
    forced.append(bridge)
    g.edges.append(bridge)
    candidates = _gabriel_candidates(
        town, g, [*rural, *exits, *chain["rural"], *perimeter, bridge.a, bridge.b], forced, rng
    )
    g.edges.extend(candidates)
    _cap_degree(g, 6)
    _drop_disconnected(g, grid[0, 0])
    town.extras["exits"] = exits
    return g


def _seat_grid(town: Town, g: Graph) -> np.ndarray:
    u, v = seat_axes(town)
    o = np.array(town.seat.coords[0])
    half = GRID_N // 2
    grid = np.zeros((GRID_N + 1, GRID_N + 1), dtype=int)
    for i in range(GRID_N + 1):
        for j in range(GRID_N + 1):
            grid[i, j] = g.add_node(o + (i - half) * BLOCK * u + (j - half) * BLOCK * v)
    return grid


def _g111_chain(town: Town, g: Graph, grid: np.ndarray) -> dict:
    """Nodes along G111 every ~800 m outside the seat; in the seat G111 is the grid's middle row."""
    line = town.g111
    mid = GRID_N // 2
    west_at = line.project(g.point(grid[0, mid]))
    east_at = line.project(g.point(grid[GRID_N, mid]))
    west = _resample(line, 0.0, west_at)
    east = _resample(line, east_at, line.length)
    west_nodes = [g.add_node(line.interpolate(d).coords[0]) for d in west[:-1]]
    east_nodes = [g.add_node(line.interpolate(d).coords[0]) for d in east[1:]]
    row = [int(grid[i, mid]) for i in range(GRID_N + 1)]
    return {
        "rural": west_nodes + east_nodes,
        "all": west_nodes + row + east_nodes,
        "west": (west_nodes + [row[0]], west),
        "east": ([row[-1]] + east_nodes, east),
    }


def _resample(line: LineString, start: float, end: float) -> list[float]:
    n = max(1, round((end - start) / G111_NODE_SPACING))
    return list(np.linspace(start, end, n + 1))


def _forced_edges(town: Town, g: Graph, grid: np.ndarray, chain: dict) -> list[Edge]:
    """Seat streets and G111, fixed before any rural edge is considered."""
    edges = []
    mid = GRID_N // 2
    for i in range(GRID_N + 1):
        for j in range(GRID_N + 1):
            if i < GRID_N:
                cls = "G" if j == mid else "street"
                edges.append(_straight(g, grid[i, j], grid[i + 1, j], cls=cls, forced=True))
            if j < GRID_N:
                edges.append(_straight(g, grid[i, j], grid[i, j + 1], cls="street", forced=True))
    for nodes, stations in (chain["west"], chain["east"]):
        for k in range(len(nodes) - 1):
            part = substring(town.g111, stations[k], stations[k + 1])
            coords = [g.nodes[nodes[k]], *list(part.coords)[1:-1], g.nodes[nodes[k + 1]]]
            edges.append(Edge(nodes[k], nodes[k + 1], LineString(coords), cls="G", forced=True))
    return edges


def _straight(g: Graph, a: int, b: int, **kw) -> Edge:
    return Edge(int(a), int(b), LineString([g.nodes[a], g.nodes[b]]), **kw)


def _rural_nodes(town: Town, g: Graph, rng: np.random.Generator) -> list[int]:
    """Village centres plus junctions by dart throwing, kept off G111 and out of the seat."""
    box = seat_box(town).buffer(350)
    nodes = [g.add_node(v.centre.coords[0]) for v in town.villages[1:]]
    points = [np.array(g.nodes[n]) for n in nodes]
    inner = town.outline.buffer(-250)
    minx, miny, maxx, maxy = inner.bounds
    for _ in range(12_000):
        p = np.array([rng.uniform(minx, maxx), rng.uniform(miny, maxy)])
        pt = Point(p)
        if not inner.contains(pt) or box.contains(pt) or town.g111.distance(pt) < 300:
            continue
        if min(np.hypot(*(p - q)) for q in points) < JUNCTION_SPACING:
            continue
        points.append(p)
        nodes.append(g.add_node(p))
    return nodes


def _exits(town: Town, g: Graph) -> list[int]:
    """Points on the outline where roads leave the town, spaced along the boundary."""
    ring = town.outline.exterior
    stations = np.linspace(0, ring.length, 11)[:-1] + ring.length / 40
    out = []
    for s in stations:
        p = ring.interpolate(s)
        if town.g111.distance(p) > 1500:
            out.append(g.add_node(p.coords[0]))
    return out


def _gabriel_candidates(
    town: Town, g: Graph, nodes: list[int], forced: list[Edge], rng: np.random.Generator
) -> list[Edge]:
    """Gabriel edges of the Delaunay triangulation that cross neither the seat, a fixed road nor the outline."""
    coords = np.array([g.nodes[n] for n in nodes])
    index = {g.nodes[n]: n for n in nodes}
    tri = shapely.delaunay_triangles(MultiPoint(coords), only_edges=True)
    box = seat_box(town)
    inside = town.outline.buffer(1.0)
    forced_lines = shapely.STRtree([e.line for e in forced])
    forced_pairs = {frozenset((e.a, e.b)) for e in forced}
    kept: list[Edge] = []
    for seg in sorted(tri.geoms, key=lambda s: tuple(np.round(s.coords, 3).ravel())):
        a, b = index[tuple(seg.coords[0])], index[tuple(seg.coords[1])]
        a, b = min(a, b), max(a, b)
        if frozenset((a, b)) in forced_pairs or seg.length > 2600 or not inside.contains(seg):
            continue
        if seg.intersection(box).length > 1e-6:
            continue
        edge = _straight(g, a, b)
        hits = [forced[k] for k in forced_lines.query(seg, predicate="intersects")]
        if any(not _touch_at_end(edge, f) for f in hits):
            continue
        mid = np.mean(seg.coords, axis=0)
        if np.any(np.hypot(*(coords - mid).T) < seg.length / 2 - 1e-3):
            continue  # not a Gabriel edge: another node lies inside the circle on this edge
        da = np.hypot(*(coords - np.array(g.nodes[a])).T)
        db = np.hypot(*(coords - np.array(g.nodes[b])).T)
        in_lune = np.any(np.maximum(da, db) < seg.length - 1e-3)
        if in_lune and rng.random() > GABRIEL_KEEP:
            continue  # thin the mesh towards the relative-neighbourhood graph, which stays connected
        kept.append(edge)
    return kept


def _touch_at_end(edge: Edge, other: Edge) -> bool:
    """Whether two edges meet only at a node they share."""
    shared = {edge.a, edge.b} & {other.a, other.b}
    inter = edge.line.intersection(other.line)
    if not shared:
        return inter.is_empty
    return inter.geom_type == "Point"


def _cap_degree(g: Graph, cap: int) -> None:
    """Drop the longest free edges at crowded nodes, so no junction has more than `cap` legs."""
    while True:
        incident = g.incident()
        crowded = [n for n, ks in enumerate(incident) if len(ks) > cap]
        if not crowded:
            return
        n = crowded[0]
        free = [k for k in incident[n] if not g.edges[k].forced]
        drop = max(free, key=lambda k: g.edges[k].line.length)
        del g.edges[drop]


def _bridge(town: Town, g: Graph, chain: dict) -> Edge:
    """The one grade-separated crossing: a road carried over G111 midway between two G111 junctions east of the seat."""
    u, _ = seat_axes(town)
    target = town.g111.project(Point(np.array(town.seat.coords[0]) + BRIDGE_AT * u))
    _, stations = chain["east"]
    k = int(np.searchsorted(stations, target))
    at = (stations[k - 1] + stations[k]) / 2
    p = np.array(town.g111.interpolate(at).coords[0])
    q = np.array(town.g111.interpolate(at + 5).coords[0])
    t = (q - p) / np.hypot(*(q - p))
    normal = np.array([-t[1], t[0]])
    a = g.add_node(p + 420 * normal)
    b = g.add_node(p - 420 * normal)
    return _straight(g, a, b, grade_separated=True, forced=True)


def _drop_disconnected(g: Graph, root: int) -> None:
    """Remove edges that cannot be reached from the seat (rare slivers near the outline)."""
    keep = g.component_of(int(root))
    g.edges = [e for e in g.edges if e.a in keep]
