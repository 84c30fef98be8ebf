"""GB 18218-2018 identification (辨识) and grading (分级) of major hazard sources, with the exposed people from the map.

A township must know which of its hazardous sites are 危险化学品重大危险源 and at which grade, because the grade sets
who supervises the site and how often. This module computes both from the risk-sources layer and the buildings layer:

- **Critical quantity Q** of each substance (domain.md §3.4–3.5): Table 1 by CAS number, else by name (the three
  硝酸铵 rows share one CAS number and are told apart by name), else Table 2 by hazard class. A substance none of these
  place is reported as not identified, with the reason; it is never dropped silently.
- **Identification** (§4.2.1 Eq. 1): S = Σ q/Q; the unit is a major hazard source when S ≥ 1.
- **Exposed people** (Table 5): residents of the buildings within 500 m of the site boundary, found through an STRtree
  `dwithin` query (exact distance, no polygonised circle), so the work grows as n log n.
- **Grading** (§4.3.2 Eq. 2): R = α · Σ β·q/Q with β from Table 3 (named toxic gases) or Table 4 (hazard class);
  一级 R ≥ 100, 二级 50 ≤ R < 100, 三级 10 ≤ R < 50, 四级 R < 10, graded only when S ≥ 1.

Every table and threshold lives in `HazardRules` with its source; [K] marks judgement to be replaced locally.
"""

from __future__ import annotations

import json
import math
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from analysis.priority import parameters, rule
from geo.crs import LOCAL_METRIC

__all__ = [
    "COLUMNS",
    "DEFAULT_RULES",
    "TABLE_1",
    "TABLE_2",
    "TABLE_3",
    "TABLE_4",
    "TABLE_5",
    "TABLE_6",
    "CriticalQuantity",
    "HazardRules",
    "Identification",
    "SourceAssessment",
    "SubstanceResult",
    "ToxicGas",
    "alpha_for",
    "assess",
    "assess_sources",
    "exposed_buildings",
    "grade_for",
    "identify",
    "identify_substance",
    "parameters",
    "parse_substances",
]

_STD = "GB 18218-2018"
_T1 = f"{_STD} 表1 [C] (domain.md §3.4)"
_T2 = f"{_STD} 表2 [C] (domain.md §3.5)"
_T3 = f"{_STD} 表3 [C] (domain.md §3.3)"
_T4 = f"{_STD} 表4 [C] (domain.md §3.3)"
_T5 = f"{_STD} 表5 and 安监总局令40号 annex [C] (domain.md §3.2)"
_T6 = f"{_STD} 表6 [C] (domain.md §3.2)"


@dataclass(frozen=True)
class CriticalQuantity:
    """One row of Table 1: a named chemical, its CAS numbers, names people write for it and its critical quantity."""

    key: str
    names: tuple[str, ...]
    cas: tuple[str, ...]
    q_t: float
    beta_class: str | None
    source: str = _T1


@dataclass(frozen=True)
class ToxicGas:
    """One gas of Table 3 with its β correction factor; CAS numbers let a record without the exact name match."""

    name: str
    names: tuple[str, ...]
    cas: tuple[str, ...]
    beta: float


