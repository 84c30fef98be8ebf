"""Where the towns of a scale dataset go: the counties of each level, a box over each county and a slot per town.

Codes are the county-level division codes (行政区划代码) of Inner Mongolia as published. The boxes are approximate
and were drawn for this benchmark, not surveyed:

- **Tongliao** (the city level, and Tongliao within the province): one box per county, drawn by hand over the county
  so that no two boxes overlap. Against a public county outline (GCJ-02, from a DataV GeoJSON) each box lies 47 to
  73 % inside its county and covers 58 to 100 % of it.
- **The other eleven prefecture-level divisions**: one box per prefecture, roughly over its main part and drawn so
  that no two overlap, cut into a grid with one cell per county, counties in code order from the north-west. These
  cells are a synthetic layout: a county's cell is not where the county really lies.
- **The banner level** keeps the box and grid it has always used (BANNER_BOX), so its dataset stays as it was.

Each town is a copy of the demo town's outline (15.6 x 22.0 km). A county's slots are the places where that outline
fits inside the county's box on a grid with 1 km between towns (the grid's position chosen to fit the most), in the
county's own CGCS2000 3-degree Gauss-Kruger zone, so that a town far from 120 E keeps its shape; a county with n towns
takes n of its slots, spread evenly over the box.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
import shapely
from shapely.geometry import Polygon

from bench.scale_hamlets import MIN_FEATURES
from data.demo.area import OUTLINE_LONLAT
from data.demo.metric import lonlat_to_xy
from geo.crs import WGS84, transform_geometries, transformer
from onemap.settings import NAIMAN_REGION

#: (min_lon, min_lat, max_lon, max_lat), degrees.
Box = tuple[float, float, float, float]

#: The part of Naiman Banner the banner level spreads its towns over.
BANNER_BOX: Box = (120.0, 42.3, 121.6, 43.6)
#: Service areas (ONEMAP_REGION_BBOX) that hold each level.
TONGLIAO_REGION: Box = (119.2, 42.2, 123.8, 45.7)
INNER_MONGOLIA_REGION: Box = (97.0, 37.3, 126.2, 53.5)
#: Room left between neighbouring towns, metres.
GAP_M = 1000.0
#: Grid positions tried per axis (fractions of a slot) when fitting slots into a county's box.
GRID_SHIFTS = 4
FIRST_TOWN_NUMBER = 101


@dataclass(frozen=True)
class County:
    """A county-level division with the box its towns are placed in."""

    code: str
    name: str
    box: Box

    @property
    def crs(self) -> str:
        """The CGCS2000 3-degree Gauss-Kruger zone (EPSG:4534 at 75 E ... 4554 at 135 E) nearest the box's centre."""
        central = 3 * round((self.box[0] + self.box[2]) / 6)
        return f"EPSG:{4534 + (central - 75) // 3}"


@dataclass(frozen=True)
class TownSlot:
    """One town to make: its county, its number there (101, 102, ...), its seed and where its outline's centre goes."""

    county: County
    number: int
    seed: int
    lonlat: tuple[float, float]

    @property
    def code(self) -> str:
        """The town's nine-digit code: the county's code and the town's number."""
        return f"{self.county.code}{self.number:03d}"


#: 通辽市: one hand-drawn box per county (see the module docstring).
TONGLIAO = (
    County("150502", "科尔沁区", (121.65, 43.36, 123.05, 43.95)),
    County("150521", "科尔沁左翼中旗", (121.65, 43.95, 123.55, 44.5)),
    County("150522", "科尔沁左翼后旗", (121.9, 42.67, 123.72, 43.36)),
    County("150523", "开鲁县", (120.4, 43.55, 121.65, 44.15)),
    County("150524", "库伦旗", (121.15, 42.35, 121.9, 43.35)),
    County("150525", "奈曼旗", (120.35, 42.25, 121.15, 43.55)),
    County("150526", "扎鲁特旗", (119.8, 44.15, 121.65, 45.6)),
    County("150581", "霍林郭勒市", (119.3, 45.39, 119.76, 45.66)),
)

