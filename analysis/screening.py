"""Accident-prone spots and segments (事故多发点段) by the national norm's sliding windows (domain.md §2.1).

《公路交通事故多发点段及严重安全隐患排查工作规范（试行）》附录1: crashes of the last three years count, drink- and
drug-driving crashes do not. 一类: ≥ 6 fatal crashes; 二类: 3–5 fatal crashes, or ≥ 6 injury-or-fatal crashes ("以上"
read as inclusive). The norm's other criteria (a single crash with ≥ 5 deaths plus road factors; police judgement)
need facts the records do not hold and are left to people.

Extents by road type (附录1 table):

- 普通公路: a 点 lies within 250 m of an intersection centre (inclusive) or within 500 m on a section; a 段 within
  2,000 m.
- 高速公路 and 一级公路 (`tech_class` "expressway" / "class1"): a 点 within 1,000 m, a 段 within 4,000 m (one
  direction). The table lists 平面交叉口 among the places that are themselves a 点, with no radius of its own: we read
  that a spot at an at-grade junction on such a road has the same 1,000 m extent as any other spot on it, centred
  on the junction, so it takes the crashes within 500 m of the centre (`high_junction_radius_m`). A junction counts
  as on such a road when any of its legs belongs to a route of that type.

A route (the road lines sharing a route code, or a name where there is no code, merged end to end) takes the type of
the technical class that covers most of its length, so one short 一级 stretch does not turn a county road into a
highway and one missing attribute does not turn a highway into an ordinary road. "One direction" is honoured only
where the carriageways are drawn as separate routes; a single centreline counts both directions together.

Crashes are placed on the road centrelines: on the record's own road (`road_id`) when it lies within `max_snap_m`,
otherwise on the nearest road within that distance, found through a spatial index. A crash farther from every road
is reported as unplaced with the reason, never dropped silently. Positions are measured along the merged routes
(analysis.routes).

Screening runs from the most concentrated to the most spread out: intersection spots, then section spots, then
segments. A crash already counted in a spot does not count again for a wider window, so a segment is reported only
where crashes are spread along the road rather than heaped at one junction. Overlapping qualifying windows merge
into one spot or segment.

Where traffic volume is known, each finding also gets an Empirical Bayes second opinion (analysis.safety_performance:
US HSM models calibrated on the local data, not part of the norm), and every road segment and intersection is
ranked by its EB excess, or by EPDO where no volume is known.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from datetime import date

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from analysis.routes import SLACK_M, Routes, first_per_group, values_of
from analysis.safety_performance import EbRules, rank_sites
from geo.crs import LOCAL_METRIC, WGS84, transform_geometries
from layers import LAYERS
from layers.frames import frame_from_properties


@dataclass(frozen=True)
class Rules:
    """Every threshold of the screening, with where it comes from."""

    years: int = 3  # 附录1: "3年内"
    spot_radius_m: float = 250.0  # 附录1: 普通公路 intersection spot, 250 m of the centre inclusive
    section_spot_m: float = 500.0  # 附录1: 普通公路 spot on an ordinary section
    segment_m: float = 2000.0  # 附录1: 普通公路 segment
    high_grade_classes: tuple[str, ...] = ("expressway", "class1")  # 附录1 table, row 高速公路、一级公路
    high_spot_m: float = 1000.0  # 附录1: 高速/一级 spot, 1,000 m
    high_segment_m: float = 4000.0  # 附录1: 高速/一级 segment, 4,000 m (one direction)
    high_junction_radius_m: float = 500.0  # reading of 附录1: a 平面交叉口 spot on 高速/一级 is 1,000 m centred on it
    class1_fatal: int = 6  # 一类 3: "6起以上死亡交通事故"
    class2_fatal: int = 3  # 二类 2: "3-5起死亡交通事故"
    class2_casualty: int = 6  # 二类 3: "6起以上致人伤亡"
    max_snap_m: float = 30.0  # a crash farther than this from every road is reported, not placed
    leg_tolerance_m: float = 1.0  # working tolerance, not from a source: a road this close to a junction is a leg
    eb: EbRules = EbRules()  # the Empirical Bayes second opinion (analysis.safety_performance)


def grade(fatal: int, casualty: int, rules: Rules = Rules()) -> str | None:
    """一类 (class1), 二类 (class2) or None from the counts of fatal and of injury-or-fatal crashes."""
    if fatal >= rules.class1_fatal:
        return "class1"
    if fatal >= rules.class2_fatal or casualty >= rules.class2_casualty:
        return "class2"
    return None


_RANK = {"class1": 2, "class2": 1, None: 0}
_GRADE_OF_RANK = np.array([None, "class2", "class1"], dtype=object)


def _grade_ranks(fatal: np.ndarray, casualty: np.ndarray, rules: Rules) -> np.ndarray:
    """`grade` for arrays of counts, as ranks: 2 一类, 1 二类, 0 none."""
    class2 = (fatal >= rules.class2_fatal) | (casualty >= rules.class2_casualty)
    return np.where(fatal >= rules.class1_fatal, 2, np.where(class2, 1, 0))


@dataclass
class Finding:
    """One accident-prone spot or segment: where, which crashes, how it grades, and the EB second opinion."""

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
    road_type: str = "ordinary"  # which row of the 附录1 table applied: "ordinary" (普通公路) or "high" (高速/一级)
    window_m: float | None = None  # the spot or segment extent used (m)
    epdo: float = 0.0  # EPDO score of its crashes (HSM weights): the fallback ranking measure
    eb_excess: float | None = None  # EB expected − predicted crashes of its sites over the window; None: no volume
    eb_rank: int | None = None  # rank among the findings by eb_excess (1 = largest); None without it


@dataclass(frozen=True)
class Unplaced:
    """A counted crash that could not be placed on a road, and why."""

    fid: int
    reason: str  # "no_location" or "beyond_max_snap"
    road_id: int | None
    nearest_m: float | None  # distance to the nearest road, where there is one
    detail: str


@dataclass
class ScreeningResult:
    """Everything one screening found: the norm's findings, unplaced crashes, the EB/EPDO site ranking, notes."""

    findings: list[Finding]
    unplaced: list[Unplaced]
    sites: pd.DataFrame  # one row per road segment and intersection (analysis.safety_performance.rank_sites)
    notes: list[str]
    timings: dict[str, float]


