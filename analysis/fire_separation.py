"""Fire separation between buildings (GB 50016 Table 5.2.2), contiguous clusters (连片) and old settlements ranked.

The township plan orders old settlements and contiguous low-grade villages rectified, one plan per area (一区一策).
This module finds what such a plan starts from:

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
- **Old buildings and settlements**: old means built on or before the cut-off (domain.md §6, default 2000-12-31).
  Each old settlement and each village gets its counts, and settlements get a transparent additive score (each
  factor's points and a Chinese sentence) and a draft 一区一策 record whose measures follow domain.md §5.3 and §6.

Every threshold lives in `SeparationRules` with its source; [K] marks judgement to be replaced locally.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, fields
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
    "FACTOR_LABELS",
    "GRADE_CLASSES",
    "MEASURES",
    "RectificationDraft",
    "SeparationResult",
    "SeparationRules",
    "analyse",
    "draft_plans",
    "find_clusters",
    "grade_classes",
    "high_rise",
    "is_old",
    "parameters",
    "required_separation",
    "required_separations",
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


def _missing(value: Any) -> bool:
    return value is None or (not isinstance(value, str) and pd.isna(value))


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
    position = pd.Series(np.arange(len(b.fids)), index=b.fids)
    i = position.reindex(pairs["fid_a"]).to_numpy()
    j = position.reindex(pairs["fid_b"]).to_numpy()
    if np.isnan(i.astype(float)).any() or np.isnan(j.astype(float)).any():
        raise ValueError("pairs name buildings that are not in the buildings frame")
    p = _Pairs(
        i.astype(np.intp), j.astype(np.intp), pairs["distance_m"].to_numpy(float), pairs["required_m"].to_numpy()
    )
    cluster = _labels(len(b.fids), p, b.fids)
    return pd.Series(cluster, index=buildings.index, name="cluster_id"), _cluster_table(b, p, cluster, rules)


# ---------------------------------------------------------------------------------------------------------------
# Areas: old settlements and villages


def _area_summary(
    area: np.ndarray,
    member: np.ndarray,
    n_areas: int,
    b: _Buildings,
    p: _Pairs,
    cluster: np.ndarray,
    clusters: pd.DataFrame,
) -> pd.DataFrame:
    """Counts per area from (area position, building position) membership pairs; a building may be in several."""

    def per_area(weights: np.ndarray) -> np.ndarray:
        return np.bincount(area, weights=weights, minlength=n_areas)

    c = cluster[member]
    in_cluster = c > 0
    out = pd.DataFrame(
        {
            "buildings": np.bincount(area, minlength=n_areas),
            "dated_buildings": per_area(b.dated[member].astype(float)).astype(np.int64),
            "old_buildings": per_area(b.old[member].astype(float)).astype(np.int64),
            "too_close_pairs": _pairs_touching(area, member, p, n_areas),
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


def _pairs_touching(area: np.ndarray, member: np.ndarray, p: _Pairs, n_areas: int) -> np.ndarray:
    """Too-close pairs with at least one building in each area (a pair inside an area counts once)."""
    if len(p.i) == 0 or len(member) == 0:
        return np.zeros(n_areas, dtype=np.int64)
    m = pd.DataFrame({"a": area, "b": member})
    ends = pd.DataFrame({"b": np.concatenate([p.i, p.j]), "pair": np.tile(np.arange(len(p.i)), 2)})
    hits = m.merge(ends, on="b")[["a", "pair"]].drop_duplicates()
    return np.bincount(hits["a"].to_numpy(np.intp), minlength=n_areas)


def _settlement_members(b: _Buildings, settlements: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(settlement position, building position) for buildings whose point-on-surface lies in the polygon."""
    polys = _metric(settlements, _crs_of(settlements))
    area, member = b.tree().query(polys, predicate="intersects")  # footprints touching: the candidates
    inside = shapely.intersects(polys[area], shapely.point_on_surface(b.geoms[member]))
    area, member = area[inside], member[inside]
    order = np.lexsort((member, area))
    return area[order].astype(np.intp), member[order].astype(np.intp)


