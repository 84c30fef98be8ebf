"""Fire-engine lanes (消防车通道): which are passable, which end blind, where lanes lie too far apart, and the law.

The rules are GB 50016-2014 (2018 edition) Chapter 7 and GB 50039-2010 (domain.md §5.1, §5.3); the law on blocked
lanes and their markings is domain.md §5.4. Every threshold lives in `LaneRules` with its source.

- **Passability** is computed from the data, never copied from the surveyed `status`: a lane is blocked (impassable)
  where its own clear width or clear height is under 4.0 m, or where an uncleared obstruction leaves under 4.0 m
  (§7.1.8 第1款; GB 50039 "宜 ≥ 4 m" in villages), and the lane is cut at that obstruction; it is partly blocked where
  obstructions stand on it but 4.0 m or more remains; passable otherwise. The surveyed status is kept beside the
  computed one so every disagreement shows.
- **Obstructions** are placed on the lane they were reported on (`lane_id`) when that lane is near, else on the nearest
  lane within the same distance (an STRtree lookup); a point farther from every lane is reported, never dropped.
- **Legal basis**: each lane lists every provision its present state falls foul of: GB 50016 §7.1.8 and GB 50039 for
  under 4 m; 消防法 第二十八条 (the prohibition) and 第六十条 (the penalty, by party type) for occupation, with the
  parties from the obstruction records; GB 50016 §7.1.9 for a dead end that needs a turnaround; 应急消〔2019〕334号 when
  the lane is not fully marked.
- **Dead ends** come from the geometry: an end of a lane that no other lane or road meets within a tolerance. Its
  length runs from the blind end back to the nearest point where another line meets the lane.
- **Spacing** (§7.1.1, GB 50039: centre-lines inside a block ≤ 160 m apart) is checked by
  `analysis.block_spacing` over the same roads and lanes, and reported with the lanes.

Input layers are lon/lat (EPSG:4326) GeoDataFrames indexed by fid, as stored; measuring is done in a local metric CRS.
Spatial lookups go through shapely STRtrees and the geometry work is vectorised, so the cost grows as n log n.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from analysis.block_spacing import SPACING_MEASURES, SpacingViolation, block_spacing, first_per_group, spacing_frame
from analysis.priority import rule
from geo.crs import LOCAL_METRIC, WGS84, transform_geometries
from layers import LAYERS
from layers.vocab import LaneStatus, Marking, ObstructionKind, PartyType

#: Working slack on distance comparisons (metres): coordinates pass through lon/lat and back.
_SLACK_M = 1e-6


@dataclass(frozen=True)
class LaneRules:
    """Every threshold of the fire-lane analysis with its source; [K] marks background knowledge or judgement."""

    # --- passability (GB 50016 §7.1.8) ---
    min_clear_width_m: float = rule(
        4.0,
        "最小净宽(m)",
        "GB 50016-2014(2018) §7.1.8 第1款: 消防车道净宽度 ≥ 4.0 m; GB 50039-2010: 村庄消防车通道净宽 宜 ≥ 4 m",
    )
    min_clear_height_m: float = rule(
        4.0, "最小净空高度(m)", "GB 50016-2014(2018) §7.1.8 第1款: 净空高度 ≥ 4.0 m; GB 50039-2010: 宜 ≥ 4 m"
    )
    unknown_remaining_blocks: bool = rule(
        True,
        "剩余净宽未测的占用按堵塞计",
        "[K] judgement: an uncleared obstruction with no measured remaining width is taken as blocking until measured",
    )
    # --- placing obstructions on lanes ---
    snap_max_m: float = rule(
        15.0,
        "占用点归属通道的最大距离(m)",
        "[K] judgement: half of an 8 m street plus 10 m for a phone GNSS fix between houses; well under the 60 m or "
        "more between neighbouring lanes, so a point is not given to the wrong lane",
    )
    # --- dead ends (GB 50016 §7.1.9) ---
    connect_tolerance_m: float = rule(
        2.0,
        "通道端点连通容差(m)",
        "[K] as geo.network NetworkParams.snap_m: 0.2 mm plotting accuracy at 1:10,000, the scale of digitised maps",
    )
    turnaround_min_length_m: float = rule(
        45.72,
        "需设回车场的尽头式通道长度(m)",
        "[K] GB 50016 §7.1.9 names no length (read literally every dead end needs one: set 0); 45.72 m is the "
        "150 ft of International Fire Code §503.2.5, the best-known codified length beyond which a turnaround is "
        "required, about as far as an engine can safely reverse, and it keeps short digitising overshoots quiet",
    )
    turnaround_side_m: float = rule(
        12.0,
        "回车场最小边长(m)",
        "GB 50016 §7.1.9 and GB 50039-2010: 回车场 ≥ 12 m × 12 m (高层 15 m, 重型消防车 18 m)",
    )
    # --- lane spacing (GB 50016 §7.1.1) ---
    max_spacing_m: float = rule(
        160.0,
        "街区内道路中心线最大间距(m)",
        "GB 50016-2014(2018) §7.1.1: 道路中心线间距 ≤ 160 m; GB 50039-2010: 村庄消防车通道间距 ≤ 160 m",
    )
    spacing_blocks_with_buildings_only: bool = rule(
        True, "只报告有建筑的街区", "[K] judgement: fields and pasture between villages need no fire lane"
    )
    spacing_measure: str = rule(
        "inscribed_circle",
        "街区间距判定方式",
        "GB 50016 §7.1.1 read on every point of a block: 'inscribed_circle' reports a block whose largest empty circle "
        "is wider than the spacing; 'farthest_building' [K] reports only blocks with a building beyond half of it",
    )
    inscribed_tolerance_m: float = rule(
        0.5, "内切圆计算精度(m)", "working precision of shapely.maximum_inscribed_circle, not from a source"
    )
    # --- penalties (消防法 第六十条) ---
    unit_fine_min_yuan: int = rule(5000, "单位罚款下限(元)", "消防法 第六十条: 单位处五千元以上五万元以下罚款")
    unit_fine_max_yuan: int = rule(50000, "单位罚款上限(元)", "消防法 第六十条: 单位处五千元以上五万元以下罚款")
    individual_fine_max_yuan: int = rule(500, "个人罚款上限(元)", "消防法 第六十条: 个人处警告或者五百元以下罚款")

    def __post_init__(self) -> None:
        for name in ("min_clear_width_m", "min_clear_height_m", "snap_max_m", "max_spacing_m", "inscribed_tolerance_m"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")
        for name in ("connect_tolerance_m", "turnaround_min_length_m", "turnaround_side_m"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        if not 0 <= self.unit_fine_min_yuan <= self.unit_fine_max_yuan:
            raise ValueError(
                f"unit fines must satisfy 0 <= min <= max, got {self.unit_fine_min_yuan}–{self.unit_fine_max_yuan}"
            )
        if self.spacing_measure not in SPACING_MEASURES:
            raise ValueError(f"spacing_measure must be one of {SPACING_MEASURES}, got {self.spacing_measure!r}")
        if self.individual_fine_max_yuan < 0:
            raise ValueError(f"individual_fine_max_yuan must be >= 0, got {self.individual_fine_max_yuan}")


# -- the provisions, as shown to people ----------------------------------------------------------------------------

#: Short Chinese names of the provisions, by code.
PROVISION_TITLES: dict[str, str] = {
    "gb50016_7_1_8": "GB 50016 第7.1.8条",
    "gb50039": "GB 50039-2010 农村防火规范",
    "fire_law_28": "消防法 第二十八条",
    "fire_law_60": "消防法 第六十条",
    "gb50016_7_1_9": "GB 50016 第7.1.9条",
    "yjx_2019_334": "应急消〔2019〕334号",
}


def provision_texts(rules: LaneRules | None = None) -> dict[str, str]:
    """What each provision says, in Chinese for the user; the penalty amounts come from `rules`."""
    rules = rules or LaneRules()
    side = f"{rules.turnaround_side_m:g}"
    return {
        "gb50016_7_1_8": "GB 50016-2014(2018年版)第7.1.8条：消防车道的净宽度和净空高度均不应小于4.0 m",
        "gb50039": "GB 50039-2010《农村防火规范》：村庄消防车通道净宽、净空高度宜不小于4 m，不得堆放柴草等物阻碍通行",
        "fire_law_28": (
            "《中华人民共和国消防法》第二十八条：任何单位、个人不得占用、堵塞、封闭疏散通道、安全出口、消防车通道"
        ),
        "fire_law_60": (
            "《中华人民共和国消防法》第六十条：占用、堵塞、封闭消防车通道的，责令改正，"
            f"单位处{rules.unit_fine_min_yuan:,}元以上{rules.unit_fine_max_yuan:,}元以下罚款，"
            f"个人处警告或者{rules.individual_fine_max_yuan:,}元以下罚款；"
            "经责令改正拒不改正的，强制执行，所需费用由违法行为人承担"
        ),
        "gb50016_7_1_9": (
            f"GB 50016-2014(2018年版)第7.1.9条：尽头式消防车道应设置回车道或回车场，回车场不应小于{side} m × {side} m"
        ),
        "yjx_2019_334": (
            "应急消〔2019〕334号：消防车通道路侧缘石立面和顶面施划黄色禁止停车标线（无缘石的在距路边缘30 cm处施划"
            "15 cm宽黄色实线），每隔20 m在通道中央施划“消防车道 禁止占用”黄色标识，入口处施划与通道等宽的黄色网格线，"
            "两侧设置警示标牌"
        ),
    }


def penalty_text(party_type: str, rules: LaneRules | None = None) -> str:
    """The 第六十条 track for one party type: a unit is fined, an individual warned or fined a little."""
    rules = rules or LaneRules()
    if party_type == PartyType.UNIT:
        track = f"单位：责令改正，处{rules.unit_fine_min_yuan:,}–{rules.unit_fine_max_yuan:,}元罚款"
    else:
        track = f"个人：责令改正，警告或{rules.individual_fine_max_yuan:,}元以下罚款"
    return track + "；拒不改正的强制执行（清除、拖移），费用由违法行为人承担"


# -- results ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stretch:
    """Where a lane cannot be passed: the whole lane for its own width or height, or the point an obstruction stands."""

    from_m: float  # metres from the lane's start
    to_m: float
    cause: str  # "lane_width", "clear_height" or "obstruction"
    obstruction_fid: int | None = None


@dataclass(frozen=True)
class Party:
    """Who answers for obstructions on a lane under 消防法 第二十八条, and the 第六十条 track that applies."""

    name: str
    party_type: str  # PartyType code: "unit" or "individual"
    obstruction_fids: tuple[int, ...]
    penalty: str  # Chinese, from `penalty_text`


@dataclass(frozen=True)
class PlacedObstruction:
    """One obstruction record and where it was placed: on which lane, how far along, and how it was chosen."""

    fid: int
    lane_fid: int | None  # None: on no lane (see `placement`)
    placement: str  # "reported_lane", "nearest_lane", "not_on_lane" or "no_location"
    distance_m: float | None  # from the point to the lane it was placed on
    position_m: float | None  # along that lane from its start
    reported_lane_fid: int | None  # the record's own lane_id
    reported_lane_m: float | None  # distance to the reported lane, where it exists
    nearest_lane_fid: int | None  # for a point on no lane: the nearest lane, however far
    nearest_lane_m: float | None
    kind: str | None
    remaining_width_m: float | None
    cleared: bool
    responsible_party: str | None
    party_type: str | None
    effect: str  # "blocks", "narrows", "cleared" or "not_on_lane"
    geometry: Any  # lon/lat: the point on the lane where placed, else the recorded point

    @property
    def overridden(self) -> bool:
        """The record named a lane but was placed elsewhere (or nowhere) because that lane is too far."""
        return self.reported_lane_fid is not None and self.lane_fid != self.reported_lane_fid


@dataclass(frozen=True)
class LaneResult:
    """One fire lane: computed passability beside the surveyed one, its obstructions, dead end, law and parties."""

    fid: int
    name: str | None
    length_m: float | None
    width_m: float | None
    clear_height_m: float | None
    status: str  # LaneStatus code, computed
    surveyed_status: str | None
    status_agrees: bool | None
    min_clear_width_m: float | None  # the narrowest of the lane's width and what each obstruction leaves
    obstruction_fids: tuple[int, ...]  # uncleared obstructions on the lane, in order along it
    blocking_obstruction_fids: tuple[int, ...]
    stretches: tuple[Stretch, ...]  # impassable stretches, in order along the lane
    dead_end: bool | None  # computed from the geometry; None without a usable geometry
    surveyed_dead_end: bool | None
    dead_end_agrees: bool | None
    dead_end_length_m: float | None  # longest blind stretch: from a blind end to the nearest junction on the lane
    blind_ends: tuple[str, ...]  # "start" and/or "end"
    turnaround: bool
    needs_turnaround: bool
    marking: str
    marking_duty: str | None  # Chinese: what 334号 asks of a lane not fully marked
    legal_basis: tuple[str, ...]  # provision codes (PROVISION_TITLES)
    legal_basis_text: str
    parties: tuple[Party, ...]
    reasons: tuple[str, ...]  # Chinese, one per finding

    @property
    def cut_positions_m(self) -> tuple[float, ...]:
        """Where the lane is cut by a blocking obstruction, in metres from its start."""
        return tuple(s.from_m for s in self.stretches if s.cause == "obstruction")


@dataclass(frozen=True)
class FireLaneAnalysis:
    """Everything the analysis found, with the rules that produced it."""

    lanes: tuple[LaneResult, ...]
    obstructions: tuple[PlacedObstruction, ...]
    spacing: tuple[SpacingViolation, ...]
    blocks_checked: int  # blocks with buildings (or all blocks, per the rules)
    buildings_outside_blocks: int  # buildings in no face of the network (outside its outer ring)
    rules: LaneRules

    @property
    def unsnapped(self) -> tuple[PlacedObstruction, ...]:
        """Obstruction records on no lane: too far from every lane, or without a location."""
        return tuple(o for o in self.obstructions if o.lane_fid is None)

    @property
    def disagreements(self) -> list[dict[str, Any]]:
        """Lanes whose computed status or dead end differs from the survey."""
        out = []
        for lane in self.lanes:
            if lane.status_agrees is False:
                out.append(
                    {"fid": lane.fid, "field": "status", "surveyed": lane.surveyed_status, "computed": lane.status}
                )
            if lane.dead_end_agrees is False:
                out.append(
                    {
                        "fid": lane.fid,
                        "field": "dead_end",
                        "surveyed": lane.surveyed_dead_end,
                        "computed": lane.dead_end,
                    }
                )
        return out

    def summary(self) -> dict[str, Any]:
        """Counts for logs, the CLI and tests."""
        by_status = {s.value: sorted(lane.fid for lane in self.lanes if lane.status == s) for s in LaneStatus}
        return {
            "lanes": len(self.lanes),
            "blocked_lane_fids": by_status[LaneStatus.BLOCKED],
            "partial_lane_fids": by_status[LaneStatus.PARTIAL],
            "dead_end_lane_fids": sorted(lane.fid for lane in self.lanes if lane.dead_end),
            "needs_turnaround_lane_fids": sorted(lane.fid for lane in self.lanes if lane.needs_turnaround),
            "unsnapped_obstruction_fids": [o.fid for o in self.unsnapped],
            "disagreements": len(self.disagreements),
            "spacing_violations": len(self.spacing),
            "blocks_checked": self.blocks_checked,
            "buildings_outside_blocks": self.buildings_outside_blocks,
        }

    def lane_frame(self, lanes: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        """The per-lane table on the lanes' own lon/lat geometries (`lanes` is the input layer), fid index."""
        rows = []
        for r in self.lanes:
            rows.append(
                {
                    "fid": r.fid,
                    "name": r.name,
                    "status": r.status,
                    "status_label": LaneStatus(r.status).label,
                    "surveyed_status": r.surveyed_status,
                    "status_agrees": r.status_agrees,
                    "length_m": r.length_m,
                    "width_m": r.width_m,
                    "clear_height_m": r.clear_height_m,
                    "min_clear_width_m": r.min_clear_width_m,
                    "obstruction_fids": list(r.obstruction_fids),
                    "blocking_obstruction_fids": list(r.blocking_obstruction_fids),
                    "cut_positions_m": list(r.cut_positions_m),
                    "stretches": [[s.from_m, s.to_m, s.cause, s.obstruction_fid] for s in r.stretches],
                    "dead_end": r.dead_end,
                    "surveyed_dead_end": r.surveyed_dead_end,
                    "dead_end_agrees": r.dead_end_agrees,
                    "dead_end_length_m": r.dead_end_length_m,
                    "turnaround": r.turnaround,
                    "needs_turnaround": r.needs_turnaround,
                    "marking": r.marking,
                    "marking_duty": r.marking_duty,
                    "legal_basis": list(r.legal_basis),
                    "legal_basis_text": r.legal_basis_text,
                    "parties": "；".join(f"{p.name}（{PartyType(p.party_type).label}）" for p in r.parties),
                    "party_types": sorted({p.party_type for p in r.parties}),
                    "penalties": "；".join(dict.fromkeys(p.penalty for p in r.parties)),
                    "reasons": "；".join(r.reasons),
                }
            )
        frame = pd.DataFrame(rows).set_index("fid") if rows else pd.DataFrame(index=pd.Index([], name="fid"))
        geometry = lanes.geometry.reindex(frame.index) if len(frame) else []
        return gpd.GeoDataFrame(frame, geometry=list(geometry), crs=WGS84)

    def obstruction_frame(self) -> gpd.GeoDataFrame:
        """Every obstruction record with its placement; geometry is the point on the lane where placed (lon/lat)."""
        rows = [
            {
                "fid": o.fid,
                "lane_fid": o.lane_fid,
                "placement": o.placement,
                "overridden": o.overridden,
                "distance_m": o.distance_m,
                "position_m": o.position_m,
                "reported_lane_fid": o.reported_lane_fid,
                "reported_lane_m": o.reported_lane_m,
                "nearest_lane_fid": o.nearest_lane_fid,
                "nearest_lane_m": o.nearest_lane_m,
                "kind": o.kind,
                "remaining_width_m": o.remaining_width_m,
                "cleared": o.cleared,
                "responsible_party": o.responsible_party,
                "party_type": o.party_type,
                "effect": o.effect,
            }
            for o in self.obstructions
        ]
        frame = pd.DataFrame(rows).set_index("fid") if rows else pd.DataFrame(index=pd.Index([], name="fid"))
        return gpd.GeoDataFrame(frame, geometry=[o.geometry for o in self.obstructions], crs=WGS84)

    def spacing_frame(self) -> gpd.GeoDataFrame:
        """The blocks too wide for the spacing rule, as lon/lat polygons."""
        return spacing_frame(self.spacing)


