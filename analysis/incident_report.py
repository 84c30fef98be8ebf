"""The emergency officer's first screen: everything that matters around an incident point, in one answer.

Given a point (a click on the map), it gathers
- the risk sources within each radius, with their four-colour level, GB 18218 grade and substances;
- the people exposed within each radius: residents of the buildings any part of which lies within it (the same
  "any part" rule as the GB 18218 exposure count), with the buildings and old settlements counted too;
- the quickest fire station, micro fire station, clinics and rescue team by driving time over roads and fire lanes
  with today's blockages in place (`analysis.incident.IncidentRouter`), and the nearest shelters by road;
- the open hazards nearby that the viewer may see.

Spatial questions go through the served layers' indexes; the routing network and the two gradings are made once per
set of layers (`IncidentContext.build`), so one answer costs a few index lookups and one Dijkstra.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import Point

from analysis.incident import PANEL_KINDS, IncidentOffNetwork, IncidentRouter
from analysis.major_hazard import assess
from analysis.risk_grading import COLOURS, grade
from geo.index import SpatialIndex
from layers.frames import plain
from layers.vocab import OPEN_HAZARD_STATUSES, ResourceKind, RiskLevel

#: Radii (m) asked for when none are given: the GB 18218 exposure distance, then two evacuation rings [K].
DEFAULT_RADII_M = (500.0, 1000.0, 3000.0)
MAX_RADII = 5
MAX_RADIUS_M = 20_000.0
#: Shelters listed, nearest by road first.
SHELTERS = 3
_LEVEL_LABELS = RiskLevel.labels()


class Served(Protocol):
    """A served layer: its features indexed by fid, and their spatial index."""

    frame: gpd.GeoDataFrame
    index: SpatialIndex


class ServedLayers(Protocol):
    """The service's layers by id, with a cache of what is derived from them (`api.catalog.Catalog`)."""

    def __getitem__(self, layer_id: str) -> Served: ...

    def derived(self, name: str, layer_ids: Iterable[str], build: Callable[[], Any]) -> Any:
        """`build()`, kept until one of `layer_ids` is replaced."""


#: The layers the context is made from: a new version of any of them means a new context.
CONTEXT_LAYERS = ("roads", "fire_lanes", "emergency_resources", "obstructions", "risk_sources", "buildings", "villages")


@dataclass(frozen=True)
class IncidentContext:
    """What every answer shares, made once: the routing network and the gradings of the risk sources."""

    router: IncidentRouter
    major: pd.DataFrame  # GB 18218 assessment per risk source (`analysis.major_hazard.assess`)
    graded: pd.DataFrame  # four-colour level per risk source (`analysis.risk_grading.grade`)

    @classmethod
    def build(cls, layers: Mapping[str, Served]) -> IncidentContext:
        """From the served layers (lon/lat, indexed by fid)."""
        frame = {name: layers[name].frame for name in CONTEXT_LAYERS}
        router = IncidentRouter.build(
            frame["roads"], frame["fire_lanes"], frame["emergency_resources"], obstructions=frame["obstructions"]
        )
        return cls(
            router=router,
            major=assess(frame["risk_sources"], frame["buildings"]),
            graded=grade(frame["risk_sources"], frame["villages"]),
        )

    @classmethod
    def served(cls, layers: ServedLayers) -> IncidentContext:
        """The context for the layers being served: built on first use, and again once one of them is replaced."""
        return layers.derived("incident_context", CONTEXT_LAYERS, lambda: cls.build(layers))


def check_radii(radii_m: Iterable[float] | None) -> tuple[float, ...]:
    """The radii sorted and de-duplicated (the defaults when none); ValueError saying what to fix."""
    radii = tuple(sorted({float(r) for r in (radii_m or DEFAULT_RADII_M)}))
    if len(radii) > MAX_RADII:
        raise ValueError(f"at most {MAX_RADII} radii may be asked for at once, got {len(radii)}")
    bad = [r for r in radii if not (math.isfinite(r) and 0 < r <= MAX_RADIUS_M)]
    if bad:
        raise ValueError(f"each radius must be more than 0 and at most {MAX_RADIUS_M:g} m, got {bad[0]:g}")
    return radii


