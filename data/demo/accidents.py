"""Three years of crashes: planted black spots and segments, a drink-driving decoy, and capped background noise."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import shapely
from shapely.geometry import LineString, Point

from data.demo.graph import Graph
from data.demo.metric import along, lonlat_of
from data.demo.town import Feature, LayoutError, Town
from layers.roads import AccidentProperties
from layers.vocab import CrashType, Severity

WINDOW_START = datetime(2023, 1, 1)
WINDOW_DAYS = 1095  # 2023-01-01 … 2025-12-31
BACKGROUND = 390
#: Black-spot thresholds (domain.md §2.1, impaired-driving crashes excluded): 6 casualty crashes or 3 fatal ones.
CASUALTY_THRESHOLD = 6
FATAL_THRESHOLD = 3
#: No background casualty crash within this distance of a planted one, so no window mixes them (≥ the 2 km segment).
CLEAR_RADIUS = 2100.0
SEGMENT_WINDOW = 2000.0

#: Per junction recipe: (severity, impairment) of each planted crash.
RECIPES = {
    "fatal6": [("fatal", None)] * 6 + [("injury", None)] * 3 + [("injury", "drunk")] + [("property", None)] * 2,
    "injury7": [("injury", None)] * 7 + [("property", None)] * 2 + [("property", "drunk")],
    "fatal3": [("fatal", None)] * 3 + [("injury", None)] + [("property", None)],
    "decoy": [("injury", None)] * 4
    + [("fatal", None), ("fatal", "drunk"), ("fatal", "drug"), ("injury", "drunk"), ("property", None)],
}
SEGMENT_RECIPES = {
    "G111": ["injury", "injury", "injury", "fatal", "injury", "injury", "injury", "injury"],
    "X515": ["fatal", "injury", "injury", "injury", "injury", "injury", "injury", "fatal"],
}
CLASS_WEIGHTS = {"G": 0.22, "X": 0.22, "Y": 0.16, "C": 0.25, "street": 0.15}


@dataclass
class Crash:
    """A crash before it becomes a feature; `group` names the planted item it belongs to."""

    point: Point
    road: int
    severity: str
    impaired: str | None = None
    group: str | None = None
    at_junction: bool = False

    @property
    def counts(self) -> bool:
        """Whether it counts towards black-spot screening (a casualty crash without drink or drugs)."""
        return self.severity != "property" and self.impaired is None


def crash_features(town: Town, g: Graph) -> list[Feature]:
    """Plant the designed clusters, scatter background crashes around them, and record the truth."""
    rng = town.rng("accidents")
    plan = town.extras["plan"]
    crashes: list[Crash] = []
    for spot in plan["spots"]:
        crashes += _at_junction(g, spot["node"], RECIPES[spot["recipe"]], f"spot-{spot['node']}", rng)
    crashes += _at_junction(g, plan["decoy"]["node"], RECIPES["decoy"], "decoy", rng)
    for seg in plan["segments"]:
        crashes += _along(g, seg["line"], seg["code"], SEGMENT_RECIPES[seg["code"]], f"segment-{seg['code']}", rng)
    crashes += _background(g, crashes, rng)
    check_background(crashes)
    features, fids = _to_features(g, crashes, rng)
    town.features["accidents"] = features
    town.truth["accident_black_spots"] = _truth(town, g, crashes, fids)
    return features


def _at_junction(g: Graph, node: int, recipe: list, group: str, rng: np.random.Generator) -> list[Crash]:
    legs = [k for k in g.incident()[node] if not g.edges[k].grade_separated]
    out = []
    for severity, impaired in recipe:
        k = legs[int(rng.integers(len(legs)))]
        line = g.edges[k].line
        from_end = g.edges[k].b == node
        p = along(line, rng.uniform(5, 110), from_end=from_end, offset=rng.uniform(-3, 3))
        out.append(Crash(p, k, severity, impaired, group, at_junction=True))
    return out


def _along(g: Graph, line: LineString, code: str, recipe: list, group: str, rng: np.random.Generator) -> list[Crash]:
    """Crashes spread evenly along a stretch, so it qualifies as a segment without any 500 m window qualifying."""
    route = [k for k, e in enumerate(g.edges) if e.code == code]
    tree = shapely.STRtree([g.edges[k].line for k in route])
    out = []
    for i, severity in enumerate(recipe):
        d = i * line.length / (len(recipe) - 1) + rng.uniform(-25, 25)
        p = along(line, d, offset=rng.uniform(-3, 3))
        k = route[int(tree.nearest(p))]
        out.append(Crash(p, k, severity, None, group))
    return out


def _background(g: Graph, planted: list[Crash], rng: np.random.Generator) -> list[Crash]:
    """Crashes by road class and length; a casualty crash that would make a new cluster is recorded as property-only."""
    by_class: dict[str, list[int]] = {c: [] for c in CLASS_WEIGHTS}
    for k, e in enumerate(g.edges):
        by_class[e.cls].append(k)
    classes = list(CLASS_WEIGHTS)
    weights = np.array([CLASS_WEIGHTS[c] for c in classes])
    planted_xy = np.array([c.point.coords[0] for c in planted])
    junctions = np.array([g.nodes[n] for n, d in enumerate(g.degree()) if d >= 3])
    kept = _Kept()
    out = []
    for _ in range(BACKGROUND):
        cls = classes[int(rng.choice(len(classes), p=weights / weights.sum()))]
        ks = by_class[cls]
        lengths = np.array([g.edges[k].line.length for k in ks])
        k = ks[int(rng.choice(len(ks), p=lengths / lengths.sum()))]
        line = g.edges[k].line
        p = along(line, rng.uniform(0, line.length), offset=rng.uniform(-4, 4))
        severe = 1.4 if cls in ("G", "X") else 1.0
        r = rng.random()
        severity = "fatal" if r < 0.06 * severe else "injury" if r < 0.40 * severe else "property"
        impaired = "drunk" if rng.random() < 0.05 else "drug" if rng.random() < 0.01 else None
        xy = np.array(p.coords[0])
        if np.min(np.hypot(*(planted_xy - xy).T)) < CLEAR_RADIUS:
            severity, impaired = "property", None
        elif severity != "property" and impaired is None:
            if severity == "fatal" and not kept.admits(xy, fatal=True):
                severity = "injury"
            if kept.admits(xy, fatal=False):
                kept.add(xy, fatal=severity == "fatal")
            else:
                severity = "property"
        at_junction = bool(np.min(np.hypot(*(junctions - xy).T)) < 60)
        out.append(Crash(p, k, severity, impaired, None, at_junction))
    return out


class _Kept:
    """Background casualty crashes so far, with how many others lie within a segment window of each."""

    def __init__(self) -> None:
        self.xy = np.empty((0, 2))
        self.fatal = np.empty(0, dtype=bool)

    def admits(self, xy: np.ndarray, *, fatal: bool) -> bool:
        """Whether one more crash here keeps every window below threshold, around it and around its neighbours."""
        mask = self.fatal if fatal else np.ones(len(self.xy), dtype=bool)
        limit = (FATAL_THRESHOLD if fatal else CASUALTY_THRESHOLD) - 1
        pts = self.xy[mask]
        near = np.hypot(*(pts - xy).T) <= SEGMENT_WINDOW
        if near.sum() >= limit:
            return False
        for q in pts[near]:
            if np.sum(np.hypot(*(pts - q).T) <= SEGMENT_WINDOW) >= limit:
                return False
        return True

    def add(self, xy: np.ndarray, *, fatal: bool) -> None:
        """Record an admitted casualty crash."""
        self.xy = np.vstack([self.xy, xy])
        self.fatal = np.append(self.fatal, fatal)


def check_background(crashes: list[Crash]) -> None:
    """Fail loudly if background crashes form a cluster that screening would report (2 km, any shape of window)."""
    xy = np.array([c.point.coords[0] for c in crashes])
    counts = np.array([c.counts for c in crashes])
    fatal = np.array([c.counts and c.severity == "fatal" for c in crashes])
    for i, c in enumerate(crashes):
        if c.group is not None or not c.counts:
            continue
        near = np.hypot(*(xy - xy[i]).T) <= SEGMENT_WINDOW
        if np.sum(near & counts) >= CASUALTY_THRESHOLD or np.sum(near & fatal) >= FATAL_THRESHOLD:
            raise LayoutError(f"background crashes cluster into a black spot at {c.point}")


def _to_features(g: Graph, crashes: list[Crash], rng: np.random.Generator) -> tuple[list[Feature], dict[int, int]]:
    """Dated, described features in date order; returns the fid of each crash by its position in `crashes`."""
    minutes = rng.integers(0, WINDOW_DAYS * 24 * 60, size=len(crashes))
    order = sorted(range(len(crashes)), key=lambda i: (int(minutes[i]), i))
    features: list[Feature] = []
    fids: dict[int, int] = {}
    for i in order:
        c = crashes[i]
        when = WINDOW_START + timedelta(minutes=int(minutes[i]))
        deaths = int(rng.choice([1, 1, 1, 1, 2])) if c.severity == "fatal" else 0
        injuries = (
            int(rng.integers(1, 4))
            if c.severity == "injury"
            else int(rng.integers(0, 3))
            if c.severity == "fatal"
            else 0
        )
        kinds = _JUNCTION_TYPES if c.at_junction else _ROAD_TYPES
        crash_type = kinds[int(rng.integers(len(kinds)))]
        road = g.edges[c.road]
        text = f"{road.name}{'路口' if c.at_junction else '路段'}发生{crash_type.label}事故"
        if c.severity != "property":
            text += f"，{deaths}人死亡、{injuries}人受伤" if deaths else f"，{injuries}人受伤"
        if c.impaired:
            text += "（驾驶人酒后驾驶）" if c.impaired == "drunk" else "（驾驶人吸毒后驾驶）"
        props = AccidentProperties(
            occurred_at=when,
            severity=Severity(c.severity),
            deaths=deaths,
            injuries=injuries,
            crash_type=crash_type,
            road_id=c.road + 1,
            drunk_driving=c.impaired == "drunk",
            drug_driving=c.impaired == "drug",
            description=text,
        )
        features.append((props, c.point))
        fids[i] = len(features)
    return features, fids


_JUNCTION_TYPES = (CrashType.ANGLE,) * 4 + (CrashType.REAR_END,) * 2 + (CrashType.SIDESWIPE, CrashType.PEDESTRIAN)
_ROAD_TYPES = (
    CrashType.REAR_END,
    CrashType.HEAD_ON,
    CrashType.HEAD_ON,
    CrashType.ROLLOVER,
    CrashType.FIXED_OBJECT,
    CrashType.SIDESWIPE,
    CrashType.PEDESTRIAN,
    CrashType.OTHER,
)


def _tally(group: list[Crash], *, count_impaired: bool) -> dict[str, int]:
    kept = [c for c in group if count_impaired or c.impaired is None]
    return {
        "crashes": len(kept),
        "casualty_crashes": sum(c.severity != "property" for c in kept),
        "fatal_crashes": sum(c.severity == "fatal" for c in kept),
    }


def _truth(town: Town, g: Graph, crashes: list[Crash], fids: dict[int, int]) -> dict:
    plan = town.extras["plan"]
    junction_fid = town.extras["junction_fid"]

    def members(group: str) -> tuple[list[Crash], list[int]]:
        idx = [i for i, c in enumerate(crashes) if c.group == group]
        return [crashes[i] for i in idx], sorted(fids[i] for i in idx)

    spots = []
    for spot in plan["spots"]:
        group, ids = members(f"spot-{spot['node']}")
        fid = junction_fid[spot["node"]]
        spots.append(
            {
                "kind": "spot",
                "grade": spot["grade"],
                "intersection_fid": fid,
                "name": town.features["intersections"][fid - 1][0].name,
                "centre": lonlat_of(g.point(spot["node"])),
                "radius_m": 250,
                "accident_fids": ids,
                "counted": _tally(group, count_impaired=False),
            }
        )
    segments = []
    for seg in plan["segments"]:
        group, ids = members(f"segment-{seg['code']}")
        line: LineString = seg["line"]
        segments.append(
            {
                "kind": "segment",
                "grade": seg["grade"],
                "route_code": seg["code"],
                "road_fids": sorted({c.road + 1 for c in group}),
                "start": lonlat_of(Point(line.coords[0])),
                "end": lonlat_of(Point(line.coords[-1])),
                "length_m": round(line.length),
                "accident_fids": ids,
                "counted": _tally(group, count_impaired=False),
            }
        )
    group, ids = members("decoy")
    node = plan["decoy"]["node"]
    decoy = {
        "intersection_fid": junction_fid[node],
        "name": town.features["intersections"][junction_fid[node] - 1][0].name,
        "centre": lonlat_of(g.point(node)),
        "accident_fids": ids,
        "counted": _tally(group, count_impaired=False),
        "if_impaired_counted": _tally(group, count_impaired=True),
        "why": "只有把酒驾、毒驾事故计入才达到二类标准；按规范排除后不构成事故多发点",
    }
    return {
        "window": ["2023-01-01", "2025-12-31"],
        "rule": "domain.md §2.1: 一类 ≥6 起死亡事故；二类 3–5 起死亡事故或 ≥6 起致人伤亡；酒驾毒驾事故不计",
        "spots": spots,
        "segments": segments,
        "decoy": decoy,
        "background": "其余事故在任意 2 km 范围内致人伤亡事故 < 6 起、死亡事故 < 3 起",
    }