#: The other prefecture-level divisions: code, name, an approximate box (no two overlap) and their counties.
PREFECTURES: tuple[tuple[str, str, Box, tuple[str, ...]], ...] = (
    ("1501", "呼和浩特市", (110.9, 39.6, 112.2, 41.4), (
        "150102 新城区", "150103 回民区", "150104 玉泉区", "150105 赛罕区", "150121 土默特左旗", "150122 托克托县",
        "150123 和林格尔县", "150124 清水河县", "150125 武川县",
    )),
    ("1502", "包头市", (109.1, 40.55, 110.9, 42.7), (
        "150202 东河区", "150203 昆都仑区", "150204 青山区", "150205 石拐区", "150206 白云鄂博矿区", "150207 九原区",
        "150221 土默特右旗", "150222 固阳县", "150223 达尔罕茂明安联合旗",
    )),
    ("1503", "乌海市", (106.65, 39.25, 107.1, 39.9), ("150302 海勃湾区", "150303 海南区", "150304 乌达区")),
    ("1504", "赤峰市", (116.4, 41.3, 120.3, 44.0), (
        "150402 红山区", "150403 元宝山区", "150404 松山区", "150421 阿鲁科尔沁旗", "150422 巴林左旗",
        "150423 巴林右旗", "150424 林西县", "150425 克什克腾旗", "150426 翁牛特旗", "150428 喀喇沁旗",
        "150429 宁城县", "150430 敖汉旗",
    )),
    ("1506", "鄂尔多斯市", (107.1, 37.6, 110.9, 40.3), (
        "150602 东胜区", "150603 康巴什区", "150621 达拉特旗", "150622 准格尔旗", "150623 鄂托克前旗",
        "150624 鄂托克旗", "150625 杭锦旗", "150626 乌审旗", "150627 伊金霍洛旗",
    )),
    ("1507", "呼伦贝尔市", (115.5, 47.4, 124.5, 53.0), (
        "150702 海拉尔区", "150703 扎赉诺尔区", "150721 阿荣旗", "150722 莫力达瓦达斡尔族自治旗", "150723 鄂伦春自治旗",
        "150724 鄂温克族自治旗", "150725 陈巴尔虎旗", "150726 新巴尔虎左旗", "150727 新巴尔虎右旗", "150781 满洲里市",
        "150782 牙克石市", "150783 扎兰屯市", "150784 额尔古纳市", "150785 根河市",
    )),
    ("1508", "巴彦淖尔市", (105.2, 40.55, 109.1, 42.5), (
        "150802 临河区", "150821 五原县", "150822 磴口县", "150823 乌拉特前旗", "150824 乌拉特中旗",
        "150825 乌拉特后旗", "150826 杭锦后旗",
    )),
    ("1509", "乌兰察布市", (112.2, 39.9, 114.8, 42.5), (
        "150902 集宁区", "150921 卓资县", "150922 化德县", "150923 商都县", "150924 兴和县", "150925 凉城县",
        "150926 察哈尔右翼前旗", "150927 察哈尔右翼中旗", "150928 察哈尔右翼后旗", "150929 四子王旗", "150981 丰镇市",
    )),
    ("1522", "兴安盟", (119.8, 45.65, 123.6, 47.4), (
        "152201 乌兰浩特市", "152202 阿尔山市", "152221 科尔沁右翼前旗", "152222 科尔沁右翼中旗", "152223 扎赉特旗",
        "152224 突泉县",
    )),
    ("1525", "锡林郭勒盟", (111.2, 42.5, 116.4, 46.5), (
        "152501 二连浩特市", "152502 锡林浩特市", "152522 阿巴嘎旗", "152523 苏尼特左旗", "152524 苏尼特右旗",
        "152525 东乌珠穆沁旗", "152526 西乌珠穆沁旗", "152527 太仆寺旗", "152528 镶黄旗", "152529 正镶白旗",
        "152530 正蓝旗", "152531 多伦县",
    )),
    ("1529", "阿拉善盟", (97.2, 37.6, 105.0, 42.7), ("152921 阿拉善左旗", "152922 阿拉善右旗", "152923 额济纳旗")),
)  # fmt: skip


