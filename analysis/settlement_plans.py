"""Old settlements and villages ranked for rectification, and a draft 一区一策 plan for each old settlement.

The township plan orders old settlements and contiguous low-grade villages rectified, one plan per area (一区一策).
From the separation findings (`analysis.fire_separation`: pairs too close, 连片 clusters, counts per area):

- **Old settlements**: a settlement is old by its own build year, else by its share of old buildings (domain.md §6).
  Each gets the fire lanes within reach and those blocked, partly blocked or under 4 m (when lanes are given).
- **Score**: a transparent additive score per settlement and per village (each factor's points and a Chinese
  sentence naming the figures), and a rank (1 = first to rectify).
- **Drafts**: one 一区一策 record per settlement whose measures follow domain.md §5.3 and §6, with a deadline.

`analyse` runs the separation and all of this in one pass. The weights and triggers live in
`fire_separation.SeparationRules` with their sources; [K] marks judgement to be replaced locally.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from analysis.fire_separation import (
    DEFAULT_RULES,
    Separation,
    SeparationRules,
    is_old,
    metric_geometries,
    separate,
)


def _missing(value: Any) -> bool:
    return value is None or (not isinstance(value, str) and pd.isna(value))


# ---------------------------------------------------------------------------------------------------------------
# Fire lanes serving a settlement


def _lane_findings(settlements: pd.DataFrame, lanes: pd.DataFrame, rules: SeparationRules) -> pd.DataFrame:
    """Per settlement: fire lanes within reach, and the names of those blocked, partly blocked or under 4 m."""
    polys = metric_geometries(settlements)
    lines = metric_geometries(lanes)
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
    found: Separation,
    settlements: pd.DataFrame,
    membership: tuple[np.ndarray, np.ndarray],
    lanes: pd.DataFrame | None,
    rules: SeparationRules,
) -> pd.DataFrame:
    area, member = membership
    summary = found.counts(area, member, len(settlements))
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


def _village_table(found: Separation, villages: pd.DataFrame | None, rules: SeparationRules) -> pd.DataFrame:
    codes, summary = found.village_counts()
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
    """Seconds each step took, for the benchmark."""

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
    pairs: pd.DataFrame | None = None,
) -> SeparationResult:
    """Separation, clusters, village and settlement summaries, the ranking and the 一区一策 drafts in one pass.

    Layers are fid-indexed frames as stored (lon/lat EPSG:4326, or the CRS they declare); distances are measured
    in EPSG:4549 metres. `villages` only names the village codes; `fire_lanes` (optional) lets the drafts name
    lanes that are blocked or too narrow and settlements no lane reaches. The same input gives the same output.
    `pairs`: the too-close pairs when already found (`analysis.partitioned` on a Dask cluster).
    """
    clock = _Clock()
    found = separate(buildings, rules, clock.lap, pairs=pairs)
    has_settlements = old_settlements is not None and len(old_settlements) > 0
    per_building = found.building_frame(buildings.index)
    settlement_fid = pd.array([pd.NA] * len(per_building), dtype="Int64")
    if has_settlements:
        membership = found.inside(old_settlements)
        first = pd.DataFrame({"b": membership[1], "s": old_settlements.index.to_numpy()[membership[0]]})
        first = first.groupby("b")["s"].min()  # a building in overlapping settlements is shown in the first
        settlement_fid[first.index.to_numpy()] = first.to_numpy()
    per_building["settlement_fid"] = settlement_fid
    villages_table = _village_table(found, villages, rules)
    clock.lap("villages")
    if has_settlements:
        settlements = _settlement_table(found, old_settlements, membership, fire_lanes, rules)
    else:
        settlements = pd.DataFrame(index=pd.Index([], name="fid"))
    drafts = draft_plans(settlements, as_of, rules) if len(settlements) else []
    clock.lap("settlements")
    return SeparationResult(
        buildings=per_building,
        pairs=found.pairs_frame(),
        clusters=found.clusters,
        villages=villages_table,
        settlements=settlements,
        drafts=drafts,
        rules=rules,
        timings=clock.timings,
    )