def window_start(as_of: date, years: int) -> pd.Timestamp:
    """The first day of the `years` before `as_of` (from 29 February, the 28th of that month)."""
    return pd.Timestamp(as_of) - pd.DateOffset(years=years)


def in_window(accidents: pd.DataFrame, as_of: date, years: int) -> pd.Series:
    """Which crashes happened in the `years` before `as_of` (the norm's "3年内"; `as_of` itself excluded)."""
    when = pd.to_datetime(accidents["occurred_at"])
    return (when >= window_start(as_of, years)) & (when < pd.Timestamp(as_of))


def counted(
    accidents: pd.DataFrame,
    as_of: date,
    rules: Rules = Rules(),
    *,
    severities: tuple[str, ...] = ("fatal", "injury"),
    exclude_impaired: bool = True,
) -> pd.DataFrame:
    """The crashes that count: injury or fatal (or the `severities` asked for), within the last `years` before
    `as_of`, drink- and drug-driving ones left out unless `exclude_impaired` is false."""
    if len(accidents) == 0:
        return accidents
    keep = in_window(accidents, as_of, rules.years) & accidents["severity"].astype(object).isin(list(severities))
    if exclude_impaired:
        for column in ("drunk_driving", "drug_driving"):
            keep &= ~accidents[column].fillna(False).astype(bool)
    return accidents[keep.to_numpy(dtype=bool)]


def screen(
    accidents: pd.DataFrame,
    intersections: pd.DataFrame,
    roads: pd.DataFrame,
    as_of: date,
    rules: Rules = Rules(),
) -> tuple[list[Finding], list[int]]:
    """All findings, strongest first, and the counted crashes that could not be placed on a road.

    `run_screening` gives the same findings with the reasons for unplaced crashes and the EB/EPDO site ranking.
    """
    result = run_screening(accidents, intersections, roads, as_of, rules)
    return result.findings, sorted(u.fid for u in result.unplaced)


def run_screening(
    accidents: pd.DataFrame,
    intersections: pd.DataFrame,
    roads: pd.DataFrame,
    as_of: date,
    rules: Rules = Rules(),
) -> ScreeningResult:
    """Screen lon/lat (EPSG:4326) layers by the norm, then add the EB second opinion where volume is known."""
    clock = _Clock()
    crashes = _Crashes.of(accidents, as_of, rules)
    clock.lap("counted")

    network = Routes(roads, rules.high_grade_classes)
    clock.lap("network")
    piece = network.snap(crashes.xy, crashes.road_ids, rules.max_snap_m).piece
    clock.lap("snap")

    junction_xy = _points_xy(intersections.geometry.to_numpy())
    legs = network.legs(_points(junction_xy), rules.leg_tolerance_m)
    road_high = network.route_high[network.route_of_road]
    junctions = _Junctions(intersections, junction_xy, legs, road_high, network.aadt, rules)
    near = _crashes_near_junctions(crashes.xy, junctions, rules.eb.intersection_radius_m)
    return screen_placed(crashes, network, piece, junctions, near, intersections, rules, clock)