def rings_within(radius_m: float) -> tuple[float, ...]:
    """The default radii inside `radius_m`, then `radius_m` itself: the rings a single search radius is shown in."""
    return (*(r for r in DEFAULT_RADII_M if r < radius_m), float(radius_m))


def incident_report(
    layers: Mapping[str, Served] | ServedLayers,
    context: IncidentContext,
    lon: float,
    lat: float,
    radii_m: Sequence[float] | None = None,
    *,
    hazards: Iterable[int] | None = None,
) -> dict[str, Any]:
    """Everything near (lon, lat) as plain JSON-ready data; open hazards only among the fids in `hazards` (those
    the viewer may see), and none at all for None."""
    radii = check_radii(radii_m)
    outer = radii[-1]
    point = Point(lon, lat)
    return {
        "lon": lon,
        "lat": lat,
        "radii_m": list(radii),
        "village": _village(layers["villages"], point),
        "exposed": _exposed(layers, point, radii),
        "risk_sources": _risk_sources(layers["risk_sources"], context, point, radii),
        **_by_road(layers["emergency_resources"], context.router, lon, lat),
        "old_settlements": _within(layers["old_settlements"], point, outer, ("households", "build_year")),
        "hazards": None if hazards is None else _open_hazards(layers["hazards"], point, outer, hazards),
        "method": (
            "行车时间按道路和消防车通道路网计算，已计入当前通道堵塞；暴露人数为任一部分位于半径内的建筑的居住人数"
            "（与GB 18218暴露人数规则相同）。"
        ),
    }


def _village(villages: Served, point: Point) -> dict[str, Any] | None:
    inside = villages.index.containing(point)
    if not len(inside):
        return None
    fid = int(inside[0])
    row = villages.frame.loc[fid]
    return {"fid": fid, "code": _text(row.get("code")), "name": _text(row.get("name"))}


def _exposed(layers: Mapping[str, Served], point: Point, radii: Sequence[float]) -> list[dict[str, Any]]:
    """Residents, buildings and old settlements within each radius (cumulative, smallest first)."""
    buildings = layers["buildings"]
    hits = buildings.index.distances_within(point, radii[-1])
    fids = np.array([f for f, _ in hits], dtype=np.int64)
    dist = np.array([d for _, d in hits], dtype=float)
    residents = (
        pd.to_numeric(buildings.frame["residents"].reindex(fids), errors="coerce").fillna(0).to_numpy(np.int64)
        if len(fids)
        else np.zeros(0, np.int64)
    )
    settlements = layers["old_settlements"].index.distances_within(point, radii[-1])
    s_dist = np.array([d for _, d in settlements], dtype=float)
    return [
        {
            "radius_m": r,
            "residents": int(residents[dist <= r].sum()),
            "buildings": int((dist <= r).sum()),
            "old_settlements": int((s_dist <= r).sum()),
        }
        for r in radii
    ]


def _risk_sources(sources: Served, context: IncidentContext, point: Point, radii: Sequence[float]) -> list[dict]:
    """Risk sources within the outer radius, nearest first, each with its ring and both gradings."""
    frame = sources.frame
    out = []
    for fid, distance in sources.index.distances_within(point, radii[-1]):
        row = frame.loc[fid]
        graded = context.graded.loc[fid] if fid in context.graded.index else None
        major = context.major.loc[fid] if fid in context.major.index else None
        level = graded["level"] if graded is not None and graded["level"] else _text(row.get("level"))
        out.append(
            {
                "fid": fid,
                "name": _text(row.get("name")),
                "kind": _text(row.get("kind")),
                "distance_m": round(distance, 1),
                "ring_m": next(r for r in radii if distance <= r),
                "level": level,
                "level_label": _LEVEL_LABELS.get(level) if level else None,
                "colour": COLOURS.get(level) if level else None,
                "level_rule": None if graded is None else graded["rule"],
                "major_hazard": bool(major is not None and major["major"]),
                "gb18218_grade": None if major is None else major["grade"],
                "S": None if major is None else round(float(major["S"]), 4),
                "R": None if major is None or not major["major"] else round(float(major["R"]), 2),
                "substances": []
                if major is None
                else [{"name": s["name"], "q_t": s["q_t"], "Q_t": s["Q_t"]} for s in major["substances"]],  # fmt: skip
                "responsible_unit": _text(row.get("responsible_unit")),
                "phone": _text(row.get("phone")),
                "location": _location(sources, fid),
            }
        )
    return out