def _lane_findings(settlements: pd.DataFrame, lanes: pd.DataFrame, rules: SeparationRules) -> pd.DataFrame:
    """Per settlement: fire lanes within reach, and the names of those blocked, partly blocked or under 4 m."""
    polys = _metric(settlements, _crs_of(settlements))
    lines = _metric(lanes, _crs_of(lanes))
    s, k = shapely.STRtree(lines).query(polys, predicate="dwithin", distance=rules.lane_reach_m)
    width = lanes["width_m"].astype("Float64").fillna(np.inf).to_numpy(float) if "width_m" in lanes else None
    height = (
        lanes["clear_height_m"].astype("Float64").fillna(np.inf).to_numpy(float) if "clear_height_m" in lanes else None
    )
    status = lanes["status"].astype(object).to_numpy() if "status" in lanes else np.full(len(lanes), "passable")
    bad = np.isin(status, ["blocked", "partial"])
    if width is not None:
        bad |= width < rules.lane_min_width_m
    if height is not None:
        bad |= height < rules.lane_min_width_m
    names = lanes["name"].astype(object).to_numpy() if "name" in lanes else lanes.index.astype(str).to_numpy()
    serving = np.bincount(s, minlength=len(settlements))
    problems: list[list[str]] = [[] for _ in range(len(settlements))]
    for a, lane in sorted(zip(s.tolist(), k.tolist(), strict=True)):
        if bad[lane]:
            problems[a].append(f"{names[lane]}（{_lane_state(status[lane], width, height, lane, rules)}）")
    return pd.DataFrame({"lanes_serving": serving, "lane_problems": ["；".join(x) for x in problems]})


def _lane_state(status: Any, width: np.ndarray | None, height: np.ndarray | None, k: int, rules) -> str:
    words = {"blocked": "堵塞", "partial": "部分占用"}.get(str(status), "")
    if width is not None and width[k] < rules.lane_min_width_m:
        words += ("、" if words else "") + f"净宽{width[k]:g} m"
    if height is not None and height[k] < rules.lane_min_width_m:
        words += ("、" if words else "") + f"净高{height[k]:g} m"
    return words


# ---------------------------------------------------------------------------------------------------------------
# The score: each factor's points and a sentence

#: The factors of the rectification score, in display order, with their Chinese names.
FACTOR_LABELS: dict[str, str] = {
    "old": "老旧建筑占比",
    "clustered": "连片建筑占比",
    "largest_cluster": "最大连片规模",
    "households": "涉及户数",
    "low_grade": "四级/未知耐火等级占比",
}


def _score(summary: pd.DataFrame, households: pd.Series, households_note: pd.Series, rules: SeparationRules):
    """Points per factor, the total, and one sentence per area naming every factor's figures and points."""
    total = summary["buildings"].to_numpy(float)
    largest = summary["largest_cluster_buildings"].to_numpy(float)
    hh = households.to_numpy(float)
    points = pd.DataFrame(
        {
            "points_old": rules.weight_old * summary["old_share"].to_numpy(),
            "points_clustered": rules.weight_clustered * summary["cluster_share"].to_numpy(),
            "points_largest_cluster": rules.weight_largest_cluster
            * np.minimum(1.0, largest / rules.contiguous_households),
            "points_households": rules.weight_households * np.minimum(1.0, hh / rules.households_saturation),
            "points_low_grade": rules.weight_low_grade * summary["low_grade_share"].to_numpy(),
        },
        index=summary.index,
    ).round(2)
    score = points.sum(axis=1).round(2)
    cutoff = rules.old_until().isoformat()
    texts = []
    for k, row in enumerate(summary.itertuples(index=False)):
        pts = points.iloc[k]
        n = int(total[k])
        texts.append(
            "；".join(
                (
                    f"{cutoff}前建成{row.old_buildings}/{n}栋（{row.old_share:.0%}） → +{pts['points_old']:.2f}",
                    f"连片建筑{row.buildings_in_clusters}/{n}栋（{row.cluster_share:.0%}） → "
                    f"+{pts['points_clustered']:.2f}",
                    f"最大连片{int(largest[k])}栋（满{rules.contiguous_households}栋计满分） → "
                    f"+{pts['points_largest_cluster']:.2f}",
                    f"{households_note.iloc[k]}{int(hh[k])}户（满{rules.households_saturation}户计满分） → "
                    f"+{pts['points_households']:.2f}",
                    f"四级或耐火等级未知{row.low_grade_buildings}/{n}栋（{row.low_grade_share:.0%}） → "
                    f"+{pts['points_low_grade']:.2f}",
                )
            )
        )
    return points, score, pd.Series(texts, index=summary.index, dtype=object)