@dataclass
class _Crashes:
    """The crashes that count, as arrays: metric x, y (NaN: no location), fatal or not, fid, road_id on record."""

    xy: np.ndarray
    fatal: np.ndarray
    fids: np.ndarray
    road_ids: np.ndarray

    @classmethod
    def of(cls, accidents: pd.DataFrame, as_of: date, rules: Rules) -> _Crashes:
        crashes = counted(accidents, as_of, rules)
        road_ids = crashes["road_id"].to_numpy() if "road_id" in crashes else np.full(len(crashes), None)
        fatal = (crashes["severity"] == "fatal").to_numpy()
        return cls(_points_xy(crashes.geometry.to_numpy()), fatal, crashes.index.to_numpy(), road_ids)


def screen_placed(
    crashes: _Crashes, network: Routes, piece, junctions: _Junctions, near, intersections, rules: Rules, clock: _Clock
) -> ScreeningResult:
    """The screening once every crash is placed (`piece`: its road piece in `network`, −1: not placed) and every
    junction read (`near`: `_crashes_near_junctions`): the rest of `run_screening`, shared with the partitioned
    screening (analysis.partitioned_screening)."""
    xy, fatal, fids, road_ids = crashes.xy, crashes.fatal, crashes.fids, crashes.road_ids
    placed = piece >= 0
    part = np.full(len(fids), -1)
    pos = np.full(len(fids), np.nan)
    part[placed], pos[placed] = network.locate(piece[placed], xy[placed])
    unplaced = _unplaced(network, xy, fids, road_ids, piece, rules)
    used = np.zeros(len(fids), dtype=bool)
    findings = _intersection_spots(near, fatal, fids, used, junctions, intersections, rules)
    clock.lap("intersection_spots")
    for kind, ordinary, high in (
        ("spot", rules.section_spot_m, rules.high_spot_m),
        ("segment", rules.segment_m, rules.high_segment_m),
    ):
        window = np.where(network.route_high[network.part_route], high, ordinary)
        findings += _route_windows(network, part, pos, fatal, fids, used, window, kind, rules)
    clock.lap("route_windows")

    sites, site_row, notes = _eb_sites(near, fatal, piece, network, junctions, rules)
    _attach_eb(findings, fids, fatal, site_row, sites, rules)
    clock.lap("empirical_bayes")

    findings.sort(key=lambda f: (-_RANK[f.grade], -f.fatal, -f.casualty, f.kind, f.accident_fids[0]))
    clock.lap("output")
    if unplaced:
        notes.append(f"{len(unplaced)} counted crashes could not be placed on a road (see unplaced)")
    return ScreeningResult(findings, unplaced, sites, notes, clock.laps)