# -- the analysis ----------------------------------------------------------------------------------------------------


def analyse_fire_lanes(
    lanes: gpd.GeoDataFrame,
    obstructions: gpd.GeoDataFrame | None = None,
    roads: gpd.GeoDataFrame | None = None,
    buildings: gpd.GeoDataFrame | None = None,
    *,
    rules: LaneRules | None = None,
    metric_crs: str = LOCAL_METRIC,
) -> FireLaneAnalysis:
    """Passability, obstructions, dead ends and spacing of `lanes` (lon/lat layers indexed by fid).

    `roads` count as lines a lane may meet and as block edges; without `buildings` no spacing check is made when
    the rules report only blocks with buildings.
    """
    rules = rules or LaneRules()
    lanes = lanes.sort_index()
    net = _Lanes(lanes, metric_crs)
    obstructions = _empty_like(lanes) if obstructions is None else obstructions.sort_index()
    placed = _place(net, obstructions, rules, metric_crs)
    road_geoms, road_flags = _roads(roads, metric_crs)
    ends = _dead_ends(net, road_geoms, road_flags, rules.connect_tolerance_m)
    lane_results = _lane_results(lanes, net, placed, ends, rules)
    lines = np.concatenate([net.geoms[net.valid_pos], road_geoms])
    flags = np.concatenate([np.zeros(len(net.valid_pos), bool), road_flags])
    spacing, checked, outside = block_spacing(lines, flags, *_buildings(buildings, metric_crs), rules, metric_crs)
    return FireLaneAnalysis(
        lanes=lane_results,
        obstructions=placed,
        spacing=spacing,
        blocks_checked=checked,
        buildings_outside_blocks=outside,
        rules=rules,
    )


