"""Road traffic: roads, at-grade intersections, accidents and accident-prone spots and segments."""

from datetime import date, datetime

from pydantic import Field, model_validator

from layers.base import Layer, Properties, Style
from layers.vocab import AdminClass, Control, CrashType, Severity, SpotClass, SpotKind, Surface, TechClass


class RoadProperties(Properties):
    """A road centreline between two junctions."""

    name: str = Field(title="道路名称", max_length=60)
    route_code: str | None = Field(
        None, title="路线编号", pattern=r"^[GSXYCZ]\d{1,4}$", description="GB/T 917-2017 route code, e.g. G111, X512"
    )
    admin_class: AdminClass = Field(title="行政等级")
    tech_class: TechClass = Field(title="技术等级")
    lanes: int = Field(2, title="车道数", ge=1, le=8)
    speed_limit_kmh: int = Field(title="限速(km/h)", ge=5, le=120)
    surface: Surface = Field(Surface.ASPHALT, title="路面")
    aadt: int | None = Field(None, title="年平均日交通量", ge=0)
    grade_separated: bool = Field(False, title="立交/桥梁", description="Crosses others without meeting them")
    grade_pct: float | None = Field(
        None, title="纵坡(%)", ge=0, le=30, description="Steepest longitudinal grade near the road's ends, from survey"
    )

    @model_validator(mode="after")
    def _code_matches_class(self) -> "RoadProperties":
        if self.route_code and self.admin_class != AdminClass.STREET and self.route_code[0] != self.admin_class.value:
            raise ValueError(
                f"路线编号 {self.route_code} 的首字母与行政等级 {self.admin_class.label} 不符 "
                f"(route_code {self.route_code} starts with {self.route_code[0]} but admin_class is "
                f"{self.admin_class.value}: the prefix must match, G/S/X/Y/C/Z)"
            )
        return self


class IntersectionProperties(Properties):
    """An at-grade junction of three or more road legs (农村公路平交路口)."""

    name: str = Field(title="路口名称", max_length=80)
    legs: int = Field(title="岔数", ge=3, le=8)
    major_class: AdminClass = Field(title="主路等级")
    minor_class: AdminClass = Field(title="次路等级")
    control: Control = Field(Control.NONE, title="控制方式")
    signal: bool = Field(False, title="信号灯")
    flashing_light: bool = Field(False, title="黄闪警示灯")
    speed_belts: bool = Field(False, title="减速带")
    sight_obstructed: bool = Field(False, title="视距三角形受阻")
    slope_fix_needed: bool = Field(False, title="需坡改平")
    road_ids: list[int] = Field(default_factory=list, title="相交道路")
    major_route: str | None = Field(None, title="主路路线", max_length=60)
    minor_route: str | None = Field(None, title="次路路线", max_length=60)
    major_speed_kmh: int | None = Field(None, title="主路限速(km/h)", ge=5, le=120)
    major_aadt: int | None = Field(None, title="主路交通量(辆/日)", ge=0)
    minor_aadt: int | None = Field(None, title="次路交通量(辆/日)", ge=0)
    bearings: list[float] = Field(default_factory=list, title="各岔方位角(°)", description="0 = north, clockwise")
    skew_deg: float | None = Field(None, title="交角偏斜(°)", ge=0, le=90, description="Minor road off square, degrees")
    in_settlement: bool = Field(False, title="穿镇", description="Inside a built-up settlement")
    school_m: float | None = Field(None, title="距学校(m)", ge=0)
    market_m: float | None = Field(None, title="距集市(m)", ge=0)
    village_centre_m: float | None = Field(None, title="距村中心(m)", ge=0)
    minor_grade_pct: float | None = Field(None, title="次路进口纵坡(%)", ge=0)
    parameters: str | None = Field(None, title="提取参数", description="JSON of the extraction parameters")


