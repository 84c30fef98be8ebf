"""Which rural at-grade intersections get "千灯万带" treatment first: an additive score whose every point is shown.

domain.md §1.3 (derived from the Xingping 千灯万带 report and GB 14886-2016): the candidates are unsignalised
junctions of a 国道/省道 (or 县道) with a 县道/乡道/村道; rank them by their crashes over three years, with GB 14886
§5.1.3 as the "signal warranted" line, then by traffic volume, with a bonus for 穿镇 junctions. Every factor below
adds points; each intersection carries the points per factor and a short Chinese sentence per factor so a popup can
say why it ranks where it does. All weights are judgement [K] unless a source is named, and all live in
`PriorityRules` with their sources, so a county can replace them.

Crashes are counted as the accident-prone-spot screening counts them (analysis.screening): within 250 m of the
junction centre inclusive, over the last three years, without drink- or drug-driving crashes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import shapely

from analysis.screening import Rules as ScreeningRules
from analysis.screening import counted
from geo.crs import LOCAL_METRIC, WGS84, transform_geometries
from layers.vocab import AdminClass, Control, CrashType, Severity

#: Metres of slack on distance tests: coordinates pass through lon/lat and back (as in analysis.screening).
DISTANCE_TOLERANCE_M = 1e-3

#: The factors, in the order they are shown, with their Chinese names for tables and popups.
FACTOR_LABELS: dict[str, str] = {
    "major_road": "主路等级与限速",
    "volume": "交通量",
    "crashes": "3年事故",
    "warrant": "GB 14886事故条件",
    "skew": "斜交",
    "sight": "视距三角形受阻",
    "settlement": "穿镇",
    "school_market": "学校/集市",
    "existing": "已有设施",
}


def rule(default: Any, label: str, source: str) -> Any:
    """A rule parameter with its Chinese label and where its value comes from, kept for the parameter sheet."""
    return field(default=default, metadata={"label": label, "source": source})


def parameters(rules: Any) -> list[dict[str, Any]]:
    """Every parameter of a rules dataclass as rows (name, label, value, source), for export and the UI."""
    rows = []
    for f in fields(rules):
        if "label" not in f.metadata:
            continue
        value = getattr(rules, f.name)
        rows.append({"name": f.name, "label": f.metadata["label"], "value": value, "source": f.metadata["source"]})
    return rows


@dataclass(frozen=True)
class PriorityRules:
    """Which intersections are candidates and how many points each factor gives; [K] marks judgement."""

    # --- candidates ---
    major_classes: tuple[str, ...] = rule(
        ("G", "S", "X"), "候选主路等级", "domain.md §1.3 (derived): 主路为国道/省道(或县道)"
    )
    minor_classes: tuple[str, ...] = rule(
        ("X", "Y", "C"), "候选次路等级", "domain.md §1.3 (derived): 次路为县道/乡道/村道"
    )
    excluded_controls: tuple[str, ...] = rule(
        ("signal",), "排除的控制方式", "domain.md §1.1/§1.3: 千灯万带 targets 无信号灯控制平交路口"
    )
    # --- crash counting ---
    years: int = rule(ScreeningRules.years, "统计年限(年)", "GB 14886-2016 §5.1.3 and 多发点段规范 附录1: 3年内")
    radius_m: float = rule(
        ScreeningRules.spot_radius_m, "路口事故统计半径(m)", "多发点段规范 附录1: 普通公路 路口中心250 m以内(含)"
    )
    exclude_impaired: bool = rule(
        True, "排除酒驾、毒驾事故", "多发点段规范 附录1: 事故起数不含毒驾、酒驾 (as analysis.screening)"
    )
    fatal_points: float = rule(10.0, "每起死亡事故(分)", "[K] judgement; severity weights in the spirit of EPDO")
    injury_points: float = rule(4.0, "每起伤人事故(分)", "[K] judgement")
    property_points: float = rule(1.0, "每起财损事故(分)", "[K] judgement")
    # --- GB 14886-2016 accident warrant ---
    preventable_types: tuple[str, ...] = rule(
        ("angle", "pedestrian"),
        "信号灯可避免的事故形态",
        "[K] GB 14886-2016 §5.1.3 says 'crashes a signal would prevent' without a list; 侧面相撞 and 碰撞行人 assumed",
    )
    warrant_severities: tuple[str, ...] = rule(
        ("fatal", "injury", "property"), "事故条件计入的事故等级", "[K] §5.1.3 counts 交通事故 of any severity"
    )
    warrant_crashes_per_year: float = rule(5.0, "事故条件: 年均可避免事故(起)", "GB 14886-2016 §5.1.3: 年均5次以上")
    warrant_fatal_per_year: float = rule(1.0, "事故条件: 年均死亡事故(起)", "GB 14886-2016 §5.1.3: 年均1次以上死亡事故")
    warrant_partial: float = rule(0.8, "接近条件的比例", "GB 14886-2016 §5.1.4.1: 条件达到80%")
    warrant_points: float = rule(15.0, "满足§5.1.3(分)", "[K] judgement")
    warrant_partial_points: float = rule(6.0, "达到§5.1.3的80%(分)", "[K] judgement")
    # --- major road ---
    class_points: tuple[tuple[str, float], ...] = rule(
        (("G", 12.0), ("S", 10.0), ("X", 6.0)), "主路等级(分)", "[K] judgement: higher class, more and faster traffic"
    )
    speed_points: tuple[tuple[float, float], ...] = rule(
        ((80.0, 8.0), (60.0, 5.0), (40.0, 2.0)), "主路限速≥km/h(分)", "[K] judgement: first band the limit reaches"
    )
    # --- traffic volume (AADT, vehicles/day) ---
    major_aadt_points: tuple[tuple[float, float], ...] = rule(
        ((10000.0, 10.0), (5000.0, 7.0), (2000.0, 4.0), (0.0, 1.0)), "主路交通量≥辆/日(分)", "[K] judgement"
    )
    minor_aadt_points: tuple[tuple[float, float], ...] = rule(
        ((1000.0, 5.0), (300.0, 3.0), (0.0, 1.0)), "次路交通量≥辆/日(分)", "[K] judgement"
    )
    major_aadt_unknown_points: float = rule(
        4.0, "主路交通量未知(分)", "[K] neutral, not zero: a typical band (2,000–5,000 辆/日)"
    )
    minor_aadt_unknown_points: float = rule(
        3.0, "次路交通量未知(分)", "[K] neutral, not zero: a typical band (300–1,000 辆/日)"
    )
    # --- layout and surroundings ---
    skew_points: tuple[tuple[float, float], ...] = rule(
        ((45.0, 6.0), (30.0, 4.0), (15.0, 2.0)), "交角偏斜≥°(分)", "[K] judgement: skewed junctions hide traffic"
    )
    sight_points: float = rule(
        8.0, "视距三角形受阻(分)", "[K] points; GB 14886-2016 §5.1.1.3 names the obstruction as a reason for a signal"
    )
    settlement_points: float = rule(6.0, "穿镇(分)", "[K] points; domain.md §1.1 priority 1 and §1.3 穿镇 bonus")
    school_within_m: float = rule(300.0, "学校距离以内(m)", "[K] judgement")
    school_points: float = rule(5.0, "学校在距离内(分)", "[K] judgement")
    market_within_m: float = rule(300.0, "集市距离以内(m)", "[K] judgement")
    market_points: float = rule(3.0, "集市在距离内(分)", "[K] judgement")
    # --- what is already there lowers the need for that measure ---
    existing_flashing_points: float = rule(-6.0, "已有黄闪警示灯(分)", "[K] judgement")
    existing_belts_points: float = rule(-3.0, "已有减速带(分)", "[K] judgement")

    def __post_init__(self) -> None:
        known_classes = set(AdminClass.labels())
        for name in ("major_classes", "minor_classes"):
            _check_codes(name, getattr(self, name), known_classes)
        _check_codes("class_points", [c for c, _ in self.class_points], known_classes)
        _check_codes("excluded_controls", self.excluded_controls, set(Control.labels()))
        _check_codes("preventable_types", self.preventable_types, set(CrashType.labels()))
        _check_codes("warrant_severities", self.warrant_severities, set(Severity.labels()))
        if self.years < 1:
            raise ValueError(f"years must be at least 1, got {self.years}")
        if not self.radius_m > 0:
            raise ValueError(f"radius_m must be positive, got {self.radius_m}")
        if not 0 < self.warrant_partial <= 1:
            raise ValueError(f"warrant_partial must be in (0, 1], got {self.warrant_partial}")
        for name in ("speed_points", "major_aadt_points", "minor_aadt_points", "skew_points"):
            thresholds = [t for t, _ in getattr(self, name)]
            if thresholds != sorted(thresholds, reverse=True):
                raise ValueError(f"{name} must list its thresholds from high to low, got {thresholds}")


def _check_codes(name: str, codes: Iterable[str], known: set[str]) -> None:
    unknown = sorted(set(codes) - known)
    if unknown:
        raise ValueError(f"{name}: unknown code(s) {unknown}; known: {sorted(known)}")


@dataclass(frozen=True)
class Warrant:
    """The GB 14886-2016 accident condition at one junction: met (§5.1.3) or at 80 % of it (§5.1.4.1)."""

    met: bool
    partial: bool
    preventable: int
    fatal: int
    preventable_needed: int
    fatal_needed: int


def warrant(preventable: int, fatal: int, rules: PriorityRules = PriorityRules()) -> Warrant:
    """§5.1.3 over `rules.years`: ≥ 5 preventable crashes a year on average, or ≥ 1 fatal crash a year on average.

    The 80 % flag is §5.1.4.1's level for the accident condition alone; that clause needs two conditions at 80 %,
    and the volume tables (§5.1.2) were not retrieved, so the flag says "check the volumes", not "install".
    """
    preventable_needed = _needed(rules.warrant_crashes_per_year * rules.years)
    fatal_needed = _needed(rules.warrant_fatal_per_year * rules.years)
    met = preventable >= preventable_needed or fatal >= fatal_needed
    partial = (
        preventable >= _needed(rules.warrant_partial * rules.warrant_crashes_per_year * rules.years)
        or fatal >= _needed(rules.warrant_partial * rules.warrant_fatal_per_year * rules.years)
    )  # fmt: skip
    return Warrant(met, partial, preventable, fatal, preventable_needed, fatal_needed)


def _needed(total: float) -> int:
    """Smallest whole number of crashes reaching `total` (an average of 5 a year over 3 years is 15)."""
    return math.ceil(total - 1e-9)


@dataclass(frozen=True)
class Priority:
    """One candidate intersection's score: the total, the points per factor and why, the warrant and its crashes."""

    fid: int
    name: str
    lon: float | None
    lat: float | None
    major_class: str
    minor_class: str
    score: float
    factors: dict[str, float]
    explanations: dict[str, str]
    warranted: bool  # GB 14886-2016 §5.1.3 accident condition met
    warrant_80pct: bool  # the accident condition at ≥ 80 % (§5.1.4.1 level); also true when met
    crash_ids: tuple[int, ...]
    fatal: int
    injury: int
    property_damage: int
    preventable: int
    observed_per_year: float  # counted injury-or-fatal crashes per year: what the budget plan works from

    @property
    def summary_zh(self) -> str:
        """All factor explanations in one line, for a popup or a table cell."""
        return "；".join(self.explanations[k] for k in FACTOR_LABELS if k in self.explanations)