def run_fire_lanes(store: Any, *, rules: LaneRules | None = None) -> FireLaneAnalysis:
    """The analysis over a store's fire_lanes, obstructions, roads and buildings layers (missing ones are empty)."""

    def read(name: str) -> gpd.GeoDataFrame | None:
        layer = LAYERS[name]
        return store.read(layer) if store.has(layer) else None

    lanes = read("fire_lanes")
    if lanes is None:
        lanes = gpd.GeoDataFrame(geometry=[], crs=WGS84)
    return analyse_fire_lanes(lanes, read("obstructions"), read("roads"), read("buildings"), rules=rules)


# -- lanes in metres -------------------------------------------------------------------------------------------------


class _Lanes:
    """The lanes in metres, sorted by fid, with an STRtree over those with a usable line."""

    def __init__(self, lanes: gpd.GeoDataFrame, metric_crs: str) -> None:
        self.fids = lanes.index.to_numpy().astype(np.int64)
        geoms = _metric(lanes, metric_crs)
        lineal = np.isin(shapely.get_type_id(geoms), (1, 2, 5))
        multi = lineal & (shapely.get_type_id(geoms) == 5)
        if multi.any():
            geoms[multi] = shapely.line_merge(geoms[multi])  # one LineString where the parts join end to end
        self.geoms = geoms
        length = np.where(lineal, shapely.length(geoms), np.nan)
        self.valid = lineal & (length > 0)
        self.length = np.where(self.valid, length, np.nan)
        self.valid_pos = np.flatnonzero(self.valid)
        self.tree = shapely.STRtree(geoms[self.valid_pos])

    def position_of(self, fids: np.ndarray) -> np.ndarray:
        """Row of each lane fid (float, NaN for none) among the usable lanes; -1 for none, unknown or unusable."""
        out = np.full(len(fids), -1)
        known = ~np.isnan(fids)
        if known.any() and len(self.fids):
            at = np.clip(np.searchsorted(self.fids, fids[known]), 0, len(self.fids) - 1)
            hit = (self.fids[at] == fids[known]) & self.valid[at]
            out[np.flatnonzero(known)[hit]] = at[hit]
        return out