def _rank(frame: pd.DataFrame, key: str) -> pd.Series:
    """1 = first to rectify: score descending, then the key ascending."""
    order = frame.assign(_key=frame[key] if key in frame else frame.index).sort_values(
        ["score", "_key"], ascending=[False, True], kind="stable"
    )
    return pd.Series(np.arange(1, len(order) + 1), index=order.index).reindex(frame.index)


def _settlement_table(
    b: _Buildings,
    p: _Pairs,
    cluster: np.ndarray,
    clusters: pd.DataFrame,
    settlements: pd.DataFrame,
    membership: tuple[np.ndarray, np.ndarray],
    lanes: pd.DataFrame | None,
    rules: SeparationRules,
) -> pd.DataFrame:
    area, member = membership
    summary = _area_summary(area, member, len(settlements), b, p, cluster, clusters)
    summary.index = settlements.index
    summary.insert(0, "name", settlements["name"].astype(object).to_numpy() if "name" in settlements else "")
    codes = settlements["village_code"] if "village_code" in settlements else pd.Series(None, index=settlements.index)
    summary.insert(1, "village_code", codes.astype(object).to_numpy())
    year = settlements["build_year"] if "build_year" in settlements else pd.Series(pd.NA, index=settlements.index)
    summary.insert(2, "build_year", year.astype("Int64").to_numpy())
    dated_share = summary["old_buildings"] / summary["dated_buildings"].where(summary["dated_buildings"] > 0)
    by_year = pd.Series(is_old(summary["build_year"], rules), index=summary.index)
    by_share = dated_share.fillna(0) >= rules.settlement_old_share
    summary["old"] = np.where(summary["build_year"].notna(), by_year, by_share & (summary["dated_buildings"] > 0))
    summary["old_basis"] = np.where(summary["build_year"].notna(), "build_year", "buildings")
    surveyed = (
        settlements["households"].astype("Float64")
        if "households" in settlements
        else pd.Series(pd.NA, index=summary.index)
    )
    use_survey = surveyed.notna() & (surveyed > 0)
    summary["surveyed_households"] = surveyed.astype("Int64").to_numpy()
    households = pd.Series(np.where(use_survey, surveyed.fillna(0), summary["households"]), index=summary.index)
    note = pd.Series(np.where(use_survey, "调查户数", "住宅栋数计户"), index=summary.index)
    summary["households_affected"] = households.astype(np.int64)
    if lanes is not None and len(lanes) and len(settlements):
        lane_info = _lane_findings(settlements, lanes, rules)
        summary["lanes_serving"] = lane_info["lanes_serving"].to_numpy()
        summary["lane_problems"] = lane_info["lane_problems"].to_numpy()
    else:
        summary["lanes_serving"] = pd.array([pd.NA] * len(summary), dtype="Int64")
        summary["lane_problems"] = ""
    points, score, text = _score(summary, households, note, rules)
    summary = pd.concat([summary, points], axis=1)
    summary["score"] = score
    summary["explanation"] = text
    summary.index.name = settlements.index.name or "fid"
    summary["rank"] = _rank(summary.reset_index(), summary.index.name).to_numpy()
    return summary