def is_candidate(intersections: pd.DataFrame, rules: PriorityRules = PriorityRules()) -> pd.Series:
    """Boolean mask of the 千灯万带 candidates: major leg and minor leg classes as configured, and no signal."""
    major = intersections["major_class"].astype(object).isin(rules.major_classes)
    minor = intersections["minor_class"].astype(object).isin(rules.minor_classes)
    keep = major & minor
    if "signal" in rules.excluded_controls:
        keep &= ~_bool(intersections, "signal")  # the flag and the control field may disagree; either excludes
    if "control" in intersections:
        keep &= ~intersections["control"].astype(object).isin(rules.excluded_controls)
    return keep.astype(bool)


def counted_crashes(accidents: pd.DataFrame, as_of: date, rules: PriorityRules = PriorityRules()) -> pd.DataFrame:
    """Crashes of every severity in the `years` before `as_of`, without drink or drug driving (as screening counts).

    analysis.screening.counted() keeps only injury and fatal crashes; the score also weighs property-damage ones,
    and the GB 14886 warrant counts them, so the same window and exclusions are applied here to all severities.
    """
    return counted(
        accidents,
        as_of,
        ScreeningRules(years=rules.years),
        severities=tuple(Severity.labels()),
        exclude_impaired=rules.exclude_impaired,
    )