def _metric(frame: gpd.GeoDataFrame, metric_crs: str) -> np.ndarray:
    """The frame's geometries in metres; None where missing or empty. A frame without a CRS is taken as lon/lat."""
    geoms = np.asarray(frame.geometry.to_numpy() if len(frame) else [], dtype=object)
    out = np.full(len(geoms), None, dtype=object)
    if len(geoms):
        ok = ~shapely.is_missing(geoms)
        ok[ok] = ~shapely.is_empty(geoms[ok])
        if ok.any():
            src = frame.crs.to_string() if frame.crs is not None else WGS84
            out[ok] = transform_geometries(geoms[ok], src, metric_crs)
    return out


def _lonlat(geoms: np.ndarray, metric_crs: str) -> np.ndarray:
    """Metric geometries back to lon/lat (None stays None)."""
    out = np.full(len(geoms), None, dtype=object)
    ok = ~shapely.is_missing(geoms)
    if ok.any():
        out[ok] = transform_geometries(geoms[ok], metric_crs, WGS84)
    return out


def _empty_like(lanes: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """An obstruction layer with no rows."""
    return gpd.GeoDataFrame(geometry=[], crs=lanes.crs or WGS84)


def _floats(frame: pd.DataFrame, name: str) -> np.ndarray:
    """A numeric column as floats, NaN where missing or absent."""
    if name not in frame:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[name], errors="coerce").astype(float).to_numpy(na_value=np.nan)


