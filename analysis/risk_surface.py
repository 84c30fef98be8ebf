"""Where risk concentrates: one composite score per H3 hexagon over the town, and the villages ranked by it.

Six components, each counted per hexagon from the map and never typed in:

- `risk_sources`: points per source by four-colour level (重大 4 … 低 1), plus points by GB 18218 grade for a
  major hazard source (一级 4 … 四级 1);
- `hazards`: open ledger hazards, 重大 3 and 一般 1 points, times `overdue_factor` past their deadline;
- `accidents`: crashes in the `accident_years` before the as-of date, by severity points (死亡 10, 伤人 3, 财损 1);
- `blackspots`: 事故多发点段 by class (一类 3 … 三类 1), spread evenly along a segment's length;
- `fire_gaps`: residents whose nearest fire engine, with today's blockages, arrives later than the standard
  (5 min, 建标152 / GB 51080) or not at all;
- `population`: residents.

Each component is divided by its largest hexagon value (so each runs 0–1), the weighted sum over the sum of weights
is scaled to 0–100, and the score falls into five classes at fixed breaks. Weights and breaks are judgement [K]:
they are configuration (`SurfaceRules`), returned with every result, and every hexagon keeps its raw counts, the
normalised values and the points each component adds, so a planner can see why a cell is red. Villages are ranked
by the same formula over their own totals (normalised across villages).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import date, timedelta
from typing import Any

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import Polygon

from analysis.risk_grading import village_of
from geo.crs import LOCAL_METRIC, WGS84
from layers.vocab import OPEN_HAZARD_STATUSES

#: The components in the order they are reported, with their Chinese names.
COMPONENTS: dict[str, str] = {
    "risk_sources": "风险源",
    "hazards": "未销号隐患",
    "accidents": "交通事故",
    "blackspots": "事故多发点段",
    "fire_gaps": "消防救援盲区人口",
    "population": "人口",
}


@dataclass(frozen=True)
class SurfaceRules:
    """Every number the surface uses; the weights need not sum to 1 (they are divided by their sum)."""

    resolution: int = 8  # H3 resolution 8: hexagons of about 0.74 km², edge about 530 m
    weights: Mapping[str, float] = field(
        default_factory=lambda: {
            "risk_sources": 0.30,
            "hazards": 0.20,
            "accidents": 0.15,
            "blackspots": 0.10,
            "fire_gaps": 0.10,
            "population": 0.15,
        }
    )
    level_points: Mapping[str, float] = field(
        default_factory=lambda: {"red": 4.0, "orange": 3.0, "yellow": 2.0, "blue": 1.0}
    )
    major_grade_points: Mapping[str, float] = field(
        default_factory=lambda: {"一级": 4.0, "二级": 3.0, "三级": 2.0, "四级": 1.0}
    )
    hazard_points: Mapping[str, float] = field(default_factory=lambda: {"major": 3.0, "general": 1.0})
    overdue_factor: float = 2.0
    accident_years: int = 3
    #: Severity points [K]: the HSM's EPDO (542 : 11 : 1) would let one fatal crash outweigh every other in town.
    accident_points: Mapping[str, float] = field(
        default_factory=lambda: {"fatal": 10.0, "injury": 3.0, "property": 1.0}
    )
    blackspot_points: Mapping[str, float] = field(default_factory=lambda: {"class1": 3.0, "class2": 2.0, "class3": 1.0})
    blackspot_step_m: float = 50.0  # a segment is spread over points this far apart along it
    fire_standard_min: float = 5.0
    #: Upper bounds (exclusive) of classes 1–4 on the 0–100 score; class 5 is above the last.
    class_breaks: tuple[float, float, float, float] = (10.0, 20.0, 35.0, 50.0)

    def __post_init__(self) -> None:
        unknown = set(self.weights) - set(COMPONENTS)
        if unknown:
            raise ValueError(f"unknown component(s) {sorted(unknown)}; known: {', '.join(COMPONENTS)}")
        if any(not (w >= 0) for w in self.weights.values()) or not sum(self.weights.values()) > 0:
            raise ValueError("weights must be >= 0 and not all 0")
        if not 0 <= self.resolution <= 15:
            raise ValueError(f"H3 resolution must be 0..15, got {self.resolution}")
        if list(self.class_breaks) != sorted(self.class_breaks):
            raise ValueError(f"class breaks must ascend, got {self.class_breaks}")

    def with_weights(self, items: Sequence[str]) -> SurfaceRules:
        """These rules with some weights changed, from `component=weight` texts; ValueError saying what to fix."""
        weights = dict(self.weights)
        for item in items:
            name, sep, value = item.partition("=")
            name = name.strip()
            if not sep or name not in COMPONENTS:
                raise ValueError(
                    f"weight {item!r}: write component=number, the components being {', '.join(COMPONENTS)}"
                )
            try:
                weights[name] = float(value)
            except ValueError:
                raise ValueError(f"weight {item!r}: {value.strip()!r} is not a number") from None
        return replace(self, weights=weights)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SurfaceRules:
        """The rules a stored result was made with (`as_dict` read back); unknown keys are ignored."""
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        if "class_breaks" in kwargs:
            kwargs["class_breaks"] = tuple(kwargs["class_breaks"])
        return cls(**kwargs)

    def weight(self, component: str) -> float:
        """The component's weight (0 when not given)."""
        return float(self.weights.get(component, 0.0))

    def as_dict(self) -> dict[str, Any]:
        """Plain data, for results and the stored layer's parameters."""
        out = asdict(self)
        out["weights"] = {c: self.weight(c) for c in COMPONENTS}
        return out


