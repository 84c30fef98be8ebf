"""Road-safety analysis results as layers: crash density along the roads, and the lights-and-belts plan."""

from pydantic import Field

from layers.base import Layer, Properties, Style
from layers.vocab import DensityLevel, Measure


class CrashDensityProperties(Properties):
    """One lixel (a short piece of road) and the network kernel density of crashes at its middle."""

    road_id: int | None = Field(None, title="道路编号")
    start_m: float = Field(0, title="起点(m)", ge=0)
    end_m: float = Field(0, title="终点(m)", ge=0)
    density_per_km: float = Field(title="核密度(起/km)", ge=0)
    level: DensityLevel = Field(title="密度等级")
    parameters: str | None = Field(None, title="分析参数", description="JSON of the parameters that produced it")


class TreatmentPlanProperties(Properties):
    """A candidate intersection for "千灯万带" treatment: its score and why, and what the budget plan gives it."""

    rank: int = Field(title="优先级排序", ge=1)
    intersection_id: int = Field(title="路口编号")
    name: str = Field(title="路口名称", max_length=80)
    planned: bool = Field(False, title="纳入本期计划")
    measures: list[Measure] = Field(default_factory=list, title="整治措施")
    cost_yuan: float = Field(0, title="费用(元)", ge=0)
    crashes_avoided: float = Field(0, title="预计每年减少事故(起)", ge=0)
    score: float = Field(title="优先级评分")
    factors: str = Field(title="评分因素", description="JSON: factor → points and the reason in Chinese")
    signal_warranted: bool = Field(False, title="达到GB 14886信号灯事故条件")
    parameters: str | None = Field(None, title="分析参数", description="JSON of the budget, unit costs and CMFs used")


CRASH_DENSITY = Layer(
    id="crash_density",
    title="事故核密度",
    description="Network kernel density of crashes along the roads (lixels), in five classes.",
    group="道路交通",
    geometry_types=("LineString",),
    properties=CrashDensityProperties,
    style=Style(
        by="level", colors={"1": "#fee5d9", "2": "#fcae91", "3": "#fb6a4a", "4": "#de2d26", "5": "#a50f15"}, weight=5
    ),
    derived=True,
)

TREATMENT_PLAN = Layer(
    id="treatment_plan",
    title="千灯万带整治计划",
    description="Candidate intersections scored for warning lights and belts; the budget plan marks those chosen.",
    group="道路交通",
    geometry_types=("Point",),
    properties=TreatmentPlanProperties,
    style=Style(color="#6a51a3", fill_color="#9e9ac8", fill_opacity=0.9, radius=8, weight=3),
    derived=True,
)
