"""Coded values: stored and served as English codes, shown to people by their Chinese labels."""

from __future__ import annotations

from enum import StrEnum


class Labeled(StrEnum):
    """A string code with a Chinese label: `Severity.FATAL == "fatal"`, `Severity.FATAL.label == "死亡事故"`."""

    label: str

    def __new__(cls, value: str, label: str) -> Labeled:  # noqa: D102 - the enum machinery calls it
        obj = str.__new__(cls, value)
        obj._value_ = value
        obj.label = label
        return obj

    @classmethod
    def labels(cls) -> dict[str, str]:
        """Code → Chinese label, in declaration order."""
        return {member.value: member.label for member in cls}


class VillageKind(Labeled):
    """Kind of administrative village."""

    VILLAGE = "village", "行政村"
    GACHA = "gacha", "嘎查"
    COMMUNITY = "community", "社区"


class AdminClass(Labeled):
    """Administrative road class, from the route-code prefix (GB/T 917-2017)."""

    NATIONAL = "G", "国道"
    PROVINCIAL = "S", "省道"
    COUNTY = "X", "县道"
    TOWNSHIP = "Y", "乡道"
    VILLAGE = "C", "村道"
    SPECIAL = "Z", "专用公路"
    STREET = "street", "镇区街道"


class TechClass(Labeled):
    """Technical grade of a highway (公路技术等级)."""

    EXPRESSWAY = "expressway", "高速公路"
    CLASS1 = "class1", "一级公路"
    CLASS2 = "class2", "二级公路"
    CLASS3 = "class3", "三级公路"
    CLASS4 = "class4", "四级公路"
    SUBSTANDARD = "substandard", "等外公路"
    STREET = "street", "城镇道路"


class Surface(Labeled):
    """Road surface."""

    ASPHALT = "asphalt", "沥青"
    CONCRETE = "concrete", "水泥混凝土"
    GRAVEL = "gravel", "砂石"
    EARTH = "earth", "土路"


class Control(Labeled):
    """How traffic at an intersection is controlled."""

    NONE = "none", "无控制"
    YIELD = "yield", "减速让行"
    STOP = "stop", "停车让行"
    FLASHING = "flashing", "黄闪警示灯"
    SIGNAL = "signal", "信号灯"
    ROUNDABOUT = "roundabout", "环岛"


class Severity(Labeled):
    """Crash severity by its worst outcome."""

    FATAL = "fatal", "死亡事故"
    INJURY = "injury", "伤人事故"
    PROPERTY = "property", "财产损失事故"


class CrashType(Labeled):
    """Crash type (事故形态)."""

    HEAD_ON = "head_on", "正面相撞"
    ANGLE = "angle", "侧面相撞"
    REAR_END = "rear_end", "追尾"
    SIDESWIPE = "sideswipe", "刮擦"
    PEDESTRIAN = "pedestrian", "碰撞行人"
    ROLLOVER = "rollover", "翻车"
    FIXED_OBJECT = "fixed_object", "撞固定物"
    OTHER = "other", "其他"


class SpotKind(Labeled):
    """Accident-prone spot or segment."""

    SPOT = "spot", "事故多发点"
    SEGMENT = "segment", "事故多发段"


class SpotClass(Labeled):
    """Class of an accident-prone spot or segment under the national norm."""

    CLASS1 = "class1", "一类"
    CLASS2 = "class2", "二类"
    CLASS3 = "class3", "三类"


class RiskLevel(Labeled):
    """Four-colour safety-risk level (安委办〔2016〕11号): blue is the lowest, never green."""

    RED = "red", "重大风险"
    ORANGE = "orange", "较大风险"
    YELLOW = "yellow", "一般风险"
    BLUE = "blue", "低风险"


class RiskSourceKind(Labeled):
    """Rural kinds of risk source."""

    FUEL_STATION = "fuel_station", "加油站"
    LPG_DEPOT = "lpg_depot", "液化气站"
    FIREWORKS_SHOP = "fireworks_shop", "烟花爆竹零售点"
    AMMONIA_COLD_STORE = "ammonia_cold_store", "液氨冷库"
    FERTILISER_STORE = "fertiliser_store", "化肥仓库"
    GRAIN_DRYER = "grain_dryer", "粮食烘干塔"
    QUARRY = "quarry", "采石场"
    OTHER = "other", "其他"


class LaneStatus(Labeled):
    """Passability of a fire lane."""

    PASSABLE = "passable", "畅通"
    PARTIAL = "partial", "部分占用"
    BLOCKED = "blocked", "堵塞不可通行"


class Marking(Labeled):
    """Fire-lane markings per 应急消〔2019〕334号."""

    MARKED = "marked", "已按规范标识"
    PARTIAL = "partial", "标识不全"
    NONE = "none", "未标识"


class ObstructionKind(Labeled):
    """What stands on a fire lane."""

    VEHICLE = "vehicle", "车辆"
    STRAW = "straw", "柴草"
    DEBRIS = "debris", "杂物"
    ILLEGAL_STRUCTURE = "illegal_structure", "违章建筑"
    PARKING_LOCK = "parking_lock", "地锁"
    BARRIER = "barrier", "护栏"


class PartyType(Labeled):
    """Who answers for an obstruction: a unit or a person (消防法 第六十条 fines differ)."""

    UNIT = "unit", "单位"
    INDIVIDUAL = "individual", "个人"


