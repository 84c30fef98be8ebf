"""At-grade intersections (农村公路平交路口) extracted from any road-line layer, with what a planner needs of each.

The geometry comes from `geo.network` (noding, snapping) and `geo.junctions` (consolidation). This module adds the
road-safety reading: which route classes meet (GB/T 917-2017 prefixes, domain.md §1.2), the major and minor
approaches, skew, whether the junction lies in a built-up settlement (穿镇), how far the nearest school, market
and village centre are, whether a building stands in a sight triangle (GB 14886-2016 §5.1.1.3), and whether a minor
approach climbs into the major road too steeply (坡改平, domain.md §1.2) where the roads carry survey grades.

Surveyed intersections already in the layer keep their id, name and treatment (signal, flashing light, belts): the
road network cannot tell those. A surveyed intersection the network does not find is kept and reported, never lost.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from shapely.geometry import Point

from analysis.sight import SightRules, obstructing, stopping_sight_m, triangles
from geo.crs import LOCAL_METRIC, WGS84, transform_geometries
from geo.junctions import find_junctions
from geo.network import NetworkParams, RoadNetwork, build_network
from layers import LAYERS
from layers.frames import frame_from_properties, properties_of
from layers.vocab import BuildingUse

#: Most to least important; a leg's class decides which approaches are major.
CLASS_RANK = ("G", "S", "X", "Y", "street", "C", "Z")
#: [K] OSM highway → administrative class, for extracts without route codes (the `_link` ramps take their road's).
OSM_CLASS = {
    "motorway": "G",
    "trunk": "G",
    "primary": "S",
    "secondary": "X",
    "tertiary": "Y",
    "unclassified": "C",
    "residential": "street",
    "living_street": "street",
    "road": "C",
    "service": "C",
}
#: Attributes a survey knows and the road lines do not; carried over from the matching surveyed intersection.
SURVEYED = ("name", "control", "signal", "flashing_light", "speed_belts")


@dataclass(frozen=True)
class ExtractRules:
    """Every parameter of the extraction, with where it comes from."""

    network: NetworkParams = field(default_factory=NetworkParams)
    sight: SightRules = field(default_factory=SightRules)
    #: [K] built-up area (穿镇): buildings within twice this of one another form one settlement ...
    settlement_buffer_m: float = 40.0
    #: [K] ... when there are at least this many of them (a farmstead is not a settlement).
    settlement_min_buildings: int = 10
    #: [K] domain.md §1.2 suggested 坡改平 rule: a minor approach steeper than G % (G configurable).
    steep_grade_pct: float = 5.0


@dataclass
class Extraction:
    """The intersections layer as extracted, and what a user should know about how it was made."""

    frame: gpd.GeoDataFrame
    report: dict
    parameters: dict
    repairs: list[str]  # what was mended in the road lines, in words


def road_attributes(roads: gpd.GeoDataFrame) -> pd.DataFrame:
    """Class, route key, speed, volume, grade and grade separation per road, whatever the source calls them."""
    out = pd.DataFrame(index=roads.index)
    code = roads["route_code"] if "route_code" in roads else pd.Series(None, index=roads.index, dtype=object)
    if "ref" in roads:
        code = code.fillna(roads["ref"])
    name = roads["name"] if "name" in roads else pd.Series(None, index=roads.index, dtype=object)
    out["key"] = code.fillna(name).fillna("")
    if "admin_class" in roads:
        cls = roads["admin_class"].astype(object)
    else:
        cls = pd.Series(None, index=roads.index, dtype=object)
    prefix = code.astype(str).str[0].where(code.notna())
    cls = cls.fillna(prefix.where(prefix.isin(list("GSXYCZ"))))
    if "highway" in roads:
        cls = cls.fillna(roads["highway"].astype(str).str.removesuffix("_link").map(OSM_CLASS))
    out["cls"] = cls.fillna("C")
    for column in ("speed_limit_kmh", "aadt", "grade_pct"):
        out[column] = pd.to_numeric(roads[column], errors="coerce") if column in roads else np.nan
    separated = roads["grade_separated"] if "grade_separated" in roads else pd.Series(False, index=roads.index)
    out["grade_separated"] = separated.fillna(False).astype(bool)
    return out


def extract(
    roads: gpd.GeoDataFrame,
    *,
    buildings: gpd.GeoDataFrame | None = None,
    villages: gpd.GeoDataFrame | None = None,
    surveyed: gpd.GeoDataFrame | None = None,
    rules: ExtractRules = ExtractRules(),
) -> Extraction:
    """The intersections of a road layer (lon/lat in, lon/lat out) as the `intersections` layer, with a report."""
    attrs, net = road_network(roads, rules)
    junctions = find_junctions(net, rules.network)
    records = _describe(junctions, net, attrs, _Context.of(buildings, villages), rules)
    return assemble(len(roads), net, junctions.raw_count, records, junctions.xy, surveyed, rules)


def road_network(roads: gpd.GeoDataFrame, rules: ExtractRules) -> tuple[pd.DataFrame, RoadNetwork]:
    """Each road's attributes, and the repaired network of the roads in metres (`geo.network.build_network`)."""
    attrs = road_attributes(roads)
    lines = transform_geometries(roads.geometry.to_numpy(), WGS84, LOCAL_METRIC)
    return attrs, build_network(lines, attrs["grade_separated"].to_numpy(), attrs["key"].to_numpy(), rules.network)


