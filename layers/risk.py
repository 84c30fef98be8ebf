"""Risk sources (重大风险源): hazardous sites with their substance inventories and four-colour level."""

from pydantic import BaseModel, ConfigDict, Field

from layers.base import Layer, Properties, Style
from layers.vocab import RiskLevel, RiskSourceKind


class Substance(BaseModel):
    """One hazardous substance held at a site, by its design maximum quantity (GB 18218-2018 §4.2.2)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(title="物质名称", min_length=1)
    cas: str | None = Field(None, title="CAS号", pattern=r"^\d{2,7}-\d{2}-\d$")
    quantity_t: float = Field(title="最大储量(t)", ge=0)
    hazard_class: str | None = Field(None, title="危险性类别", description="GB 18218 Table 2 class, e.g. W5.4")


class RiskSourceProperties(Properties):
    """A site that could cause a serious accident, and the people answerable for it."""

    name: str = Field(title="名称", min_length=1, max_length=80)
    kind: RiskSourceKind = Field(title="类型")
    substances: list[Substance] = Field(default_factory=list, title="危险物质")
    lec_l: float | None = Field(None, title="LEC-可能性L", ge=0.1, le=10)
    lec_e: float | None = Field(None, title="LEC-暴露频率E", ge=0.5, le=10)
    lec_c: float | None = Field(None, title="LEC-后果C", ge=1, le=100)
    ls_l: int | None = Field(None, title="LS-可能性L", ge=1, le=5)
    ls_s: int | None = Field(None, title="LS-严重性S", ge=1, le=5)
    level: RiskLevel = Field(title="风险等级")
    responsible_unit: str = Field(title="责任单位", min_length=1, max_length=80)
    responsible_person: str = Field(title="责任人", min_length=1, max_length=30)
    phone: str | None = Field(None, title="联系电话", max_length=30)


RISK_SOURCES = Layer(
    id="risk_sources",
    title="重大风险源",
    description="Hazardous sites (fuel, LPG, fireworks, ammonia, fertiliser, dryers, quarries) in four safety colours.",
    group="风险源",
    geometry_types=("Point", "Polygon", "MultiPolygon"),
    properties=RiskSourceProperties,
    style=Style(
        by="level",
        colors={"red": "#e60000", "orange": "#ff8c00", "yellow": "#ffd700", "blue": "#1e64c8"},
        radius=7,
    ),
)
