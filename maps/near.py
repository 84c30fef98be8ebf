"""The emergency view's what-is-near panel: the incident report (`analysis.incident_report`) as titled sections.

Distances are metres in the local metric CRS through the layers' indexes; times are by road with today's blockages.
"""

from __future__ import annotations

from typing import Any

from shapely.geometry import Point

from analysis.incident_report import IncidentContext, incident_report, rings_within
from api.catalog import Catalog
from maps.popups import readable_value

NEAREST_RESOURCES = 6


def near(cat: Catalog, lon: float, lat: float, radius_m: float, *, hazards: Any = None) -> dict[str, Any]:
    """Sections for the panel, nearest first; open hazards only among the ids in `hazards` (those the viewer may
    see), and no hazard section at all for None."""
    report = incident_report(cat, IncidentContext.served(cat), lon, lat, rings_within(radius_m), hazards=hazards)
    sections = [
        _by_road(report),
        {
            "title": "最近的避难场所（按路程）",
            "items": [_shelter(s) for s in report["shelters"]],
        },
        {"title": "影响范围内人口", "items": [_ring(e) for e in report["exposed"]]},
        _straight(cat, lon, lat),
        {
            "title": f"{radius_m:g} m 内的风险源",
            "items": [_source(s) for s in report["risk_sources"]],
        },
        {
            "title": f"{radius_m:g} m 内的老旧小区",
            "items": [_item("old_settlements", s, "") for s in report["old_settlements"]],
        },
    ]
    if report["hazards"] is not None:
        items = [
            _item("hazards", {**h, "name": h["code"]}, readable_value("hazards", "status", h["status"]))
            for h in report["hazards"]
        ]
        sections.append({"title": f"{radius_m:g} m 内未销号的隐患", "items": items})
    village = report["village"]
    return {
        "lon": lon,
        "lat": lat,
        "radius_m": radius_m,
        "village": village["name"] if village else None,
        "sections": sections,
    }


def _by_road(report: dict[str, Any]) -> dict[str, Any]:
    title = "按路网行车时间最近的救援力量"
    if not report["on_network"]:
        note = f"事发点离道路过远，无法按路网计算行车时间（{report['network_note']}）"
        return {"title": title, "items": [], "note": note}
    items = [
        _timed(r, f"{r['kind_label']}，约 {r['minutes']:.1f} 分钟（路程 {r['road_m'] / 1000:.1f} km）")
        for r in report["nearest_by_time"]
        if r["fid"] is not None
    ]
    return {"title": title, "items": items, "note": report["network_note"] or "无"}


def _timed(row: dict[str, Any], note: str) -> dict[str, Any]:
    return {
        "layer": "emergency_resources",
        "fid": row["fid"],
        "name": row["name"] or f"#{row['fid']}",
        "minutes": round(row["minutes"], 1),
        "road_m": round(row["road_m"]),
        "note": note,
        "location": row["location"],
    }


def _shelter(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "layer": "emergency_resources",
        "fid": row["fid"],
        "name": row["name"] or f"#{row['fid']}",
        "minutes": None,
        "road_m": round(row["road_m"]),
        "note": f"路程 {row['road_m'] / 1000:.1f} km",
        "location": row["location"],
    }


def _ring(exposed: dict[str, Any]) -> dict[str, Any]:
    """One line per radius; it points at nothing, so no location."""
    return {
        "name": f"{exposed['radius_m']:g} m 内",
        "minutes": None,
        "note": (
            f"居住 {exposed['residents']} 人，建筑 {exposed['buildings']} 栋，老旧小区 {exposed['old_settlements']} 个"
        ),
    }


def _source(s: dict[str, Any]) -> dict[str, Any]:
    parts = [s["level_label"] or "未分级"]
    if s["major_hazard"]:
        parts.append(f"重大危险源{s['gb18218_grade'] or ''}")
    if s["substances"]:
        parts.append("、".join(f"{x['name']} {x['q_t']:g} t" for x in s["substances"]))
    return _item("risk_sources", s, "，".join(parts))


def _item(layer_id: str, row: dict[str, Any], note: str) -> dict[str, Any]:
    return {
        "layer": layer_id,
        "fid": row["fid"],
        "name": row["name"] or f"#{row['fid']}",
        "distance_m": row["distance_m"],
        "note": note,
        "location": row["location"],
    }


def _straight(cat: Catalog, lon: float, lat: float) -> dict[str, Any]:
    """The closest emergency resources as the crow flies: a fallback view when roads are in doubt."""
    data = cat["emergency_resources"]
    items = []
    for fid, distance in data.index.nearest(Point(lon, lat), k=NEAREST_RESOURCES):
        row = data.frame.loc[fid]
        centre = data.index.geometry(fid).representative_point()
        items.append(
            {
                "layer": "emergency_resources",
                "fid": fid,
                "name": str(row.get("name") or f"#{fid}"),
                "distance_m": round(distance, 1),
                "note": readable_value("emergency_resources", "kind", row["kind"]),
                "location": [round(centre.x, 6), round(centre.y, 6)],
            }
        )
    return {"title": "最近的应急资源（直线距离）", "items": items}
