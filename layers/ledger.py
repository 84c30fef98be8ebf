"""The rectification ledger (隐患台账): each hazard with its 五到位 and closing record (domain.md §10)."""

from datetime import date

from pydantic import Field, model_validator

from layers.base import Layer, Properties, Style
from layers.vocab import Channel, HazardLevel, HazardStatus, Sector, SupervisionLevel


class HazardProperties(Properties):
    """One hazard from discovery to closure: responsibility, measures, funds, deadline and plan."""

    code: str = Field(title="隐患编号", pattern=r"^[A-Z0-9-]{4,40}$")
    village_code: str | None = Field(None, title="所属村", pattern=r"^\d{12}$")
    unit: str | None = Field(None, title="所属单位", max_length=80)
    sector: Sector = Field(title="行业领域")
    level: HazardLevel = Field(HazardLevel.GENERAL, title="隐患等级")
    description: str = Field(title="隐患描述", min_length=2, max_length=1000)
    basis: str | None = Field(None, title="依据条款", max_length=200)
    discovered_on: date = Field(title="发现日期")
    channel: Channel = Field(title="发现方式")
    responsible_unit: str = Field(title="责任单位", min_length=1, max_length=80)
    responsible_person: str = Field(title="责任人", min_length=1, max_length=30)
    measures: str | None = Field(None, title="整改措施", max_length=1000)
    funds_yuan: float | None = Field(None, title="整改资金(元)", ge=0)
    deadline: date | None = Field(None, title="整改时限")
    contingency_plan: str | None = Field(None, title="应急预案", max_length=500)
    status: HazardStatus = Field(HazardStatus.REGISTERED, title="状态")
    supervised: bool = Field(False, title="挂牌督办")
    supervision_level: SupervisionLevel | None = Field(None, title="督办级别")
    acceptor: str | None = Field(None, title="验收人", max_length=30)
    accepted_on: date | None = Field(None, title="验收日期")
    closed_on: date | None = Field(None, title="销号日期")
    linked_layer: str | None = Field(None, title="关联图层")
    linked_fid: int | None = Field(None, title="关联要素", ge=1)

    @model_validator(mode="after")
    def _major_is_supervised(self) -> "HazardProperties":
        if self.level == HazardLevel.MAJOR and not (self.supervised and self.supervision_level):
            raise ValueError(
                "重大事故隐患必须挂牌督办并注明督办级别 "
                "(a major hazard must be supervised: set supervised and supervision_level)"
            )
        if self.deadline and self.deadline < self.discovered_on:
            raise ValueError(
                f"整改时限 {self.deadline} 早于发现日期 {self.discovered_on} (deadline before discovered_on)"
            )
        return self


HAZARDS = Layer(
    id="hazards",
    title="隐患台账",
    description="Hazards from discovery to verified closure, with owner, deadline and supervision.",
    group="隐患",
    geometry_types=("Point",),
    properties=HazardProperties,
    style=Style(
        by="status",
        colors={
            "registered": "#fdae61",
            "assessed": "#f46d43",
            "rectifying": "#d73027",
            "verification_requested": "#74add1",
            "accepted": "#4575b4",
            "closed": "#1a9850",
            "voided": "#969696",
        },
        radius=6,
    ),
    mutable=True,
    private=True,
)
