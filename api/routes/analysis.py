"""Analyses over HTTP: run the road-safety analyses (town office only) and read what they stored.

Each run writes its derived layer with the parameters that produced it and swaps it into the catalogue at once, so
the OGC API and the map serve the new result on the next request.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, Depends, Query, Response

from analysis import runs
from analysis.budget import BudgetRules, Plan, local_rules, parse_settings, plan
from analysis.intersections import ExtractRules
from analysis.nkde import BANDWIDTH_M, LIXEL_M, KdeParams
from analysis.plan_export import plan_geojson, plan_workbook
from analysis.priority import score
from analysis.screening import Rules
from api.access import PUBLIC, TownOffice
from api.auth import CurrentUser
from api.catalog import Catalog, LayerData
from api.errors import InvalidParameter
from api.params import SettingsDep
from api.responses import GEOJSON, XLSX, sends
from api.routes.ogc import CatalogDep
from geo.network import NetworkParams
from layers import Layer
from store import open_store

router = APIRouter(prefix="/analysis", tags=["analysis 分析"])

AsOf = Annotated[date | None, Query(description="count the three years before this day (default: today)")]
Budget = Annotated[float, Query(description="the money available, yuan", ge=0)]
Costs = Annotated[list[str] | None, Query(description="local unit costs, measure=yuan, e.g. flashing_light=18000")]
Cmfs = Annotated[list[str] | None, Query(description="local crash modification factors, measure=CMF")]
Measures = Annotated[list[str] | None, Query(description="only these measures (default: all)")]


class Served:
    """A run's (or an import's) inputs from the layers being served, its result written through the store and served
    at once.

    Reading the file again would mean GDAL opening it under the service's sqlite3 connections, which two SQLite
    libraries in one process cannot share safely; the catalogue already holds every layer as stored.
    """

    def __init__(self, cat: Catalog, settings) -> None:
        self.cat = cat
        self.store = open_store(settings.location)

    def read(self, layer: Layer):
        """The layer as the service holds it."""
        return self.cat[layer.id].frame.copy()

    def has(self, layer: Layer) -> bool:
        """Every declared layer is served."""
        return layer.id in self.cat

    def replace(self, layer: Layer, frame) -> None:
        """Store the result, then serve it."""
        self.store.replace(layer, frame)
        self.cat.replace(layer.id, LayerData.build(layer, frame))

    def append(self, layer: Layer, frame) -> list[int]:
        """Store new rows (an import), then serve them with the old; their new fids."""
        fids = self.store.append(layer, frame)
        added = frame.set_axis(pd.Index(fids, dtype="int64", name="fid"))
        served = self.cat[layer.id].frame
        self.cat.replace(layer.id, LayerData.build(layer, pd.concat([served, added[served.columns]])))
        return fids


def _records(frame) -> list[dict[str, Any]]:
    """A stored layer's attributes as JSON-ready records, fid included, floats exact.

    Not api.tables.records: pandas' JSON encoder keeps at most 15 digits, and these answers have always had them all.
    """
    records = frame.drop(columns=frame.geometry.name).reset_index().to_dict(orient="records")
    return [{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in r.items()} for r in records]


def stored_parameters(frame) -> Any:
    """The JSON the run stored with its layer (the same in every row), or None for an empty or unstamped layer."""
    if frame.empty or "parameters" not in frame or frame["parameters"].dropna().empty:
        return None
    return json.loads(frame["parameters"].dropna().iloc[0])


@router.post("/intersections", summary="Extract the at-grade intersections from the roads and store them")
def run_intersections(
    cat: CatalogDep,
    settings: SettingsDep,
    user: TownOffice,
    consolidate_m: Annotated[float, Query(description="junction nodes this close are one intersection", gt=0)] = 15.0,
    snap_m: Annotated[float, Query(description="a dangling end this close to a road joins it", ge=0)] = 2.0,
) -> dict[str, Any]:
    """Noding, snapping and consolidation, then classes, skew, 穿镇, sight triangles and 坡改平 for each."""
    try:
        rules = ExtractRules(network=NetworkParams(snap_m=snap_m, consolidate_m=consolidate_m))
    except ValueError as exc:
        raise InvalidParameter(str(exc)) from None
    extraction = runs.intersections(Served(cat, settings), rules)
    return {**extraction.report, "repairs_text": extraction.repairs, "parameters": extraction.parameters}


@router.get(
    "/intersections", summary="The stored intersections: flags and the extraction parameters", dependencies=[PUBLIC]
)
def get_intersections(cat: CatalogDep) -> dict[str, Any]:
    """Counts and the intersections a planner looks at first: sight triangles blocked, steep minor approaches."""
    frame = cat["intersections"].frame
    return {
        "count": len(frame),
        "sight_obstructed": [int(f) for f in frame.index[frame["sight_obstructed"].fillna(False).astype(bool)]],
        "slope_fix_needed": [int(f) for f in frame.index[frame["slope_fix_needed"].fillna(False).astype(bool)]],
        "parameters": stored_parameters(frame),
    }


@router.post("/blackspots", summary="Screen the accidents for 事故多发点段 and store the result")
def run_blackspots(cat: CatalogDep, settings: SettingsDep, user: TownOffice, as_of: AsOf = None) -> dict[str, Any]:
    """The town office runs it; the accident_segments layer is replaced and served at once."""
    day = as_of or date.today()
    result, _ = runs.blackspots(Served(cat, settings), day)
    return {
        "as_of": day.isoformat(),
        "rules": asdict(Rules()),
        "found": [
            {
                "kind": f.kind,
                "grade": f.grade,
                "intersection_fid": f.intersection_fid,
                "route_code": f.route_code,
                "road_type": f.road_type,
                "window_m": f.window_m,
                "start_m": f.start_m,
                "end_m": f.end_m,
                "casualty_crashes": f.casualty,
                "fatal_crashes": f.fatal,
                "epdo": f.epdo,
                "eb_excess": f.eb_excess,
                "eb_rank": f.eb_rank,
                "accident_fids": f.accident_fids,
            }
            for f in result.findings
        ],
        "unplaced_accident_fids": [u.fid for u in result.unplaced],
        "unplaced": [asdict(u) for u in result.unplaced],
        "notes": result.notes,
    }


@router.get("/blackspots", summary="The stored 事故多发点段", dependencies=[PUBLIC])
def get_blackspots(cat: CatalogDep) -> dict[str, Any]:
    """The accident_segments layer as stored, with the parameters each finding came from."""
    found = _records(cat["accident_segments"].frame)
    return {"count": len(found), "found": found}


@router.post("/nkde", summary="Network kernel density of the crashes, stored as the crash_density layer")
def run_nkde(
    cat: CatalogDep,
    settings: SettingsDep,
    user: TownOffice,
    as_of: AsOf = None,
    lixel_m: Annotated[float, Query(description="length of the road pieces (m)", ge=LIXEL_M[0], le=LIXEL_M[1])] = 50.0,
    bandwidth_m: Annotated[
        float, Query(description="kernel bandwidth along the roads (m)", ge=BANDWIDTH_M[0], le=BANDWIDTH_M[1])
    ] = 300.0,
    kernel: Literal["quartic", "triangular", "uniform", "epanechnikov"] = "quartic",
    method: Literal["simple", "discontinuous"] = "simple",
) -> dict[str, Any]:
    """Every crash of the three years counts once; lixels with any density are stored, in five classes."""
    try:
        params = KdeParams(lixel_m=lixel_m, bandwidth_m=bandwidth_m, kernel=kernel, method=method)
    except ValueError as exc:
        raise InvalidParameter(str(exc)) from None
    day = as_of or date.today()
    run = runs.crash_density(Served(cat, settings), day, params)
    per_km = run.result.density_per_km
    return {
        "as_of": day.isoformat(),
        "parameters": asdict(params),
        "crashes": run.crashes,
        "lixels": len(per_km),
        "stored": len(run.frame),
        "max_per_km": float(per_km.max()) if len(per_km) else 0.0,
        "unplaced_accident_fids": run.unplaced,
    }


@router.get(
    "/nkde", summary="The stored crash density: its parameters and the densest stretches", dependencies=[PUBLIC]
)
def get_nkde(cat: CatalogDep, top: Annotated[int, Query(ge=1, le=500)] = 20) -> dict[str, Any]:
    """The densest lixels first; the whole layer is at /collections/crash_density/items."""
    frame = cat["crash_density"].frame
    densest = frame.sort_values("density_per_km", ascending=False).head(top)
    return {"count": len(frame), "parameters": stored_parameters(frame), "densest": _records(densest)}


def plan_rules(cost: Costs = None, cmf: Cmfs = None, measure: Measures = None) -> BudgetRules:
    """The local costs, CMFs and measures every plan route takes, read and checked in one place."""
    try:
        return local_rules(parse_settings(cost or [], "cost"), parse_settings(cmf or [], "cmf"), measure)
    except ValueError as exc:
        raise InvalidParameter(str(exc)) from None


PlanRulesDep = Annotated[BudgetRules, Depends(plan_rules)]


def _plan(cat, budget: float, day: date, rules: BudgetRules) -> tuple[list, Plan]:
    intersections = cat["intersections"].frame
    priorities = score(intersections, cat["accidents"].frame, day)
    try:
        return priorities, plan(intersections, priorities, budget, rules)
    except ValueError as exc:
        raise InvalidParameter(str(exc)) from None


def _plan_json(priorities, chosen: Plan, day: date) -> dict[str, Any]:
    return {
        "as_of": day.isoformat(),
        "budget_yuan": chosen.budget_yuan,
        "total_cost_yuan": chosen.total_cost_yuan,
        "crashes_avoided_per_year": chosen.total_crashes_avoided_per_year,
        "candidates": len(priorities),
        "planned": [asdict(item) for item in chosen.items],
        "left_out": [asdict(item) for item in chosen.left_out],
        "notes": list(chosen.notes),
    }


@router.post("/plan", summary="Score the candidates, plan 千灯万带 measures within the budget, store the plan")
def run_plan(
    cat: CatalogDep,
    settings: SettingsDep,
    user: TownOffice,
    budget: Budget,
    rules: PlanRulesDep,
    as_of: AsOf = None,
) -> dict[str, Any]:
    """The treatment_plan layer is replaced: every candidate with its score and factors, the funded ones marked."""
    day = as_of or date.today()
    try:
        run = runs.treatment_plan(Served(cat, settings), budget, day, budget_rules=rules)
    except ValueError as exc:
        raise InvalidParameter(str(exc)) from None
    return _plan_json(run.priorities, run.plan, day)


@router.get("/plan", summary="The stored 千灯万带 plan, ranked, with each factor's points", dependencies=[PUBLIC])
def get_plan(cat: CatalogDep) -> dict[str, Any]:
    """Every scored candidate in priority order; `planned` marks those the budget funds."""
    frame = cat["treatment_plan"].frame.sort_values("rank")
    records = _records(frame)
    for r in records:
        r["factors"] = json.loads(r["factors"]) if r.get("factors") else []
        r.pop("parameters", None)
    return {"count": len(records), "parameters": stored_parameters(frame), "candidates": records}


@router.get(
    "/plan.xlsx",
    summary="A budget plan as an Excel workbook (computed for the given budget)",
    **sends(XLSX, description="千灯万带 plan workbook"),
)
def plan_xlsx(
    cat: CatalogDep,
    user: CurrentUser,
    budget: Budget,
    rules: PlanRulesDep,
    as_of: AsOf = None,
) -> Response:
    """Plan, left-out candidates, every candidate's factors, and the parameters with their sources."""
    day = as_of or date.today()
    priorities, chosen = _plan(cat, budget, day, rules)
    name = f"qiandeng-wandai-plan-{day.isoformat()}.xlsx"
    return Response(
        plan_workbook(chosen, priorities),
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get(
    "/plan.geojson",
    summary="A budget plan as GeoJSON (computed for the given budget)",
    **sends(GEOJSON, description="One point per planned intersection"),
)
def plan_geo(
    cat: CatalogDep,
    user: CurrentUser,
    budget: Budget,
    rules: PlanRulesDep,
    as_of: AsOf = None,
) -> Response:
    """One point per planned intersection with its measures, cost and expected benefit."""
    day = as_of or date.today()
    _, chosen = _plan(cat, budget, day, rules)
    return Response(plan_geojson(chosen), media_type=GEOJSON)
