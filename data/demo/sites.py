"""Hazardous sites (fuel, LPG, fireworks, ammonia, fertiliser, grain dryers, quarries) and emergency resources."""

from __future__ import annotations

import numpy as np
from shapely.geometry import Point

from data.demo.graph import Graph
from data.demo.metric import along, lonlat_of
from data.demo.names import person, phone
from data.demo.town import Feature, LayoutError, Town
from layers.emergency import ResourceProperties
from layers.risk import RiskSourceProperties, Substance

GASOLINE = ("汽油", "86290-81-5", "W5.3", 200.0)
DIESEL = ("柴油", None, "W5.4", 5000.0)
LPG = ("液化石油气", "68476-85-7", "W2", 50.0)
NATURAL_GAS = ("天然气", "8006-14-2", "W2", 50.0)
AMMONIA = ("液氨", "7664-41-7", None, 10.0)
AN_FERTILISER = ("硝酸铵肥料", None, None, 200.0)
FIREWORKS = ("烟花爆竹", None, "W1.3", 50.0)
EXPLOSIVE = ("工业炸药", None, "W1.1", 1.0)

#: LEC factor sets (domain.md §4.2) chosen per intended colour; D = L·E·C.
LEC = {"red": (3, 6, 40), "orange": (3, 6, 15), "yellow": (1, 6, 15), "blue": (1, 3, 7)}
LS = {"red": (4, 5), "orange": (3, 5), "yellow": (3, 3), "blue": (2, 3)}

#: (kind, name pattern, colour, road classes it sits on, substances as (spec, tonnes)).
SITES = (
    ("fuel_station", "中石油义隆永加油站", "orange", "G", [(GASOLINE, 45), (DIESEL, 60)]),
    ("fuel_station", "中石化G111西营子加油站", "yellow", "G", [(GASOLINE, 30), (DIESEL, 50)]),
    ("fuel_station", "宏达加油站", "yellow", "G", [(GASOLINE, 25), (DIESEL, 40)]),
    ("fuel_station", "X512兴隆洼加油站", "yellow", "X", [(GASOLINE, 20), (DIESEL, 35)]),
    ("fuel_station", "X518农村加油点", "yellow", "X", [(GASOLINE, 12), (DIESEL, 25)]),
    ("lpg_depot", "义隆永液化气储配站", "red", "Y", [(LPG, 60)]),
    ("lpg_depot", "三合液化气供应站", "orange", "Y", [(LPG, 18)]),
    ("lpg_depot", "东营子液化气换瓶点", "yellow", "C", [(LPG, 3.5)]),
    ("fireworks_shop", "镇区烟花爆竹零售点(一)", "orange", "street", [(FIREWORKS, 0.8)]),
    ("fireworks_shop", "镇区烟花爆竹零售点(二)", "yellow", "street", [(FIREWORKS, 0.5)]),
    ("fireworks_shop", "镇区烟花爆竹零售点(三)", "yellow", "street", [(FIREWORKS, 0.4)]),
    ("fireworks_shop", "西营子烟花爆竹零售点", "yellow", "Y", [(FIREWORKS, 0.3)]),
    ("fireworks_shop", "太平庄烟花爆竹零售点", "yellow", "Y", [(FIREWORKS, 0.25)]),
    ("fireworks_shop", "八家子烟花爆竹零售点", "blue", "C", [(FIREWORKS, 0.2)]),
    ("ammonia_cold_store", "义隆永果蔬冷链冷库", "red", "X", [(AMMONIA, 12)]),
    ("ammonia_cold_store", "兴隆洼肉羊屠宰冷库", "orange", "Y", [(AMMONIA, 6)]),
    ("ammonia_cold_store", "南湾子农产品冷库", "orange", "C", [(AMMONIA, 3.5)]),
    ("fertiliser_store", "供销社农资仓库", "yellow", "street", [(AN_FERTILISER, 80)]),
    ("fertiliser_store", "三合农资站", "yellow", "Y", [(AN_FERTILISER, 45)]),
    ("fertiliser_store", "宝力格化肥门市", "blue", "C", [(AN_FERTILISER, 20)]),
    ("fertiliser_store", "新发农资仓库", "blue", "C", [(AN_FERTILISER, 30)]),
    ("fertiliser_store", "大榆树化肥仓库", "blue", "Y", [(AN_FERTILISER, 25)]),
    ("grain_dryer", "义隆永粮库烘干塔", "yellow", "X", [(DIESEL, 20)]),
    ("grain_dryer", "前进嘎查玉米烘干塔", "yellow", "Y", [(LPG, 8)]),
    ("grain_dryer", "北沙窝烘干塔", "yellow", "C", [(DIESEL, 10)]),
    ("grain_dryer", "胜利村烘干塔", "blue", "C", [(NATURAL_GAS, 1.2)]),
    ("grain_dryer", "双合兴烘干塔", "blue", "Y", [(LPG, 5)]),
    ("grain_dryer", "红光村烘干塔", "blue", "C", [(DIESEL, 8)]),
    ("quarry", "西山采石场", "red", "C", [(EXPLOSIVE, 0.8)]),
    ("quarry", "北梁采石场", "orange", "C", [(EXPLOSIVE, 0.5)]),
    ("other", "义隆永乙炔气瓶经营部", "yellow", "street", [(("乙炔", "74-86-2", None, 1.0), 0.3)]),
)