def score(
    intersections: pd.DataFrame,
    accidents: pd.DataFrame,
    as_of: date,
    rules: PriorityRules = PriorityRules(),
    *,
    candidates_only: bool = True,
) -> list[Priority]:
    """Score intersections (fid-indexed, lon/lat EPSG:4326), highest first; ties go to the lower fid.

    `accidents` is the crash layer (fid-indexed, lon/lat). Crashes within `radius_m` of a junction centre count
    for it (a crash near two junctions counts for both, as each junction's spot). `candidates_only=False` scores
    every intersection, e.g. to show the score of a signalised one.
    """
    frame = intersections[is_candidate(intersections, rules)] if candidates_only else intersections
    crashes = counted_crashes(accidents, as_of, rules)
    junction_at, crash_at = _near_pairs(frame, crashes, rules.radius_m)
    lonlat = _lonlat(frame)
    severity = crashes["severity"].astype(object).to_numpy() if len(crashes) else np.array([], dtype=object)
    if "crash_type" in crashes:
        kind = crashes["crash_type"].astype(object).fillna("other").to_numpy()
    else:  # records without a crash type are "other": none counts as preventable
        kind = np.full(len(crashes), "other", dtype=object)
    crash_fids = crashes.index.to_numpy()
    n = len(frame)

    def per_junction(mask: np.ndarray) -> np.ndarray:
        return np.bincount(junction_at[mask[crash_at]], minlength=n)

    fatal = per_junction(severity == "fatal")
    injury = per_junction(severity == "injury")
    damage = per_junction(severity == "property")
    preventable = per_junction(np.isin(kind, rules.preventable_types) & np.isin(severity, rules.warrant_severities))
    order = np.argsort(junction_at, kind="stable")
    bounds = np.searchsorted(junction_at[order], np.arange(n + 1))
    out = []
    for k, (fid, row) in enumerate(frame.iterrows()):
        ids = tuple(sorted(int(f) for f in crash_fids[crash_at[order[bounds[k] : bounds[k + 1]]]]))
        w = warrant(int(preventable[k]), int(fatal[k]), rules)
        points, texts = _factors(row, int(fatal[k]), int(injury[k]), int(damage[k]), w, rules)
        out.append(
            Priority(
                fid=int(fid),
                name=str(row.get("name") or ""),
                lon=lonlat[k][0],
                lat=lonlat[k][1],
                major_class=str(row.get("major_class")),
                minor_class=str(row.get("minor_class")),
                score=round(sum(points.values()), 6),
                factors=points,
                explanations=texts,
                warranted=w.met,
                warrant_80pct=w.partial,
                crash_ids=ids,
                fatal=int(fatal[k]),
                injury=int(injury[k]),
                property_damage=int(damage[k]),
                preventable=int(preventable[k]),
                observed_per_year=(int(fatal[k]) + int(injury[k])) / rules.years,
            )
        )
    out.sort(key=lambda p: (-p.score, p.fid))
    return out