#: Table 1 (t). The β class feeds Table 4 when the substance is not in Table 3 and the record names no class; it is
#: [K] judgement from the GHS class of the pure substance, not stated in domain.md.
TABLE_1: tuple[CriticalQuantity, ...] = (
    CriticalQuantity("液化石油气", ("液化石油气", "LPG", "丙烷", "丁烷"), ("68476-85-7",), 50.0, "W2"),
    CriticalQuantity(
        "甲烷、天然气", ("甲烷", "天然气", "液化天然气", "压缩天然气"), ("74-82-8", "8006-14-2"), 50.0, "W2"
    ),
    CriticalQuantity("汽油", ("汽油", "乙醇汽油", "甲醇汽油"), ("86290-81-5",), 200.0, "W5.1"),
    CriticalQuantity("氯", ("氯", "液氯", "氯气"), ("7782-50-5",), 5.0, None),
    CriticalQuantity("氨", ("氨", "液氨", "氨气"), ("7664-41-7",), 10.0, None),
    CriticalQuantity("氢", ("氢", "氢气"), ("1333-74-0",), 5.0, "W2"),
    CriticalQuantity("乙炔", ("乙炔",), ("74-86-2",), 1.0, "W2"),
    CriticalQuantity("氧(压缩或液化)", ("氧", "氧气", "液氧", "压缩氧"), ("7782-44-7",), 200.0, "W4"),
    CriticalQuantity("硫化氢", ("硫化氢",), ("7783-06-4",), 5.0, None),
    CriticalQuantity("甲醇", ("甲醇",), ("67-56-1",), 500.0, "W5.3"),
    CriticalQuantity("乙醇", ("乙醇",), ("64-17-5",), 500.0, "W5.3"),
    CriticalQuantity("苯", ("苯",), ("71-43-2",), 50.0, "W5.3"),
    CriticalQuantity("甲苯", ("甲苯",), ("108-88-3",), 500.0, "W5.3"),
    CriticalQuantity(
        "硝酸铵(含可燃物>0.2%)",
        ("硝酸铵(含可燃物>0.2%)", "硝酸铵(可燃物>0.2%)", "硝酸铵(含可燃物大于0.2%)"),
        ("6484-52-2",),
        5.0,
        "W1.1",
    ),
    CriticalQuantity(
        "硝酸铵(含可燃物≤0.2%)",
        ("硝酸铵(含可燃物≤0.2%)", "硝酸铵(可燃物≤0.2%)", "硝酸铵(含可燃物<=0.2%)", "硝酸铵(含可燃物不大于0.2%)"),
        ("6484-52-2",),
        50.0,
        "W9.2",
    ),
    CriticalQuantity(
        "硝酸铵肥料(含可燃物≤0.4%)",
        ("硝酸铵肥料", "硝酸铵肥料(含可燃物≤0.4%)", "硝酸铵肥料(可燃物≤0.4%)", "硝酸铵基化肥"),
        (),
        200.0,
        "W9.2",
    ),
    CriticalQuantity("碳化钙(电石)", ("碳化钙", "电石"), ("75-20-7",), 100.0, "W11"),
    CriticalQuantity("光气", ("光气", "碳酰氯"), ("75-44-5",), 0.3, None),
)

#: Table 2 (t): substances not in Table 1, by hazard class. W3 aerosols count their net content.
TABLE_2: tuple[tuple[str, float], ...] = tuple(
    {
        "J1": 5.0,
        "J2": 50.0,
        "J3": 50.0,
        "J4": 50.0,
        "J5": 500.0,
        "W1.1": 1.0,
        "W1.2": 10.0,
        "W1.3": 50.0,
        "W2": 10.0,
        "W3": 150.0,
        "W4": 50.0,
        "W5.1": 10.0,
        "W5.2": 50.0,
        "W5.3": 1000.0,
        "W5.4": 5000.0,
        "W6.1": 10.0,
        "W6.2": 50.0,
        "W7.1": 10.0,
        "W7.2": 50.0,
        "W8": 50.0,
        "W9.1": 50.0,
        "W9.2": 200.0,
        "W10": 200.0,
        "W11": 200.0,
    }.items()  # fmt: skip
)

#: Table 3: β of the named toxic gases (CAS numbers [K], added for matching records that spell the name otherwise).
TABLE_3: tuple[ToxicGas, ...] = (
    ToxicGas("一氧化碳", ("一氧化碳",), ("630-08-0",), 2.0),
    ToxicGas("二氧化硫", ("二氧化硫",), ("7446-09-5",), 2.0),
    ToxicGas("氨", ("氨", "液氨", "氨气"), ("7664-41-7",), 2.0),
    ToxicGas("环氧乙烷", ("环氧乙烷",), ("75-21-8",), 2.0),
    ToxicGas("氯化氢", ("氯化氢",), ("7647-01-0",), 3.0),
    ToxicGas("溴甲烷", ("溴甲烷",), ("74-83-9",), 3.0),
    ToxicGas("氯", ("氯", "液氯", "氯气"), ("7782-50-5",), 4.0),
    ToxicGas("硫化氢", ("硫化氢",), ("7783-06-4",), 5.0),
    ToxicGas("氟化氢", ("氟化氢",), ("7664-39-3",), 5.0),
    ToxicGas("二氧化氮", ("二氧化氮",), ("10102-44-0",), 10.0),
    ToxicGas("氰化氢", ("氰化氢",), ("74-90-8",), 10.0),
    ToxicGas("碳酰氯", ("碳酰氯", "光气"), ("75-44-5",), 20.0),
    ToxicGas("磷化氢", ("磷化氢",), ("7803-51-2",), 20.0),
    ToxicGas("异氰酸甲酯", ("异氰酸甲酯",), ("624-83-9",), 20.0),
)