def assemble(
    road_count: int,
    net: RoadNetwork,
    junction_nodes: int,
    records: list[dict],
    xy: np.ndarray,
    surveyed: gpd.GeoDataFrame | None,
    rules: ExtractRules,
) -> Extraction:
    """The layer and report from the described intersections (`xy`: their centres in metres, in the same order),
    matched against the surveyed ones; the last step of `extract`, shared with the partitioned extraction."""
    centres = list(transform_geometries(shapely.points(xy), LOCAL_METRIC, WGS84)) if records else []
    parameters = {"rules": asdict(rules)}
    frame, merge = _merge(records, centres, surveyed, rules, json.dumps(parameters, ensure_ascii=False))
    report = {
        "roads": road_count,
        "repairs": net.repairs.summary(),
        "junction_nodes": junction_nodes,
        "intersections": len(records),
        **merge,
        "sight_obstructed": int(sum(r["sight_obstructed"] for r in records)),
        "slope_fix_needed": int(sum(r["slope_fix_needed"] for r in records)),
    }
    return Extraction(frame, report, parameters, net.repairs.messages())


class _Context:
    """What lies around the junctions: built-up areas, schools, markets, village centres and building footprints.

    `footprints` (metric) and `building_ids` are the buildings a sight triangle or a built-up area may involve;
    `by_use` the school and market footprints and `village_centres` the centres the distances are measured to.
    """

    def __init__(self, footprints: np.ndarray, building_ids: np.ndarray, by_use: dict, village_centres) -> None:
        self.footprints = footprints
        self.building_ids = building_ids
        self.by_use: dict[str, shapely.STRtree] = {kind: shapely.STRtree(geoms) for kind, geoms in by_use.items()}
        self.tree = shapely.STRtree(footprints)
        self.villages = shapely.STRtree(np.asarray(village_centres, dtype=object))

    @classmethod
    def of(cls, buildings, villages) -> _Context:
        """The context of the whole layers, as one process sees them."""
        footprints, ids, by_use = building_footprints(buildings)
        centres = _village_centres(villages, buildings, footprints) if villages is not None and len(villages) else []
        return cls(footprints, ids, by_use, centres)

    @staticmethod
    def nearest_m(tree: shapely.STRtree | None, points: np.ndarray) -> list[float | None]:
        """Distance from each point to the nearest geometry in the tree, to 0.1 m (None when the tree is empty)."""
        if tree is None or len(tree.geometries) == 0:
            return [None] * len(points)
        (near, _), dist = tree.query_nearest(points, return_distance=True, all_matches=False)
        out: list[float | None] = [None] * len(points)
        for k, d in zip(near, dist, strict=True):
            out[int(k)] = round(float(d), 1)
        return out