def _by_road(resources: Served, router: IncidentRouter, lon: float, lat: float) -> dict[str, Any]:
    """The quickest resource of each panel kind and the nearest shelters, by road; a note when the point is off it."""
    try:
        times = router.times_to(lon, lat, [*PANEL_KINDS, ResourceKind.SHELTER.value])
    except IncidentOffNetwork as exc:
        return {"on_network": False, "network_note": str(exc), "nearest_by_time": [], "shelters": []}
    reached = times[times["seconds"].notna()]
    labels = ResourceKind.labels()
    nearest = []
    for kind in PANEL_KINDS:
        best = reached[reached["kind"] == kind].head(1)
        entry: dict[str, Any] = {"kind": kind, "kind_label": labels[kind], "fid": None}
        if len(best):
            entry.update(_timed(resources, best.iloc[0]))
        nearest.append(entry)
    shelters = reached[reached["kind"] == ResourceKind.SHELTER.value].sort_values(["metres", "fid"]).head(SHELTERS)
    note = None
    if not len(reached):
        note = "以当前通道堵塞，没有救援车辆能经路网到达事发点：先清除所在通道的堵塞，或徒步接近"
    return {
        "on_network": True,
        "network_note": note,
        "nearest_by_time": nearest,
        "shelters": [_shelter(resources, row) for _, row in shelters.iterrows()],
    }


def _timed(resources: Served, row: pd.Series) -> dict[str, Any]:
    fid = int(row["fid"])
    return {
        "kind": row["kind"],
        "kind_label": row["kind_label"],
        "fid": fid,
        "name": row["name"],
        "minutes": round(float(row["minutes"]), 2),
        "seconds": round(float(row["seconds"]), 1),
        "road_m": round(float(row["metres"]), 1),
        "location": _location(resources, fid),
    }


def _shelter(resources: Served, row: pd.Series) -> dict[str, Any]:
    """People walk or are driven there: the road distance is what counts, not an engine's turn-out."""
    fid = int(row["fid"])
    name = row["name"]
    return {"fid": fid, "name": name, "road_m": round(float(row["metres"]), 1), "location": _location(resources, fid)}


def _within(layer: Served, point: Point, radius: float, fields: Sequence[str]) -> list[dict[str, Any]]:
    frame = layer.frame
    return [
        {
            "fid": fid,
            "name": _text(frame.loc[fid].get("name")),
            "distance_m": round(d, 1),
            **{f: plain(frame.loc[fid].get(f)) for f in fields},
            "location": _location(layer, fid),
        }
        for fid, d in layer.index.distances_within(point, radius)
    ]


def _open_hazards(layer: Served, point: Point, radius: float, visible: Iterable[int]) -> list[dict[str, Any]]:
    allowed = {int(f) for f in visible}
    frame = layer.frame
    out = []
    for fid, d in layer.index.distances_within(point, radius):
        row = frame.loc[fid]
        if fid in allowed and row["status"] in OPEN_HAZARD_STATUSES:
            out.append(
                {
                    "fid": fid,
                    "code": _text(row.get("code")),
                    "description": _text(row.get("description")),
                    "level": _text(row.get("level")),
                    "status": _text(row.get("status")),
                    "deadline": plain(row.get("deadline")),
                    "distance_m": round(d, 1),
                    "location": _location(layer, fid),
                }
            )
    return out


def _location(layer: Served, fid: int) -> list[float]:
    centre = layer.index.geometry(fid).representative_point()
    return [round(centre.x, 6), round(centre.y, 6)]


def _text(value: Any) -> str | None:
    value = plain(value)
    return None if value is None else str(value)