def to_frame(priorities: Sequence[Priority]) -> pd.DataFrame:
    """The scores as a table indexed by fid: total, one column per factor, warrant flags and crash counts."""
    rows = []
    for p in priorities:
        rows.append(
            {
                "fid": p.fid,
                "name": p.name,
                "major_class": p.major_class,
                "minor_class": p.minor_class,
                "score": p.score,
                **{f"points_{k}": p.factors.get(k, 0.0) for k in FACTOR_LABELS},
                "warranted": p.warranted,
                "warrant_80pct": p.warrant_80pct,
                "fatal": p.fatal,
                "injury": p.injury,
                "property_damage": p.property_damage,
                "preventable": p.preventable,
                "crash_ids": list(p.crash_ids),
                "explanation": p.summary_zh,
            }
        )
    columns = ["fid", "name", "major_class", "minor_class", "score", *(f"points_{k}" for k in FACTOR_LABELS)]
    return pd.DataFrame(rows, columns=columns + [c for c in (rows[0] if rows else {}) if c not in columns]).set_index(
        "fid"
    )


# ---------------------------------------------------------------------------------------------------------------
# Spatial part: which counted crashes lie within the radius of which junction.


def _near_pairs(junctions: pd.DataFrame, crashes: pd.DataFrame, radius_m: float) -> tuple[np.ndarray, np.ndarray]:
    """(junction position, crash position) pairs within `radius_m` inclusive, found through an STRtree."""
    empty = np.zeros(0, dtype=np.intp)
    if len(junctions) == 0 or len(crashes) == 0:
        return empty, empty
    centres = _metric(junctions)
    points = _metric(crashes)
    tree = shapely.STRtree(points)  # missing and empty geometries are left out of the tree
    reach = radius_m + DISTANCE_TOLERANCE_M
    junction_at, crash_at = tree.query(centres, predicate="dwithin", distance=reach)
    # The exact test decides, inclusive to the millimetre; dwithin already is, this pins the tolerance.
    keep = shapely.distance(centres[junction_at], points[crash_at]) <= reach
    return junction_at[keep].astype(np.intp), crash_at[keep].astype(np.intp)