def gridded(box: Box, counties: Sequence[str]) -> tuple[County, ...]:
    """Counties ("code name") as the cells of a grid over `box`, row by row from the north-west.

    The grid has about as many columns per row as the box is wider than tall (in kilometres), so cells are near square.
    """
    west, south, east, north = box
    width = (east - west) * math.cos(math.radians((south + north) / 2))
    cols = max(1, min(len(counties), round(math.sqrt(len(counties) * width / (north - south)))))
    rows = math.ceil(len(counties) / cols)
    dlon, dlat = (east - west) / cols, (north - south) / rows
    out = []
    for k, entry in enumerate(counties):
        code, name = entry.split(" ", 1)
        r, c = divmod(k, cols)
        out.append(
            County(code, name, (west + c * dlon, north - (r + 1) * dlat, west + (c + 1) * dlon, north - r * dlat))
        )
    return tuple(out)


PROVINCE = tuple(
    sorted(TONGLIAO + tuple(c for _, _, box, names in PREFECTURES for c in gridded(box, names)), key=lambda c: c.code)
)


@dataclass(frozen=True)
class Level:
    """A dataset size: the counties its towns go to, how many towns by default, and how it is described."""

    name: str
    title: str
    area: str
    region: Box
    counties: tuple[County, ...]
    towns: int
    #: Hamlets are added until the dataset holds this many features (only when built in memory).
    min_features: int = 0
    #: "grid": the banner's one grid over its box; "slots": each county's slots (see the module docstring).
    layout: str = "slots"


LEVELS = {
    level.name: level
    for level in (
        Level(
            "banner", "奈曼旗", "内蒙古自治区通辽市奈曼旗", NAIMAN_REGION, (County("150525", "奈曼旗", BANNER_BOX),),
            15, min_features=MIN_FEATURES, layout="grid",
        ),
        Level("city", "通辽市", "内蒙古自治区通辽市", TONGLIAO_REGION, TONGLIAO, 100),
        Level("province", "内蒙古自治区", "内蒙古自治区", INNER_MONGOLIA_REGION, PROVINCE, 1000),
    )
}  # fmt: skip


# -- the town's footprint and the slots of a county --------------------------------------------------------------------


@cache
def town_outline() -> tuple[Polygon, tuple[float, float]]:
    """The demo town's outline in its own metres (EPSG:4549) and its centre, which a slot's position moves."""
    outline = Polygon(lonlat_to_xy(OUTLINE_LONLAT))
    return outline, (outline.centroid.x, outline.centroid.y)


def footprints(crs: str, centres_xy: np.ndarray) -> np.ndarray:
    """The town outline moved so that its centre sits on each (x, y) of `crs`."""
    outline, (ox, oy) = town_outline()
    ring = np.asarray(outline.exterior.coords) - (ox, oy)
    return shapely.polygons(np.asarray(centres_xy, dtype=float)[:, None, :] + ring[None, :, :])


def metric_box(box: Box, crs: str) -> Polygon:
    """A lon/lat box in `crs` metres, its edges followed closely (they curve away from the central meridian)."""
    ring = np.asarray(shapely.segmentize(shapely.box(*box), 0.01).exterior.coords)
    x, y = transformer(WGS84, crs).transform(ring[:, 0], ring[:, 1])
    return Polygon(np.column_stack([x, y]))


@cache
def county_slots(county: County) -> tuple[tuple[float, float], ...]:
    """(lon, lat) of every place a town fits in the county's box, rows from the north, west to east in a row."""
    outline, _ = town_outline()
    west, south, east, north = outline.bounds
    pitch_x, pitch_y = east - west + GAP_M, north - south + GAP_M
    area = metric_box(county.box, county.crs)
    ax0, ay0, ax1, ay1 = area.bounds
    nx, ny = int((ax1 - ax0) / pitch_x) + 1, int((ay1 - ay0) / pitch_y) + 1
    shapely.prepare(area)
    best = np.empty((0, 2))
    for fx, fy in itertools.product(np.arange(GRID_SHIFTS) / GRID_SHIFTS, repeat=2):  # the grid that fits the most
        ys, xs = np.meshgrid(
            ay1 - pitch_y * (np.arange(ny + 1) + fy), ax0 + pitch_x * (np.arange(nx + 1) + fx), indexing="ij"
        )
        centres = np.column_stack([xs.ravel(), ys.ravel()])
        centres = centres[shapely.contains(area, footprints(county.crs, centres))]
        if len(centres) > len(best):
            best = centres
    lon, lat = transformer(county.crs, WGS84).transform(best[:, 0], best[:, 1])
    return tuple(zip(lon.tolist(), lat.tolist(), strict=True))


