"""What lies near an incident: the closest emergency resources, and the risk sources, old settlements and open
hazards within reach, each with its distance in metres (measured in the local metric CRS through the index)."""

from __future__ import annotations

from typing import Any

from shapely.geometry import Point

from analysis.incident import IncidentOffNetwork, IncidentRouter
from api.catalog import Catalog
from maps.popups import OPEN_STATUSES, readable_value

NEAREST_RESOURCES = 6
#: For each section: layer, heading, and the coded field shown as a note beside each item.
SECTIONS = (
    ("risk_sources", "m 内的风险源", "level"),
    ("old_settlements", "m 内的老旧小区", None),
    ("hazards", "m 内未销号的隐患", "status"),
)


def near(cat: Catalog, lon: float, lat: float, radius_m: float, *, hazards: Any = None) -> dict[str, Any]:
    """Sections of nearby features for the emergency view, nearest first; open hazards only among the ids in
    `hazards` (those the viewer may see), and no hazard section at all for None."""
    point = Point(lon, lat)
    villages = cat["villages"]
    inside = villages.index.containing(point)
    village = str(villages.frame.loc[int(inside[0]), "name"]) if len(inside) else None
    found = cat["emergency_resources"].index.nearest(point, k=NEAREST_RESOURCES)
    sections = [
        _by_road(cat, lon, lat),
        {"title": "最近的应急资源", "items": [_item(cat, "emergency_resources", f, d, "kind") for f, d in found]},
    ]
    for layer_id, heading, note in SECTIONS:
        if layer_id == "hazards" and hazards is None:
            continue
        data = cat[layer_id]
        hits = data.index.distances_within(point, radius_m)
        if layer_id == "hazards":
            visible = {int(f) for f in hazards}
            hits = [(f, d) for f, d in hits if f in visible and data.frame.loc[f, "status"] in OPEN_STATUSES]
        items = [_item(cat, layer_id, f, d, note) for f, d in hits]
        sections.append({"title": f"{radius_m:g} {heading}", "items": items})
    return {"lon": lon, "lat": lat, "radius_m": radius_m, "village": village, "sections": sections}


def _by_road(cat: Catalog, lon: float, lat: float) -> dict[str, Any]:
    """The nearest fire station, micro station, clinics and rescue team by driving time, today's blockages in place."""
    title = "按路网行车时间最近的救援力量"
    try:
        rows = _router(cat).nearest_by_time(lon, lat)
    except IncidentOffNetwork as exc:
        return {"title": title, "items": [], "note": f"事发点离道路过远，无法按路网计算行车时间（{exc}）"}
    items = []
    for _, row in rows.iterrows():
        if row["fid"] is None or row["fid"] != row["fid"] or row["minutes"] != row["minutes"]:
            continue
        item = _item(cat, "emergency_resources", int(row["fid"]), float("nan"), None)
        item.pop("distance_m")
        item["minutes"] = round(float(row["minutes"]), 1)
        item["road_m"] = round(float(row["metres"]))
        item["note"] = f"{row['kind_label']}，约 {row['minutes']:.1f} 分钟（路程 {row['metres'] / 1000:.1f} km）"
        items.append(item)
    return {"title": title, "items": items}


#: The layers the routing network is made of: a new version of any of them means a new network.
ROUTED = ("roads", "fire_lanes", "emergency_resources", "obstructions")


def _router(cat: Catalog) -> IncidentRouter:
    """The routing network for the layers being served, built on first use and again when one is replaced."""
    return cat.derived(
        "incident_router",
        ROUTED,
        lambda: IncidentRouter.build(
            cat["roads"].frame,
            cat["fire_lanes"].frame,
            cat["emergency_resources"].frame,
            obstructions=cat["obstructions"].frame,
        ),  # fmt: skip
    )


def _item(cat: Catalog, layer_id: str, fid: int, distance_m: float, note_field: str | None) -> dict[str, Any]:
    data = cat[layer_id]
    row = data.frame.loc[fid]
    name = row.get("name") if "name" in row else None
    name = name or row.get("code") or f"#{fid}"
    centre = data.index.geometry(fid).representative_point()
    return {
        "layer": layer_id,
        "fid": fid,
        "name": str(name),
        "distance_m": round(distance_m, 1),
        "note": readable_value(layer_id, note_field, row[note_field]) if note_field else "",
        "location": [round(centre.x, 6), round(centre.y, 6)],
    }