def _village_table(
    b: _Buildings,
    p: _Pairs,
    cluster: np.ndarray,
    clusters: pd.DataFrame,
    villages: pd.DataFrame | None,
    rules: SeparationRules,
) -> pd.DataFrame:
    codes, member_area = np.unique(b.village, return_inverse=True)
    summary = _area_summary(member_area.ravel(), np.arange(len(b.village)), len(codes), b, p, cluster, clusters)
    summary.index = pd.Index([c if c else None for c in codes], name="village_code", dtype=object)
    names = {}
    if villages is not None and len(villages) and "code" in villages:
        names = dict(zip(villages["code"].astype(str), villages["name"].astype(str), strict=True))
    summary.insert(0, "name", [names.get(c, "") if c else "（未注明村）" for c in codes])
    households = summary["households_in_clusters"]
    note = pd.Series("连片住宅", index=summary.index)
    points, score, text = _score(summary, households, note, rules)
    summary = pd.concat([summary, points], axis=1)
    summary["score"] = score
    summary["explanation"] = text
    ranked = summary.reset_index().assign(village_code=lambda f: f["village_code"].fillna("~"))
    summary["rank"] = _rank(ranked, "village_code").to_numpy()
    return summary


# ---------------------------------------------------------------------------------------------------------------
# 一区一策 drafts

#: Rectification measures (domain.md §5.3 and §6): code → (Chinese label, basis).
MEASURES: dict[str, tuple[str, str]] = {
    "fire_separation": ("拆除违建、形成防火分隔", "GB 50016-2014 表5.2.2及注2–5；GB 50039-2010 既有连片建筑设防火分隔"),
    "firebreak_zone": ("划分防火分区、设置防火隔离带", "domain.md §5.3 [S]：≥50户连片村落划分防火分区（河北做法）"),
    "fire_lane": ("打通消防车道", "GB 50016-2014 §7.1.1、§7.1.8；GB 50039-2010 开辟消防车道"),
    "clear_lane": ("清理占道、恢复消防车道畅通", "消防法第二十八条；应急消〔2019〕334号"),
    "rewiring": ("更换老化电气线路", "GB 50039-2010 改善用火用电条件；国办发〔2020〕23号 基础类"),
    "fire_resistance": ("提高建筑耐火等级", "GB 50039-2010 提高耐火等级；GB 50016 表5.2.2 注7"),
    "water_source": ("增设消防水源", "GB 50039-2010 增设消防水源"),
    "renovation": ("纳入老旧场所改造计划", "国办发〔2020〕23号；domain.md §6"),
    "extinguishers": ("配置灭火器和火灾探测报警器", "[K] 常规配置"),
}


