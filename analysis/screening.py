"""Accident-prone spots and segments (事故多发点段) by the national norm's sliding windows (domain.md §2.1).

《公路交通事故多发点段及严重安全隐患排查工作规范（试行）》附录1, ordinary roads: a 点 lies within 250 m of an
intersection centre or within 500 m on a section, a 段 within 2,000 m; crashes of the last three years count, drink-
and drug-driving crashes do not. 一类: ≥ 6 fatal crashes; 二类: 3–5 fatal crashes, or ≥ 6 injury-or-fatal crashes
("以上" read as inclusive). The norm's other criteria (a single crash with ≥ 5 deaths plus road factors; police
judgement) need facts the records do not hold and are left to people.

Screening runs from the most concentrated to the most spread out: intersection spots, then section spots, then
segments. A crash already counted in a spot does not count again for a wider window, so a segment is reported only
where crashes are spread along the road rather than heaped at one junction. Overlapping qualifying windows merge
into one spot or segment.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import LineString, Point
from shapely.ops import linemerge, substring

from geo.crs import LOCAL_METRIC, transform_geometries
from layers import LAYERS
from layers.frames import frame_from_properties


@dataclass(frozen=True)
class Rules:
    """Every threshold of the screening, with where it comes from."""

    years: int = 3  # 附录1: "3年内"
    spot_radius_m: float = 250.0  # 附录1: 普通公路 intersection spot, 250 m of the centre inclusive
    section_spot_m: float = 500.0  # 附录1: 普通公路 spot on an ordinary section
    segment_m: float = 2000.0  # 附录1: 普通公路 segment
    class1_fatal: int = 6  # 一类 3: "6起以上死亡交通事故"
    class2_fatal: int = 3  # 二类 2: "3-5起死亡交通事故"
    class2_casualty: int = 6  # 二类 3: "6起以上致人伤亡"
    max_snap_m: float = 30.0  # a crash farther than this from its road is reported, not placed


def grade(fatal: int, casualty: int, rules: Rules = Rules()) -> str | None:
    """一类 (class1), 二类 (class2) or None from the counts of fatal and of injury-or-fatal crashes."""
    if fatal >= rules.class1_fatal:
        return "class1"
    if fatal >= rules.class2_fatal or casualty >= rules.class2_casualty:
        return "class2"
    return None


_RANK = {"class1": 2, "class2": 1, None: 0}


@dataclass
class Finding:
    """One accident-prone spot or segment: where, which crashes, how it grades."""

    kind: str  # "spot" or "segment"
    grade: str
    geometry: object
    accident_fids: list[int]
    fatal: int
    casualty: int
    intersection_fid: int | None = None
    route_code: str | None = None
    start_m: float | None = None
    end_m: float | None = None
    notes: dict = field(default_factory=dict)


def counted(accidents: pd.DataFrame, as_of: date, rules: Rules = Rules()) -> pd.DataFrame:
    """The crashes that count: injury or fatal, within the last `years` before `as_of`, no drink or drugs."""
    start = pd.Timestamp(as_of.replace(year=as_of.year - rules.years))
    when = pd.to_datetime(accidents["occurred_at"])
    keep = (when >= start) & (when < pd.Timestamp(as_of)) & accidents["severity"].isin(["fatal", "injury"])
    keep &= ~accidents["drunk_driving"].fillna(False).astype(bool) & ~accidents["drug_driving"].fillna(False).astype(
        bool
    )
    return accidents[keep]


def screen(
    accidents: pd.DataFrame,
    intersections: pd.DataFrame,
    roads: pd.DataFrame,
    as_of: date,
    rules: Rules = Rules(),
) -> tuple[list[Finding], list[int]]:
    """All findings, strongest first, and the counted crashes that could not be placed on their road."""
    crashes = counted(accidents, as_of, rules)
    xy = _metric(crashes.geometry.to_numpy())
    fatal = (crashes["severity"] == "fatal").to_numpy()
    fids = crashes.index.to_numpy()
    used = np.zeros(len(crashes), dtype=bool)
    findings = _intersection_spots(xy, fatal, fids, used, intersections, rules)
    positions, unplaced = _place_on_routes(crashes, xy, roads, rules)
    for window, kind in ((rules.section_spot_m, "spot"), (rules.segment_m, "segment")):
        findings += _route_windows(positions, fatal, fids, used, window, kind, rules)
    findings.sort(key=lambda f: (-_RANK[f.grade], -f.fatal, -f.casualty, f.kind))
    return findings, sorted(int(fids[i]) for i in unplaced)


def _metric(geoms: np.ndarray) -> np.ndarray:
    return shapely.get_coordinates(transform_geometries(geoms, "EPSG:4326", LOCAL_METRIC))


def _intersection_spots(xy, fatal, fids, used, intersections, rules) -> list[Finding]:
    """Every junction with a qualifying 250 m circle; overlapping circles keep the strongest."""
    centres = _metric(intersections.geometry.to_numpy())
    tree = shapely.STRtree(shapely.points(xy))
    candidates = []
    for k, (cx, cy) in enumerate(centres):
        near = tree.query(Point(cx, cy), predicate="dwithin", distance=rules.spot_radius_m)
        # Inclusive ("（含）"), to the millimetre: coordinates pass through lon/lat and back.
        near = near[np.hypot(xy[near, 0] - cx, xy[near, 1] - cy) <= rules.spot_radius_m + 1e-3]
        g = grade(int(fatal[near].sum()), len(near), rules)
        if g:
            candidates.append((g, int(fatal[near].sum()), len(near), k, near))
    candidates.sort(key=lambda c: (-_RANK[c[0]], -c[1], -c[2], c[3]))
    out = []
    for *_, k, near in candidates:
        fresh = near[~used[near]]
        if grade(int(fatal[fresh].sum()), len(fresh), rules) is None:
            continue  # its crashes already make a stronger spot next to it
        used[fresh] = True
        out.append(
            Finding(
                "spot",
                grade(int(fatal[fresh].sum()), len(fresh), rules),
                intersections.geometry.iloc[k],
                sorted(int(f) for f in fids[fresh]),
                int(fatal[fresh].sum()),
                len(fresh),
                intersection_fid=int(intersections.index[k]),
            )  # fmt: skip
        )
    return out


def _place_on_routes(crashes, xy, roads, rules) -> tuple[dict[str, tuple[LineString, dict[int, float]]], list[int]]:
    """Each crash's distance along its road's route (routes merged from the road layer by route code or name)."""
    road_route = roads["route_code"].fillna(roads["name"])
    metric_roads = transform_geometries(roads.geometry.to_numpy(), "EPSG:4326", LOCAL_METRIC)
    routes: dict[str, list] = {}
    for route, geom in zip(road_route, metric_roads, strict=True):
        routes.setdefault(route, []).append(geom)
    merged = {}
    for route, parts in routes.items():
        line = linemerge(parts)
        merged[route] = list(shapely.get_parts(line))
    placed: dict[tuple[str, int], dict[int, float]] = {}
    unplaced = []
    for i, road_id in enumerate(crashes["road_id"].to_numpy()):
        route = road_route.get(int(road_id)) if pd.notna(road_id) else None
        if route is None:
            unplaced.append(i)
            continue
        point = Point(xy[i])
        part_index = int(np.argmin([p.distance(point) for p in merged[route]]))
        part = merged[route][part_index]
        if part.distance(point) > rules.max_snap_m:
            unplaced.append(i)
            continue
        placed.setdefault((route, part_index), {})[i] = part.project(point)
    out = {f"{route}#{k}": (merged[route][k], by) for (route, k), by in placed.items()}
    return out, unplaced


def _route_windows(positions, fatal, fids, used, window, kind, rules) -> list[Finding]:
    """Sliding windows of `window` metres along each route; qualifying overlapping windows merge."""
    out = []
    for key, (line, by_crash) in sorted(positions.items()):
        items = sorted((pos, i) for i, pos in by_crash.items() if not used[i])
        pos = np.array([p for p, _ in items])
        idx = np.array([i for _, i in items], dtype=int)
        intervals = []
        j = 0
        for start in range(len(items)):
            while j < len(items) and pos[j] - pos[start] <= window:
                j += 1
            members = idx[start:j]
            if grade(int(fatal[members].sum()), len(members), rules):
                intervals.append((pos[start], min(pos[start] + window, pos[j - 1]), start, j))
        for a, b, s, e in _merge(intervals):
            members = idx[s:e]
            members = members[~used[members]]
            g = grade(int(fatal[members].sum()), len(members), rules)
            if not g:
                continue
            used[members] = True
            geom = substring(line, a, b) if b > a else line.interpolate(a)
            out.append(
                Finding(
                    kind,
                    g,
                    transform_geometries([geom], LOCAL_METRIC, "EPSG:4326")[0],
                    sorted(int(f) for f in fids[members]),
                    int(fatal[members].sum()),
                    len(members),
                    route_code=key.split("#")[0],
                    start_m=round(float(a), 1),
                    end_m=round(float(b), 1),
                )  # fmt: skip
            )
    return out


def _merge(intervals: list[tuple[float, float, int, int]]) -> list[tuple[float, float, int, int]]:
    """Overlapping (start, end, first, last) windows joined into one."""
    merged: list[tuple[float, float, int, int]] = []
    for a, b, s, e in sorted(intervals):
        if merged and a <= merged[-1][1]:
            pa, pb, ps, pe = merged[-1]
            merged[-1] = (pa, max(pb, b), min(ps, s), max(pe, e))
        else:
            merged.append((a, b, s, e))
    return merged


def to_frame(findings: list[Finding], accidents: pd.DataFrame, as_of: date, rules: Rules = Rules()) -> gpd.GeoDataFrame:
    """The findings as the `accident_segments` layer: one feature each, with the parameters that produced it."""
    layer = LAYERS["accident_segments"]
    window_from = as_of.replace(year=as_of.year - rules.years)
    parameters = json.dumps({"as_of": as_of.isoformat(), **asdict(rules)}, ensure_ascii=False)
    props = []
    for f in findings:
        members = accidents.loc[f.accident_fids]
        props.append(
            layer.properties(
                kind=f.kind,
                grade=f.grade,
                road_id=None,
                start_m=f.start_m or 0,
                end_m=f.end_m or 0,
                crashes=f.casualty,
                fatal_crashes=f.fatal,
                deaths=int(members["deaths"].sum()),
                injuries=int(members["injuries"].sum()),
                window_from=window_from,
                window_to=as_of,
                parameters=parameters,
            )
        )
    return frame_from_properties(layer, props, [f.geometry for f in findings], fids=range(1, len(findings) + 1))