def building_footprints(buildings) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Footprints in metres, their fids, and the school and market footprints (none without buildings)."""
    if buildings is None or not len(buildings):
        return np.empty(0, dtype=object), np.empty(0, dtype=np.int64), {}
    footprints = transform_geometries(buildings.geometry.to_numpy(), WGS84, LOCAL_METRIC)
    use = buildings["use"].astype(str).to_numpy() if "use" in buildings else np.full(len(buildings), "")
    by_use = {kind.value: footprints[use == kind.value] for kind in (BuildingUse.SCHOOL, BuildingUse.MARKET)}
    return footprints, buildings.index.to_numpy(), by_use


def _settled(footprints: np.ndarray, centres: np.ndarray, rules: ExtractRules) -> np.ndarray:
    """Which centres lie in a built-up area: within `settlement_buffer_m` of a building whose group (buildings
    linked when less than twice that apart) has at least `settlement_min_buildings` members.

    The same as dissolving every footprint's buffer and keeping the big patches, without the dissolve, whose cost
    grows much faster than the number of buildings.
    """
    settled = np.zeros(len(centres), dtype=bool)
    if len(footprints) == 0:
        return settled
    tree = shapely.STRtree(footprints)
    a, b = tree.query(footprints, predicate="dwithin", distance=2 * rules.settlement_buffer_m)
    links = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(len(footprints),) * 2)
    _, group = connected_components(links, directed=False)
    big = np.bincount(group)[group] >= rules.settlement_min_buildings
    centre, building = tree.query(centres, predicate="dwithin", distance=rules.settlement_buffer_m)
    settled[centre[big[building]]] = True
    return settled


def _village_centres(villages: gpd.GeoDataFrame, buildings, footprints: np.ndarray) -> list[Point]:
    """Each village's centre: the middle of its buildings when they are known, else a point inside its boundary."""
    polygons = transform_geometries(villages.geometry.to_numpy(), WGS84, LOCAL_METRIC)
    codes = buildings["village_code"].to_numpy() if buildings is not None and "village_code" in buildings else None
    centres = []
    for code, polygon in zip(villages.get("code", pd.Series(None, index=villages.index)), polygons, strict=True):
        mine = footprints[codes == code] if codes is not None and code is not None else []
        if len(mine):
            centres.append(shapely.centroid(shapely.MultiPoint(shapely.centroid(mine))))
        else:
            centres.append(shapely.point_on_surface(polygon))
    return centres