class FireGrade(Labeled):
    """Fire-resistance grade (耐火等级, GB 50016); unknown is treated as 四级 (Table 5.2.2 note 7)."""

    GRADE1 = "1", "一级"
    GRADE2 = "2", "二级"
    GRADE3 = "3", "三级"
    GRADE4 = "4", "四级"
    UNKNOWN = "unknown", "未知"


class BuildingUse(Labeled):
    """Main use of a building."""

    RESIDENTIAL = "residential", "住宅"
    COMMERCIAL = "commercial", "商业"
    SCHOOL = "school", "学校"
    CLINIC = "clinic", "医疗"
    GOVERNMENT = "government", "机关"
    WAREHOUSE = "warehouse", "仓储"
    INDUSTRIAL = "industrial", "工业"
    MARKET = "market", "集贸市场"
    AGRICULTURAL = "agricultural", "农业用房"
    OTHER = "other", "其他"


class ResourceKind(Labeled):
    """Kind of emergency resource."""

    FIRE_STATION = "fire_station", "消防站"
    MICRO_FIRE_STATION = "micro_fire_station", "微型消防站"
    TOWNSHIP_CLINIC = "township_clinic", "乡镇卫生院"
    VILLAGE_CLINIC = "village_clinic", "村卫生室"
    RESCUE_TEAM = "rescue_team", "救援队伍"
    SUPPLY_DEPOT = "supply_depot", "物资储备库"
    SHELTER = "shelter", "避难场所"


class Sector(Labeled):
    """Sector a hazard belongs to (行业领域)."""

    ROAD_TRAFFIC = "road_traffic", "道路交通"
    FIRE = "fire", "消防"
    HAZCHEM = "hazchem", "危险化学品"
    CONSTRUCTION = "construction", "建设施工"
    AGRI_MACHINERY = "agri_machinery", "农机"
    OTHER = "other", "其他"


class HazardLevel(Labeled):
    """Hazard level under 安监总局令第16号."""

    GENERAL = "general", "一般事故隐患"
    MAJOR = "major", "重大事故隐患"


class Channel(Labeled):
    """How a hazard was found."""

    SELF_INSPECTION = "self_inspection", "企业自查"
    DEPARTMENT_INSPECTION = "department_inspection", "部门检查"
    PUBLIC_REPORT = "public_report", "群众举报"


class HazardStatus(Labeled):
    """Where a hazard stands in the rectification workflow."""

    REGISTERED = "registered", "登记"
    ASSESSED = "assessed", "评估定级"
    RECTIFYING = "rectifying", "整改中"
    VERIFICATION_REQUESTED = "verification_requested", "申请验收"
    ACCEPTED = "accepted", "验收通过"
    CLOSED = "closed", "销号"
    VOIDED = "voided", "作废"


#: Statuses of a hazard still to be dealt with: everything before 销号, except 作废.
OPEN_HAZARD_STATUSES = ("registered", "assessed", "rectifying", "verification_requested", "accepted")


class SupervisionLevel(Labeled):
    """Level of government supervising a listed hazard (挂牌督办)."""

    TOWN = "town", "镇级"
    BANNER = "banner", "旗级"
    CITY = "city", "市级"


class DensityLevel(Labeled):
    """Crash density along a road, in five classes (quintiles of the non-zero densities)."""

    VERY_LOW = "1", "很低"
    LOW = "2", "较低"
    MEDIUM = "3", "中等"
    HIGH = "4", "较高"
    VERY_HIGH = "5", "很高"


class Measure(Labeled):
    """A "千灯万带" treatment measure at an at-grade intersection (domain.md §1.3 checklist)."""

    FLASHING_LIGHT = "flashing_light", "黄闪警示灯"
    SPEED_BELTS = "speed_belts", "减速带/振动标线"
    SIGNS_MARKINGS = "signs_markings", "让行标志标线"
    SLOPE_FIX = "slope_fix", "坡改平"
    SIGHT_CLEARING = "sight_clearing", "视距三角形清障"


class SurfaceLevel(Labeled):
    """Class of the composite risk score of a hexagon (fixed breaks on the 0–100 score)."""

    LOW = "1", "低"
    LOWER = "2", "较低"
    MEDIUM = "3", "中等"
    HIGHER = "4", "较高"
    HIGH = "5", "高"


class ResponseBand(Labeled):
    """How soon the first fire engine can arrive (建标152-2017: 5 min; 微型消防站: 3 min)."""

    MIN3 = "3", "3分钟内"
    MIN5 = "5", "3–5分钟"
    MIN10 = "10", "5–10分钟"
    MIN15 = "15", "10–15分钟"
    MIN30 = "30", "15–30分钟"


class CutOffReason(Labeled):
    """Why a building counts as cut off by a blocked fire lane."""

    UNREACHABLE = "unreachable", "消防车无法到达"
    BEYOND_STANDARD = "beyond_standard", "到场超出时限"


class ClusterSize(Labeled):
    """How many households a contiguous cluster (连片) holds; ≥ 50 households is the firebreak target in practice."""

    SMALL = "small", "2–9户"
    MEDIUM = "medium", "10–29户"
    LARGE = "large", "30–49户"
    HUGE = "huge", "50户以上"
