"""Fire safety: fire lanes and their obstructions, old settlements and buildings."""

from datetime import datetime

from pydantic import Field

from layers.base import Layer, Properties, Style
from layers.vocab import BuildingUse, FireGrade, LaneStatus, Marking, ObstructionKind, PartyType


class FireLaneProperties(Properties):
    """A fire-engine lane (消防车通道); GB 50016 §7.1.8 asks for ≥ 4.0 m clear width and height."""

    name: str = Field(title="名称", max_length=80)
    width_m: float = Field(title="净宽(m)", gt=0, le=50)
    clear_height_m: float | None = Field(None, title="净高(m)", gt=0, le=50)
    marking: Marking = Field(Marking.NONE, title="标识情况")
    status: LaneStatus = Field(LaneStatus.PASSABLE, title="通行状态")
    dead_end: bool = Field(False, title="尽头式")
    turnaround: bool = Field(False, title="有回车场")


class ObstructionProperties(Properties):
    """Something standing on a fire lane (消防法 第二十八条 forbids it)."""

    lane_id: int | None = Field(None, title="所在通道", ge=1)
    kind: ObstructionKind = Field(title="占用类型")
    remaining_width_m: float = Field(title="剩余净宽(m)", ge=0, le=50)
    reported_at: datetime = Field(title="发现时间")
    responsible_party: str = Field(title="责任方", min_length=1, max_length=80)
    party_type: PartyType = Field(PartyType.INDIVIDUAL, title="责任方类型")
    cleared: bool = Field(False, title="已清除")
    note: str | None = Field(None, title="备注", max_length=300)


class OldSettlementProperties(Properties):
    """An old residential compound or place (老旧小区/老旧场所): built on or before the configured cut-off year."""

    name: str = Field(title="名称", min_length=1, max_length=80)
    build_year: int = Field(title="建成年份", ge=1900, le=2100)
    buildings: int = Field(title="楼栋/院落数", ge=0)
    households: int = Field(title="户数", ge=0)
    fire_grade: FireGrade = Field(FireGrade.UNKNOWN, title="耐火等级")
    village_code: str | None = Field(None, title="所属村", pattern=r"^\d{12}$")
    notes: str | None = Field(None, title="备注", max_length=500)


class BuildingProperties(Properties):
    """A building footprint, for fire separation and exposed-population counts."""

    storeys: int = Field(1, title="层数", ge=1, le=100)
    fire_grade: FireGrade = Field(FireGrade.UNKNOWN, title="耐火等级")
    use: BuildingUse = Field(BuildingUse.RESIDENTIAL, title="用途")
    residents: int = Field(0, title="居住人数", ge=0)
    build_year: int | None = Field(None, title="建成年份", ge=1900, le=2100)
    village_code: str | None = Field(None, title="所属村", pattern=r"^\d{12}$")


FIRE_LANES = Layer(
    id="fire_lanes",
    title="消防车通道",
    description="Fire-engine lanes by passability; blocked ones are impassable under 4.0 m clear width.",
    group="消防",
    geometry_types=("LineString", "MultiLineString"),
    properties=FireLaneProperties,
    style=Style(by="status", colors={"passable": "#2ca25f", "partial": "#fe9929", "blocked": "#de2d26"}, weight=4),
)

OBSTRUCTIONS = Layer(
    id="obstructions",
    title="消防通道占用点",
    description="Vehicles, straw, debris and structures standing on fire lanes.",
    group="消防",
    geometry_types=("Point",),
    properties=ObstructionProperties,
    style=Style(color="#de2d26", radius=6),
    mutable=True,
)

OLD_SETTLEMENTS = Layer(
    id="old_settlements",
    title="老旧小区/老旧场所",
    description="Compounds and places built on or before 2000, candidates for renovation and fire rectification.",
    group="消防",
    geometry_types=("Polygon", "MultiPolygon"),
    properties=OldSettlementProperties,
    style=Style(color="#8c510a", fill_color="#d8b365", fill_opacity=0.45, weight=1),
)

BUILDINGS = Layer(
    id="buildings",
    title="建筑",
    description="Building footprints with storeys, fire-resistance grade, use and residents.",
    group="建筑",
    geometry_types=("Polygon", "MultiPolygon"),
    properties=BuildingProperties,
    style=Style(color="#737373", fill_color="#bdbdbd", fill_opacity=0.6, weight=0.5),
)