class _Clock:
    """Wall time of each stage, for the benchmark and for people wondering where the time goes."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = now - self._last
        self._last = now


def _points_xy(geoms: np.ndarray) -> np.ndarray:
    """Metric (EPSG:4549) x, y of lon/lat points; NaN for a missing, empty or non-point geometry."""
    geoms = np.asarray(geoms, dtype=object)
    xy = np.full((len(geoms), 2), np.nan)
    ok = ~shapely.is_missing(geoms)
    ok[ok] = ~shapely.is_empty(geoms[ok])
    if ok.any():
        metric = transform_geometries(geoms[ok], WGS84, LOCAL_METRIC)
        xy[ok] = np.column_stack([shapely.get_x(metric), shapely.get_y(metric)])
    return xy


def _points(xy: np.ndarray) -> np.ndarray:
    """Points from metric x, y; None where there is no location."""
    points = np.full(len(xy), None, dtype=object)
    valid = np.isfinite(xy).all(axis=1)
    points[valid] = shapely.points(xy[valid])
    return points


def _unplaced(network: Routes, xy, fids, road_ids, piece, rules: Rules) -> list[Unplaced]:
    """Why each crash that was not placed is not: no location, or no road within the snap distance."""
    missing = np.flatnonzero(piece < 0)
    located = np.isfinite(xy[missing]).all(axis=1)
    nearest = np.full(len(missing), np.nan)
    nearest[located] = network.nearest_distance(xy[missing[located]])
    known_road = network.road_positions(road_ids[missing]) >= 0
    out = []
    for i, has_point, d, known in zip(missing, located, nearest, known_road, strict=True):
        rid = None if pd.isna(road_ids[i]) else int(road_ids[i])
        if not has_point:
            out.append(Unplaced(int(fids[i]), "no_location", rid, None, "the record has no usable point"))
            continue
        d = None if np.isnan(d) else round(float(d), 1)
        detail = f"no road within {rules.max_snap_m:g} m" + (f" (nearest {d:g} m)" if d is not None else "")
        if rid is not None:
            detail += f"; its road_id {rid} " + ("is farther" if known else "is unknown")
        out.append(Unplaced(int(fids[i]), "beyond_max_snap", rid, d, detail))
    return out


# -- junctions and intersection spots ------------------------------------------------------------------------------


class _Junctions:
    """Intersection centres in metres with their legs' facts: on a 高速/一级 route?, leg count, volumes.

    `xy`: the centres in metres (`_points_xy`); `legs`: (junction, road, legs) for each road at a junction, as
    `Routes.legs` gives them; `road_high` and `road_aadt`, per road: whether its route is 高速/一级, and its AADT.
    """

    def __init__(self, intersections: pd.DataFrame, xy, legs, road_high, road_aadt, rules: Rules) -> None:
        n = len(intersections)
        self.fids = intersections.index.to_numpy()
        self.xy = xy
        self.valid = np.isfinite(self.xy).all(axis=1)
        self.points = _points(xy)
        junction, road, legs = legs
        self.high = np.zeros(n, dtype=bool)
        np.logical_or.at(self.high, junction, road_high[road])
        self.radius = np.where(self.high, rules.high_junction_radius_m, rules.spot_radius_m)
        given_legs = pd.to_numeric(pd.Series(values_of(intersections, "legs")), errors="coerce").to_numpy(dtype=float)
        counted_legs = np.bincount(junction, weights=legs, minlength=n).astype(float)
        self.legs = np.where(np.isnan(given_legs), counted_legs, given_legs)
        control = values_of(intersections, "control")
        self.control = np.where(pd.isna(control), "none", control).astype(object)  # the layer's default
        volumes = self._volumes(intersections, junction, road_aadt[road])
        self.major_aadt, self.minor_aadt, self.volume_from_legs = volumes

    def _volumes(self, intersections, junction, leg_aadt) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The layer's major/minor AADT; where null and every leg has AADT, the legs' largest and smallest."""
        major = pd.to_numeric(pd.Series(values_of(intersections, "major_aadt")), errors="coerce").to_numpy(dtype=float)
        minor = pd.to_numeric(pd.Series(values_of(intersections, "minor_aadt")), errors="coerce").to_numpy(dtype=float)
        n = len(major)
        known = np.ones(n, dtype=bool)
        np.logical_and.at(known, junction, ~np.isnan(leg_aadt))
        has_legs = np.bincount(junction, minlength=n) >= 2
        hi = np.full(n, -np.inf)
        lo = np.full(n, np.inf)
        np.maximum.at(hi, junction, np.nan_to_num(leg_aadt, nan=-np.inf))
        np.minimum.at(lo, junction, np.nan_to_num(leg_aadt, nan=np.inf))
        fill = known & has_legs & (np.isnan(major) | np.isnan(minor))
        major = np.where(fill & np.isnan(major), hi, major)
        minor = np.where(fill & np.isnan(minor), lo, minor)
        return major, minor, fill


def _crashes_near_junctions(xy, junctions: _Junctions, eb_radius_m: float) -> tuple[np.ndarray, ...]:
    """(junction, crash, distance) for every crash within a junction's spot radius or the EB radius, by junction.

    One index query serves both the norm's junction circles and the EB's intersection sites.
    """
    located = np.flatnonzero(np.isfinite(xy).all(axis=1))
    centres = np.flatnonzero(junctions.valid)
    if not len(located) or not len(centres):
        return np.zeros(0, int), np.zeros(0, int), np.zeros(0)
    reach = np.maximum(junctions.radius, eb_radius_m) + SLACK_M
    tree = shapely.STRtree(shapely.points(xy[located]))
    k, c = tree.query(junctions.points[centres], predicate="dwithin", distance=reach[centres])
    k, c = centres[k], located[c]
    d = np.hypot(xy[c, 0] - junctions.xy[k, 0], xy[c, 1] - junctions.xy[k, 1])
    order = np.lexsort((c, k))
    return k[order], c[order], d[order]