@dataclass(frozen=True)
class SurfaceInputs:
    """What the surface is counted from, all lon/lat as stored (fire times from `analysis.fire_response`)."""

    risk_sources: gpd.GeoDataFrame
    graded_levels: pd.Series  # four-colour level per risk source (graded, else on record)
    major_grades: pd.Series  # GB 18218 grade per risk source, None where not a major hazard source
    hazards: gpd.GeoDataFrame
    accidents: gpd.GeoDataFrame
    accident_segments: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    fire_times_s: pd.Series  # per building: seconds for the nearest engine with today's blockages, NaN unreachable
    villages: gpd.GeoDataFrame


@dataclass(frozen=True)
class RiskSurface:
    """Per-hexagon components and score (EPSG:4326 polygons), and the villages ranked."""

    cells: gpd.GeoDataFrame
    villages: pd.DataFrame
    rules: SurfaceRules
    as_of: date


def risk_surface(inputs: SurfaceInputs, as_of: date, rules: SurfaceRules | None = None) -> RiskSurface:
    """Count every component per hexagon, score the hexagons and rank the villages."""
    rules = rules or SurfaceRules()
    raw = _component_counts(inputs, as_of, rules)
    cells = sorted(set().union(*(set(v) for v in raw.values())))
    table = pd.DataFrame({c: pd.Series(raw[c], dtype=float) for c in COMPONENTS}, index=pd.Index(cells, name="cell"))
    table = table.reindex(cells).fillna(0.0)
    scored = _score(table, rules)
    centres = [h3.cell_to_latlng(c) for c in cells]
    polygons = _clipped([Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(c)]) for c in cells], inputs)
    frame = gpd.GeoDataFrame(scored, geometry=polygons, crs=WGS84)
    centre_points = gpd.GeoSeries([shapely.Point(lng, lat) for lat, lng in centres], crs=WGS84)
    village_pos = village_of(centre_points, inputs.villages)
    codes = _column(inputs.villages, "code")
    frame["village_code"] = [codes[p] if p >= 0 else None for p in village_pos]
    frame["level"] = score_class(frame["score"].to_numpy(), rules)
    frame = frame.sort_values(["score", "cell"], ascending=[False, True])
    return RiskSurface(frame, _rank_villages(table, village_pos, inputs.villages, rules), rules, as_of)


