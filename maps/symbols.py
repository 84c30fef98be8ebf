"""How each layer is drawn on the one map: the category a feature falls in, its colour, and the legend that explains it.

The category is computed on the server (a plain key per feature), so the browser only looks colours up; the legend
is built from the same table, so a colour on the map always has a line in the legend. A layer whose category is
one property's value (`category_field`) can also be drawn from its vector tiles: the browser reads that property.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from layers import LAYERS, Layer
from layers.vocab import (
    AdminClass,
    ClusterSize,
    CutOffReason,
    DensityLevel,
    HazardStatus,
    LaneStatus,
    ResourceKind,
    ResponseBand,
    RiskLevel,
    Severity,
    SpotClass,
    SurfaceLevel,
)

Shape = Literal["circle", "line", "area", "icon"]


@dataclass(frozen=True)
class Symbol:
    """One layer's look: category → colour and Chinese legend label, plus how points are grouped."""

    layer_id: str
    shape: Shape
    colors: Mapping[str, str]
    labels: Mapping[str, str]
    category: Callable[[Mapping[str, Any]], str] | None = None
    #: The property whose value is the category (instead of `category`), and the key when it is missing.
    category_field: str | None = None
    fallback: str = ""
    glyphs: Mapping[str, str] = field(default_factory=dict)
    radius: float = 6
    weight: float = 2
    fill_opacity: float = 0.5
    #: Below this zoom the layer is not drawn (too dense to read); the legend says to zoom in.
    min_zoom: int = 0
    cluster: bool = False
    heat: bool = False

    @property
    def layer(self) -> Layer:
        """The declared layer this symbol draws."""
        return LAYERS[self.layer_id]

    def key(self, props: Mapping[str, Any]) -> str:
        """The category of one feature ("" when the layer has a single style)."""
        if self.category is not None:
            return self.category(props)
        if self.category_field is not None:
            return str(props.get(self.category_field) or self.fallback)
        return ""

    @property
    def categorised(self) -> bool:
        """Whether features fall into categories (else the layer has one style)."""
        return self.category is not None or self.category_field is not None

    @property
    def tileable(self) -> bool:
        """Whether the browser can draw the layer from its vector tiles as it draws it from GeoJSON: single-styled or
        keyed by one property, and drawn as areas, lines or circles (not clustered markers or icons)."""
        return self.category is None and self.shape != "icon" and not self.cluster

    def legend(self) -> list[dict[str, str]]:
        """Legend rows: category key, colour, label and, for icons, the glyph."""
        return [
            {"key": k, "color": self.colors[k], "label": self.labels[k], "glyph": self.glyphs.get(k, "")}
            for k in self.colors
        ]

    def client(self) -> dict[str, Any]:
        """What the browser needs to draw the layer (no callables)."""
        return {
            "shape": self.shape,
            "colors": dict(self.colors),
            "glyphs": dict(self.glyphs),
            "radius": self.radius,
            "weight": self.weight,
            "fillOpacity": self.fill_opacity,
            "minZoom": self.min_zoom,
            "field": self.category_field,
            "fallback": self.fallback,
            "cluster": self.cluster,
            "heat": self.heat,
        }


def intersection_treatment(props: Mapping[str, Any]) -> str:
    """What an at-grade intersection has, from most to least protective (千灯万带: lights and speed belts)."""
    if props.get("signal") or props.get("control") == "signal":
        return "signal"
    if props.get("flashing_light") and props.get("speed_belts"):
        return "light_and_belts"
    if props.get("flashing_light") or props.get("control") == "flashing":
        return "light"
    if props.get("speed_belts"):
        return "belts"
    if props.get("control") in ("stop", "yield", "roundabout"):
        return "signs"
    return "none"


TREATMENT_LABELS = {
    "signal": "信号灯控制",
    "light_and_belts": "警示灯＋减速带",
    "light": "仅警示灯",
    "belts": "仅减速带",
    "signs": "仅标志（停车/减速让行）",
    "none": "无任何设施",
}


def _obstruction_state(props: Mapping[str, Any]) -> str:
    if props.get("cleared"):
        return "cleared"
    return "blocking" if (props.get("remaining_width_m") or 0) < 4.0 else "narrowing"


def hazard_state(props: Mapping[str, Any]) -> str:
    """A hazard's status, with 逾期 (overdue) standing out: in rectification and past its deadline."""
    status = str(props.get("status") or "registered")
    deadline = props.get("deadline")
    if status in ("assessed", "rectifying") and deadline and str(deadline)[:10] < date.today().isoformat():
        return "overdue"
    return status


RESOURCE_GLYPHS = {
    "fire_station": "消",
    "micro_fire_station": "微",
    "township_clinic": "院",
    "village_clinic": "医",
    "rescue_team": "救",
    "supply_depot": "储",
    "shelter": "避",
}