def grid_centres(towns: int, box: Box = BANNER_BOX) -> list[tuple[float, float]]:
    """(lon, lat) of the cell centres of a grid over `box`, row by row from the north-west (the banner's layout)."""
    cols = math.ceil(math.sqrt(towns * 1.6))
    rows = math.ceil(towns / cols)
    west, south, east, north = box
    dlon, dlat = (east - west) / cols, (north - south) / rows
    cells = [(west + (c + 0.5) * dlon, north - (r + 0.5) * dlat) for r in range(rows) for c in range(cols)]
    return cells[:towns]


# -- planning: how many towns in each county, and where ----------------------------------------------------------------


def share(towns: int, room: Sequence[int]) -> list[int]:
    """`towns` shared out as evenly as each county's room allows; what a full county cannot take goes to the others.

    Counties with the least room are served first; the larger shares fall to the counties with the most room.
    """
    if towns > sum(room):
        raise ValueError(f"{towns} towns do not fit: the counties have room for {sum(room)}")
    counts = [0] * len(room)
    left = towns
    order = sorted(range(len(room)), key=lambda i: (room[i], i))
    for k, i in enumerate(order):
        counts[i] = min(room[i], left // (len(order) - k) if k < len(order) - 1 else left)
        left -= counts[i]
    return counts


def spread(slots: Sequence[tuple[float, float]], n: int) -> list[tuple[float, float]]:
    """n of the slots, evenly spaced through their order."""
    return [slots[int((j + 0.5) * len(slots) / n)] for j in range(n)]


def chosen_counties(level: Level, codes: Sequence[str] | None) -> tuple[County, ...]:
    """The level's counties, or those of them named by code (a prefecture's four-digit code names all of its own)."""
    if not codes:
        return level.counties
    unknown = [c for c in codes if not any(county.code.startswith(c) for county in level.counties)]
    if unknown:
        raise ValueError(f"level {level.name} has no county {', '.join(unknown)}")
    return tuple(county for county in level.counties if any(county.code.startswith(c) for c in codes))


def plan(level: Level, towns: int, seed: int, counties: Sequence[str] | None = None) -> list[TownSlot]:
    """The towns of a dataset in the order they are made and written: county by county, numbered 101, 102, ...

    Town k (from 0) uses the seed `seed + k`. Raises ValueError when the towns do not fit.
    """
    if towns < 1:
        raise ValueError(f"a dataset needs at least one town, got {towns}")
    chosen = chosen_counties(level, counties)
    if level.layout == "grid":
        placed = [(chosen[0], grid_centres(towns, chosen[0].box))]
    else:
        room = [county_slots(c) for c in chosen]
        placed = [(c, spread(r, n)) for c, r, n in zip(chosen, room, share(towns, [len(r) for r in room]), strict=True)]
    slots = []
    for county, centres in placed:
        for j, lonlat in enumerate(centres):
            slots.append(TownSlot(county, FIRST_TOWN_NUMBER + j, seed + len(slots), lonlat))
    _check_apart(slots)
    return slots


def slot_outlines(slots: Sequence[TownSlot]) -> np.ndarray:
    """Each slot's town outline in lon/lat."""
    out = np.empty(len(slots), dtype=object)
    for county in {s.county for s in slots}:
        mine = [k for k, s in enumerate(slots) if s.county == county]
        lon, lat = np.array([slots[k].lonlat for k in mine]).T
        x, y = transformer(WGS84, county.crs).transform(lon, lat)
        out[mine] = transform_geometries(footprints(county.crs, np.column_stack([x, y])), county.crs, WGS84)
    return out


def _check_apart(slots: Sequence[TownSlot]) -> None:
    """Refuse a plan in which two towns overlap or a town leaves its county's box."""
    outlines = slot_outlines(slots)
    left, right = shapely.STRtree(outlines).query(outlines, predicate="intersects")
    if np.any(left != right):
        k = int(left[left != right][0])
        raise ValueError(f"town {slots[k].code} overlaps another: use fewer towns")
    for slot, outline in zip(slots, outlines, strict=True):
        if not shapely.box(*slot.county.box).contains(outline):
            raise ValueError(f"town {slot.code} does not fit in {slot.county.name}'s box {slot.county.box}")
