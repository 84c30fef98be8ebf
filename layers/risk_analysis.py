"""Risk analysis results as layers: the composite risk surface over H3 hexagons."""

from pydantic import Field

from layers.base import Layer, Properties, Style
from layers.vocab import SurfaceLevel


class RiskSurfaceProperties(Properties):
    """One hexagon: what it holds of each risk component, and the composite score made from them."""

    name: str = Field(title="名称", max_length=40)
    cell: str = Field(title="H3格网编号", pattern=r"^[0-9a-f]{15}$")
    village_code: str | None = Field(None, title="所属村", pattern=r"^\d{12}$")
    score: float = Field(title="综合风险指数", ge=0, le=100)
    level: SurfaceLevel = Field(title="综合风险等级")
    rank: int = Field(title="全镇排序", ge=1)
    risk_sources: float = Field(0, title="风险源(分)", ge=0)
    hazards: float = Field(0, title="未销号隐患(分)", ge=0)
    accidents: float = Field(0, title="交通事故(分)", ge=0)
    blackspots: float = Field(0, title="事故多发点段(分)", ge=0)
    fire_gaps: int = Field(0, title="消防救援盲区人口", ge=0)
    population: int = Field(0, title="居住人数", ge=0)
    factors: str = Field(title="构成", description="JSON list: each component's value, normalised, weight, points")
    parameters: str | None = Field(None, title="分析参数", description="JSON of the weights, breaks and as-of date")


RISK_SURFACE = Layer(
    id="risk_surface",
    title="综合风险格网",
    description="Composite risk per H3 hexagon: risk sources, open hazards, crashes, black spots, fire gaps, people.",
    group="风险源",
    geometry_types=("Polygon", "MultiPolygon"),
    properties=RiskSurfaceProperties,
    style=Style(
        by="level",
        colors={"1": "#ffffb2", "2": "#fecc5c", "3": "#fd8d3c", "4": "#f03b20", "5": "#bd0026"},
        fill_opacity=0.55,
        weight=0.5,
    ),
    derived=True,
)