def risk_source_features(town: Town, g: Graph) -> list[Feature]:
    """Sites beside roads of the fitting class, spread out; truth records which are major hazard sources (S ≥ 1)."""
    rng = town.rng("sites")
    placed: list[Point] = []
    features: list[Feature] = []
    majors = []
    for serial, (kind, name, colour, road_cls, stock) in enumerate(SITES, start=1):
        point = _beside_road(town, g, road_cls, placed, rng)
        placed.append(point)
        substances = [Substance(name=s[0], cas=s[1], hazard_class=s[2], quantity_t=float(q)) for s, q in stock]
        s_value = sum(q / s[3] for s, q in stock)
        lec_l, lec_e, lec_c = LEC[colour]
        ls_l, ls_s = LS[colour]
        props = RiskSourceProperties(
            name=name,
            kind=kind,
            substances=substances,
            lec_l=lec_l,
            lec_e=lec_e,
            lec_c=lec_c,
            ls_l=ls_l,
            ls_s=ls_s,
            level=level_from_lec(lec_l * lec_e * lec_c),
            responsible_unit=name.split("(")[0] if kind != "fireworks_shop" else f"{name}经营户",
            responsible_person=person(rng),
            phone=phone(6_000 + serial),
        )
        features.append((props, point))
        if s_value >= 1:
            majors.append({"fid": serial, "name": name, "S": round(s_value, 3), "location": lonlat_of(point)})
    town.features["risk_sources"] = features
    town.truth["major_hazard_sources"] = {
        "rule": "GB 18218-2018 §4.2.1: S = Σ q/Q ≥ 1",
        "sites": majors,
    }
    return features


def level_from_lec(d: float) -> str:
    """Four colours from LEC D: ≥320 red, 160–320 orange, 70–160 yellow, below 70 blue (domain.md §4.2)."""
    if d >= 320:
        return "red"
    if d >= 160:
        return "orange"
    if d >= 70:
        return "yellow"
    return "blue"


def _beside_road(town: Town, g: Graph, cls: str, placed: list[Point], rng: np.random.Generator) -> Point:
    """A point 35–60 m off a road of class `cls`, at least 1.2 km from other sites (300 m in the seat)."""
    margin = 30 if cls == "street" else 80
    edges = [e for e in g.edges if e.cls == cls and not e.grade_separated and e.line.length > 2 * margin + 20]
    spacing = 300 if cls == "street" else 1200
    for _ in range(500):
        e = edges[int(rng.integers(len(edges)))]
        offset = rng.uniform(35, 60) * (1 if rng.random() < 0.5 else -1)
        if cls == "street":
            offset = rng.uniform(25, 40) * np.sign(offset)
        p = along(e.line, rng.uniform(margin, e.line.length - margin), offset=offset)
        if cls != "street" and town.extras["seat_box"].buffer(150).contains(p):
            continue
        if town.outline.buffer(-50).contains(p) and all(p.distance(q) >= spacing for q in placed):
            return p
    raise LayoutError(f"no room for a site beside a {cls} road")


def resource_features(town: Town, g: Graph) -> list[Feature]:
    """The seat's fire team, clinic, rescue teams, depot and shelters; micro fire stations and clinics in villages."""
    rng = town.rng("resources")
    u = np.array([np.cos(town.seat_angle), np.sin(town.seat_angle)])
    v = np.array([-u[1], u[0]])
    o = np.array(town.seat.coords[0])

    def seat(s: float, t: float) -> Point:
        return Point(o + s * u + t * v)

    seat_code = town.villages[0].code
    items = [
        ("义隆永镇专职消防队", "fire_station", 18, "专职消防员18人，水罐消防车2辆", seat(187, -62), seat_code),
        ("义隆永镇卫生院", "township_clinic", 40, "床位40张", seat(-187, 62), seat_code),
        ("义隆永镇应急救援队", "rescue_team", 30, "队员30人", seat(62, -187), seat_code),
        ("义隆永镇民兵应急分队", "rescue_team", 25, "队员25人", seat(-312, -62), seat_code),
        ("义隆永镇应急物资储备库", "supply_depot", 500, "可保障500人3天基本生活", seat(312, -187), seat_code),
        ("义隆永镇中心学校操场避难场所", "shelter", 1200, "可容纳1200人", seat(-62, 187), seat_code),
        ("义隆永镇文化广场避难场所", "shelter", 2000, "可容纳2000人", seat(62, 62), seat_code),
        ("义隆永镇政府院内避难场所", "shelter", 600, "可容纳600人", seat(-62, -62), seat_code),
    ]
    features: list[Feature] = []

    def add(name: str, kind: str, capacity: int, note: str, point: Point, code: str) -> None:
        props = ResourceProperties(
            name=name,
            kind=kind,
            capacity=capacity,
            capacity_note=note,
            phone=phone(7_001 + len(features)),
            village_code=code,
        )
        features.append((props, point))

    for item in items:
        add(*item)
    micro = [v.code for v in town.villages[1::5]]
    for village in town.villages[1:]:
        centre = np.array(village.centre.coords[0])
        if rng.random() < 0.85:
            p = Point(centre + rng.uniform(-1, 1, 2) * 40 + np.array([30, 30]))
            add(f"{village.name}卫生室", "village_clinic", 2, "乡村医生2人", p, village.code)
        if village.code in micro:
            add(
                f"{village.name}微型消防站",
                "micro_fire_station",
                6,
                "队员6人，手抬机动泵1台",
                Point(centre + [-35, 32]),
                village.code,
            )
        if village.code == micro[0] or village.name in ("三合村", "前进嘎查"):
            add(
                f"{village.name}小学操场避难场所",
                "shelter",
                300,
                "可容纳300人",
                Point(centre + [40, -35]),
                village.code,
            )
    town.features["emergency_resources"] = features
    return features