def _metric(frame: pd.DataFrame) -> np.ndarray:
    """The frame's geometries in the local metric CRS (metres)."""
    geoms = np.asarray(frame.geometry.to_numpy(), dtype=object)
    src = _crs_of(frame)
    return transform_geometries(geoms, src, LOCAL_METRIC) if src != LOCAL_METRIC else geoms


def _lonlat(frame: pd.DataFrame) -> list[tuple[float | None, float | None]]:
    geoms = np.asarray(frame.geometry.to_numpy(), dtype=object)
    src = _crs_of(frame)
    if len(geoms) and src != WGS84:
        geoms = transform_geometries(geoms, src, WGS84)
    out = []
    for g in geoms:
        if g is None or shapely.is_empty(g):
            out.append((None, None))
        else:
            c = g.centroid if g.geom_type != "Point" else g
            out.append((float(c.x), float(c.y)))
    return out


def _crs_of(frame: pd.DataFrame) -> str:
    crs = getattr(frame, "crs", None)
    if crs is None:
        return WGS84  # the layers are stored and served in lon/lat
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.to_wkt()


# ---------------------------------------------------------------------------------------------------------------
# The factors: each returns its points and one Chinese sentence.


def _factors(
    row: pd.Series, fatal: int, injury: int, damage: int, w: Warrant, rules: PriorityRules
) -> tuple[dict[str, float], dict[str, str]]:
    parts = {
        "major_road": _major_road(row, rules),
        "volume": _volume(row, rules),
        "crashes": _crash_points(fatal, injury, damage, rules),
        "warrant": _warrant_points(w, rules),
        "skew": _skew(row, rules),
        "sight": _flag(row, "sight_obstructed", rules.sight_points, _SIGHT_YES, "视距三角形未记录受阻"),
        "settlement": _flag(row, "in_settlement", rules.settlement_points, "穿镇路口", "不在镇区"),
        "school_market": _school_market(row, rules),
        "existing": _existing(row, rules),
    }
    points = {k: float(p) for k, (p, _) in parts.items()}
    texts = {k: t for k, (_, t) in parts.items()}
    return points, texts


_SIGHT_YES = "视距三角形受阻（GB 14886-2016 §5.1.1.3）"


def _pts(points: float) -> str:
    return f"{points:+g}"


def _value(row: pd.Series, column: str) -> Any:
    """The cell, or None when the column is absent or the value is missing (None, NaN, pd.NA)."""
    value = row.get(column)
    if value is None or (not isinstance(value, str | list | tuple) and pd.isna(value)):
        return None
    return value