def _bools(frame: pd.DataFrame, name: str) -> np.ndarray:
    """A boolean column as objects: True, False or None where missing or absent."""
    if name not in frame:
        return np.full(len(frame), None, dtype=object)
    return np.array([None if pd.isna(v) else bool(v) for v in frame[name]], dtype=object)


def _texts(frame: pd.DataFrame, name: str) -> np.ndarray:
    """A text or code column as objects: str or None."""
    if name not in frame:
        return np.full(len(frame), None, dtype=object)
    values = [None if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v) for v in frame[name]]
    return np.array(values, dtype=object)


def _num(value: float, digits: int = 2) -> float | None:
    """A float for output: rounded, None for NaN."""
    return None if value is None or np.isnan(value) else round(float(value), digits)


def _roads(roads: gpd.GeoDataFrame | None, metric_crs: str) -> tuple[np.ndarray, np.ndarray]:
    """Usable road lines in metres and their grade-separation flags."""
    if roads is None or len(roads) == 0:
        return np.empty(0, dtype=object), np.zeros(0, bool)
    roads = roads.sort_index()
    geoms = _metric(roads, metric_crs)
    flags = np.array([v is True for v in _bools(roads, "grade_separated")], dtype=bool)
    ok = np.isin(shapely.get_type_id(geoms), (1, 2, 5))
    ok[ok] = shapely.length(geoms[ok]) > 0
    return geoms[ok], flags[ok]