@dataclass(frozen=True)
class RectificationDraft:
    """A draft 一区一策 record for one old settlement: findings, measures (codes), plan text and a deadline.

    Plain data for someone else to store and to link into the ledger (`linked_layer`/`linked_fid` as in hazards).
    """

    linked_layer: str
    linked_fid: int
    name: str
    village_code: str | None
    rank: int
    score: float
    findings_zh: str
    measures: tuple[str, ...]
    measure_labels: tuple[str, ...]
    plan_zh: str
    basis: str
    status: str
    as_of: date
    deadline: date
    sector: str = "fire"

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-ready values (dates as ISO text, tuples as lists)."""
        out = asdict(self)
        out["as_of"], out["deadline"] = self.as_of.isoformat(), self.deadline.isoformat()
        out["measures"], out["measure_labels"] = list(self.measures), list(self.measure_labels)
        return out


def _measures(row: Any, rules: SeparationRules) -> list[tuple[str, str]]:
    """(code, sentence) for each measure the findings call for, in MEASURES order."""
    m = rules.matrix()
    out = []
    if row.buildings_in_clusters > 0:
        out.append(
            (
                "fire_separation",
                f"拆除院落间违章搭建，在{row.too_close_pairs}对间距不足的建筑间设置防火墙或拉开间距"
                f"（三级–三级{m[1, 1]:g} m、三级–四级{m[1, 2]:g} m、四级–四级{m[2, 2]:g} m），"
                f"分隔{row.buildings_in_clusters}栋连片建筑",
            )
        )
    if row.largest_cluster_buildings >= rules.contiguous_households:
        out.append(
            (
                "firebreak_zone",
                f"最大连片{row.largest_cluster_buildings}栋，按每片不超过{rules.contiguous_households}户划分防火分区、"
                "设置防火隔离带",
            )
        )
    no_lane = not _missing(row.lanes_serving) and row.lanes_serving == 0
    long_cluster = row.largest_cluster_length_m > rules.lane_through_length_m
    if no_lane or long_cluster:
        why = []
        if no_lane:
            why.append(f"{rules.lane_reach_m:g} m内无消防车道")
        if long_cluster:
            why.append(f"连片长{row.largest_cluster_length_m:.0f} m超过{rules.lane_through_length_m:g} m")
        out.append(("fire_lane", f"打通消防车道（{'，'.join(why)}），净宽、净高不小于{rules.lane_min_width_m:g} m"))
    if row.lane_problems:
        out.append(
            (
                "clear_lane",
                f"清除{row.lane_problems}上的柴草、车辆等占用物，恢复净宽{rules.lane_min_width_m:g} m以上，"
                "按规范施划标线",
            )
        )
    if row.old_buildings > 0 or row.old:
        which = f"{row.old_buildings}栋老旧建筑的" if row.old_buildings > 0 else ""
        out.append(("rewiring", f"更换{which}老化电气线路，规范用火用电"))
    low_share = row.low_grade_share >= rules.upgrade_low_grade_share and row.low_grade_buildings > 0
    if low_share:
        out.append(
            ("fire_resistance", f"对{row.low_grade_buildings}栋四级或耐火等级未知的房屋进行耐火改造，提高耐火等级")
        )
    if low_share and row.buildings_in_clusters > 0:
        out.append(("water_source", "增设室外消火栓或消防水池，保障连片区域消防用水"))
    if row.old:
        out.append(("renovation", "纳入老旧场所改造计划（基础类：消防、供电设施）"))
        out.append(("extinguishers", "每户配置灭火器和独立式感烟火灾探测报警器"))
    return out


def _deadline(as_of: date, months: int) -> date:
    return (pd.Timestamp(as_of) + pd.DateOffset(months=months)).date()


def draft_plans(
    settlements: pd.DataFrame, as_of: date, rules: SeparationRules = DEFAULT_RULES
) -> list[RectificationDraft]:
    """One draft 一区一策 record per settlement of `analyse(...).settlements`, in rank order.

    The plan text names the findings and each measure with its figures; measures follow domain.md §5.3 (separation,
    fire lanes, fire resistance, water, electricity) and §6 (old-settlement renovation). Status is "draft"; the
    deadline is `rules.deadline_months` after `as_of`.
    """
    deadline = _deadline(as_of, rules.deadline_months)
    out = []
    for fid, row in settlements.sort_values("rank", kind="stable").iterrows():
        chosen = _measures(row, rules)
        codes = tuple(code for code, _ in chosen)
        year = f"建成于{row.build_year}年，" if not _missing(row.build_year) else ""
        findings = (
            f"{year}共{row.buildings}栋建筑，{rules.old_until().year}年及以前建成{row.old_buildings}栋；"
            f"防火间距不足的建筑{row.too_close_pairs}对，连片建筑{row.buildings_in_clusters}栋"
            f"（最大连片{row.largest_cluster_buildings}栋）；四级或耐火等级未知{row.low_grade_buildings}栋；"
            f"涉及{row.households_affected}户、{row.residents}人"
        )
        steps = "；".join(f"{k}. {text}" for k, (_, text) in enumerate(chosen, start=1)) or "暂无需整改措施，持续巡查"
        village = f"（{row.village_code}）" if not _missing(row.village_code) else ""
        plan = (
            f"{row['name']}{village}一区一策（草案，综合排名第{row['rank']}，得分{row.score:.2f}）。现状：{findings}。"
            f"整改措施：{steps}。完成时限：{deadline.isoformat()}前。"
        )
        basis = "；".join(dict.fromkeys(MEASURES[c][1].split("；")[0] for c in codes)) or "GB 50016-2014 表5.2.2"
        out.append(
            RectificationDraft(
                linked_layer="old_settlements",
                linked_fid=int(fid),
                name=str(row["name"]),
                village_code=None if _missing(row.village_code) else str(row.village_code),
                rank=int(row["rank"]),
                score=float(row.score),
                findings_zh=findings,
                measures=codes,
                measure_labels=tuple(MEASURES[c][0] for c in codes),
                plan_zh=plan[:1000],
                basis=basis[:200],
                status="draft",
                as_of=as_of,
                deadline=deadline,
            )
        )
    return out


# ---------------------------------------------------------------------------------------------------------------
# Everything at once


@dataclass
class SeparationResult:
    """What `analyse` found: per building, per pair, per cluster, per village and per old settlement, and the drafts.

    `buildings` (fid-indexed): Table 5.2.2 class used, high-rise and old flags, too-close neighbours, cluster id (0 =
    none) and the old settlement it lies in (the lowest fid where settlements overlap; NA for none). `pairs`:
    too_close_pairs' columns plus cluster_id. `clusters`: find_clusters' table, geometry in the buildings' CRS.
    `villages` (village_code-indexed) and `settlements` (fid-indexed): counts, factor points, score, explanation
    and rank. `drafts`: one 一区一策 record per settlement in rank order.
    """

    buildings: pd.DataFrame
    pairs: pd.DataFrame
    clusters: gpd.GeoDataFrame
    villages: pd.DataFrame
    settlements: pd.DataFrame
    drafts: list[RectificationDraft]
    rules: SeparationRules
    timings: dict[str, float]

    def members(self, cluster_id: int) -> list[int]:
        """The fids of one cluster's buildings, ascending."""
        return sorted(int(f) for f in self.buildings.index[self.buildings["cluster_id"] == cluster_id])


