"""The composite risk surface run over the stored layers and written as the risk_surface layer.

The command line, the HTTP API and the demo build all run `surface`, so the map, the ranking and the stored layer
come from one computation.
"""

from __future__ import annotations

import json
from datetime import date

import geopandas as gpd
import pandas as pd

from analysis.fire_response import fire_response
from analysis.major_hazard import assess
from analysis.risk_grading import grade
from analysis.risk_surface import COMPONENTS, RiskSurface, SurfaceInputs, SurfaceRules, risk_surface
from analysis.runs import Layers
from layers import LAYERS
from layers.frames import frame_from_properties
from layers.vocab import SurfaceLevel

#: The layers the surface is counted from.
INPUTS = (
    "risk_sources", "hazards", "accidents", "accident_segments", "buildings", "villages", "roads", "fire_lanes",
    "obstructions", "emergency_resources",
)  # fmt: skip


def surface_inputs(frames: dict[str, gpd.GeoDataFrame], fire_times_s: pd.Series | None = None) -> SurfaceInputs:
    """Grade the risk sources both ways and time the nearest fire engine to every building, today's blockages in
    (`fire_times_s` when a fire run has just timed them: `FireRun.response.buildings["time_blocked_any_s"]`)."""
    sources, buildings = frames["risk_sources"], frames["buildings"]
    graded = grade(sources, frames["villages"])
    level = graded["level"].where(graded["level"].notna(), sources["level"].astype("string"))
    if fire_times_s is None:
        response = fire_response(
            frames["roads"], frames["fire_lanes"], frames["obstructions"], frames["emergency_resources"], buildings,
            villages=frames["villages"],
        )  # fmt: skip
        fire_times_s = response.buildings["time_blocked_any_s"]
    return SurfaceInputs(
        risk_sources=sources,
        graded_levels=level,
        major_grades=assess(sources, buildings)["grade"],
        hazards=frames["hazards"],
        accidents=frames["accidents"],
        accident_segments=frames["accident_segments"],
        buildings=buildings,
        fire_times_s=fire_times_s,
        villages=frames["villages"],
    )


def surface(
    layers: Layers, as_of: date, rules: SurfaceRules | None = None, *, fire_times_s: pd.Series | None = None
) -> tuple[RiskSurface, gpd.GeoDataFrame]:
    """Compute the surface as of `as_of` and replace the risk_surface layer with it; `fire_times_s` as in
    `surface_inputs`, so a fire run just made need not be made again."""
    rules = rules or SurfaceRules()
    frames = {name: layers.read(LAYERS[name]) for name in INPUTS}
    result = risk_surface(surface_inputs(frames, fire_times_s), as_of, rules)
    frame = surface_frame(result)
    layers.replace(LAYERS["risk_surface"], frame)
    return result, frame


def surface_frame(result: RiskSurface) -> gpd.GeoDataFrame:
    """The hexagons as risk_surface features, highest score first, with each component's part in `factors`."""
    layer = LAYERS["risk_surface"]
    stamp = json.dumps({"as_of": result.as_of.isoformat(), **result.rules.as_dict()}, ensure_ascii=False)
    cells = result.cells
    props = [
        layer.properties(
            cell=r["cell"],
            village_code=None if pd.isna(r["village_code"]) else r["village_code"],
            score=round(float(r["score"]), 2),
            level=r["level"],
            rank=rank,
            name=f"综合风险第 {rank} 位（{SurfaceLevel(r['level']).label}）",
            risk_sources=round(float(r["risk_sources"]), 3),
            hazards=round(float(r["hazards"]), 3),
            accidents=round(float(r["accidents"]), 3),
            blackspots=round(float(r["blackspots"]), 3),
            fire_gaps=int(round(r["fire_gaps"])),
            population=int(round(r["population"])),
            factors=json.dumps(factors(r, result.rules), ensure_ascii=False),
            parameters=stamp,
        )
        for rank, (_, r) in enumerate(cells.iterrows(), start=1)
    ]
    return frame_from_properties(layer, props, list(cells.geometry), fids=range(1, len(props) + 1))


def factors(row: pd.Series, rules: SurfaceRules) -> list[dict[str, float | str]]:
    """Each component's raw value, share of the largest, weight and the points it adds, and why in Chinese."""
    total = sum(rules.weight(c) for c in COMPONENTS)
    out = []
    for c, label in COMPONENTS.items():
        value, norm, weight = float(row[c]), float(row[f"{c}_norm"]), rules.weight(c)
        out.append(
            {
                "factor": c,
                "label": label,
                "value": round(value, 3),
                "normalised": round(norm, 4),
                "weight": weight,
                "points": round(float(row[f"{c}_points"]), 2),
                "reason": f"{value:g}，为最高格的 {norm:.0%}，权重占 {weight / total:.0%}",
            }
        )
    return out