SYMBOLS: dict[str, Symbol] = {
    s.layer_id: s
    for s in (
        Symbol("villages", "area", {"": "#6b6b6b"}, {"": "行政村/嘎查界"}, fill_opacity=0.04, weight=1.5),
        Symbol(
            "buildings",
            "area",
            {"": "#9e9e9e"},
            {"": "建筑（放大到 15 级显示）"},
            weight=0.5,
            fill_opacity=0.6,
            min_zoom=15,
        ),
        Symbol(
            "old_settlements",
            "area",
            {"": "#a6611a"},
            {"": "老旧小区/老旧场所"},
            fill_opacity=0.45,
            weight=1.5,
        ),
        Symbol(
            "roads",
            "line",
            {c.value: LAYERS["roads"].style.colors.get(c.value, "#969696") for c in AdminClass},
            {c.value: f"{c.label}" + (f"（{c.value}）" if c.value != "street" else "") for c in AdminClass},
            category_field="admin_class",
            weight=2.5,
        ),
        Symbol(
            "intersections",
            "circle",
            {
                "signal": "#1a9641",
                "light_and_belts": "#66bd63",
                "light": "#fdae61",
                "belts": "#fee08b",
                "signs": "#f46d43",
                "none": "#d7191c",
            },
            TREATMENT_LABELS,
            category=intersection_treatment,
            radius=5,
            min_zoom=11,
        ),
        Symbol(
            "accidents",
            "circle",
            {s.value: LAYERS["accidents"].style.colors[s.value] for s in Severity},
            Severity.labels(),
            category_field="severity",
            radius=4,
            cluster=True,
            heat=True,
        ),
        Symbol(
            "accident_segments",
            "line",
            {c.value: LAYERS["accident_segments"].style.colors[c.value] for c in SpotClass},
            {c.value: f"{c.label}事故多发点段" for c in SpotClass},
            category_field="grade",
            weight=8,
            fill_opacity=0.35,
        ),
        Symbol(
            "crash_density",
            "line",
            {d.value: LAYERS["crash_density"].style.colors[d.value] for d in DensityLevel},
            {d.value: f"事故核密度：{d.label}" for d in DensityLevel},
            category_field="level",
            weight=5,
        ),
        Symbol(
            "treatment_plan",
            "circle",
            {"planned": "#54278f", "candidate": "#bcbddc"},
            {"planned": "千灯万带：纳入本期计划", "candidate": "千灯万带：候选路口（预算外）"},
            category=lambda p: "planned" if p.get("planned") else "candidate",
            radius=8,
        ),
        Symbol(
            "risk_sources",
            "circle",
            {r.value: LAYERS["risk_sources"].style.colors[r.value] for r in RiskLevel},
            {r.value: f"{r.label}（{'红橙黄蓝'[i]}）" for i, r in enumerate(RiskLevel)},
            category_field="level",
            radius=8,
            heat=True,
        ),
        Symbol(
            "fire_lanes",
            "line",
            {s.value: LAYERS["fire_lanes"].style.colors[s.value] for s in LaneStatus},
            {s.value: f"消防车通道：{s.label}" for s in LaneStatus},
            category_field="status",
            fallback="passable",
            weight=5,
        ),
        Symbol(
            "obstructions",
            "icon",
            {"blocking": "#b2182b", "narrowing": "#ef8a62", "cleared": "#999999"},
            {"blocking": "占用，剩余净宽 < 4 m", "narrowing": "占用，剩余净宽 ≥ 4 m", "cleared": "已清除"},
            category=_obstruction_state,
            glyphs={"blocking": "堵", "narrowing": "占", "cleared": "✓"},
        ),
        Symbol(
            "response_bands",
            "line",
            {b.value: LAYERS["response_bands"].style.colors[b.value] for b in ResponseBand},
            {b.value: f"消防车到场：{b.label}" for b in ResponseBand},
            category_field="band",
            weight=4,
        ),
        Symbol(
            "cut_off",
            "circle",
            {r.value: LAYERS["cut_off"].style.colors[r.value] for r in CutOffReason},
            {r.value: f"通道堵塞：{r.label}" for r in CutOffReason},
            category_field="reason",
            radius=7,
        ),
        Symbol(
            "fire_clusters",
            "area",
            {c.value: LAYERS["fire_clusters"].style.colors[c.value] for c in ClusterSize},
            {c.value: f"防火间距不足连片：{c.label}" for c in ClusterSize},
            category_field="size",
            weight=1,
            fill_opacity=0.45,
        ),
        Symbol(
            "risk_surface",
            "area",
            {v.value: LAYERS["risk_surface"].style.colors[v.value] for v in SurfaceLevel},
            {v.value: f"综合风险：{v.label}" for v in SurfaceLevel},
            category_field="level",
            weight=0.5,
            fill_opacity=0.5,
        ),
        Symbol(
            "emergency_resources",
            "icon",
            {k.value: LAYERS["emergency_resources"].style.colors[k.value] for k in ResourceKind},
            ResourceKind.labels(),
            category_field="kind",
            glyphs=RESOURCE_GLYPHS,
        ),
        Symbol(
            "hazards",
            "circle",
            {"overdue": "#67001f", **{s.value: LAYERS["hazards"].style.colors[s.value] for s in HazardStatus}},
            {"overdue": "隐患：逾期未整改", **{s.value: f"隐患：{s.label}" for s in HazardStatus}},
            category=hazard_state,
            radius=6,
        ),
    )
}

#: The four-colour map (安全风险四色分布图) draws two layers its own way: a village takes the colour of the highest
#: level graded among its risk sources, and a source its graded level. maps/four_colour.py computes the keys and
#: adds the counts to the labels.
FOUR_COLOUR_SYMBOLS: dict[str, Symbol] = {
    s.layer_id: s
    for s in (
        Symbol(
            "villages",
            "area",
            {**{r.value: LAYERS["risk_sources"].style.colors[r.value] for r in RiskLevel}, "none": "#d9d9d9"},
            {
                "red": "红色区域",
                "orange": "橙色区域",
                "yellow": "黄色区域",
                "blue": "蓝色区域",
                "none": "无风险源",
            },
            fill_opacity=0.35,
            weight=1.5,
        ),
        Symbol(
            "risk_sources",
            "circle",
            dict(SYMBOLS["risk_sources"].colors),
            dict(SYMBOLS["risk_sources"].labels),
            radius=8,
            heat=True,
        ),
    )
}