def rank_from_cells(cells: pd.DataFrame, villages: gpd.GeoDataFrame, rules: SurfaceRules) -> pd.DataFrame:
    """The villages ranked from stored hexagons (their component values and village codes), as `risk_surface` did."""
    table = cells[list(COMPONENTS)].astype(float).reset_index(drop=True)
    position = {code: i for i, code in enumerate(_column(villages, "code"))}
    village_pos = np.array([position.get(c, -1) for c in cells["village_code"]], dtype=np.int64)
    return _rank_villages(table, village_pos, villages, rules)


# --- counting ---------------------------------------------------------------------------------------------------


def _cells_of(points: np.ndarray, resolution: int) -> list[str]:
    return [h3.latlng_to_cell(p.y, p.x, resolution) for p in points]


def _points(frame: gpd.GeoDataFrame) -> np.ndarray:
    """A point on each feature (the point itself, else one on its surface), lon/lat."""
    geoms = frame.geometry if frame.crs is None or frame.crs == WGS84 else frame.geometry.to_crs(WGS84)
    return shapely.point_on_surface(np.asarray(geoms.values, dtype=object))


def _sum_by_cell(cells: Sequence[str], values: np.ndarray) -> dict[str, float]:
    if not len(cells):
        return {}
    s = pd.Series(np.asarray(values, dtype=float), index=pd.Index(cells)).groupby(level=0).sum()
    return {k: float(v) for k, v in s.items() if v > 0}


def _component_counts(inputs: SurfaceInputs, as_of: date, rules: SurfaceRules) -> dict[str, dict[str, float]]:
    res = rules.resolution
    out: dict[str, dict[str, float]] = {}

    src = inputs.risk_sources
    level = inputs.graded_levels.reindex(src.index).map(lambda v: rules.level_points.get(v, 0.0) if v else 0.0)
    major = inputs.major_grades.reindex(src.index).map(lambda g: rules.major_grade_points.get(g, 0.0) if g else 0.0)
    out["risk_sources"] = _sum_by_cell(_cells_of(_points(src), res), (level + major).to_numpy(float))

    hz = inputs.hazards
    hz = hz[hz["status"].isin(OPEN_HAZARD_STATUSES)] if len(hz) else hz
    points = np.array([rules.hazard_points.get(str(v), 0.0) for v in hz.get("level", [])], dtype=float)
    if len(hz):
        deadline = pd.to_datetime(hz["deadline"], errors="coerce")
        overdue = (deadline < pd.Timestamp(as_of)).fillna(False).to_numpy(bool)
        points = np.where(overdue, points * rules.overdue_factor, points)
    out["hazards"] = _sum_by_cell(_cells_of(_points(hz), res), points)

    acc = inputs.accidents
    if len(acc):
        when = pd.to_datetime(acc["occurred_at"], errors="coerce")
        start = pd.Timestamp(as_of - timedelta(days=round(365.25 * rules.accident_years)))
        acc = acc[((when >= start) & (when < pd.Timestamp(as_of))).to_numpy(bool)]
    severity = np.array([rules.accident_points.get(str(s), 0.0) for s in acc.get("severity", [])], float)
    out["accidents"] = _sum_by_cell(_cells_of(_points(acc), res), severity)

    out["blackspots"] = _spread_segments(inputs.accident_segments, rules)

    b = inputs.buildings
    residents = pd.to_numeric(b["residents"], errors="coerce").fillna(0).to_numpy(float) if len(b) else np.zeros(0)
    b_cells = _cells_of(_points(b), res)
    times = inputs.fire_times_s.reindex(b.index).to_numpy(float)
    late = ~(times <= rules.fire_standard_min * 60.0)  # NaN (unreachable) counts as late
    out["fire_gaps"] = _sum_by_cell(b_cells, np.where(late, residents, 0.0))
    out["population"] = _sum_by_cell(b_cells, residents)
    return out


