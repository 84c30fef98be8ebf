"""Find places by name: villages (name or division code), named sites, roads, lanes and ledger entries."""

from __future__ import annotations

from typing import Any

import numpy as np

from api.catalog import Catalog

#: Layer → the text columns searched, in the order results are listed.
SEARCHABLE = {
    "villages": ("name", "code"),
    "risk_sources": ("name", "responsible_unit"),
    "emergency_resources": ("name",),
    "old_settlements": ("name",),
    "intersections": ("name",),
    "roads": ("name", "route_code"),
    "fire_lanes": ("name",),
    "hazards": ("code", "description"),
}


def search(cat: Catalog, query: str, *, limit: int = 20, hazards: Any = None) -> list[dict[str, Any]]:
    """Features whose name (or code) contains `query`, villages first; roads are grouped by name. Hazards are found
    only among the ids in `hazards` (the ones the viewer may see; None: none)."""
    query = query.strip()
    if not query:
        return []
    results: list[dict[str, Any]] = []
    for layer_id, columns in SEARCHABLE.items():
        data = cat[layer_id]
        frame = data.frame
        if frame.empty:
            continue
        hit = np.zeros(len(frame), dtype=bool)
        for column in columns:
            hit |= frame[column].astype("string").str.contains(query, regex=False).fillna(False).to_numpy(bool)
        rows = frame[hit]
        if layer_id == "hazards":
            rows = rows[rows.index.isin(hazards if hazards is not None else [])]
        if layer_id == "roads":
            rows = rows.dissolve(by="name", as_index=False)
        for _, row in rows.iterrows():
            name = str(row.get("name") or row.get("code"))
            results.append(
                {
                    "name": name,
                    "code": str(row.get("code") or ""),
                    "layer": layer_id,
                    "title": data.layer.title,
                    "bounds": [round(float(v), 6) for v in row.geometry.bounds],
                }
            )
            if len(results) >= limit:
                return results
    return results


def search_index(cat: Catalog) -> list[dict[str, Any]]:
    """Every searchable name with its bounds, for a standalone page that has no server to ask."""
    out = []
    for layer_id in ("villages", "risk_sources", "emergency_resources", "old_settlements", "intersections"):
        data = cat[layer_id]
        for _, row in data.frame.iterrows():
            out.append(
                {
                    "name": str(row["name"]),
                    "code": str(row.get("code") or ""),
                    "layer": layer_id,
                    "title": data.layer.title,
                    "bounds": [round(float(v), 6) for v in row.geometry.bounds],
                }
            )
    return out
