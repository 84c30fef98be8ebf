"""Each road analysis run: read its inputs, compute, write the derived layer, say what was done.

The command line (over a store) and the HTTP API (over the layers it serves, writing through the store) both run
analyses through these functions, so a result is the same whichever way it was asked for, and is stored with the
parameters that produced it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date
from typing import Protocol

import geopandas as gpd
import numpy as np

from analysis.budget import BudgetRules, Plan, plan
from analysis.intersections import Extraction, ExtractRules, extract, road_attributes
from analysis.nkde import KdeParams, NkdeResult, nkde
from analysis.priority import FACTOR_LABELS, Priority, PriorityRules, score
from analysis.priority import parameters as priority_parameters
from analysis.screening import Rules, ScreeningResult, in_window, run_screening, to_frame
from geo.crs import LOCAL_METRIC, WGS84, transform_geometries
from geo.network import build_network
from layers import LAYERS, Layer
from layers.frames import frame_from_properties


class Layers(Protocol):
    """Where a run reads its inputs and writes its result: a Store, or the service's catalogue in front of one."""

    def read(self, layer: Layer) -> gpd.GeoDataFrame:
        """All features of a layer, fid as index."""
        ...

    def replace(self, layer: Layer, frame: gpd.GeoDataFrame) -> None:
        """Write the layer anew."""
        ...


def intersections(
    layers: Layers, rules: ExtractRules = ExtractRules(), roads: gpd.GeoDataFrame | None = None
) -> Extraction:
    """Extract the intersections from the roads (or another road layer) and replace the intersections layer."""
    extraction = extract(
        layers.read(LAYERS["roads"]) if roads is None else roads,
        buildings=layers.read(LAYERS["buildings"]),
        villages=layers.read(LAYERS["villages"]),
        surveyed=layers.read(LAYERS["intersections"]),
        rules=rules,
    )
    layers.replace(LAYERS["intersections"], extraction.frame)
    return extraction


def blackspots(layers: Layers, as_of: date, rules: Rules = Rules()) -> tuple[ScreeningResult, gpd.GeoDataFrame]:
    """Screen the crashes for 事故多发点段 and replace the accident_segments layer."""
    accidents = layers.read(LAYERS["accidents"])
    result = run_screening(accidents, layers.read(LAYERS["intersections"]), layers.read(LAYERS["roads"]), as_of, rules)
    frame = to_frame(result.findings, accidents, as_of, rules)
    layers.replace(LAYERS["accident_segments"], frame)
    return result, frame


@dataclass
class TreatmentRun:
    """The scored candidates, the budget plan over them, and the stored treatment_plan layer."""

    priorities: list[Priority]
    plan: Plan
    frame: gpd.GeoDataFrame
    as_of: date


def treatment_plan(
    layers: Layers,
    budget_yuan: float,
    as_of: date,
    rules: PriorityRules = PriorityRules(),
    budget_rules: BudgetRules = BudgetRules(),
) -> TreatmentRun:
    """Score the candidate intersections, plan measures within the budget, and replace the treatment_plan layer."""
    intersections = layers.read(LAYERS["intersections"])
    priorities = score(intersections, layers.read(LAYERS["accidents"]), as_of, rules)
    chosen = plan(intersections, priorities, budget_yuan, budget_rules)
    frame = _plan_frame(intersections, priorities, chosen, as_of, rules, budget_rules)
    layers.replace(LAYERS["treatment_plan"], frame)
    return TreatmentRun(priorities, chosen, frame, as_of)