def _approaches(junctions, net, attrs: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """One row per approach with its road's attributes and whether it is major; and its edge running outward."""
    table = junctions.approach_table
    a = pd.DataFrame(
        {
            "junction": table["junction"].to_numpy(),
            "bearing": table["bearing_deg"].to_numpy(dtype=float),
        }
    )
    road = attrs.iloc[table["source"].to_numpy()]
    for column in ("key", "cls", "speed_limit_kmh", "aadt", "grade_pct"):
        a[column] = road[column].to_numpy()
    a["road_id"] = road.index.to_numpy()
    a["rank"] = a["cls"].map({c: k for k, c in enumerate(CLASS_RANK)}).fillna(len(CLASS_RANK)).to_numpy()
    a["major"] = _major_flags(a)
    edges = net.edges[table["edge"].to_numpy()]
    outward = np.where(table["reversed"].to_numpy(dtype=bool), shapely.reverse(edges), edges)
    return a, outward


def _major_flags(a: pd.DataFrame) -> np.ndarray:
    """Major approaches: those of the junction's top class; where more than two share it, the straightest pair."""
    junction = a["junction"].to_numpy()
    top = a["rank"].to_numpy() == a.groupby("junction")["rank"].transform("min").to_numpy()
    crowded = np.flatnonzero(np.bincount(junction[top]) > 2)
    starts = np.searchsorted(junction, crowded)  # rows are grouped by junction
    ends = np.searchsorted(junction, crowded, side="right")
    bearing = a["bearing"].to_numpy()
    for lo, hi in zip(starts, ends, strict=True):
        rows = lo + np.flatnonzero(top[lo:hi])
        pairs = [(i, j) for i in range(len(rows)) for j in range(i + 1, len(rows))]
        i, j = min(pairs, key=lambda p: abs(180 - _angle(bearing[rows[p[0]]], bearing[rows[p[1]]])))
        top[rows] = False
        top[rows[[i, j]]] = True
    return top


def _angle(a: float, b: float) -> float:
    d = abs(a - b) % 360
    return min(d, 360 - d)


def _skews(a: pd.DataFrame, axis: pd.Series) -> pd.Series:
    """How far each junction's worst minor approach is from meeting the major road square (0 = square)."""
    minor = a[~a["major"]]
    between = np.abs(minor["bearing"].to_numpy() - axis.to_numpy()[minor["junction"].to_numpy()]) % 180
    acute = np.minimum(between, 180 - between)
    return pd.Series(90 - acute, index=minor.index).groupby(minor["junction"]).max().round(1)


def _obstructions(a, outward, speed: pd.Series, centres, ctx: _Context, rules: ExtractRules) -> dict[int, list[int]]:
    """Junction → ids of the buildings standing in a sight triangle (minor approach × major leg)."""
    if len(ctx.footprints) == 0:
        return {}
    pairs = (
        a[~a["major"]].reset_index().merge(a[a["major"]].reset_index(), on="junction", suffixes=("_minor", "_major"))
    )
    if pairs.empty:
        return {}
    junction = pairs["junction"].to_numpy()
    sight = np.array([stopping_sight_m(v, rules.sight) for v in speed.to_numpy(dtype=float)])[junction]
    minor_line, major_line = outward[pairs["index_minor"].to_numpy()], outward[pairs["index_major"].to_numpy()]
    tris = triangles(centres[junction], minor_line, major_line, sight, rules.sight)
    hit_tri, hit_building = obstructing(tris, ctx.tree, rules.sight)
    out: dict[int, set[int]] = {}
    for t, b in zip(hit_tri, hit_building, strict=True):
        out.setdefault(int(junction[t]), set()).add(int(ctx.building_ids[b]))
    return {k: sorted(v) for k, v in out.items()}


def _describe(junctions, net, attrs: pd.DataFrame, ctx: _Context, rules: ExtractRules) -> list[dict]:
    """Every intersection's attributes from one table of approaches: grouped and vectorised, one dict each."""
    if len(junctions) == 0:
        return []
    a, outward = _approaches(junctions, net, attrs)
    by = np.arange(len(junctions))
    major, minor = a[a["major"]], a[~a["major"]]
    first_major = major.groupby("junction").head(1).set_index("junction").reindex(by)
    worst_minor = minor.sort_values(["junction", "rank"], kind="stable").groupby("junction").tail(1)
    worst_minor = worst_minor.set_index("junction").reindex(by)

    def most(rows: pd.DataFrame, column: str) -> pd.Series:
        return rows.groupby("junction")[column].max().reindex(by)

    speed, major_aadt, minor_aadt, grade = (
        most(major, "speed_limit_kmh"), most(major, "aadt"), most(minor, "aadt"), most(minor, "grade_pct")
    )  # fmt: skip
    centres = shapely.points(junctions.xy)
    obstacles = _obstructions(a, outward, speed, centres, ctx, rules)
    skew = _skews(a, first_major["bearing"]).reindex(by)
    distances = {
        "school_m": ctx.nearest_m(ctx.by_use.get("school"), centres),
        "market_m": ctx.nearest_m(ctx.by_use.get("market"), centres),
        "village_centre_m": ctx.nearest_m(ctx.villages, centres),
    }
    settled = _settled(ctx.footprints, centres, rules)
    # Rows are grouped by junction (the approach table is ordered so): cut the columns at each junction's start.
    cuts = np.flatnonzero(np.diff(a["junction"].to_numpy())) + 1
    bearings = np.split(a["bearing"].to_numpy().round(1), cuts)
    road_ids = np.split(a["road_id"].to_numpy(), cuts)
    keys = np.split(a["key"].to_numpy(dtype=object), cuts)
    is_major = np.split(a["major"].to_numpy(), cuts)
    columns = {
        "major_class": first_major["cls"].tolist(),
        "minor_class": worst_minor["cls"].where(worst_minor["cls"].notna(), first_major["cls"]).tolist(),
        "major_speed_kmh": _ints(speed),
        "major_aadt": _ints(major_aadt),
        "minor_aadt": _ints(minor_aadt),
        "skew_deg": _floats(skew),
        "minor_grade_pct": _floats(grade),
        **distances,
    }
    records = []
    for i in by:
        major_keys, minor_keys = _keys(keys[i][is_major[i]]), _keys(keys[i][~is_major[i]])
        steep = columns["minor_grade_pct"][i]
        records.append(
            {
                "legs": int(junctions.legs[i]),
                **{name: values[i] for name, values in columns.items()},
                "major_route": _joined(major_keys),
                "minor_route": _joined(minor_keys),
                "bearings": bearings[i].tolist(),
                "in_settlement": bool(settled[i]),
                "sight_obstructed": i in obstacles,
                "obstacle_ids": obstacles.get(i, []),
                "slope_fix_needed": steep is not None and steep > rules.steep_grade_pct,
                "road_ids": sorted({int(x) for x in road_ids[i]}),
                "name": _name(major_keys, minor_keys),
            }
        )
    return records


def _floats(values: pd.Series) -> list[float | None]:
    return [None if pd.isna(v) else float(v) for v in values.to_numpy(dtype=float)]


def _ints(values: pd.Series) -> list[int | None]:
    return [None if v is None else int(round(v)) for v in _floats(values)]


def _keys(keys) -> list[str]:
    return [k for k in dict.fromkeys(keys) if isinstance(k, str) and k]


def _joined(keys: list[str]) -> str | None:
    return "、".join(keys)[:60] if keys else None


def _name(major, minor) -> str:
    keys = list(
        dict.fromkeys([*(major if isinstance(major, list) else []), *(minor if isinstance(minor, list) else [])])
    )
    if not keys:
        return "未命名路口"
    return f"{keys[0]}路口" if len(keys) == 1 else f"{keys[0]}与{keys[1]}交叉口"


def _merge(records, centres, surveyed, rules: ExtractRules, parameters: str):
    """Extracted intersections keep the id and treatment of the surveyed one each matches; unmatched ones are kept."""
    layer = LAYERS["intersections"]
    fids: list[int | None] = [None] * len(records)
    taken: set[int] = set()
    kept_rows, kept_geoms, kept_fids = [], [], []
    if surveyed is not None and len(surveyed) and records:
        mine = transform_geometries(np.asarray(centres, dtype=object), WGS84, LOCAL_METRIC)
        theirs = transform_geometries(surveyed.geometry.to_numpy(), WGS84, LOCAL_METRIC)
        tree = shapely.STRtree(mine)
        pairs, dist = tree.query_nearest(theirs, max_distance=rules.network.consolidate_m, return_distance=True)
        order = np.lexsort((pairs[1], dist))  # closest pairs claim first; one survey record per intersection
        for s, r in zip(pairs[0][order], pairs[1][order], strict=True):
            fid = int(surveyed.index[s])
            if fids[r] is None and fid not in taken:
                fids[r] = fid
                taken.add(fid)
                survey = properties_of(layer, surveyed.iloc[s].to_dict())
                for column in SURVEYED:
                    records[r][column] = survey[column]
                records[r]["sight_obstructed"] |= bool(surveyed.iloc[s]["sight_obstructed"])
                records[r]["slope_fix_needed"] |= bool(surveyed.iloc[s]["slope_fix_needed"])
    if surveyed is not None:
        for k, fid in enumerate(surveyed.index):
            if int(fid) not in taken:
                kept_fids.append(int(fid))
                kept_rows.append(surveyed.iloc[k])
                kept_geoms.append(surveyed.geometry.iloc[k])
    next_fid = max([*taken, *kept_fids, 0]) + 1
    for r in range(len(records)):
        if fids[r] is None:
            fids[r] = next_fid
            next_fid += 1
    props = []
    for rec in records:
        rec = dict(rec)
        rec.pop("obstacle_ids")
        rec["legs"] = min(rec["legs"], 8)
        props.append(layer.properties(**rec, parameters=parameters))
    for row in kept_rows:
        props.append(layer.properties(**properties_of(layer, row.to_dict())))
    frame = frame_from_properties(layer, props, [*centres, *kept_geoms], fids=[*fids, *kept_fids])
    frame = frame.sort_index()
    report = {
        "surveyed_matched": len(taken),
        "new": len(records) - len(taken),
        "surveyed_not_found": kept_fids,
        "obstacles": {int(f): r["obstacle_ids"] for f, r in zip(fids, records, strict=True) if r["obstacle_ids"]},
    }
    return frame, report