class _Clock:
    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = now - self._last
        self._last = now


def analyse(
    buildings: pd.DataFrame,
    *,
    old_settlements: pd.DataFrame | None = None,
    villages: pd.DataFrame | None = None,
    fire_lanes: pd.DataFrame | None = None,
    as_of: date,
    rules: SeparationRules = DEFAULT_RULES,
) -> SeparationResult:
    """Separation, clusters, village and settlement summaries, the ranking and the 一区一策 drafts in one pass.

    Layers are fid-indexed frames as stored (lon/lat EPSG:4326, or the CRS they declare); distances are measured
    in EPSG:4549 metres. `villages` only names the village codes; `fire_lanes` (optional) lets the drafts name
    lanes that are blocked or too narrow and settlements no lane reaches. The same input gives the same output.
    """
    clock = _Clock()
    b = _prepare(buildings, rules)
    clock.lap("prepare")
    p = _too_close(b, rules)
    clock.lap("pairs")
    cluster = _labels(len(b.fids), p, b.fids)
    clock.lap("components")
    clusters = _cluster_table(b, p, cluster, rules)
    clock.lap("clusters")
    neighbours = np.bincount(np.concatenate([p.i, p.j]), minlength=len(b.fids))
    has_settlements = old_settlements is not None and len(old_settlements) > 0
    settlement_fid = pd.array([pd.NA] * len(b.fids), dtype="Int64")
    if has_settlements:
        membership = _settlement_members(b, old_settlements)
        first = pd.DataFrame({"b": membership[1], "s": old_settlements.index.to_numpy()[membership[0]]})
        first = first.groupby("b")["s"].min()  # a building in overlapping settlements is shown in the first
        settlement_fid[first.index.to_numpy()] = first.to_numpy()
    per_building = pd.DataFrame(
        {
            "fire_grade": b.grade,
            "grade_class": np.asarray(GRADE_CLASSES, dtype=object)[b.klass],
            "high_rise": b.high,
            "old": b.old,
            "too_close_neighbours": neighbours,
            "cluster_id": cluster,
            "settlement_fid": settlement_fid,
        },
        index=buildings.index,
    )
    villages_table = _village_table(b, p, cluster, clusters, villages, rules)
    clock.lap("villages")
    if has_settlements:
        settlements = _settlement_table(b, p, cluster, clusters, old_settlements, membership, fire_lanes, rules)
    else:
        settlements = pd.DataFrame(index=pd.Index([], name="fid"))
    drafts = draft_plans(settlements, as_of, rules) if len(settlements) else []
    clock.lap("settlements")
    return SeparationResult(
        buildings=per_building,
        pairs=_pairs_frame(b, p, cluster),
        clusters=clusters,
        villages=villages_table,
        settlements=settlements,
        drafts=drafts,
        rules=rules,
        timings=clock.timings,
    )