def _intersection_spots(near, fatal, fids, used, junctions: _Junctions, intersections, rules) -> list[Finding]:
    """Every junction with a qualifying circle; overlapping circles keep the strongest."""
    k, c, d = near
    # Inclusive ("（含）"), to the millimetre: coordinates pass through lon/lat and back.
    inside = d <= junctions.radius[k] + SLACK_M
    k, c = k[inside], c[inside]
    n = len(junctions.fids)
    casualty = np.bincount(k, minlength=n)
    fatal_n = np.bincount(k, weights=fatal[c], minlength=n).astype(int)
    rank = _grade_ranks(fatal_n, casualty, rules)
    start = np.searchsorted(k, np.arange(n))
    candidates = np.flatnonzero(rank > 0)
    candidates = candidates[np.lexsort((candidates, -casualty[candidates], -fatal_n[candidates], -rank[candidates]))]
    out = []
    for j in candidates:
        members = c[start[j] : start[j] + casualty[j]]
        fresh = members[~used[members]]
        g = grade(int(fatal[fresh].sum()), len(fresh), rules)
        if g is None:
            continue  # its crashes already make a stronger spot next to it
        used[fresh] = True
        high = bool(junctions.high[j])
        out.append(
            Finding(
                "spot",
                g,
                intersections.geometry.iloc[j],
                sorted(int(f) for f in fids[fresh]),
                int(fatal[fresh].sum()),
                len(fresh),
                intersection_fid=int(junctions.fids[j]),
                road_type="high" if high else "ordinary",
                window_m=2 * float(junctions.radius[j]),
            )
        )
    return out


# -- sliding windows along routes ----------------------------------------------------------------------------------


def _route_windows(network: Routes, part, pos, fatal, fids, used, window, kind, rules) -> list[Finding]:
    """Sliding windows along each route part (`window[part]` metres); qualifying overlapping windows merge.

    Vectorised: parts are laid end to end on one axis with gaps wider than any window, so one `searchsorted`
    finds every window's last crash, and cumulative sums give every window's counts.
    """
    live = np.flatnonzero((part >= 0) & ~used)
    if not len(live):
        return []
    live = live[np.lexsort((live, pos[live], part[live]))]
    g = part[live]
    gap = float(window.max()) + 1000.0
    base = np.concatenate([[0.0], np.cumsum(network.part_length + gap)])[:-1]
    axis = base[g] + pos[live]
    last = np.searchsorted(axis, axis + window[g] + 1e-6, side="right")  # one past the window's last crash
    fatal_cum = np.concatenate([[0], np.cumsum(fatal[live])])
    first = np.arange(len(live))
    rank = _grade_ranks(fatal_cum[last] - fatal_cum[first], last - first, rules)
    q = np.flatnonzero(rank > 0)
    if not len(q):
        return []
    a, b, e = axis[q], axis[last[q] - 1], last[q]
    reach = np.maximum.accumulate(b)
    new = np.concatenate([[True], a[1:] > reach[:-1]])
    starts = q[new]
    ends = np.maximum.reduceat(e, np.flatnonzero(new))
    out = []
    for s, e_ in zip(starts, ends, strict=True):
        members = live[s:e_]
        g_ = grade(int(fatal[members].sum()), len(members), rules)
        used[members] = True
        p = int(g[s])
        lo, hi = float(pos[live[s]]), float(pos[live[e_ - 1]])
        high = bool(network.route_high[network.part_route[p]])
        out.append(
            Finding(
                kind,
                g_,
                network.part_geometry(p, lo, hi),
                sorted(int(f) for f in fids[members]),
                int(fatal[members].sum()),
                len(members),
                route_code=str(network.routes[network.part_route[p]]),
                start_m=round(lo, 1),
                end_m=round(hi, 1),
                road_type="high" if high else "ordinary",
                window_m=float(window[p]),
            )
        )
    # Built in metres; brought to lon/lat in one transformation.
    for f, geom in zip(out, transform_geometries([f.geometry for f in out], LOCAL_METRIC, WGS84), strict=True):
        f.geometry = geom
    return out


# -- the Empirical Bayes second opinion ----------------------------------------------------------------------------