def _buildings(buildings: gpd.GeoDataFrame | None, metric_crs: str) -> tuple[np.ndarray, np.ndarray]:
    """Building fids in order and their footprints in metres (None where missing), for the spacing check."""
    if buildings is None or len(buildings) == 0:
        return np.empty(0, np.int64), np.empty(0, dtype=object)
    buildings = buildings.sort_index()
    return buildings.index.to_numpy().astype(np.int64), _metric(buildings, metric_crs)


# -- obstructions ----------------------------------------------------------------------------------------------------


def _place(
    lanes: _Lanes, obstructions: gpd.GeoDataFrame, rules: LaneRules, metric_crs: str
) -> tuple[PlacedObstruction, ...]:
    """Each obstruction on its reported lane when near, else on the nearest lane within reach, else on none."""
    n = len(obstructions)
    pts = _metric(obstructions, metric_crs)
    located = ~shapely.is_missing(pts)
    located[located] = shapely.get_type_id(pts[located]) == 0
    reported = _floats(obstructions, "lane_id")
    max_m = rules.snap_max_m

    lane = np.full(n, -1)
    dist = np.full(n, np.nan)
    how = np.where(located, "not_on_lane", "no_location").astype(object)
    rep = lanes.position_of(reported)
    rep_dist = np.full(n, np.nan)
    has = located & (rep >= 0)
    rep_dist[has] = shapely.distance(pts[has], lanes.geoms[rep[has]])
    take = has & (rep_dist <= max_m + _SLACK_M)
    lane[take], dist[take], how[take] = rep[take], rep_dist[take], "reported_lane"

    rest = np.flatnonzero(located & ~take)
    near_fid = np.full(n, -1)
    near_m = np.full(n, np.nan)
    if len(rest) and len(lanes.valid_pos):
        (q, c), d = lanes.tree.query_nearest(pts[rest], return_distance=True, all_matches=True)
        c = lanes.valid_pos[c]
        first = first_per_group(q, d, lanes.fids[c])  # nearest, ties to the smaller fid
        q, c, d = q[first], c[first], d[first]
        near_fid[rest[q]], near_m[rest[q]] = lanes.fids[c], d
        within = d <= max_m + _SLACK_M
        sel = rest[q[within]]
        lane[sel], dist[sel], how[sel] = c[within], d[within], "nearest_lane"

    placed = lane >= 0
    pos = np.full(n, np.nan)
    on_lane = np.full(n, None, dtype=object)
    if placed.any():
        pos[placed] = shapely.line_locate_point(lanes.geoms[lane[placed]], pts[placed])
        on_lane[placed] = shapely.line_interpolate_point(lanes.geoms[lane[placed]], pos[placed])
    shown = np.where(placed, _lonlat(on_lane, metric_crs), np.asarray(obstructions.geometry.to_numpy(), dtype=object))

    remaining = _floats(obstructions, "remaining_width_m")
    cleared = np.array([v is True for v in _bools(obstructions, "cleared")], dtype=bool)  # unknown: not cleared
    kinds, parties, types = (_texts(obstructions, c) for c in ("kind", "responsible_party", "party_type"))
    blocks = np.where(np.isnan(remaining), rules.unknown_remaining_blocks, remaining < rules.min_clear_width_m)
    effect = np.where(~placed, "not_on_lane", np.where(cleared, "cleared", np.where(blocks, "blocks", "narrows")))
    fids = obstructions.index.to_numpy().astype(np.int64)
    out = []
    for i in range(n):
        rep_fid = None if np.isnan(reported[i]) else int(reported[i])
        out.append(
            PlacedObstruction(
                fid=int(fids[i]),
                lane_fid=int(lanes.fids[lane[i]]) if placed[i] else None,
                placement=str(how[i]),
                distance_m=_num(dist[i]),
                position_m=_num(pos[i]),
                reported_lane_fid=rep_fid,
                reported_lane_m=_num(rep_dist[i]),
                nearest_lane_fid=int(near_fid[i]) if not placed[i] and near_fid[i] >= 0 else None,
                nearest_lane_m=_num(near_m[i]) if not placed[i] else None,
                kind=kinds[i],
                remaining_width_m=_num(remaining[i]),
                cleared=bool(cleared[i]),
                responsible_party=parties[i],
                party_type=types[i],
                effect=str(effect[i]),
                geometry=shown[i],
            )
        )
    return tuple(out)


