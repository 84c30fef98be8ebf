"""Building footprints in the seat blocks and village clusters, and the old settlements (built by 2000) among them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import Polygon

from data.demo.area import seat_xy
from data.demo.fire import DEAD_END_BLOCK, DEAD_END_DEPTH, block_bounds
from data.demo.graph import Graph
from data.demo.metric import lonlat_of, rotated_rect
from data.demo.network import BLOCK, GRID_N
from data.demo.sightlines import blocked_truth, keep_clear, sheds
from data.demo.town import Feature, Town
from layers.fire import BuildingProperties, OldSettlementProperties

ROAD_CLEARANCE = 8.0
SEAT_SETBACK = 9.0
#: Seat blocks with public buildings: (block) → [(use, s, t, width, depth, storeys)], s/t from the block's corner.
PUBLIC = {
    (4, 4): [("market", 62, 40, 30, 20, 1)],
    (3, 3): [("government", 62, 70, 50, 16, 3), ("government", 62, 30, 20, 12, 2)],
    (3, 5): [("school", 62, 30, 45, 14, 3), ("school", 62, 95, 45, 14, 3)],
    (2, 4): [("clinic", 62, 90, 36, 14, 2)],
    (5, 3): [("other", 62, 30, 30, 15, 2)],
    (6, 2): [("warehouse", 62, 35, 40, 18, 1), ("warehouse", 62, 85, 40, 18, 1)],
    (4, 2): [("other", 40, 90, 24, 12, 2)],
}
#: Old walk-up compounds in the seat: (block, name, year, number of blocks of flats).
SEAT_COMPOUNDS = (((2, 6), "供销社家属院", 1992, 3), ((6, 1), "老供电所宿舍", 1996, 2))
DENSE_EVERY = 4  # every 4th village has a contiguous cluster with houses < 6 m apart
OLD_EVERY = 3  # every 3rd village keeps an old quarter built before 2000


@dataclass
class Obstacles:
    """What a footprint must keep clear of: road centrelines, junction sight triangles, fire lanes and site points."""

    roads: shapely.STRtree
    sight: shapely.STRtree
    lanes: list[tuple[shapely.LineString, float]]
    points: shapely.STRtree

    def clear(self, footprint: Polygon) -> bool:
        """Whether the footprint keeps its distance from all of them."""
        if len(self.roads.query(footprint, predicate="dwithin", distance=ROAD_CLEARANCE)):
            return False
        if len(self.sight.query(footprint, predicate="intersects")):
            return False
        if len(self.points.query(footprint, predicate="dwithin", distance=15.0)):
            return False
        return all(footprint.distance(line) > width / 2 + 1.5 for line, width in self.lanes)


def building_features(town: Town, g: Graph) -> tuple[list[Feature], list[Feature]]:
    """Buildings (seat first, then villages) and old settlements with their member buildings."""
    rng = town.rng("buildings")
    points = [geom for _, geom in town.features["risk_sources"] + town.features["emergency_resources"]]
    obstacles = Obstacles(
        roads=shapely.STRtree([e.line for e in g.edges]),
        sight=shapely.STRtree(keep_clear(town, g)),
        lanes=[(line, width) for _, line, width in town.extras["lanes"].values()],
        points=shapely.STRtree(points),
    )
    buildings: list[Feature] = []
    settlements: list[tuple[str, list[int], str]] = []
    seat_code = town.villages[0].code
    _seat(town, rng, obstacles, buildings, settlements, seat_code)
    dense_truth = []
    for k, village in enumerate(town.villages[1:], start=1):
        dense = k % DENSE_EVERY == 0
        old = k % OLD_EVERY == 1
        members, old_ids, dense_ids = _village(town, village, rng, obstacles, buildings, dense=dense, old=old)
        if old_ids:
            settlements.append((f"{village.name}老村片区", old_ids, village.code))
        if dense_ids:
            dense_truth.append({"village_code": village.code, "village": village.name, "building_fids": dense_ids})
        del members
    shed_fids = {
        n: _add(
            buildings,
            fp,
            storeys=1,
            fire_grade="4",
            use="commercial",
            build_year=2021,
            village_code=town.village_at(fp.centroid).code,
        )  # fmt: skip
        for n, fp in sheds(town, g)
    }
    town.truth["blocked_approach"] = {
        "rule": "GB 14886-2016 §5.1.1.3 视距三角形内有遮挡；坡改平：次路进口纵坡超过阈值 (domain.md §1.2)",
        "intersections": blocked_truth(town, g, shed_fids, town.extras["steep_roads"]),
    }
    old_features = _settlements(town, buildings, settlements, rng)
    town.features["buildings"] = buildings
    town.features["old_settlements"] = old_features
    town.truth["dense_clusters"] = {
        "rule": "GB 50016 表5.2.2：三、四级耐火等级民用建筑防火间距 8–12 m；以下村落房屋间距不足 6 m、连片成群",
        "clusters": dense_truth,
    }
    return buildings, old_features


def _add(buildings: list[Feature], footprint: Polygon, **attrs) -> int:
    buildings.append((BuildingProperties(**attrs), footprint))
    return len(buildings)


def _seat(town, rng, obstacles, buildings, settlements, code) -> None:
    """Each block: public buildings, an old compound, or courtyard houses in rows (shops along G111)."""
    angle = town.seat_angle
    compounds = {block: (name, year, n) for block, name, year, n in SEAT_COMPOUNDS}

    def rect(bi: int, bj: int, s: float, t: float, w: float, d: float) -> Polygon:
        s0, _, t0, _ = block_bounds(bi, bj)
        x, y = seat_xy(town, s0 + s, t0 + t)
        return rotated_rect(x, y, w, d, angle)

    for bi in range(GRID_N):
        for bj in range(GRID_N):
            if (bi, bj) in PUBLIC:
                for use, s, t, w, d, storeys in PUBLIC[(bi, bj)]:
                    _add(buildings, rect(bi, bj, s, t, w, d), storeys=storeys, fire_grade="2", use=use,
                         build_year=int(rng.integers(2005, 2020)), village_code=code)  # fmt: skip
                continue
            if (bi, bj) in compounds:
                name, year, n = compounds[(bi, bj)]
                ids = [
                    _add(
                        buildings,
                        rect(bi, bj, 62, 22 + 38 * k, 40, 12),
                        storeys=4,
                        fire_grade="3",
                        residents=48,
                        build_year=year,
                        village_code=code,
                    )  # fmt: skip
                    for k in range(n)
                ]
                settlements.append((name, ids, code))
                continue
            if (bi, bj) == DEAD_END_BLOCK:
                _dead_end_block(town, rng, obstacles, buildings, settlements, code, rect)
                continue
            shop_row = {3: 3, 4: 0}.get(bj)
            for row in range(4):
                t = SEAT_SETBACK + 4.5 + row * 26
                for col in range(5):
                    s = SEAT_SETBACK + 9.5 + col * 19 + float(rng.uniform(-0.3, 0.3))
                    shop = row == shop_row
                    fp = rect(bi, bj, s, t, float(rng.uniform(11, 12)), 9.0)
                    if not obstacles.clear(fp):
                        continue
                    _add(buildings, fp, storeys=int(rng.choice([2, 3])) if shop else int(rng.choice([1, 1, 1, 2, 2])),
                         fire_grade=str(rng.choice(["2", "2", "3", "3", "unknown"])),
                         use="commercial" if shop else "residential", residents=0 if shop else int(rng.integers(2, 7)),
                         build_year=int(rng.integers(2001, 2023)), village_code=code)  # fmt: skip


def _dead_end_block(town, rng, obstacles, buildings, settlements, code, rect) -> None:
    """A ring of joined frontage houses around an old compound reachable only by the dead-end alley."""
    bi, bj = DEAD_END_BLOCK
    for k in range(7):
        for t in (SEAT_SETBACK + 4.5, BLOCK - SEAT_SETBACK - 4.5):
            fp = rect(bi, bj, SEAT_SETBACK + 7 + k * 15.5, t, 14.0, 9.0)
            if obstacles.clear(fp):
                _add(buildings, fp, storeys=1, fire_grade="3", residents=int(rng.integers(2, 6)),
                     build_year=int(rng.integers(2001, 2012)), village_code=code)  # fmt: skip
    for k in range(6):
        for s in (SEAT_SETBACK + 4.5, BLOCK - SEAT_SETBACK - 4.5):
            fp = rect(bi, bj, s, SEAT_SETBACK + 22 + k * 14.5, 9.0, 13.0)
            if obstacles.clear(fp):
                _add(buildings, fp, storeys=1, fire_grade="3", residents=int(rng.integers(2, 6)),
                     build_year=int(rng.integers(2001, 2012)), village_code=code)  # fmt: skip
    ids = []
    for row in range(2):
        for col in range(3):
            fp = rect(bi, bj, DEAD_END_DEPTH + 8 + col * 17, 40 + row * 45, 12.0, 8.0)
            ids.append(_add(buildings, fp, storeys=2, fire_grade=str(rng.choice(["4", "unknown"])), residents=8,
                            build_year=int(rng.integers(1984, 1991)), village_code=code))  # fmt: skip
    settlements.insert(0, ("粮站家属院", ids, code))


def _village(town, village, rng, obstacles, buildings, *, dense: bool, old: bool):
    """Courtyard houses (≈10 × 8 m, facing south) in rows around the village centre."""
    cx, cy = village.centre.coords[0]
    radius = 70 + village.population / 40
    angle = float(rng.uniform(-0.14, 0.14))
    c, s_ = np.cos(angle), np.sin(angle)
    members, old_ids, dense_ids = [], [], []
    for t in np.arange(-radius, radius, 27.0):
        is_dense = dense and 0 < t < radius * 0.7
        pitch = 12.5 if is_dense else 18.0
        for s in np.arange(-radius, radius, pitch):
            if s * s + t * t > radius * radius * float(rng.uniform(0.75, 1.05)):
                continue
            x, y = cx + s * c - t * s_, cy + s * s_ + t * c
            fp = rotated_rect(x, y, 10.0, 8.0, angle)
            if not village.polygon.contains(fp) or not obstacles.clear(fp):
                continue
            is_old = old and t < -radius * 0.25 and abs(s) < radius * 0.6
            grade = str(rng.choice(["4", "unknown"])) if is_old else str(rng.choice(["3", "3", "4", "unknown"]))
            year = int(rng.integers(1978, 2000)) if is_old else int(rng.integers(2001, 2023))
            fid = _add(buildings, fp, storeys=1, fire_grade=grade, use="residential",
                       residents=int(rng.integers(1, 6)), build_year=year, village_code=village.code)  # fmt: skip
            members.append(fid)
            if is_old:
                old_ids.append(fid)
            if is_dense:
                dense_ids.append(fid)
    return members, old_ids if len(old_ids) >= 4 else [], dense_ids


def _settlements(town, buildings, settlements, rng) -> list[Feature]:
    """One polygon around each group of old buildings (their hull, 4 m out)."""
    features: list[Feature] = []
    truth = []
    for name, ids, code in settlements:
        footprints = [buildings[i - 1][1] for i in ids]
        years = [buildings[i - 1][0].build_year for i in ids]
        polygon = shapely.MultiPolygon(footprints).convex_hull.buffer(4.0, join_style="mitre")
        households = sum(max(1, buildings[i - 1][0].residents // 3) for i in ids)
        props = OldSettlementProperties(
            name=name,
            build_year=int(np.median(years)),
            buildings=len(ids),
            households=households,
            fire_grade="4",
            village_code=code,
            notes="建成于2000年以前，电气线路老化，消防设施缺失"
            if "院" in name or "舍" in name
            else "土木、砖木结构平房为主，院落相连",
        )
        features.append((props, polygon))
        truth.append(
            {"fid": len(features), "name": name, "building_fids": ids, "location": lonlat_of(polygon.centroid)}
        )
    town.truth["old_settlements"] = truth
    dead_end = town.truth.get("fire_lanes", {}).get("dead_end")
    if dead_end is not None:
        dead_end["settlement_fid"] = 1
        dead_end["note"] = "尽头式通道无回车场，且被柴草堵塞；它是粮站家属院唯一的消防车通道，堵塞即切断该院落"
    return features