def _plan_frame(intersections, priorities, chosen: Plan, as_of, rules, budget_rules) -> gpd.GeoDataFrame:
    """Every candidate as a point with its score and factors; those the plan funds carry their measures and cost."""
    layer = LAYERS["treatment_plan"]
    items = {item.fid: item for item in chosen.items}
    parameters = json.dumps(
        {
            "as_of": as_of.isoformat(),
            "budget_yuan": chosen.budget_yuan,
            "priority": {p["name"]: p["value"] for p in priority_parameters(rules)},
            "treatments": [asdict(t) for t in budget_rules.treatments],
        },
        ensure_ascii=False,
        default=str,
    )
    props, geoms = [], []
    for rank, p in enumerate(priorities, start=1):
        item = items.get(p.fid)
        factors = [
            {"factor": k, "label": FACTOR_LABELS[k], "points": p.factors[k], "reason": p.explanations.get(k, "")}
            for k in FACTOR_LABELS
            if k in p.factors
        ]
        props.append(
            layer.properties(
                rank=rank,
                intersection_id=p.fid,
                name=p.name,
                planned=item is not None,
                measures=list(item.measures) if item else [],
                cost_yuan=item.cost_yuan if item else 0,
                crashes_avoided=round(item.crashes_avoided_per_year, 3) if item else 0,
                score=p.score,
                factors=json.dumps(factors, ensure_ascii=False),
                signal_warranted=p.warranted,
                parameters=parameters,
            )
        )
        geoms.append(intersections.geometry.loc[p.fid])
    return frame_from_properties(layer, props, geoms, fids=range(1, len(props) + 1))


@dataclass
class DensityRun:
    """The network kernel density, the crashes it could not place on a road, and the stored crash_density layer."""

    result: NkdeResult
    unplaced: list[int]
    frame: gpd.GeoDataFrame
    crashes: int


def crash_density(
    layers: Layers,
    as_of: date,
    params: KdeParams = KdeParams(lixel_m=50.0),
    *,
    years: int = Rules().years,
    progress: Callable[[int, int], None] | None = None,
) -> DensityRun:
    """Crash density along the roads over the `years` before `as_of`; lixels with any density replace the layer.

    Every crash in the window counts once, whatever its severity, so the map reads as "crashes per km".
    The roads are noded first (crossing lines split, near-misses joined), so density flows through junctions.
    """
    roads = layers.read(LAYERS["roads"])
    accidents = layers.read(LAYERS["accidents"])
    crashes = accidents[in_window(accidents, as_of, years).to_numpy(dtype=bool)]
    attrs = road_attributes(roads)
    lines = transform_geometries(roads.geometry.to_numpy(), WGS84, LOCAL_METRIC)
    net = build_network(lines, attrs["grade_separated"].to_numpy())
    points = transform_geometries(crashes.geometry.to_numpy(), WGS84, LOCAL_METRIC)
    result = nkde(net.edges, points, params, progress=progress)
    frame = _density_frame(result, net.edge_source, roads.index.to_numpy(), params, as_of, years)
    layers.replace(LAYERS["crash_density"], frame)
    unplaced = [int(crashes.index[i]) for i in result.unplaced]
    return DensityRun(result, unplaced, frame, len(crashes))


def _density_frame(result: NkdeResult, edge_source, road_fids, params: KdeParams, as_of: date, years: int):
    """Lixels with a density above zero, in five classes by quintile, as the crash_density layer (lon/lat)."""
    layer = LAYERS["crash_density"]
    per_km = result.density_per_km
    keep = np.flatnonzero(per_km > 0)
    levels = np.ones(len(keep), dtype=int)
    if len(keep):
        cuts = np.quantile(per_km[keep], [0.2, 0.4, 0.6, 0.8])
        levels = 1 + np.searchsorted(cuts, per_km[keep], side="right")
        levels = np.minimum(levels, 5)
    parameters = json.dumps({"as_of": as_of.isoformat(), "years": years, **asdict(params)}, ensure_ascii=False)
    props = [
        layer.properties(
            road_id=int(road_fids[edge_source[result.lixel_edge[j]]]),
            start_m=round(float(result.lixel_start_m[j]), 1),
            end_m=round(float(result.lixel_end_m[j]), 1),
            density_per_km=float(per_km[j]),
            level=str(level),
            parameters=parameters,
        )
        for j, level in zip(keep, levels, strict=True)
    ]
    geoms = transform_geometries(result.geometry[keep], LOCAL_METRIC, WGS84) if len(keep) else []
    return frame_from_properties(layer, props, list(geoms), fids=range(1, len(props) + 1))