# -- dead ends -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Ends:
    """Per lane row: whether each end is blind, and the blind length from each end to the nearest junction."""

    start_blind: np.ndarray
    end_blind: np.ndarray
    start_m: np.ndarray
    end_m: np.ndarray


def _dead_ends(lanes: _Lanes, roads: np.ndarray, road_flags: np.ndarray, tol: float) -> _Ends:
    """Where other lines meet each lane, and so which lane ends are blind.

    Another line meets a lane where it leaves the lane's corridor (the lane buffered by `tol`) from a point within
    `tol` of it: a crossing, a T, or a road carrying on past the lane's end. A line that only runs along the lane
    (a street drawn both as road and as fire lane) never leaves the corridor beside it, so it meets the lane only
    where it carries on past the lane's ends. A grade-separated road (bridge, tunnel) meets a lane only where the
    road itself ends within `tol` of it, never where it merely passes over or under. An end is blind when no meeting
    point lies within `tol` of it; a lane closed on itself (a ring) has no blind end.

    A meeting point is placed where the other line leaves the corridor, projected onto the lane, so a blind length
    measured to a line meeting at angle a may be short by up to tol / tan(a): 2 m at 45 degrees for tol = 2 m.
    """
    n = len(lanes.fids)
    start_blind = np.zeros(n, bool)
    end_blind = np.zeros(n, bool)
    start_m = np.full(n, np.nan)
    end_m = np.full(n, np.nan)
    vp = lanes.valid_pos
    if len(vp) == 0:
        return _Ends(start_blind, end_blind, start_m, end_m)
    own = lanes.geoms[vp]
    length = lanes.length[vp]
    lines = np.concatenate([own, roads])
    li, lj = shapely.STRtree(lines).query(own, predicate="dwithin", distance=tol)
    keep = li != lj
    separated = np.concatenate([np.zeros(len(own), bool), road_flags])
    sep = np.flatnonzero(keep & separated[lj])
    if len(sep):
        ends_near = np.minimum(
            shapely.distance(shapely.get_point(lines[lj[sep]], 0), own[li[sep]]),
            shapely.distance(shapely.get_point(lines[lj[sep]], -1), own[li[sep]]),
        )
        keep[sep] = ends_near <= tol + _SLACK_M
    li, lj = li[keep], lj[keep]
    corridor = shapely.buffer(own, tol) if tol > 0 else np.full(len(own), shapely.Polygon(), dtype=object)
    outside = shapely.difference(lines[lj], corridor[li])
    parts, which = shapely.get_parts(outside, return_index=True)
    parts_ok = shapely.get_type_id(parts) == 1
    parts, which = parts[parts_ok], which[parts_ok]
    tips = np.concatenate([shapely.get_point(parts, 0), shapely.get_point(parts, -1)])
    owner = li[np.concatenate([which, which])]
    # Buffer arcs are chords of the true circle: allow for them (quad_segs 8 puts them within 0.5 % inside).
    touch = shapely.distance(tips, own[owner]) <= tol * 1.005 + _SLACK_M
    owner, tips = owner[touch], tips[touch]
    at = shapely.line_locate_point(own[owner], tips)
    first = np.full(len(vp), np.inf)
    last = np.full(len(vp), -np.inf)
    np.minimum.at(first, owner, at)
    np.maximum.at(last, owner, at)
    met = np.isfinite(first)
    ring = shapely.is_closed(own)
    start_blind[vp] = (first > tol + _SLACK_M) & ~ring
    end_blind[vp] = (last < length - tol - _SLACK_M) & ~ring
    start_m[vp] = np.where(met, first, length)
    end_m[vp] = np.where(met, length - last, length)
    return _Ends(start_blind, end_blind, start_m, end_m)


# -- per lane ----------------------------------------------------------------------------------------------------------