#: Table 4: β by hazard class for substances not in Table 3; any other W class takes `other_w_beta`.
TABLE_4: tuple[tuple[str, float], ...] = tuple(
    {
        "J1": 4.0,
        "J2": 1.0,
        "J5": 1.0,
        "J3": 2.0,
        "J4": 2.0,
        "W1.1": 2.0,
        "W1.2": 2.0,
        "W1.3": 2.0,
        "W2": 1.5,
        "W5.1": 1.5,
        "W6.1": 1.5,
        "W7.1": 1.5,
    }.items()  # fmt: skip
)

#: Table 5: (fewest exposed people, α), highest band first.
TABLE_5: tuple[tuple[int, float], ...] = ((100, 2.0), (50, 1.5), (30, 1.2), (1, 1.0), (0, 0.5))

#: Table 6: (lowest R, grade), highest grade first; R below every bound is 四级.
TABLE_6: tuple[tuple[float, str], ...] = ((100.0, "一级"), (50.0, "二级"), (10.0, "三级"))


@dataclass(frozen=True)
class HazardRules:
    """The tables, the identification convention and the exposure rule, each with its source."""

    table_1: tuple[CriticalQuantity, ...] = rule(TABLE_1, "表1 危险化学品名称及临界量", _T1)
    table_2: tuple[tuple[str, float], ...] = rule(TABLE_2, "表2 未列入表1的危险化学品类别及临界量", _T2)
    table_3: tuple[ToxicGas, ...] = rule(TABLE_3, "表3 毒性气体校正系数β", _T3)
    table_4: tuple[tuple[str, float], ...] = rule(TABLE_4, "表4 未列入表3的危险化学品校正系数β", _T4)
    other_w_beta: float = rule(1.0, "其他W类β", _T4 + ": 其余W类 β = 1")
    alpha_bands: tuple[tuple[int, float], ...] = rule(TABLE_5, "表5 暴露人员校正系数α", _T5)
    grade_bands: tuple[tuple[float, str], ...] = rule(TABLE_6, "表6 分级标准", _T6)
    lowest_grade: str = rule("四级", "最低级别", _T6 + ": R < 10 为四级")
    major_threshold: float = rule(1.0, "辨识阈值S", f"{_STD} §4.2.1 式(1)")
    threshold_inclusive: bool = rule(True, "S等于阈值即构成", f"{_STD} §4.2.1: S ≥ 1 (≥, not >)")
    ambiguous_ammonium_nitrate_q_t: float | None = rule(
        5.0,
        "硝酸铵未注明可燃物含量时临界量(t)",
        "[K] the three 硝酸铵 rows of 表1 share CAS 6484-52-2; a record that does not say which takes the strictest "
        "(5 t); None reports it as not identified",
    )
    exposure_radius_m: float = rule(500.0, "暴露人员统计范围(m)", _T5 + ": 厂界外500 m范围内常住人口")
    site_radius_m: float = rule(
        0.0, "点状场所厂界半径(m)", "[K] a site stored as a point has no boundary; 0 = the point"
    )
    exposure_rule: Literal["intersects", "centroid"] = rule(
        "intersects",
        "部分重叠建筑计入规则",
        "[K] intersects: a building counts when its footprint comes within the range; centroid: when its centroid does",
    )
    exclude_inside_site: bool = rule(
        True,
        "不计厂区内建筑",
        "表5 counts people outside the plant (厂外); buildings within a site polygon are left out",
    )
    metric_crs: str = rule(LOCAL_METRIC, "量算坐标系", "domain.md §9.3: CGCS2000 3° Gauss-Krüger CM 120E (metres)")
    tolerance: float = rule(
        1e-9, "比较容差(相对)", "working tolerance, not a source: sums of q/Q differ from exact values in the last bits"
    )


