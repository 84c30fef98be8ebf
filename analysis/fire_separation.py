"""Fire separation between buildings (GB 50016 Table 5.2.2) and the contiguous clusters (连片) it leaves.

The township plan orders old settlements and contiguous low-grade villages rectified, one plan per area (一区一策).
This module finds what such a plan starts from (`analysis.settlement_plans` ranks the areas and drafts the plans):

- **Required separation** of every pair of buildings from their fire-resistance grades (domain.md §5.2, GB 50016-2014
  Table 5.2.2): the single/multi-storey block 6 / 7 / 9 / 8 / 10 / 12 m, and the high-rise row 13 / 9 / 11 / 14 m for
  a building that its storeys make high-rise (residential > 27 m, other > 24 m, at a configurable storey height).
  An unknown grade counts as 四级 by default (note 7; domain.md treats unknown or brick-timber houses as 三/四级).
  A high-rise building recorded below 二级 takes the larger of its high-rise and its grade value, so a bad record
  never shortens the distance asked for.
- **Pairs too close**: distance (shortest distance between the footprints' outer walls, Appendix B, in EPSG:4549
  metres) *below* the required separation; exactly the required distance complies. Candidates come from an STRtree
  `dwithin` query at each building's largest possible requirement, then exact distances are computed in one
  vectorised call per chunk: the work grows as n log n, never with all pairs.
- **Clusters (连片)**: connected components of the buildings linked by too-close pairs (domain.md §5.3: "count houses
  linked below threshold"), with their households, residents, area, grades, extent and village.
- **Old buildings**: old means built on or before the cut-off (domain.md §6, default 2000-12-31).
- **Counts per area** (an old settlement, a village): buildings, old ones, pairs, clusters, households, residents.

Every threshold lives in `SeparationRules` with its source; [K] marks judgement to be replaced locally.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import date
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from analysis.priority import parameters, rule
from geo.crs import LOCAL_METRIC, WGS84, transform_geometries

__all__ = [
    "DEFAULT_RULES",
    "GRADE_CLASSES",
    "Separation",
    "SeparationRules",
    "find_clusters",
    "grade_classes",
    "high_rise",
    "is_old",
    "metric_geometries",
    "parameters",
    "required_separation",
    "required_separations",
    "separate",
    "too_close_pairs",
]

#: Rows and columns of the separation matrix: the grade classes of Table 5.2.2, high-rise last.
GRADE_CLASSES: tuple[str, ...] = ("1-2", "3", "4", "high")
GRADE_CLASS_LABELS = {"1-2": "一、二级", "3": "三级", "4": "四级", "high": "高层民用建筑"}
_HIGH = 3
#: Stored grades (layers.vocab.FireGrade codes) and their class in the matrix; anything else is "unknown".
_GRADE_CLASS_OF = {"1": 0, "2": 0, "3": 1, "4": 2}
#: Stored grades counted in the "四级 or unknown" share of the score.
LOW_GRADES = ("4", "unknown")
#: Buildings queried against the index per chunk: bounds the memory of the candidate pairs, not a domain value.
CHUNK = 100_000

_T522 = "GB 50016-2014 表5.2.2 [C] (domain.md §5.2)"


@dataclass(frozen=True)
class SeparationRules:
    """Table 5.2.2, the old-building cut-off, the score weights and the plan's triggers, each with its source."""

    # --- GB 50016-2014 Table 5.2.2: 单、多层 (裙房及其他民用建筑) ---
    sep_12_12_m: float = rule(6.0, "一、二级–一、二级(m)", _T522)
    sep_12_3_m: float = rule(7.0, "一、二级–三级(m)", _T522)
    sep_12_4_m: float = rule(9.0, "一、二级–四级(m)", _T522)
    sep_3_3_m: float = rule(8.0, "三级–三级(m)", _T522)
    sep_3_4_m: float = rule(10.0, "三级–四级(m)", _T522)
    sep_4_4_m: float = rule(12.0, "四级–四级(m)", _T522)
    # --- Table 5.2.2: 高层民用建筑 row ---
    sep_high_high_m: float = rule(13.0, "高层–高层(m)", _T522 + ", 高层 row (233.com, zjses.org)")
    sep_high_12_m: float = rule(9.0, "高层–一、二级(m)", _T522 + ", 高层 row")
    sep_high_3_m: float = rule(11.0, "高层–三级(m)", _T522 + ", 高层 row")
    sep_high_4_m: float = rule(14.0, "高层–四级(m)", _T522 + ", 高层 row")
    unknown_grade: str = rule(
        "4",
        "耐火等级未知按(级)",
        "表5.2.2 注7 (低于四级的既有建筑按四级) and domain.md §5.2: unknown, brick-timber or earth-timber houses as "
        '三级/四级; "3" or "4"',
    )
    # --- which buildings are high-rise ---
    storey_height_m: float = rule(3.0, "层高(m)", "[K] typical storey height; height = storeys × this")
    high_rise_residential_m: float = rule(
        27.0, "高层住宅高度>(m)", "GB 50016-2014 §5.1.1 (住宅 建筑高度大于27 m为高层) [K: not retrieved in domain.md]"
    )
    high_rise_other_m: float = rule(
        24.0,
        "高层公共建筑高度>(m)",
        "GB 50016-2014 §5.1.1 (其他民用建筑 大于24 m为高层) [K: not retrieved in domain.md]",
    )
    tolerance_m: float = rule(
        0.001,
        "距离容差(m)",
        "working tolerance, not a source: coordinates pass through lon/lat, so a pair must be short by more than "
        "1 mm (5.99 m is too close for 6 m, 6.00 m complies)",
    )
    # --- old buildings and settlements ---
    old_cutoff: date = rule(
        date(2000, 12, 31),
        "老旧建筑建成截止日期",
        "domain.md §6: 国办发〔2020〕23号 重点为2000年底前建成; a building counts when the end of its build year is "
        "on or before this date",
    )
    old_extension_until: date | None = rule(
        None,
        "延伸截止日期",
        "domain.md §6: 大姚县 may extend to 2005 (≤ 15 % of the annual task), 驻马店 supports 2001–2005; None = no "
        "extension",
    )
    settlement_old_share: float = rule(
        0.5,
        "无建成年份的片区按老旧建筑占比判定",
        "[K] a settlement without build_year is old at this share of old buildings",
    )
    # --- clusters and the map ---
    hull_buffer_m: float = rule(2.0, "连片范围外扩(m)", "[K] drawing only: the members' hull buffered by this")
    lane_through_length_m: float = rule(
        150.0,
        "连片长度需贯通消防车道(m)",
        "GB 50016-2014 §7.1.1 [C]: a building with a street frontage > 150 m needs a fire lane through it; applied to "
        "a 连片 cluster's long side [K]",
    )
    contiguous_households: int = rule(
        50,
        "大型连片户数",
        "domain.md §5.3 [S]: 河北 targets ≥ 50-household contiguous timber villages for firebreak zoning",
    )
    # --- fire lanes serving a settlement (optional input) ---
    lane_reach_m: float = rule(
        15.0,
        "消防车道服务距离(m)",
        "[K] a lane this close to a settlement serves it (GB 50016 §7.1.8 lane edge ≥ 5 m, §7.2.2 5–10 m from wall)",
    )
    lane_min_width_m: float = rule(
        4.0, "消防车道最小净宽、净高(m)", "GB 50016-2014 §7.1.8 [C]; GB 50039-2010 宜≥4 m [S]"
    )
    # --- the score: points are weight × share (or × size over saturation, capped at 1) ---
    weight_old: float = rule(25.0, "老旧建筑占比(满分)", "[K] judgement")
    weight_clustered: float = rule(25.0, "连片建筑占比(满分)", "[K] judgement")
    weight_largest_cluster: float = rule(20.0, "最大连片规模(满分)", "[K] judgement; full at contiguous_households")
    weight_households: float = rule(15.0, "涉及户数(满分)", "[K] judgement; full at households_saturation")
    weight_low_grade: float = rule(15.0, "四级/未知耐火等级占比(满分)", "[K] judgement")
    households_saturation: int = rule(100, "户数满分(户)", "[K] judgement")
    # --- the plan ---
    upgrade_low_grade_share: float = rule(
        0.5,
        "需提高耐火等级的四级/未知占比",
        "[K] from GB 50039-2010 (domain.md §5.3): low-resistance joined clusters get upgraded fire resistance and "
        "new water sources",
    )
    deadline_months: int = rule(12, "整改期限(月)", "[K] judgement; the ledger sets the binding deadline")

    def __post_init__(self) -> None:
        separations = [getattr(self, f.name) for f in fields(self) if f.name.startswith("sep_")]
        if not all(math.isfinite(v) and v > 0 for v in separations):
            raise ValueError(f"every separation must be a positive number of metres, got {separations}")
        if self.unknown_grade not in ("3", "4"):
            raise ValueError(f'unknown_grade must be "3" or "4" (domain.md §5.2), got {self.unknown_grade!r}')
        for name in ("storey_height_m", "high_rise_residential_m", "high_rise_other_m", "lane_min_width_m"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("tolerance_m", "hull_buffer_m", "lane_reach_m", "lane_through_length_m"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) >= 0):
                raise ValueError(f"{name} must be ≥ 0, got {getattr(self, name)}")
        if self.old_extension_until is not None and self.old_extension_until < self.old_cutoff:
            raise ValueError(
                f"old_extension_until ({self.old_extension_until}) must not be before old_cutoff ({self.old_cutoff})"
            )
        for name in ("settlement_old_share", "upgrade_low_grade_share"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be a share in [0, 1], got {getattr(self, name)}")
        weights = [getattr(self, f.name) for f in fields(self) if f.name.startswith("weight_")]
        if not all(math.isfinite(w) and w >= 0 for w in weights):
            raise ValueError(f"score weights must be ≥ 0, got {weights}")
        if self.contiguous_households < 1 or self.households_saturation < 1 or self.deadline_months < 0:
            raise ValueError("contiguous_households and households_saturation must be ≥ 1, deadline_months ≥ 0")

    def matrix(self) -> np.ndarray:
        """Table 5.2.2 as a symmetric 4 × 4 array over GRADE_CLASSES (一二级, 三级, 四级, 高层), in metres."""
        return np.array(
            [
                [self.sep_12_12_m, self.sep_12_3_m, self.sep_12_4_m, self.sep_high_12_m],
                [self.sep_12_3_m, self.sep_3_3_m, self.sep_3_4_m, self.sep_high_3_m],
                [self.sep_12_4_m, self.sep_3_4_m, self.sep_4_4_m, self.sep_high_4_m],
                [self.sep_high_12_m, self.sep_high_3_m, self.sep_high_4_m, self.sep_high_high_m],
            ]
        )

    def old_until(self) -> date:
        """The last completion date that makes a building old: the extension when one is set, else the cut-off."""
        return self.old_extension_until or self.old_cutoff


DEFAULT_RULES = SeparationRules()


# ---------------------------------------------------------------------------------------------------------------
# Table 5.2.2 lookups


def grade_classes(fire_grade: Any, rules: SeparationRules = DEFAULT_RULES) -> np.ndarray:
    """Row of Table 5.2.2 per stored grade: 0 一、二级, 1 三级, 2 四级; unknown or missing as `rules.unknown_grade`."""
    grades = _codes(np.asarray(fire_grade, dtype=object), "unknown")
    unknown = _GRADE_CLASS_OF[rules.unknown_grade]
    return pd.Series(grades).map(_GRADE_CLASS_OF).fillna(unknown).to_numpy(np.int8)


def _codes(values: np.ndarray, missing: str) -> np.ndarray:
    """Stored codes as plain strings (enum members by their value), `missing` for None, NaN and NA."""
    series = pd.Series(values, dtype=object)
    absent = series.isna().to_numpy()
    out = series.astype(str).to_numpy(object)
    out[absent] = missing
    return out


def high_rise(storeys: Any, use: Any, rules: SeparationRules = DEFAULT_RULES) -> np.ndarray:
    """Whether each building is high-rise: storeys × storey height above 27 m (residential) or 24 m (other uses)."""
    n = len(np.asarray(storeys, dtype=object))
    height = pd.Series(np.asarray(storeys, dtype=object)).astype("Float64").fillna(1.0).to_numpy(float)
    height = height * rules.storey_height_m
    residential = pd.Series(np.asarray(use, dtype=object) if use is not None else ["residential"] * n).astype(object)
    limit = np.where(residential.to_numpy() == "residential", rules.high_rise_residential_m, rules.high_rise_other_m)
    return height > limit


def required_separations(
    class_a: np.ndarray,
    class_b: np.ndarray,
    high_a: np.ndarray,
    high_b: np.ndarray,
    rules: SeparationRules = DEFAULT_RULES,
) -> np.ndarray:
    """Required separation (m) of each pair from grade classes (grade_classes) and high-rise flags, vectorised.

    The larger of the grade-only value and the value with high-rise buildings on the 高层 row: for a proper
    high-rise (一、二级) that is the 高层 row itself, and a high-rise recorded as 三/四级 keeps its grade's value.
    """
    m = rules.matrix()
    class_a, class_b = np.asarray(class_a, dtype=np.intp), np.asarray(class_b, dtype=np.intp)
    row_a = np.where(high_a, _HIGH, class_a)
    row_b = np.where(high_b, _HIGH, class_b)
    return np.maximum(m[class_a, class_b], m[row_a, row_b])


def required_separation(
    grade_a: str | None,
    grade_b: str | None,
    *,
    storeys_a: int = 1,
    storeys_b: int = 1,
    use_a: str = "residential",
    use_b: str = "residential",
    rules: SeparationRules = DEFAULT_RULES,
) -> float:
    """Required separation (m) between two buildings given their stored grades ("1"…"4", "unknown"), storeys, uses."""
    classes = grade_classes([grade_a, grade_b], rules)
    high = high_rise([storeys_a, storeys_b], [use_a, use_b], rules)
    return float(required_separations(classes[:1], classes[1:], high[:1], high[1:], rules)[0])


def is_old(build_year: Any, rules: SeparationRules = DEFAULT_RULES) -> np.ndarray:
    """Whether each building is old: completed (the end of its build year) on or before the cut-off; NA is False.

    Only the year is recorded, so a building of year Y counts as completed on 31 December of Y: with a cut-off of
    2000-12-31 the buildings of 2000 are old, with 2000-06-30 they are not.
    """
    until = rules.old_until()
    last_year = until.year if (until.month, until.day) == (12, 31) else until.year - 1
    years = pd.Series(np.asarray(build_year, dtype=object)).astype("Float64")
    return (years <= last_year).fillna(False).to_numpy(bool)


# ---------------------------------------------------------------------------------------------------------------
# Buildings prepared once: metric footprints and the arrays every step uses


@dataclass
class _Buildings:
    fids: np.ndarray
    geoms: np.ndarray  # metric (EPSG:4549) footprints
    crs: str  # the input frame's CRS, for output geometries
    grade: np.ndarray  # stored grade codes, "unknown" for missing
    klass: np.ndarray
    high: np.ndarray
    old: np.ndarray
    dated: np.ndarray
    residential: np.ndarray
    residents: np.ndarray
    village: np.ndarray  # village code or "" when missing
    _tree: shapely.STRtree | None = None

    def tree(self) -> shapely.STRtree:
        """The footprints' STRtree, built on first use (missing and empty footprints are left out)."""
        if self._tree is None:
            self._tree = shapely.STRtree(self.geoms)
        return self._tree


def _prepare(buildings: pd.DataFrame, rules: SeparationRules) -> _Buildings:
    n = len(buildings)

    def column(name: str, default: Any) -> np.ndarray:
        if name in buildings:
            return buildings[name].astype(object).to_numpy()
        return np.full(n, default, dtype=object)

    grade = _codes(column("fire_grade", "unknown"), "unknown")
    storeys, use = column("storeys", 1), column("use", "residential")
    years = column("build_year", None)
    crs = _crs_of(buildings)
    return _Buildings(
        fids=buildings.index.to_numpy(),
        geoms=_metric(buildings, crs),
        crs=crs,
        grade=grade,
        klass=grade_classes(grade, rules),
        high=high_rise(storeys, use, rules),
        old=is_old(years, rules),
        dated=pd.Series(years).notna().to_numpy(bool),
        residential=use == "residential",
        residents=pd.Series(column("residents", 0)).astype("Float64").fillna(0).to_numpy(float),
        village=_codes(column("village_code", None), ""),
    )


def _crs_of(frame: pd.DataFrame) -> str:
    crs = getattr(frame, "crs", None)
    if crs is None:
        return WGS84  # layers are stored and served in lon/lat
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.to_wkt()


def _metric(frame: pd.DataFrame, crs: str) -> np.ndarray:
    geoms = np.asarray(frame.geometry.to_numpy(), dtype=object)
    return transform_geometries(geoms, crs, LOCAL_METRIC) if crs != LOCAL_METRIC and len(geoms) else geoms


def _to_crs(geoms: np.ndarray, crs: str) -> np.ndarray:
    return transform_geometries(geoms, LOCAL_METRIC, crs) if crs != LOCAL_METRIC and len(geoms) else geoms


# ---------------------------------------------------------------------------------------------------------------
# Pairs too close


@dataclass
class _Pairs:
    i: np.ndarray  # positions, i < j
    j: np.ndarray
    distance: np.ndarray
    required: np.ndarray


def _reach(b: _Buildings, rules: SeparationRules) -> np.ndarray:
    """Each building's largest requirement against any kind of building present: its index search radius."""
    kinds = np.unique(np.stack([b.klass, b.high.astype(np.int8)], axis=1), axis=0) if len(b.klass) else []
    reach = np.zeros(len(b.klass))
    for klass, high in kinds:
        partner = required_separations(b.klass, np.full_like(b.klass, klass), b.high, np.full(len(b.high), high), rules)
        reach = np.maximum(reach, partner)
    return reach


def _too_close(b: _Buildings, rules: SeparationRules) -> _Pairs:
    """Pairs (i < j) closer than required, through an STRtree `dwithin` query and exact distances, chunk by chunk."""
    n = len(b.geoms)
    tree = b.tree()
    reach = _reach(b, rules)
    parts: list[tuple[np.ndarray, ...]] = []
    for start in range(0, n, CHUNK):
        stop = min(start + CHUNK, n)
        q, t = tree.query(b.geoms[start:stop], predicate="dwithin", distance=reach[start:stop])
        q = q + start
        keep = q < t  # each unordered pair once (the query finds it from both ends)
        i, j = q[keep], t[keep]
        distance = shapely.distance(b.geoms[i], b.geoms[j])
        required = required_separations(b.klass[i], b.klass[j], b.high[i], b.high[j], rules)
        close = distance < required - rules.tolerance_m
        parts.append((i[close], j[close], distance[close], required[close]))
    if not parts:
        empty = np.zeros(0, dtype=np.intp)
        return _Pairs(empty, empty, np.zeros(0), np.zeros(0))
    i, j, distance, required = (np.concatenate(p) for p in zip(*parts, strict=True))
    order = np.lexsort((j, i))
    return _Pairs(i[order].astype(np.intp), j[order].astype(np.intp), distance[order], required[order])


def _pairs_frame(b: _Buildings, p: _Pairs, cluster: np.ndarray | None) -> pd.DataFrame:
    swap = b.fids[p.i] > b.fids[p.j]  # the smaller fid first
    a, c = np.where(swap, p.j, p.i), np.where(swap, p.i, p.j)
    classes = np.asarray(GRADE_CLASSES, dtype=object)
    frame = pd.DataFrame(
        {
            "fid_a": b.fids[a],
            "fid_b": b.fids[c],
            "distance_m": p.distance,
            "required_m": p.required,
            "shortfall_m": p.required - p.distance,
            "grade_a": b.grade[a],
            "grade_b": b.grade[c],
            "class_a": classes[np.where(b.high[a], _HIGH, b.klass[a])],
            "class_b": classes[np.where(b.high[c], _HIGH, b.klass[c])],
        }
    )
    if cluster is not None:
        frame["cluster_id"] = cluster[a]
    return frame.sort_values(["fid_a", "fid_b"], kind="stable").reset_index(drop=True)


def too_close_pairs(buildings: pd.DataFrame, rules: SeparationRules = DEFAULT_RULES) -> pd.DataFrame:
    """Every pair of buildings closer than Table 5.2.2 requires, one row per pair (fid_a < fid_b), sorted by fids.

    `buildings` is the buildings layer (fid-indexed; lon/lat as stored, or any CRS it declares). Columns: the two
    fids, the distance between the footprints and the required separation (m), the shortfall, the stored grades and
    the Table 5.2.2 class used ("1-2", "3", "4", "high"). Missing grades count as `rules.unknown_grade`.
    """
    b = _prepare(buildings, rules)
    return _pairs_frame(b, _too_close(b, rules), None)


# ---------------------------------------------------------------------------------------------------------------
# Clusters (连片)


def _labels(n: int, p: _Pairs, fids: np.ndarray) -> np.ndarray:
    """Cluster id per building position (0 = in no cluster), ids 1.. by size descending, then smallest fid."""
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    graph = coo_matrix((np.ones(len(p.i), dtype=np.int8), (p.i, p.j)), shape=(n, n)).tocsr()
    _, component = connected_components(graph, directed=False)
    size = np.bincount(component)
    clustered = size[component] >= 2
    out = np.zeros(n, dtype=np.int64)
    if not clustered.any():
        return out
    comps = component[clustered]
    fid_rank = pd.Series(fids).rank(method="first").to_numpy()  # fids in order, whatever their type
    smallest = pd.Series(fid_rank[clustered]).groupby(comps).min()
    order = np.lexsort((smallest.to_numpy(), -size[smallest.index.to_numpy()]))
    new_id = np.zeros(len(size), dtype=np.int64)
    new_id[smallest.index.to_numpy()[order]] = np.arange(1, len(order) + 1)
    out[clustered] = new_id[comps]
    return out


def _cluster_table(b: _Buildings, p: _Pairs, cluster: np.ndarray, rules: SeparationRules) -> gpd.GeoDataFrame:
    k = int(cluster.max()) if len(cluster) else 0
    members = np.flatnonzero(cluster > 0)
    cid = cluster[members]

    def per_cluster(weights: np.ndarray) -> np.ndarray:
        return np.bincount(cid, weights=weights, minlength=k + 1)[1:]

    count = np.bincount(cid, minlength=k + 1)[1:]
    low = np.isin(b.grade[members], LOW_GRADES)
    grades = np.full(k, "", dtype=object)
    for code in ("1", "2", "3", "4", "unknown"):
        has = per_cluster((b.grade[members] == code).astype(float)) > 0
        grades = np.where(has, grades + np.where(grades == "", "", ",") + code, grades)
    pair_cluster = cluster[p.i]
    pair_stats = pd.DataFrame({"c": pair_cluster, "d": p.distance, "s": p.required - p.distance}).groupby("c")
    hulls = _hulls(b.geoms[members], cid, k)
    length = _long_side(hulls)
    shapes = shapely.buffer(hulls, rules.hull_buffer_m) if rules.hull_buffer_m > 0 else hulls
    village = _main_village(cid, b.village[members], k)
    table = pd.DataFrame(
        {
            "buildings": count,
            "households": per_cluster(b.residential[members].astype(float)).astype(np.int64),
            "residents": per_cluster(b.residents[members]).astype(np.int64),
            "area_m2": per_cluster(shapely.area(b.geoms[members])),
            "length_m": length,
            "too_close_pairs": np.bincount(pair_cluster, minlength=k + 1)[1:],
            "min_distance_m": pair_stats["d"].min().reindex(range(1, k + 1)).to_numpy(),
            "max_shortfall_m": pair_stats["s"].max().reindex(range(1, k + 1)).to_numpy(),
            "grades": grades,
            "low_grade_buildings": per_cluster(low.astype(float)).astype(np.int64),
            "old_buildings": per_cluster(b.old[members].astype(float)).astype(np.int64),
            "village_code": village,
        },
        index=pd.RangeIndex(1, k + 1, name="cluster_id"),
    )
    # ids run by size descending, so the smallest id of a village is its largest cluster
    table["largest_in_village"] = ~pd.Series(village).duplicated().to_numpy()
    return gpd.GeoDataFrame(table, geometry=_to_crs(shapes, b.crs), crs=b.crs)


def _hulls(geoms: np.ndarray, cid: np.ndarray, k: int) -> np.ndarray:
    """Convex hull of each cluster's footprints (metric), every cluster in one vectorised call."""
    if k == 0:
        return np.zeros(0, dtype=object)
    order = np.argsort(cid, kind="stable")
    groups = shapely.geometrycollections(geoms[order], indices=cid[order] - 1)  # takes multipolygon footprints too
    return shapely.convex_hull(groups)


def _long_side(shapes: np.ndarray) -> np.ndarray:
    """Longest side of each shape's minimum rotated rectangle (m): a cluster's length."""
    if len(shapes) == 0:
        return np.zeros(0)
    envelope = shapely.oriented_envelope(shapes)
    coords, index = shapely.get_coordinates(envelope, return_index=True)
    step = np.hypot(*np.diff(coords, axis=0).T)
    same = index[1:] == index[:-1]
    out = np.zeros(len(shapes))
    np.maximum.at(out, index[1:][same], step[same])
    return out


def _main_village(cid: np.ndarray, village: np.ndarray, k: int) -> np.ndarray:
    """The village code holding most of each cluster's buildings (ties to the smaller code); None when unknown."""
    if k == 0:
        return np.zeros(0, dtype=object)
    counts = pd.DataFrame({"c": cid, "v": village}).value_counts().rename("n").reset_index()
    counts = counts.sort_values(["c", "n", "v"], ascending=[True, False, True], kind="stable")
    first = counts.drop_duplicates("c").set_index("c")["v"].reindex(range(1, k + 1))
    return first.map(lambda v: None if v == "" else v).to_numpy(object)


def _pairs_of(b: _Buildings, pairs: pd.DataFrame) -> _Pairs:
    """too_close_pairs' frame as positions in `b`, in the same (i, j) order `_too_close` gives."""
    position = pd.Series(np.arange(len(b.fids)), index=b.fids)
    i = position.reindex(pairs["fid_a"]).to_numpy()
    j = position.reindex(pairs["fid_b"]).to_numpy()
    if np.isnan(i.astype(float)).any() or np.isnan(j.astype(float)).any():
        raise ValueError("pairs name buildings that are not in the buildings frame")
    i, j = i.astype(np.intp), j.astype(np.intp)
    i, j = np.minimum(i, j), np.maximum(i, j)
    order = np.lexsort((j, i))
    distance, required = pairs["distance_m"].to_numpy(float), pairs["required_m"].to_numpy(float)
    return _Pairs(i[order], j[order], distance[order], required[order])


def find_clusters(
    buildings: pd.DataFrame, pairs: pd.DataFrame, rules: SeparationRules = DEFAULT_RULES
) -> tuple[pd.Series, gpd.GeoDataFrame]:
    """Connected components of the buildings linked by too-close pairs (too_close_pairs' output).

    Returns the cluster id of every building (fid-indexed, 0 for none) and one row per cluster (ids 1.. by size
    descending): buildings, households (residential buildings), residents, footprint area (m²), length (long side
    of the minimum rotated rectangle, m), pairs, the closest distance and largest shortfall, the grades present,
    old and 四级/unknown buildings, the village holding most members, whether it is its village's largest, and the
    members' hull buffered by `hull_buffer_m` in the buildings' CRS.
    """
    b = _prepare(buildings, rules)
    p = _pairs_of(b, pairs)
    cluster = _labels(len(b.fids), p, b.fids)
    return pd.Series(cluster, index=buildings.index, name="cluster_id"), _cluster_table(b, p, cluster, rules)


# ---------------------------------------------------------------------------------------------------------------
# The separation found once, and counted per area


def metric_geometries(frame: pd.DataFrame) -> np.ndarray:
    """A layer's geometries in EPSG:4549 metres, from the CRS it declares (lon/lat when none): distances here."""
    return _metric(frame, _crs_of(frame))


@dataclass
class Separation:
    """Pairs too close and the 连片 clusters they make, over the buildings prepared once: what areas count from."""

    buildings: _Buildings
    pairs: _Pairs
    cluster: np.ndarray  # cluster id per building position, 0 = in none
    clusters: gpd.GeoDataFrame  # find_clusters' table

    def building_frame(self, index: pd.Index) -> pd.DataFrame:
        """Per building (`index` is the layer's): Table 5.2.2 class, high-rise, old, too-close neighbours, cluster."""
        b, p = self.buildings, self.pairs
        return pd.DataFrame(
            {
                "fire_grade": b.grade,
                "grade_class": np.asarray(GRADE_CLASSES, dtype=object)[b.klass],
                "high_rise": b.high,
                "old": b.old,
                "too_close_neighbours": np.bincount(np.concatenate([p.i, p.j]), minlength=len(b.fids)),
                "cluster_id": self.cluster,
            },
            index=index,
        )

    def pairs_frame(self) -> pd.DataFrame:
        """too_close_pairs' columns plus the cluster_id of each pair."""
        return _pairs_frame(self.buildings, self.pairs, self.cluster)

    def inside(self, areas: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(area position, building position) for buildings whose point-on-surface lies in an area's polygon."""
        b = self.buildings
        polys = metric_geometries(areas)
        area, member = b.tree().query(polys, predicate="intersects")  # footprints touching: the candidates
        inside = shapely.intersects(polys[area], shapely.point_on_surface(b.geoms[member]))
        area, member = area[inside], member[inside]
        order = np.lexsort((member, area))
        return area[order].astype(np.intp), member[order].astype(np.intp)

    def counts(self, area: np.ndarray, member: np.ndarray, n_areas: int) -> pd.DataFrame:
        """Counts per area from (area position, building position) membership pairs; a building may be in several."""
        b, cluster, clusters = self.buildings, self.cluster, self.clusters

        def per_area(weights: np.ndarray) -> np.ndarray:
            return np.bincount(area, weights=weights, minlength=n_areas)

        c = cluster[member]
        in_cluster = c > 0
        out = pd.DataFrame(
            {
                "buildings": np.bincount(area, minlength=n_areas),
                "dated_buildings": per_area(b.dated[member].astype(float)).astype(np.int64),
                "old_buildings": per_area(b.old[member].astype(float)).astype(np.int64),
                "too_close_pairs": _pairs_touching(area, member, self.pairs, n_areas),
                "buildings_in_clusters": per_area(in_cluster.astype(float)).astype(np.int64),
                "households": per_area(b.residential[member].astype(float)).astype(np.int64),
                "households_in_clusters": per_area((b.residential[member] & in_cluster).astype(float)).astype(np.int64),
                "residents": per_area(b.residents[member]).astype(np.int64),
                "residents_in_clusters": per_area(np.where(in_cluster, b.residents[member], 0.0)).astype(np.int64),
                "low_grade_buildings": per_area(np.isin(b.grade[member], LOW_GRADES).astype(float)).astype(np.int64),
            }
        )
        touched = pd.DataFrame({"a": area[in_cluster], "c": c[in_cluster]}).drop_duplicates()
        out["clusters"] = touched.groupby("a").size().reindex(range(n_areas), fill_value=0).to_numpy()
        largest = touched.groupby("a")["c"].min().reindex(range(n_areas))  # smallest id = largest cluster
        out["largest_cluster_id"] = largest.astype("Int64").to_numpy()
        for column in ("buildings", "households", "length_m"):
            values = clusters[column].reindex(largest.to_numpy()).to_numpy()
            out[f"largest_cluster_{column}"] = np.where(largest.notna().to_numpy(), values, 0)
        out["largest_cluster_buildings"] = out["largest_cluster_buildings"].astype(np.int64)
        out["largest_cluster_households"] = out["largest_cluster_households"].astype(np.int64)
        total = out["buildings"].to_numpy(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            out["old_share"] = np.where(total > 0, out["old_buildings"] / total, 0.0)
            out["cluster_share"] = np.where(total > 0, out["buildings_in_clusters"] / total, 0.0)
            out["low_grade_share"] = np.where(total > 0, out["low_grade_buildings"] / total, 0.0)
        return out

    def village_counts(self) -> tuple[np.ndarray, pd.DataFrame]:
        """The village codes of the buildings ("" for none), sorted, and `counts` per village in that order."""
        villages = self.buildings.village
        codes, member_area = np.unique(villages, return_inverse=True)
        return codes, self.counts(member_area.ravel(), np.arange(len(villages)), len(codes))


def _pairs_touching(area: np.ndarray, member: np.ndarray, p: _Pairs, n_areas: int) -> np.ndarray:
    """Too-close pairs with at least one building in each area (a pair inside an area counts once)."""
    if len(p.i) == 0 or len(member) == 0:
        return np.zeros(n_areas, dtype=np.int64)
    m = pd.DataFrame({"a": area, "b": member})
    ends = pd.DataFrame({"b": np.concatenate([p.i, p.j]), "pair": np.tile(np.arange(len(p.i)), 2)})
    hits = m.merge(ends, on="b")[["a", "pair"]].drop_duplicates()
    return np.bincount(hits["a"].to_numpy(np.intp), minlength=n_areas)


def separate(
    buildings: pd.DataFrame,
    rules: SeparationRules = DEFAULT_RULES,
    lap: Callable[[str], None] | None = None,
    *,
    pairs: pd.DataFrame | None = None,
) -> Separation:
    """Pairs too close and their clusters from the buildings layer; `lap(step)` after each step, for timings.

    `pairs` are too_close_pairs' rows found elsewhere (on a cluster, partition by partition); the rest is the same.
    """
    lap = lap or (lambda step: None)
    b = _prepare(buildings, rules)
    lap("prepare")
    p = _too_close(b, rules) if pairs is None else _pairs_of(b, pairs)
    lap("pairs")
    cluster = _labels(len(b.fids), p, b.fids)
    lap("components")
    clusters = _cluster_table(b, p, cluster, rules)
    lap("clusters")
    return Separation(b, p, cluster, clusters)
