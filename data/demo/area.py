"""The town outline, its seat, the G111 alignment and the villages that tile the outline."""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import LineString, MultiPoint, Point, Polygon

from data.demo.metric import lonlat_to_xy
from data.demo.names import VILLAGE_NAMES, person, phone
from data.demo.town import Feature, LayoutError, Town, Village
from layers import LAYERS
from layers.admin import VillageProperties

#: Hand-drawn outline (lon, lat) west of the banner seat against the Aohan border; checked once to lie inside 奈曼旗.
OUTLINE_LONLAT = (
    (120.470, 42.752), (120.505, 42.742), (120.548, 42.749), (120.583, 42.744), (120.612, 42.758),
    (120.626, 42.786), (120.619, 42.818), (120.628, 42.850), (120.621, 42.884), (120.607, 42.912),
    (120.584, 42.933), (120.548, 42.940), (120.510, 42.935), (120.472, 42.929), (120.443, 42.914),
    (120.438, 42.884), (120.447, 42.853), (120.459, 42.823), (120.465, 42.790),
)  # fmt: skip
SEAT_LONLAT = (120.548, 42.846)
#: G111 runs a little south of east through the seat; its main street is the seat grid's middle row.
SEAT_ANGLE = np.radians(-4.0)
SEAT_HALF = 500.0
G111_WEST_LONLAT = (120.420, 42.866)
G111_EAST_LONLAT = (120.650, 42.828)
CODE_PREFIX = "150525107"


def lay_out(seed: int) -> Town:
    """The fixed frame of the town: outline, seat and the G111 centreline clipped to the outline."""
    outline = Polygon(lonlat_to_xy(OUTLINE_LONLAT))
    seat = Point(lonlat_to_xy([SEAT_LONLAT])[0])
    g111 = _g111(seat, *lonlat_to_xy([G111_WEST_LONLAT, G111_EAST_LONLAT])).intersection(outline)
    if g111.geom_type != "LineString":
        raise ValueError("G111 must cross the outline once: check OUTLINE_LONLAT and the G111 end points")
    return Town(seed=seed, outline=outline, seat=seat, seat_angle=float(SEAT_ANGLE), g111=g111)


def seat_axes(town: Town) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors along G111 (u) and across it (v) at the seat."""
    c, s = np.cos(town.seat_angle), np.sin(town.seat_angle)
    return np.array([c, s]), np.array([-s, c])


def seat_box(town: Town) -> Polygon:
    """The square seat grid (≈1 km²)."""
    u, v = seat_axes(town)
    o = np.array(town.seat.coords[0])
    h = SEAT_HALF
    return Polygon([o - h * u - h * v, o + h * u - h * v, o + h * u + h * v, o - h * u + h * v])


def _bezier(p0: np.ndarray, p1: np.ndarray, p2: np.ndarray, p3: np.ndarray, n: int = 60) -> np.ndarray:
    t = np.linspace(0, 1, n)[:, None]
    return (1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * p1 + 3 * (1 - t) * t**2 * p2 + t**3 * p3


def _g111(seat: Point, west: np.ndarray, east: np.ndarray) -> LineString:
    """A gently curving alignment that runs straight through the seat."""
    u = np.array([np.cos(SEAT_ANGLE), np.sin(SEAT_ANGLE)])
    o = np.array(seat.coords[0])
    a, b = o - SEAT_HALF * u, o + SEAT_HALF * u
    west_part = _bezier(west, west + (a - west) * 0.4 + np.array([0, 900.0]), a - 2500 * u, a)
    east_part = _bezier(b, b + 2500 * u, east + (b - east) * 0.4 + np.array([0, -700.0]), east)
    return LineString(np.vstack([west_part, east_part]))


def place_villages(town: Town) -> list[Feature]:
    """Village centres by dart throwing; boundaries are Voronoi cells clipped to (and noded with) the outline."""
    rng = town.rng("villages")
    inner = town.outline.buffer(-900)
    minx, miny, maxx, maxy = inner.bounds
    centres = [np.array(town.seat.coords[0])]
    for _ in range(20_000):
        if len(centres) == len(VILLAGE_NAMES) - 2:
            break
        p = np.array([rng.uniform(minx, maxx), rng.uniform(miny, maxy)])
        if not inner.contains(Point(p)) or town.g111.distance(Point(p)) < 450:
            continue
        if min(np.hypot(*(p - c)) for c in centres) < 2350:
            continue
        centres.append(p)
    if not 20 <= len(centres) <= 30:
        raise LayoutError(f"placed {len(centres)} villages, want 20 to 30")
    cells = _tiling(town.outline, centres)
    order = sorted(range(len(centres)), key=lambda i: (i != 0, -round(centres[i][1], -3), centres[i][0]))
    features: list[Feature] = []
    for serial, i in enumerate(order, start=1):
        name, kind = VILLAGE_NAMES[serial - 1]
        population = int(rng.integers(900, 2600)) + (3200 if i == 0 else 0)
        households = int(population / rng.uniform(2.6, 3.0))
        code = f"{CODE_PREFIX}{200 + serial:03d}"
        village = Village(code, name, kind, cells[i], Point(centres[i]), population, households)
        town.villages.append(village)
        props = VillageProperties(
            name=name,
            code=code,
            kind=kind,
            population=population,
            households=households,
            official=person(rng),
            phone=phone(4_100 + serial),
        )
        features.append((props, cells[i]))
    town.features[LAYERS["villages"].id] = features
    return features


def _tiling(outline: Polygon, centres: list[np.ndarray]) -> list[Polygon]:
    """Faces of the noded outline and Voronoi edges inside it: every edge is shared, so the cells tile exactly."""
    ridges = shapely.voronoi_polygons(MultiPoint(centres), extend_to=outline.buffer(5000), only_edges=True)
    edges = shapely.union_all([ridges, outline.boundary])
    faces = [
        f
        for f in shapely.polygonize(list(shapely.get_parts(edges))).geoms
        if outline.contains(f.representative_point())
    ]
    cells: list[list[Polygon]] = [[] for _ in centres]
    for face in faces:
        rep = face.representative_point()
        nearest = min(range(len(centres)), key=lambda i: np.hypot(*(np.array(rep.coords[0]) - centres[i])))
        cells[nearest].append(face)
    out = []
    for parts in cells:
        merged = shapely.union_all(parts) if len(parts) > 1 else parts[0]
        out.append(merged)
    return out


def seat_xy(town: Town, s: float, t: float) -> np.ndarray:
    """Metric coordinates of a point `s` m along G111 and `t` m across it from the seat centre."""
    u, v = seat_axes(town)
    return np.array(town.seat.coords[0]) + s * u + t * v