DEFAULT_RULES = HazardRules()


# --- substances -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubstanceResult:
    """One substance of a site: its q, Q, β, q/Q and where Q and β came from, or why it could not be placed."""

    name: str
    cas: str | None
    hazard_class: str | None
    q_t: float | None
    identified: bool
    q_crit_t: float | None = None
    q_source: str | None = None
    beta: float | None = None
    beta_source: str | None = None
    reason: str | None = None

    @property
    def ratio(self) -> float | None:
        """q/Q, the substance's share of the critical quantity."""
        if not self.identified or self.q_t is None or not self.q_crit_t:
            return None
        return self.q_t / self.q_crit_t

    def as_dict(self) -> dict[str, Any]:
        """Plain fields plus q/Q, for frames and JSON."""
        return {
            "name": self.name,
            "cas": self.cas,
            "hazard_class": self.hazard_class,
            "q_t": self.q_t,
            "Q_t": self.q_crit_t,
            "ratio": self.ratio,
            "beta": self.beta,
            "q_source": self.q_source,
            "beta_source": self.beta_source,
            "identified": self.identified,
            "reason": self.reason,
        }


def _norm(text: str | None) -> str:
    """Compare names as people write them: full-width forms folded, spaces dropped, Latin letters upper-case."""
    if text is None:
        return ""
    return "".join(unicodedata.normalize("NFKC", str(text)).split()).upper()