def _spread_segments(segments: gpd.GeoDataFrame, rules: SurfaceRules) -> dict[str, float]:
    """Each segment's points shared equally among sample points every `blackspot_step_m` along it."""
    if not len(segments):
        return {}
    metric = np.asarray(segments.geometry.to_crs(LOCAL_METRIC).values, dtype=object)
    cells: list[str] = []
    values: list[float] = []
    for geom, grade in zip(metric, segments["grade"], strict=True):
        points = rules.blackspot_points.get(str(grade), 0.0)
        n = max(1, int(np.ceil(geom.length / rules.blackspot_step_m)))
        along = shapely.line_interpolate_point(geom, (np.arange(n) + 0.5) / n, normalized=True) if geom.length else [
            geom.representative_point()
        ]  # fmt: skip
        lonlat = gpd.GeoSeries(list(along), crs=LOCAL_METRIC).to_crs(WGS84).values
        cells.extend(_cells_of(lonlat, rules.resolution))
        values.extend([points / len(lonlat)] * len(lonlat))
    return _sum_by_cell(cells, np.array(values))


# --- scoring ----------------------------------------------------------------------------------------------------


def _score(table: pd.DataFrame, rules: SurfaceRules) -> pd.DataFrame:
    """Raw, normalised (÷ the largest) and points (normalised × weight share × 100) per component, and the score."""
    total_w = sum(rules.weight(c) for c in COMPONENTS)
    out = pd.DataFrame(index=table.index)
    score = np.zeros(len(table))
    for c in COMPONENTS:
        top = float(table[c].max()) if len(table) else 0.0
        norm = table[c].to_numpy() / top if top > 0 else np.zeros(len(table))
        points = norm * rules.weight(c) / total_w * 100.0
        out[c] = table[c].to_numpy()
        out[f"{c}_norm"] = norm
        out[f"{c}_points"] = points
        score += points
    out["score"] = score
    return out.reset_index()


def score_class(score: np.ndarray, rules: SurfaceRules) -> np.ndarray:
    """Class 1–5 by the fixed breaks (a score equal to a break goes to the class above)."""
    return (np.searchsorted(np.asarray(rules.class_breaks), score, side="right") + 1).astype(str)


def _clipped(hexagons: list[Polygon], inputs: SurfaceInputs) -> np.ndarray:
    """Hexagons cut to the villages' outline, so the surface stops at the town's edge; whole where nothing is left."""
    villages = inputs.villages
    hexes = np.asarray(hexagons, dtype=object)
    if not len(villages) or not len(hexes):
        return hexes
    outline = shapely.union_all(np.asarray(villages.geometry.to_crs(WGS84).values, dtype=object))
    cut = shapely.intersection(hexes, outline)
    cut = np.array([_polygonal(g) for g in cut], dtype=object)
    return np.where(shapely.is_empty(cut), hexes, cut)


def _polygonal(geom: Any) -> Any:
    """Only the areal part of an intersection (a hexagon touching the outline at a point leaves lines behind)."""
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in getattr(geom, "geoms", []) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def _rank_villages(
    table: pd.DataFrame, village_pos: np.ndarray, villages: gpd.GeoDataFrame, rules: SurfaceRules
) -> pd.DataFrame:
    """Every village's totals (over the hexagons whose centre lies in it), scored like a hexagon and ranked."""
    sums = table.groupby(village_pos).sum()
    sums = sums[sums.index >= 0].reindex(range(len(villages)), fill_value=0.0)
    scored = _score(sums.rename_axis("cell"), rules).drop(columns="cell")
    cell_scores = _score(table, rules)["score"].to_numpy()
    top = pd.Series(cell_scores).groupby(village_pos).max()
    scored.insert(0, "village_id", villages.index.to_numpy())
    scored.insert(1, "code", _column(villages, "code"))
    scored.insert(2, "name", _column(villages, "name"))
    scored["cells"] = pd.Series(village_pos).value_counts().reindex(range(len(villages)), fill_value=0).to_numpy()
    scored["top_cell_score"] = top.reindex(range(len(villages))).fillna(0.0).to_numpy()
    scored = scored.sort_values(["score", "name"], ascending=[False, True], kind="stable").reset_index(drop=True)
    scored.insert(0, "rank", np.arange(1, len(scored) + 1))
    return scored


def _column(frame: pd.DataFrame, name: str) -> list[Any]:
    return list(frame[name]) if name in frame.columns else [None] * len(frame)
