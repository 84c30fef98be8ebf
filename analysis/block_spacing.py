"""Block spacing (GB 50016 §7.1.1; GB 50039: centre-lines inside a block ≤ 160 m apart): blocks too wide for lanes.

The rule is checked as "no point of a block lies farther than half the spacing from every road and lane". Blocks are
the faces of the noded road + lane network; for each block the largest inscribed circle (lines inside the block,
such as dead-end roads, are taken out of the face first) and the building farthest from any line are reported. The
thresholds are `analysis.fire_lanes.LaneRules`; the lane analysis runs this check and reports it with the lanes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.crs import WGS84, transform_geometries
from geo.network import NetworkParams, build_network, run_starts

if TYPE_CHECKING:
    from analysis.fire_lanes import LaneRules

#: How a block is judged against the spacing rule (LaneRules.spacing_measure).
SPACING_MEASURES = ("inscribed_circle", "farthest_building")
#: Half-width of the slit a line inside a block cuts into it (metres): thin enough not to move any distance.
_SLIT_M = 0.01


@dataclass(frozen=True)
class SpacingViolation:
    """A block with a point farther than half the allowed spacing from every road and lane."""

    block: int  # position of the face among the network's faces (stable for the same input)
    area_m2: float
    inscribed_radius_m: float  # farthest any point of the block lies from every road and lane
    spacing_m: float  # 2 x the radius: the centre-line spacing it amounts to
    centre: tuple[float, float]  # (lon, lat) of the point farthest from every line
    buildings: int
    buildings_beyond: int  # buildings farther than half the allowed spacing from every road and lane
    farthest_building_fid: int | None
    farthest_building_m: float | None  # from the footprint to the nearest road or lane
    geometry: Any  # lon/lat Polygon of the block


def first_per_group(group: np.ndarray, *keys: np.ndarray) -> np.ndarray:
    """Positions of the first row per group after sorting by `keys` (primary first): a vectorised argmin."""
    order = np.lexsort((*reversed(keys), group))
    return order[run_starts(group[order])]


def block_spacing(
    lines: np.ndarray,
    grade_separated: np.ndarray,
    building_fids: np.ndarray,
    building_geoms: np.ndarray,
    rules: LaneRules,
    metric_crs: str,
) -> tuple[tuple[SpacingViolation, ...], int, int]:
    """Blocks of the network of `lines` (metres) wider than the spacing rule allows, widest first.

    Buildings are given by fid with their footprints in metres (None where missing). Returns the violations, how
    many blocks were checked and how many buildings lie in no block (outside the network's outer ring).
    """
    if len(lines) == 0:
        return (), 0, len(building_fids)
    net = build_network(lines, grade_separated, params=NetworkParams(snap_m=rules.connect_tolerance_m))
    # Blocks are planar: a bridge bounds the faces below it like any other line, so node everything.
    edges = shapely.get_parts(shapely.node(shapely.multilinestrings(net.edges)))
    faces = shapely.get_parts(shapely.polygonize(edges))
    half = rules.max_spacing_m / 2

    b_ok = np.flatnonzero(~shapely.is_missing(building_geoms))
    b_fids = building_fids[b_ok]
    b_geoms = building_geoms[b_ok]
    b_face = np.full(len(b_geoms), -1)
    if len(b_geoms) and len(faces):
        q, f = shapely.STRtree(faces).query(shapely.point_on_surface(b_geoms), predicate="intersects")
        first = first_per_group(q, f)
        b_face[q[first]] = f[first]
    outside = int(np.count_nonzero(b_face < 0))

    if rules.spacing_blocks_with_buildings_only:
        checked = np.unique(b_face[b_face >= 0])
    else:
        checked = np.arange(len(faces))
    if len(checked) == 0:
        return (), 0, outside

    # Lines inside a block (dead-end roads, lanes ending in it) serve it too: cut them out as thin slits.
    fc, e = shapely.STRtree(edges).query(faces[checked], predicate="contains")
    area = faces[checked].copy()
    if len(fc):
        order = np.argsort(fc, kind="stable")
        fc, e = fc[order], e[order]
        groups, compact = np.unique(fc, return_inverse=True)
        slits = shapely.buffer(shapely.multilinestrings(edges[e], indices=compact), _SLIT_M)
        area[groups] = shapely.difference(area[groups], slits)
    circles = shapely.maximum_inscribed_circle(area, tolerance=rules.inscribed_tolerance_m)
    radius = shapely.length(circles)

    # Distance of each building in a block to the nearest road or lane; per block the count beyond half the
    # spacing and the farthest one (ties to the smaller fid).
    b_dist = np.full(len(b_geoms), np.nan)
    in_face = np.flatnonzero(b_face >= 0)
    far_of = np.full(len(faces), -1)
    if len(in_face):
        _, b_dist[in_face] = shapely.STRtree(edges).query_nearest(
            b_geoms[in_face], return_distance=True, all_matches=False
        )
        far = in_face[first_per_group(b_face[in_face], -b_dist[in_face], b_fids[in_face])]
        far_of[b_face[far]] = far
    count = np.bincount(b_face[in_face], minlength=len(faces))
    beyond = np.bincount(b_face[in_face][b_dist[in_face] > half], minlength=len(faces))

    if rules.spacing_measure == "inscribed_circle":
        hit = np.flatnonzero(radius > half)
    else:
        hit = np.flatnonzero(beyond[checked] > 0)
    centres = transform_geometries(shapely.get_point(circles[hit], 0), metric_crs, WGS84)
    shapes = transform_geometries(faces[checked[hit]], metric_crs, WGS84)
    out = []
    for k, c, shape in zip(hit.tolist(), centres, shapes, strict=True):
        face = int(checked[k])
        far = far_of[face]
        out.append(
            SpacingViolation(
                block=face,
                area_m2=round(float(shapely.area(faces[face])), 1),
                inscribed_radius_m=round(float(radius[k]), 1),
                spacing_m=round(2 * float(radius[k]), 1),
                centre=(round(c.x, 6), round(c.y, 6)),
                buildings=int(count[face]),
                buildings_beyond=int(beyond[face]),
                farthest_building_fid=None if far < 0 else int(b_fids[far]),
                farthest_building_m=None if far < 0 else round(float(b_dist[far]), 1),
                geometry=shape,
            )
        )
    out.sort(key=lambda v: (-v.inscribed_radius_m, v.block))
    return tuple(out), len(checked), outside


def spacing_frame(violations: tuple[SpacingViolation, ...]) -> gpd.GeoDataFrame:
    """The blocks too wide for the spacing rule, as lon/lat polygons."""
    rows = [
        {
            "block": v.block,
            "area_m2": v.area_m2,
            "inscribed_radius_m": v.inscribed_radius_m,
            "spacing_m": v.spacing_m,
            "centre_lon": v.centre[0],
            "centre_lat": v.centre[1],
            "buildings": v.buildings,
            "buildings_beyond": v.buildings_beyond,
            "farthest_building_fid": v.farthest_building_fid,
            "farthest_building_m": v.farthest_building_m,
        }
        for v in violations
    ]
    return gpd.GeoDataFrame(pd.DataFrame(rows), geometry=[v.geometry for v in violations], crs=WGS84)