def _norm_class(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = _norm(value)
    return text or None


def parse_substances(value: Any) -> list[dict[str, Any]]:
    """The substances of one site as dicts; stored frames hold them as JSON text, built ones as lists."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    if isinstance(value, str):
        value = json.loads(value) if value.strip() else []
    return [item.model_dump() if hasattr(item, "model_dump") else dict(item) for item in value]


def _table_1_row(name: str, cas: str | None, rules: HazardRules) -> tuple[CriticalQuantity | None, str, str | None]:
    """The Table 1 row for a substance, how it was matched, and why it was not when it was not."""
    key = _norm(name)
    by_name = [row for row in rules.table_1 if key in {_norm(n) for n in row.names}]
    by_cas = [row for row in rules.table_1 if cas and cas in row.cas]
    if len(by_cas) == 1:
        return by_cas[0], f"CAS {cas}", None
    if by_cas:
        # One CAS number, several rows (硝酸铵): the name says which.
        named = [row for row in by_cas if row in by_name]
        if len(named) == 1:
            return named[0], f"CAS {cas} + 名称", None
        if rules.ambiguous_ammonium_nitrate_q_t is not None:
            strict = [row for row in by_cas if row.q_t == rules.ambiguous_ammonium_nitrate_q_t]
            if strict:
                return strict[0], f"CAS {cas}, 可燃物含量未注明, 从严取值", None
        rows = "、".join(row.key for row in by_cas)
        return None, "", f"CAS {cas} 对应表1多行({rows}), 名称未注明是哪一种"
    if len(by_name) == 1:
        return by_name[0], "名称", None
    if by_name:
        return None, "", f"名称“{name}”对应表1多行"
    return None, "", None


def _toxic_gas(name: str, cas: str | None, row: CriticalQuantity | None, rules: HazardRules) -> ToxicGas | None:
    keys = {_norm(name)} | ({_norm(n) for n in row.names} if row else set())
    cas_set = ({cas} if cas else set()) | (set(row.cas) if row else set())
    for gas in rules.table_3:
        if keys & {_norm(n) for n in gas.names} or cas_set & set(gas.cas):
            return gas
    return None


def _beta_for_class(hazard_class: str, rules: HazardRules) -> float | None:
    table_4 = dict(rules.table_4)
    if hazard_class in table_4:
        return table_4[hazard_class]
    if hazard_class.startswith("W") and hazard_class in dict(rules.table_2):
        return rules.other_w_beta
    return None


def identify_substance(item: Mapping[str, Any], rules: HazardRules = DEFAULT_RULES) -> SubstanceResult:
    """Place one substance in Table 1 (CAS, then name) or Table 2 (class) and give its β (Table 3, then Table 4)."""
    name = str(item.get("name") or "").strip()
    cas = item.get("cas") or None
    hazard_class = _norm_class(item.get("hazard_class"))
    raw_q = item.get("quantity_t")
    q = None if raw_q is None or (isinstance(raw_q, float) and math.isnan(raw_q)) else float(raw_q)
    base = {"name": name or "(未命名)", "cas": cas, "hazard_class": hazard_class, "q_t": q}
    if q is None or q < 0:
        return SubstanceResult(**base, identified=False, reason="未填写最大储量q(设计最大量, §4.2.2)")
    row, how, why = _table_1_row(name, cas, rules)
    if why:
        return SubstanceResult(**base, identified=False, reason=why)
    if row is not None:
        q_crit, q_source = row.q_t, f"表1 {row.key} (按{how})"
    elif hazard_class in (table_2 := dict(rules.table_2)):
        q_crit, q_source = table_2[hazard_class], f"表2 {hazard_class}"
    else:
        reason = (
            f"表1无此物质(CAS/名称均未匹配), 危险性类别“{hazard_class}”不在表2中"
            if hazard_class
            else "表1无此物质(CAS/名称均未匹配), 且未填写危险性类别, 无法按表2确定临界量"
        )
        return SubstanceResult(**base, identified=False, reason=reason)
    gas = _toxic_gas(name, cas, row, rules)
    if gas is not None:
        beta, beta_source = gas.beta, f"表3 {gas.name}"
    else:
        beta_class = hazard_class or (row.beta_class if row else None)
        beta = _beta_for_class(beta_class, rules) if beta_class else None
        if beta is None:
            return SubstanceResult(**base, identified=False, reason=f"无法按表4确定β(类别“{beta_class}”)")
        told = "" if hazard_class else f", 记录未填类别, 按表1 {row.key} 的常见类别[K]"
        beta_source = f"表4 {beta_class}{told}"
    return SubstanceResult(
        **base, identified=True, q_crit_t=q_crit, q_source=q_source, beta=beta, beta_source=beta_source
    )


@dataclass(frozen=True)
class Identification:
    """S = Σ q/Q over the identified substances, Σ β·q/Q for grading, and whether the unit is major."""

    substances: tuple[SubstanceResult, ...]
    S: float
    beta_sum: float
    major: bool
    complete: bool


def _at_least(value: float, bound: float, rules: HazardRules, *, inclusive: bool = True) -> bool:
    slack = rules.tolerance * max(1.0, abs(bound))
    return value >= bound - slack if inclusive else value > bound + slack


def identify(substances: Iterable[Mapping[str, Any]], rules: HazardRules = DEFAULT_RULES) -> Identification:
    """§4.2.1 Eq. (1) for one unit: S over the substances that could be placed; the rest are listed, not dropped."""
    results = tuple(identify_substance(item, rules) for item in substances)
    placed = [r for r in results if r.identified]
    s = math.fsum(r.ratio for r in placed)
    beta_sum = math.fsum(r.beta * r.ratio for r in placed)
    major = _at_least(s, rules.major_threshold, rules, inclusive=rules.threshold_inclusive)
    return Identification(results, s, beta_sum, major, len(placed) == len(results))


def alpha_for(people: int, rules: HazardRules = DEFAULT_RULES) -> float:
    """Table 5: α for the number of people exposed outside the plant."""
    for fewest, alpha in rules.alpha_bands:
        if people >= fewest:
            return alpha
    raise ValueError(f"exposed people must be ≥ 0, got {people}")


def grade_for(r: float, rules: HazardRules = DEFAULT_RULES) -> str:
    """Table 6: the grade of a major hazard source from its R."""
    for lowest, grade in rules.grade_bands:
        if _at_least(r, lowest, rules):
            return grade
    return rules.lowest_grade


# --- exposed people ----------------------------------------------------------------------------------------------


def exposed_buildings(
    sites: gpd.GeoSeries, buildings: gpd.GeoDataFrame, rules: HazardRules = DEFAULT_RULES
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (site position, building position) of the buildings that count as exposed for each site.

    A point site reaches `site_radius_m + exposure_radius_m`; a polygon site reaches `exposure_radius_m` from its
    boundary. Distances are exact shapely distances in `rules.metric_crs`, via one STRtree `dwithin` query.
    """
    if len(sites) == 0 or len(buildings) == 0:
        return np.zeros(0, np.intp), np.zeros(0, np.intp)
    site_geoms = np.asarray(sites.to_crs(rules.metric_crs).values, dtype=object)
    footprints = np.asarray(buildings.geometry.to_crs(rules.metric_crs).values, dtype=object)
    targets = shapely.centroid(footprints) if rules.exposure_rule == "centroid" else footprints
    is_area = np.isin(shapely.get_type_id(site_geoms), (3, 6))  # Polygon, MultiPolygon
    reach = np.where(is_area, 0.0, rules.site_radius_m) + rules.exposure_radius_m
    tree = shapely.STRtree(targets)
    site_pos, building_pos = tree.query(site_geoms, predicate="dwithin", distance=reach)
    if rules.exclude_inside_site and is_area.any():
        inside = is_area[site_pos] & shapely.within(footprints[building_pos], site_geoms[site_pos])
        site_pos, building_pos = site_pos[~inside], building_pos[~inside]
    return site_pos, building_pos


# --- per source -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceAssessment:
    """Everything an inspector needs to check one site: substances, S, exposed people, α, R, grade, explanation."""

    fid: int
    name: str
    kind: str | None
    substances: tuple[SubstanceResult, ...]
    S: float
    major: bool
    complete: bool
    exposed_people: int
    exposed_building_fids: tuple[int, ...]
    alpha: float
    beta_sum: float
    R: float
    grade: str | None
    rule: str
    explanation: str

    @property
    def status(self) -> str:
        """major, not_major, or incomplete when S < 1 and some substance could not be placed."""
        if self.major:
            return "major"
        return "not_major" if self.complete else "incomplete"

    def as_dict(self) -> dict[str, Any]:
        """One row of the result frame, with the substances as plain dicts."""
        return {
            "name": self.name,
            "kind": self.kind,
            "S": self.S,
            "major": self.major,
            "status": self.status,
            "rule": self.rule,
            "exposed_people": self.exposed_people,
            "exposed_building_fids": list(self.exposed_building_fids),
            "alpha": self.alpha,
            "beta_sum": self.beta_sum,
            "R": self.R,
            "grade": self.grade,
            "unidentified": [s.name for s in self.substances if not s.identified],
            "substances": [s.as_dict() for s in self.substances],
            "explanation": self.explanation,
        }


def _fmt(x: float) -> str:
    return f"{x:.4g}" if abs(x) < 1e4 else f"{x:,.0f}"


def _rule_text(rules: HazardRules) -> str:
    return f"S {'≥' if rules.threshold_inclusive else '>'} {_fmt(rules.major_threshold)}"


def _explain(
    ident: Identification, people: int, n_buildings: int, alpha: float, r: float, grade: str | None, rules: HazardRules
) -> str:
    placed = [s for s in ident.substances if s.identified]
    terms = " + ".join(f"{_fmt(s.q_t)}/{_fmt(s.q_crit_t)}({s.name}, {s.q_source})" for s in placed) or "0"
    op = "≥" if ident.major else "<"
    verdict = "构成重大危险源" if ident.major else "不构成重大危险源"
    parts = [f"辨识({_STD} §4.2.1 式1, 判据{_rule_text(rules)}): S = {terms} = {ident.S:.3f} {op} 1, {verdict}。"]
    for s in ident.substances:
        if not s.identified:
            parts.append(f"未能辨识: {s.name}({s.reason}), 未计入S。")
    if not ident.complete and not ident.major:
        parts.append("结论待补充上述物质资料后确定。")
    beta_terms = " + ".join(f"{_fmt(s.beta)}×{_fmt(s.q_t)}/{_fmt(s.q_crit_t)}" for s in placed) or "0"
    reach = f"{_fmt(rules.exposure_radius_m)} m"
    how = "建筑轮廓与范围相交即计入" if rules.exposure_rule == "intersects" else "建筑中心点在范围内才计入"
    parts.append(f"暴露人员: 厂界外{reach}内{n_buildings}栋建筑共{people}人({how}), α = {_fmt(alpha)}(表5)。")
    parts.append(f"分级(§4.3.2 式2): R = {_fmt(alpha)} × ({beta_terms}) = {r:.2f}")
    if grade is not None:
        parts[-1] += f", 定为{grade}重大危险源(表6: 一级R≥100, 二级50≤R<100, 三级10≤R<50, 四级R<10)。"
    else:
        parts[-1] += ", S未达1, 不分级。"
    return "".join(parts)


def assess_sources(
    risk_sources: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame, rules: HazardRules = DEFAULT_RULES
) -> dict[int, SourceAssessment]:
    """Identify and grade every risk source; keys are the sources' fids (the frame index)."""
    site_pos, building_pos = exposed_buildings(risk_sources.geometry, buildings, rules)
    residents = (
        pd.to_numeric(buildings["residents"], errors="coerce").fillna(0).to_numpy(dtype=np.int64)
        if "residents" in buildings.columns
        else np.zeros(len(buildings), np.int64)
    )
    building_fids = buildings.index.to_numpy()
    people = np.bincount(site_pos, weights=residents[building_pos], minlength=len(risk_sources)).astype(np.int64)
    order = np.lexsort((building_pos, site_pos))
    site_pos, building_pos = site_pos[order], building_pos[order]
    starts = np.searchsorted(site_pos, np.arange(len(risk_sources) + 1))

    out: dict[int, SourceAssessment] = {}
    names = risk_sources["name"] if "name" in risk_sources.columns else pd.Series("", index=risk_sources.index)
    kinds = risk_sources["kind"] if "kind" in risk_sources.columns else pd.Series(None, index=risk_sources.index)
    for i, (fid, raw) in enumerate(zip(risk_sources.index, risk_sources["substances"], strict=True)):
        ident = identify(parse_substances(raw), rules)
        hit = building_pos[starts[i] : starts[i + 1]]
        n_people = int(people[i])
        alpha = alpha_for(n_people, rules)
        r = alpha * ident.beta_sum
        grade = grade_for(r, rules) if ident.major else None
        out[int(fid)] = SourceAssessment(
            fid=int(fid),
            name=str(names.iloc[i]),
            kind=None if pd.isna(kinds.iloc[i]) else str(kinds.iloc[i]),
            substances=ident.substances,
            S=ident.S,
            major=ident.major,
            complete=ident.complete,
            exposed_people=n_people,
            exposed_building_fids=tuple(int(f) for f in building_fids[hit]),
            alpha=alpha,
            beta_sum=ident.beta_sum,
            R=r,
            grade=grade,
            rule=_rule_text(rules),
            explanation=_explain(ident, n_people, len(hit), alpha, r, grade, rules),
        )
    return out


#: Columns of the frame `assess` returns, in order.
COLUMNS: tuple[str, ...] = (
    "name", "kind", "S", "major", "status", "rule", "exposed_people", "exposed_building_fids", "alpha", "beta_sum",
    "R", "grade", "unidentified", "substances", "explanation",
)  # fmt: skip


def assess(
    risk_sources: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame, rules: HazardRules = DEFAULT_RULES
) -> pd.DataFrame:
    """GB 18218 identification and grading of every risk source, one row per source indexed by fid."""
    detail = assess_sources(risk_sources, buildings, rules)
    rows: Sequence[dict[str, Any]] = [a.as_dict() for a in detail.values()]
    return pd.DataFrame(rows, index=pd.Index(list(detail), name="fid", dtype="int64"), columns=COLUMNS)
