"""The map views: which layers each audience sees, which are on at first, and what extra panel it has."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from layers import LAYERS

#: Layer-control groups, in the order the control lists them (buildings go with fire: spacing and grades).
GROUPS = ("风险源", "道路交通", "消防", "隐患", "应急资源", "行政区划")
GROUP_OF = {layer_id: ("消防" if layer.group == "建筑" else layer.group) for layer_id, layer in LAYERS.items()}

Panel = Literal["none", "near", "village"]


@dataclass(frozen=True)
class Overlay:
    """One entry of the layer control: a layer drawn as features, or as a heat map of them."""

    layer_id: str
    heat: bool = False
    visible: bool = True

    @property
    def key(self) -> str:
        """Unique within a view: the layer id, with `-heat` for its heat map."""
        return f"{self.layer_id}-heat" if self.heat else self.layer_id

    @property
    def title(self) -> str:
        """The Chinese name in the layer control."""
        title = LAYERS[self.layer_id].title
        if self.heat:
            return "风险热力图" if self.layer_id == "risk_sources" else f"{title}热力图"
        return title

    @property
    def group(self) -> str:
        """The layer-control group."""
        return GROUP_OF[self.layer_id]


@dataclass(frozen=True)
class View:
    """A page of the one map for one audience."""

    name: str
    title: str
    audience: str
    overlays: tuple[Overlay, ...]
    panel: Panel = "none"

    def overlay(self, key: str) -> Overlay:
        """The overlay with this key."""
        return next(o for o in self.overlays if o.key == key)


def _all(hidden: set[str] = frozenset()) -> tuple[Overlay, ...]:
    return tuple(Overlay(layer_id, visible=layer_id not in hidden) for layer_id in LAYERS)


VIEWS: dict[str, View] = {
    v.name: v
    for v in (
        View(
            "town",
            "镇域安全风险一张图",
            "镇安全生产办公室",
            (
                *_all({"crash_density", "treatment_plan", "response_bands", "fire_clusters", "risk_surface"}),
                Overlay("accidents", heat=True, visible=False),
            ),
        ),
        View(
            "planner",
            "道路交通规划图",
            "规划人员：路网、平交路口整治、事故多发点段",
            (
                Overlay("villages"),
                Overlay("roads"),
                Overlay("crash_density", visible=False),
                Overlay("intersections"),
                Overlay("treatment_plan"),
                Overlay("accident_segments"),
                Overlay("accidents"),
                Overlay("accidents", heat=True, visible=False),
                Overlay("hazards", visible=False),
            ),
        ),
        View(
            "emergency",
            "应急处置图",
            "应急人员：风险分布、应急资源、事发点周边",
            (
                Overlay("villages"),
                Overlay("risk_surface"),
                Overlay("roads"),
                Overlay("risk_sources"),
                Overlay("risk_sources", heat=True),
                Overlay("emergency_resources"),
                Overlay("response_bands", visible=False),
                Overlay("fire_lanes"),
                Overlay("obstructions"),
                Overlay("cut_off"),
                Overlay("old_settlements"),
                Overlay("fire_clusters", visible=False),
                Overlay("buildings", visible=False),
                Overlay("hazards", visible=False),
            ),
            panel="near",
        ),
        View(
            "village",
            "村级隐患图",
            "村（嘎查）干部：本村隐患、整改状态和时限",
            (
                Overlay("villages"),
                Overlay("roads"),
                Overlay("buildings"),
                Overlay("old_settlements"),
                Overlay("fire_clusters"),
                Overlay("fire_lanes"),
                Overlay("obstructions"),
                Overlay("cut_off"),
                Overlay("intersections"),
                Overlay("risk_sources"),
                Overlay("emergency_resources"),
                Overlay("hazards"),
                Overlay("accidents", visible=False),
            ),
            panel="village",
        ),
        # Villages and sources are drawn in their graded colours (maps/four_colour.py), at town or village level.
        View(
            "risk",
            "安全风险四色分布图",
            "镇安全生产办公室、村（嘎查）：风险源四色分级",
            (
                Overlay("risk_sources"),
                Overlay("risk_sources", heat=True, visible=False),
                Overlay("villages"),
                Overlay("roads", visible=False),
                Overlay("emergency_resources", visible=False),
            ),
        ),
    )
}