def _lane_results(
    lanes: gpd.GeoDataFrame, net: _Lanes, placed: tuple[PlacedObstruction, ...], ends: _Ends, rules: LaneRules
) -> tuple[LaneResult, ...]:
    """Status, stretches, dead end, provisions and parties of every lane, in fid order."""
    width = _floats(lanes, "width_m")
    height = _floats(lanes, "clear_height_m")
    names = _texts(lanes, "name")
    surveyed = _texts(lanes, "status")
    marking = _texts(lanes, "marking")
    surveyed_dead = _bools(lanes, "dead_end")
    turnaround = _bools(lanes, "turnaround")
    texts = provision_texts(rules)
    on_lane: dict[int, list[PlacedObstruction]] = {}
    for o in sorted(placed, key=lambda o: (o.position_m or 0.0, o.fid)):
        if o.lane_fid is not None and not o.cleared:
            on_lane.setdefault(o.lane_fid, []).append(o)

    out = []
    for i, fid in enumerate(net.fids.tolist()):
        obs = on_lane.get(fid, [])
        status, stretches, reasons = _passability(net.length[i], width[i], height[i], obs, rules)
        widths = [w for w in (width[i], *(o.remaining_width_m for o in obs)) if w is not None and not np.isnan(w)]

        blind = tuple(e for e, b in (("start", ends.start_blind[i]), ("end", ends.end_blind[i])) if b)
        dead = bool(blind) if net.valid[i] else None
        dead_len = _num(max(ends.start_m[i] if e == "start" else ends.end_m[i] for e in blind)) if blind else None
        has_turn = turnaround[i] is True
        needs_turn = dead_len is not None and not has_turn and dead_len > rules.turnaround_min_length_m
        if dead:
            side = f"{rules.turnaround_side_m:g} m × {rules.turnaround_side_m:g} m"
            state = "有回车场" if has_turn else f"无回车场，应设不小于{side}的回车场" if needs_turn else "无回车场"
            reasons.append(f"尽头式通道（尽头段长{dead_len:g} m），{state}")

        mark = marking[i] or Marking.NONE.value
        duty = None
        if mark != Marking.MARKED:
            label = Marking(mark).label if mark in Marking.labels() else mark
            duty = f"按应急消〔2019〕334号施划禁停标线、“消防车道 禁止占用”标识和入口网格线并设警示牌（现状：{label}）"

        basis = [
            *(("gb50016_7_1_8", "gb50039") if stretches else ()),  # under 4 m somewhere: blocked
            *(("fire_law_28", "fire_law_60") if obs else ()),
            *(("gb50016_7_1_9",) if needs_turn else ()),
            *(("yjx_2019_334",) if duty else ()),
        ]
        out.append(
            LaneResult(
                fid=fid,
                name=names[i],
                length_m=_num(net.length[i]),
                width_m=_num(width[i]),
                clear_height_m=_num(height[i]),
                status=status.value,
                surveyed_status=surveyed[i],
                status_agrees=None if surveyed[i] is None else surveyed[i] == status.value,
                min_clear_width_m=_num(min(widths)) if widths else None,
                obstruction_fids=tuple(o.fid for o in obs),
                blocking_obstruction_fids=tuple(o.fid for o in obs if o.effect == "blocks"),
                stretches=stretches,
                dead_end=dead,
                surveyed_dead_end=surveyed_dead[i],
                dead_end_agrees=None if dead is None or surveyed_dead[i] is None else surveyed_dead[i] == dead,
                dead_end_length_m=dead_len,
                blind_ends=blind,
                turnaround=has_turn,
                needs_turnaround=needs_turn,
                marking=str(mark),
                marking_duty=duty,
                legal_basis=tuple(basis),
                legal_basis_text="\n".join(texts[code] for code in basis),
                parties=_parties(obs, rules),
                reasons=tuple(reasons),
            )
        )
    return tuple(out)


def _passability(
    length: float, width: float, height: float, obs: list[PlacedObstruction], rules: LaneRules
) -> tuple[LaneStatus, tuple[Stretch, ...], list[str]]:
    """A lane's status from its own width and height and the uncleared obstructions on it (in order along it).

    Unknown width or height (NaN) is no finding; every obstruction is one, blocking or not.
    """
    reasons: list[str] = []
    stretches: list[Stretch] = []
    whole = (0.0, _num(length) or 0.0)
    if width < rules.min_clear_width_m:
        stretches.append(Stretch(*whole, "lane_width"))
        reasons.append(f"通道净宽{width:g} m，小于{rules.min_clear_width_m:g} m")
    if height < rules.min_clear_height_m:
        stretches.append(Stretch(*whole, "clear_height"))
        reasons.append(f"净空高度{height:g} m，小于{rules.min_clear_height_m:g} m")
    for o in obs:
        kind = ObstructionKind(o.kind).label if o.kind in ObstructionKind.labels() else (o.kind or "占用")
        left = "未测" if o.remaining_width_m is None else f"{o.remaining_width_m:g} m"
        said = f"占用点{o.fid}（{kind}）距起点{o.position_m:.0f} m处剩余净宽{left}"
        if o.effect == "blocks":
            stretches.append(Stretch(o.position_m, o.position_m, "obstruction", o.fid))
            short = "按堵塞计" if o.remaining_width_m is None else f"不足{rules.min_clear_width_m:g} m"
            reasons.append(f"{said}，{short}，通道在此截断")
        else:
            reasons.append(f"{said}，仍可通行但属占用")
    if stretches:
        status = LaneStatus.BLOCKED
    elif obs:
        status = LaneStatus.PARTIAL
    else:
        status = LaneStatus.PASSABLE
    stretches.sort(key=lambda s: (s.from_m, s.to_m, s.cause, s.obstruction_fid or 0))
    return status, tuple(stretches), reasons


def _parties(obs: list[PlacedObstruction], rules: LaneRules) -> tuple[Party, ...]:
    """The responsible parties of a lane's uncleared obstructions, each with its 第六十条 track; sorted by name."""
    grouped: dict[tuple[str, str], list[int]] = {}
    for o in obs:
        key = (o.responsible_party or "未登记", o.party_type or PartyType.INDIVIDUAL.value)
        grouped.setdefault(key, []).append(o.fid)
    return tuple(
        Party(name=name, party_type=kind, obstruction_fids=tuple(sorted(fids)), penalty=penalty_text(kind, rules))
        for (name, kind), fids in sorted(grouped.items())
    )
