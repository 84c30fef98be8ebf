"""Fire-safety analysis results as layers: response bands, buildings a blocked lane cuts off, contiguous clusters."""

from pydantic import Field

from layers.base import Layer, Properties, Style
from layers.vocab import ClusterSize, CutOffReason, ResourceKind, ResponseBand


class ResponseBandProperties(Properties):
    """A stretch of road or fire lane a fire engine reaches within a band of minutes, with today's blockages."""

    band: ResponseBand = Field(title="到场时间")
    band_from_min: float = Field(0, title="起(分钟)", ge=0)
    road_id: int | None = Field(None, title="道路编号")
    lane_id: int | None = Field(None, title="消防车通道编号")
    start_m: float = Field(0, title="起点(m)", ge=0)
    end_m: float = Field(0, title="终点(m)", ge=0)
    parameters: str | None = Field(None, title="分析参数", description="JSON of the speeds and standards used")


class CutOffProperties(Properties):
    """A building a blocked fire lane cuts off, or puts beyond the response standard, and the blockage to clear."""

    building_id: int = Field(title="建筑编号")
    village_code: str | None = Field(None, title="所属村", pattern=r"^\d{12}$")
    settlement_id: int | None = Field(None, title="老旧小区编号")
    station_kind: ResourceKind = Field(title="消防站类型")
    minutes_before: float | None = Field(None, title="清障后到场(分钟)", ge=0)
    minutes_after: float | None = Field(None, title="现状到场(分钟)", ge=0, description="Empty when unreachable")
    standard_min: float = Field(title="到场时限(分钟)", gt=0)
    reason: CutOffReason = Field(title="情形")
    obstruction_ids: list[int] = Field(default_factory=list, title="需清除的占用点")
    lane_ids: list[int] = Field(default_factory=list, title="所在通道")
    needs_several: bool = Field(False, title="需同时清除多处")
    responsible_party: str | None = Field(None, title="责任方", max_length=200)
    legal_basis: str | None = Field(None, title="法律依据", max_length=300)
    penalty: str | None = Field(None, title="处罚", max_length=300)
    parameters: str | None = Field(None, title="分析参数", description="JSON of the speeds and standards used")


class FireClusterProperties(Properties):
    """Buildings linked by fire separations shorter than GB 50016 Table 5.2.2 asks for (连片)."""

    village_code: str | None = Field(None, title="所属村", pattern=r"^\d{12}$")
    size: ClusterSize = Field(title="规模")
    buildings: int = Field(title="建筑数", ge=2)
    households: int = Field(0, title="户数", ge=0)
    residents: int = Field(0, title="居住人数", ge=0)
    old_buildings: int = Field(0, title="2000年及以前建成", ge=0)
    low_grade_buildings: int = Field(0, title="四级或耐火等级未知", ge=0)
    too_close_pairs: int = Field(0, title="间距不足(对)", ge=0)
    min_distance_m: float = Field(0, title="最小间距(m)", ge=0)
    max_shortfall_m: float = Field(0, title="最大缺口(m)", ge=0)
    length_m: float = Field(0, title="连片长度(m)", ge=0)
    grades: str | None = Field(None, title="耐火等级", max_length=40)
    largest_in_village: bool = Field(False, title="本村最大连片")
    parameters: str | None = Field(None, title="分析参数", description="JSON of Table 5.2.2 as applied")


RESPONSE_BANDS = Layer(
    id="response_bands",
    title="消防到场时间",
    description="Roads and fire lanes by the minutes the first fire engine needs to reach them, blockages in place.",
    group="消防",
    geometry_types=("LineString",),
    properties=ResponseBandProperties,
    style=Style(
        by="band", colors={"3": "#1a9850", "5": "#91cf60", "10": "#fee08b", "15": "#fc8d59", "30": "#d73027"}, weight=4
    ),
    derived=True,
)

CUT_OFF = Layer(
    id="cut_off",
    title="通道堵塞受影响建筑",
    description="Buildings a blocked fire lane cuts off or puts beyond the response standard, with the blockage.",
    group="消防",
    geometry_types=("Point",),
    properties=CutOffProperties,
    style=Style(by="reason", colors={"unreachable": "#67000d", "beyond_standard": "#ef6548"}, radius=6),
    derived=True,
)

FIRE_CLUSTERS = Layer(
    id="fire_clusters",
    title="防火间距不足连片",
    description="Contiguous clusters of buildings closer than the GB 50016 Table 5.2.2 fire separations.",
    group="消防",
    geometry_types=("Polygon",),
    properties=FireClusterProperties,
    style=Style(
        by="size",
        colors={"small": "#fdd49e", "medium": "#fc8d59", "large": "#d7301f", "huge": "#7f0000"},
        fill_opacity=0.45,
        weight=1,
    ),
    derived=True,
)