def _bool(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame:
        return pd.Series(False, index=frame.index)
    return frame[column].astype("boolean").fillna(False).astype(bool)


def _band(value: float, bands: tuple[tuple[float, float], ...]) -> float:
    """Points of the first band (listed high to low) whose threshold `value` reaches; 0 below them all."""
    for threshold, points in bands:
        if value >= threshold:
            return points
    return 0.0


def _class_label(code: Any) -> str:
    try:
        return AdminClass(code).label
    except ValueError:
        return str(code)


def _major_road(row: pd.Series, rules: PriorityRules) -> tuple[float, str]:
    code = _value(row, "major_class")
    class_pts = dict(rules.class_points).get(code, 0.0)
    speed = _value(row, "major_speed_kmh")
    speed_pts = _band(float(speed), rules.speed_points) if speed is not None else 0.0
    speed_text = f"限速{int(speed)}" if speed is not None else "限速未知"
    total = class_pts + speed_pts
    return total, f"主路为{_class_label(code)}、{speed_text} → {_pts(total)}"


def _volume(row: pd.Series, rules: PriorityRules) -> tuple[float, str]:
    total = 0.0
    words = []
    for column, zh, bands, unknown in (
        ("major_aadt", "主路", rules.major_aadt_points, rules.major_aadt_unknown_points),
        ("minor_aadt", "次路", rules.minor_aadt_points, rules.minor_aadt_unknown_points),
    ):
        aadt = _value(row, column)
        if aadt is None:
            total += unknown
            words.append(f"{zh}交通量未知，按中性值计{_pts(unknown)}")
        else:
            pts = _band(float(aadt), bands)
            total += pts
            words.append(f"{zh}{int(aadt)}辆/日{_pts(pts)}")
    return total, f"{'，'.join(words)} → {_pts(total)}"


def _crash_points(fatal: int, injury: int, damage: int, rules: PriorityRules) -> tuple[float, str]:
    total = fatal * rules.fatal_points + injury * rules.injury_points + damage * rules.property_points
    radius = f"{rules.radius_m:g}"
    impaired = "，不含酒驾毒驾" if rules.exclude_impaired else ""
    return total, (
        f"{radius} m内{rules.years}年事故：死亡{fatal}起、伤人{injury}起、财损{damage}起{impaired} → {_pts(total)}"
    )


def _warrant_points(w: Warrant, rules: PriorityRules) -> tuple[float, str]:
    counts = (
        f"{rules.years}年可避免事故{w.preventable}起（需≥{w.preventable_needed}）、"
        f"死亡事故{w.fatal}起（需≥{w.fatal_needed}）"
    )
    if w.met:
        pts = rules.warrant_points
        return pts, f"{counts}，满足GB 14886-2016 §5.1.3设信号灯的事故条件 → {_pts(pts)}"
    if w.partial:
        pts = rules.warrant_partial_points
        return pts, f"{counts}，达到§5.1.3的{rules.warrant_partial:.0%}（§5.1.4.1，需结合交通量核实） → {_pts(pts)}"
    return 0.0, f"{counts}，未达事故条件 → +0"


def _skew(row: pd.Series, rules: PriorityRules) -> tuple[float, str]:
    skew = _value(row, "skew_deg")
    if skew is None:
        return 0.0, "交角未知，不计分 → +0"
    pts = _band(float(skew), rules.skew_points)
    return pts, f"交角偏斜{float(skew):g}° → {_pts(pts)}"


def _flag(row: pd.Series, column: str, points: float, yes: str, no: str) -> tuple[float, str]:
    if bool(_value(row, column)):
        return points, f"{yes} → {_pts(points)}"
    return 0.0, f"{no} → +0"


def _school_market(row: pd.Series, rules: PriorityRules) -> tuple[float, str]:
    total = 0.0
    words = []
    for column, zh, within, pts in (
        ("school_m", "学校", rules.school_within_m, rules.school_points),
        ("market_m", "集市", rules.market_within_m, rules.market_points),
    ):
        distance = _value(row, column)
        if distance is not None and float(distance) <= within:
            total += pts
            words.append(f"{zh}距{float(distance):.0f} m（≤{within:g} m）{_pts(pts)}")
        elif distance is not None:
            words.append(f"{zh}距{float(distance):.0f} m")
        else:
            words.append(f"附近无{zh}记录")
    return total, f"{'，'.join(words)} → {_pts(total)}"


def _existing(row: pd.Series, rules: PriorityRules) -> tuple[float, str]:
    total = 0.0
    words = []
    if bool(_value(row, "flashing_light")) or _value(row, "control") == Control.FLASHING:
        total += rules.existing_flashing_points
        words.append(f"已有黄闪警示灯{_pts(rules.existing_flashing_points)}")
    if bool(_value(row, "speed_belts")):
        total += rules.existing_belts_points
        words.append(f"已有减速带{_pts(rules.existing_belts_points)}")
    if not words:
        return 0.0, "无黄闪灯、减速带 → +0"
    return total, f"{'，'.join(words)} → {_pts(total)}"