def _eb_sites(near, fatal, piece, network: Routes, junctions: _Junctions, rules: Rules):
    """The site table (every road, then every junction) with its counted crashes, ranked; each crash's site row.

    A crash within the HSM's intersection radius of a junction belongs to the nearest such junction; any other
    placed crash to the road it was placed on. Unplaced crashes far from junctions belong to no site.
    """
    n_roads, n_junctions = len(network.fids), len(junctions.fids)
    site_row = np.full(len(fatal), -1)
    placed = piece >= 0
    site_row[placed] = network.piece_road[piece[placed]]
    k, c, d = near
    close = d <= rules.eb.intersection_radius_m + SLACK_M
    best = first_per_group(c[close], d[close], k[close])  # the nearest junction; ties: the first in the layer
    site_row[c[close][best]] = n_roads + k[close][best]
    rows = site_row[site_row >= 0]
    observed = np.bincount(rows, minlength=n_roads + n_junctions)
    fatal_n = np.bincount(rows, weights=fatal[site_row >= 0], minlength=n_roads + n_junctions).astype(int)
    roads = pd.DataFrame(
        {
            "kind": "segment",
            "fid": network.fids,
            "route_code": np.asarray(network.routes)[network.route_of_road],
            "tech_class": network.tech_class,
            "aadt": network.aadt,
            "length_m": network.road_length,
            "legs": np.nan,
            "control": None,
            "major_aadt": np.nan,
            "minor_aadt": np.nan,
            "volume_from_legs": False,
        }
    )
    nodes = pd.DataFrame(
        {
            "kind": "intersection",
            "fid": junctions.fids,
            "route_code": None,
            "tech_class": None,
            "aadt": np.nan,
            "length_m": np.nan,
            "legs": junctions.legs,
            "control": junctions.control,
            "major_aadt": junctions.major_aadt,
            "minor_aadt": junctions.minor_aadt,
            "volume_from_legs": junctions.volume_from_legs,
        }
    )
    sites = pd.concat([roads, nodes], ignore_index=True)
    sites["observed"] = observed
    sites["fatal"] = fatal_n
    ranked, notes = rank_sites(sites, rules.years, rules.eb)
    if junctions.volume_from_legs.any():
        notes.append(
            f"{int(junctions.volume_from_legs.sum())} intersections took major/minor AADT from their legs' roads "
            "(largest and smallest), as the layer had none"
        )
    return ranked, site_row, notes


def _attach_eb(findings, fids, fatal, site_row, sites: pd.DataFrame, rules: Rules) -> None:
    """Each finding's EPDO and EB excess (the sum over the sites holding its crashes), and its EB rank."""
    sorter = np.argsort(fids, kind="stable")
    by_row = sites.sort_index()
    excess = by_row["excess"].to_numpy()
    kind, fid, reason = (by_row[c].to_numpy() for c in ("kind", "fid", "reason"))
    for f in findings:
        members = sorter[np.searchsorted(fids, f.accident_fids, sorter=sorter)]
        n_fatal = int(fatal[members].sum())
        f.epdo = float(rules.eb.epdo_fatal * n_fatal + rules.eb.epdo_injury * (len(members) - n_fatal))
        rows = np.unique(site_row[members])
        if (rows < 0).any():
            f.notes["eb"] = "some of its crashes belong to no site"
            continue
        values = excess[rows]
        if np.isnan(values).any():
            f.notes["eb"] = "; ".join(f"{kind[r]} {fid[r]}: {reason[r]}" for r in rows[np.isnan(values)])
            continue
        f.eb_excess = round(float(values.sum()), 3)
        f.notes["eb_sites"] = [f"{kind[r]} {fid[r]}" for r in rows]
    known = sorted((f for f in findings if f.eb_excess is not None), key=lambda f: (-f.eb_excess, f.accident_fids[0]))
    for rank, f in enumerate(known, start=1):
        f.eb_rank = rank


def to_frame(findings: list[Finding], accidents: pd.DataFrame, as_of: date, rules: Rules = Rules()) -> gpd.GeoDataFrame:
    """The findings as the `accident_segments` layer: one feature each, with the parameters that produced it."""
    layer = LAYERS["accident_segments"]
    window_from = window_start(as_of, rules.years).date()
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
                epdo=f.epdo,
                eb_excess=f.eb_excess,
                eb_rank=f.eb_rank,
            )
        )
    return frame_from_properties(layer, props, [f.geometry for f in findings], fids=range(1, len(findings) + 1))