class AccidentProperties(Properties):
    """One road traffic crash; drunk- or drug-driving crashes are excluded from black-spot counts."""

    occurred_at: datetime = Field(title="发生时间")
    severity: Severity = Field(title="事故等级")
    deaths: int = Field(0, title="死亡人数", ge=0)
    injuries: int = Field(0, title="受伤人数", ge=0)
    crash_type: CrashType = Field(CrashType.OTHER, title="事故形态")
    road_id: int | None = Field(None, title="道路编号", ge=1)
    drunk_driving: bool = Field(False, title="酒驾")
    drug_driving: bool = Field(False, title="毒驾")
    description: str | None = Field(None, title="简要情况", max_length=500)

    @model_validator(mode="after")
    def _severity_matches_casualties(self) -> "AccidentProperties":
        if self.severity == Severity.FATAL and self.deaths < 1:
            raise ValueError("死亡事故的死亡人数至少为 1 (severity is fatal but deaths is 0)")
        if self.severity == Severity.INJURY and (self.deaths > 0 or self.injuries < 1):
            raise ValueError("伤人事故应无死亡且受伤人数至少为 1 (severity is injury: deaths 0, injuries >= 1)")
        if self.severity == Severity.PROPERTY and (self.deaths or self.injuries):
            raise ValueError("财产损失事故的死亡、受伤人数都应为 0 (severity is property: no deaths or injuries)")
        return self


class AccidentSegmentProperties(Properties):
    """An accident-prone spot or segment found by screening (公路交通事故多发点段)."""

    kind: SpotKind = Field(title="类型")
    grade: SpotClass = Field(title="类别")
    road_id: int | None = Field(None, title="道路编号")
    start_m: float = Field(0, title="起点(m)", ge=0)
    end_m: float = Field(0, title="终点(m)", ge=0)
    crashes: int = Field(0, title="事故起数", ge=0)
    fatal_crashes: int = Field(0, title="死亡事故起数", ge=0)
    deaths: int = Field(0, title="死亡人数", ge=0)
    injuries: int = Field(0, title="受伤人数", ge=0)
    window_from: date | None = Field(None, title="统计起")
    window_to: date | None = Field(None, title="统计止")
    parameters: str | None = Field(None, title="分析参数", description="JSON of the parameters that produced it")
    epdo: float | None = Field(None, title="EPDO当量", ge=0, description="Equivalent PDO score of its crashes (HSM)")
    eb_excess: float | None = Field(
        None, title="EB超额事故数", description="EB expected minus predicted crashes (US HSM SPFs, calibrated locally)"
    )
    eb_rank: int | None = Field(None, title="EB排序", ge=1, description="Rank by eb_excess; a second opinion")


ROADS = Layer(
    id="roads",
    title="道路",
    description="Road centrelines with route code, class, speed limit and traffic volume where known.",
    group="道路交通",
    geometry_types=("LineString", "MultiLineString"),
    properties=RoadProperties,
    style=Style(
        by="admin_class",
        colors={"G": "#d7301f", "S": "#fc8d59", "X": "#fdbb84", "Y": "#807dba", "C": "#969696", "street": "#bdbdbd"},
        weight=2,
    ),
)

INTERSECTIONS = Layer(
    id="intersections",
    title="农村公路平交路口",
    description="At-grade intersections with their treatment: signal or flashing light, speed belts, signs.",
    group="道路交通",
    geometry_types=("Point",),
    properties=IntersectionProperties,
    style=Style(
        by="control",
        colors={"signal": "#1a9641", "flashing": "#fdae61", "none": "#d7191c", "yield": "#f46d43", "stop": "#f46d43"},
        radius=5,
    ),
)

ACCIDENTS = Layer(
    id="accidents",
    title="交通事故",
    description="Road traffic crashes over the last three years, by severity.",
    group="道路交通",
    geometry_types=("Point",),
    properties=AccidentProperties,
    style=Style(by="severity", colors={"fatal": "#67000d", "injury": "#ef3b2c", "property": "#fc9272"}, radius=4),
)

ACCIDENT_SEGMENTS = Layer(
    id="accident_segments",
    title="事故多发点段",
    description="Accident-prone spots and segments derived from the crash records by screening.",
    group="道路交通",
    geometry_types=("LineString", "Point", "MultiLineString"),
    properties=AccidentSegmentProperties,
    style=Style(by="grade", colors={"class1": "#7f0000", "class2": "#d7301f", "class3": "#fc8d59"}, weight=6),
    derived=True,
)
