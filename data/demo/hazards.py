"""The rectification ledger: hazards found at the planted problems, and routine ones in the villages."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
from shapely.geometry import Point

from data.demo.names import person
from data.demo.town import Feature, Town
from layers.ledger import HazardProperties
from layers.vocab import Channel, HazardLevel, HazardStatus, Sector, SupervisionLevel

#: The ledger is a snapshot taken on this day; deadlines before it on open hazards are overdue.
AS_OF = date(2026, 10, 31)
TOWN_UNIT = "义隆永镇人民政府"

#: Routine findings in villages: (sector, description, basis, measures, unit that answers).
ROUTINE = (
    (
        Sector.FIRE,
        "村民院内柴草垛紧贴住房堆放，距离不足防火要求",
        "GB 50039 农村防火规范",
        "柴草垛移至村外集中堆放点",
        "村民委员会",
    ),
    (Sector.FIRE, "村委会办公楼灭火器过期未检", "消防法第十六条", "更换并按期检验灭火器", "村民委员会"),
    (
        Sector.FIRE,
        "村民住房私拉乱接电线，电动车室内充电",
        "消防法第二十一条",
        "入户宣传，规范线路，设集中充电点",
        "村民委员会",
    ),
    (Sector.AGRI_MACHINERY, "拖拉机无牌无证上路行驶", "道路交通安全法第八条", "登记挂牌，驾驶人培训取证", "镇农机站"),
    (
        Sector.AGRI_MACHINERY,
        "农用三轮车违规载人",
        "道路交通安全法第五十条",
        "劝导站登记劝导，村内广播宣传",
        "村民委员会",
    ),
    (
        Sector.CONSTRUCTION,
        "村内自建房施工无围挡，脚手架未固定",
        "建设工程安全生产管理条例",
        "停工整改，设置围挡并加固脚手架",
        "村民委员会",
    ),
    (
        Sector.ROAD_TRAFFIC,
        "村道急弯处缺少警示标志和防护栏",
        "公路安全保护条例",
        "增设急弯警示标志和波形护栏",
        "镇交通管理站",
    ),
    (
        Sector.ROAD_TRAFFIC,
        "学校门前村道无减速带和人行横道",
        "道路交通安全法第三十四条",
        "设置减速带、人行横道和限速标志",
        "镇交通管理站",
    ),
    (Sector.OTHER, "村内废弃机井未封堵", "安全生产法第四十一条", "回填封堵并设警示牌", "村民委员会"),
)


def hazard_features(town: Town) -> list[Feature]:
    """Hazards in discovery order: one at each planted problem, then routine ones spread over the villages."""
    rng = town.rng("hazards")
    drafts: list[dict] = []
    drafts += _from_obstructions(town)
    drafts += _from_intersections(town)
    drafts += _from_black_spots(town)
    drafts += _from_risk_sources(town)
    drafts += _from_settlements(town)
    drafts += _routine(town, rng, count=48 - len(drafts))
    starts = np.sort(rng.integers(0, (AS_OF - date(2025, 1, 1)).days - 20, size=len(drafts)))
    order = rng.permutation(len(drafts))
    features: list[Feature] = []
    for serial, (k, day) in enumerate(zip(order, starts, strict=True), start=1):
        draft = drafts[int(k)]
        discovered = date(2025, 1, 1) + timedelta(days=int(day))
        props = HazardProperties(
            code=f"YLY-{discovered.year}-{serial:03d}",
            village_code=town.village_at(draft["point"]).code,
            discovered_on=discovered,
            **_progress(draft, discovered, rng),
            **{key: value for key, value in draft.items() if key not in ("point", "closed", "major_level")},
        )
        features.append((props, draft["point"]))
    town.features["hazards"] = features
    return features


def _progress(draft: dict, discovered: date, rng: np.random.Generator) -> dict:
    """Workflow fields: a deadline, a status on AS_OF, and the closing record for closed hazards."""
    major = draft.get("level") == HazardLevel.MAJOR
    deadline = discovered + timedelta(days=int(rng.choice([30, 60, 90])) * (2 if major else 1))
    out: dict = {
        "deadline": deadline,
        "supervised": major,
        "supervision_level": draft.get("major_level") if major else None,
        "funds_yuan": float(rng.choice([0, 500, 2000, 8000, 30000, 120000])) * (5 if major else 1),
        "contingency_plan": "落实现场警戒和专人值守，整改期间暂停相关作业" if major else None,
    }
    if draft.get("closed"):
        accepted = min(deadline, AS_OF - timedelta(days=5))
        out |= {
            "status": HazardStatus.CLOSED,
            "acceptor": person(rng),
            "accepted_on": max(accepted, discovered),
            "closed_on": max(accepted, discovered) + timedelta(days=3),
        }
        return out
    age = (AS_OF - discovered).days
    if age < 10:
        out["status"] = HazardStatus.REGISTERED
    elif age < 25:
        out["status"] = HazardStatus.ASSESSED
    else:
        out["status"] = HazardStatus(
            str(rng.choice(["rectifying", "rectifying", "verification_requested", "accepted", "closed"]))
        )
        if out["status"] in (HazardStatus.ACCEPTED, HazardStatus.CLOSED):
            done = min(deadline, AS_OF - timedelta(days=2))
            out |= {"acceptor": person(rng), "accepted_on": max(done, discovered)}
            if out["status"] == HazardStatus.CLOSED:
                out["closed_on"] = min(max(done, discovered) + timedelta(days=3), AS_OF)
    if major and out["status"] in (HazardStatus.ACCEPTED, HazardStatus.CLOSED):
        # A major hazard stays open here: its sign-off waits for the supervising level.
        out |= {"status": HazardStatus.VERIFICATION_REQUESTED, "acceptor": None, "accepted_on": None, "closed_on": None}
    return out


def _common(town: Town, point: Point, rng_key: str) -> dict:
    return {"point": point, "responsible_person": person(town.rng(rng_key))}


def _from_obstructions(town: Town) -> list[dict]:
    dead_end_fid = town.truth["fire_lanes"]["dead_end"]["obstruction_fid"]
    out = []
    for fid, (props, point) in enumerate(town.features["obstructions"], start=1):
        lane = town.features["fire_lanes"][props.lane_id - 1][0]
        blocked = props.remaining_width_m < 4.0
        major = fid == dead_end_fid
        out.append(
            _common(town, point, f"hazard-obstruction-{fid}")
            | {
                "sector": Sector.FIRE,
                "level": HazardLevel.MAJOR if major else HazardLevel.GENERAL,
                "major_level": SupervisionLevel.BANNER,
                "description": f"{lane.name}被{props.kind.label}占用，剩余净宽{props.remaining_width_m:g} m"
                + ("，低于4 m，消防车无法通行" if blocked else "")
                + ("；该通道是粮站家属院唯一的消防车通道" if major else ""),
                "basis": "GB 50016 §7.1.8；消防法第二十八条",
                "channel": Channel.DEPARTMENT_INSPECTION if fid % 2 else Channel.PUBLIC_REPORT,
                "responsible_unit": props.responsible_party if props.party_type == "unit" else TOWN_UNIT,
                "measures": "责令占用人限期清除，施划禁停标线并设置警示牌",
                "linked_layer": "obstructions",
                "linked_fid": fid,
                "closed": props.cleared,
            }
        )
    return out


def _from_intersections(town: Town) -> list[dict]:
    out = []
    for fid, (props, point) in enumerate(town.features["intersections"], start=1):
        if not props.sight_obstructed:
            continue
        text = f"{props.name}视距三角区内有建筑和树木遮挡，无任何警示和控制设施"
        if props.slope_fix_needed:
            text += "，被交道接入段纵坡大，需要坡改平"
        out.append(
            _common(town, point, f"hazard-junction-{fid}")
            | {
                "sector": Sector.ROAD_TRAFFIC,
                "description": text,
                "basis": "公路路线设计规范 视距三角区；千灯万带示范工程",
                "channel": Channel.DEPARTMENT_INSPECTION,
                "responsible_unit": "镇交通管理站",
                "measures": "清除遮挡物，安装爆闪警示灯和减速带" + ("，实施坡改平" if props.slope_fix_needed else ""),
                "linked_layer": "intersections",
                "linked_fid": fid,
            }
        )
    return out


def _from_black_spots(town: Town) -> list[dict]:
    truth = town.truth["accident_black_spots"]
    out = []
    for spot in truth["spots"]:
        fid = spot["intersection_fid"]
        point = town.features["intersections"][fid - 1][1]
        counted = spot["counted"]
        major = spot["grade"] == "class1"
        out.append(
            _common(town, point, f"hazard-spot-{fid}")
            | {
                "sector": Sector.ROAD_TRAFFIC,
                "level": HazardLevel.MAJOR if major else HazardLevel.GENERAL,
                "major_level": SupervisionLevel.CITY,
                "description": f"{spot['name']}三年内发生{counted['casualty_crashes']}起致人伤亡事故，"
                f"其中死亡事故{counted['fatal_crashes']}起，群众反映路口车速快、无警示",
                "basis": "公路交通事故多发点段及严重安全隐患排查工作规范 附录1",
                "channel": Channel.DEPARTMENT_INSPECTION,
                "responsible_unit": "奈曼旗交通运输局",
                "measures": "增设信号灯或爆闪灯、减速带和限速标志，渠化路口",
                "linked_layer": "intersections",
                "linked_fid": fid,
            }
        )
    return out


def _from_risk_sources(town: Town) -> list[dict]:
    majors = {site["fid"] for site in town.truth["major_hazard_sources"]["sites"]}
    out = []
    for fid, (props, point) in enumerate(town.features["risk_sources"], start=1):
        if fid not in majors and props.level not in ("red", "orange"):
            continue
        major = fid in majors
        out.append(
            _common(town, point, f"hazard-site-{fid}")
            | {
                "sector": Sector.HAZCHEM if props.kind != "quarry" else Sector.OTHER,
                "level": HazardLevel.MAJOR if major else HazardLevel.GENERAL,
                "major_level": SupervisionLevel.BANNER,
                "description": f"{props.name}"
                + (
                    "构成危险化学品重大危险源，未按规定备案，未设置可燃有毒气体泄漏报警"
                    if major
                    else "安全管理制度不健全，应急演练记录缺失"
                ),
                "basis": "GB 18218-2018" if major else "安全生产法第二十一条",
                "channel": Channel.DEPARTMENT_INSPECTION if major else Channel.SELF_INSPECTION,
                "unit": props.responsible_unit,
                "responsible_unit": props.responsible_unit,
                "measures": "重大危险源辨识备案，安装泄漏报警和视频监控" if major else "完善制度，每半年组织一次演练",
                "linked_layer": "risk_sources",
                "linked_fid": fid,
            }
        )
    return out


def _from_settlements(town: Town) -> list[dict]:
    out = []
    for fid, (props, polygon) in enumerate(town.features["old_settlements"], start=1):
        out.append(
            _common(town, polygon.representative_point(), f"hazard-settlement-{fid}")
            | {
                "sector": Sector.FIRE,
                "description": f"{props.name}电气线路老化，缺少室外消火栓和灭火器",
                "basis": "消防法第十六条；城镇老旧小区改造",
                "channel": Channel.DEPARTMENT_INSPECTION,
                "responsible_unit": "村民委员会" if "老村" in props.name else TOWN_UNIT,
                "measures": "更换老化线路，配置灭火器，纳入老旧小区改造计划",
                "linked_layer": "old_settlements",
                "linked_fid": fid,
            }
        )
    return out


def _routine(town: Town, rng: np.random.Generator, count: int) -> list[dict]:
    out = []
    villages = town.villages[1:]
    for k in range(max(count, 0)):
        village = villages[int(rng.integers(len(villages)))]
        sector, text, basis, measures, unit = ROUTINE[k % len(ROUTINE)]
        centre = np.array(village.centre.coords[0])
        point = Point(centre + rng.uniform(-250, 250, 2))
        if not village.polygon.contains(point):
            point = village.centre
        out.append(
            _common(town, point, f"hazard-routine-{k}")
            | {
                "sector": sector,
                "description": f"{village.name}{text}",
                "basis": basis,
                "channel": Channel(str(rng.choice(["self_inspection", "department_inspection", "public_report"]))),
                "responsible_unit": f"{village.name}{unit}" if unit == "村民委员会" else unit,
                "measures": measures,
            }
        )
    return out
