"""Risk sources graded over HTTP: GB 18218 major hazard sources with the whole calculation, four-colour levels.

Computed on request from the layers the service holds (milliseconds for a town), so they always match the data.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Query, Response

from analysis.incident_report import DEFAULT_RADII_M, MAX_RADII, IncidentContext, check_radii, incident_report
from analysis.major_hazard import assess
from analysis.risk_grading import grade, village_summary
from analysis.risk_register import register_workbook
from analysis.risk_runs import surface
from analysis.risk_surface import COMPONENTS, SurfaceRules, rank_from_cells
from api.access import PUBLIC, TownOffice
from api.auth import CurrentUser, Viewer
from api.errors import InvalidParameter
from api.params import SettingsDep, check_in_area
from api.responses import XLSX, sends
from api.routes.analysis import AsOf, Served, stored_parameters
from api.routes.ogc import CatalogDep
from api.tables import records
from ledger.roles import visible_fids

router = APIRouter(prefix="/analysis/risk", tags=["analysis 分析"])


def major_hazards(cat) -> pd.DataFrame:
    """GB 18218 for every risk source with an inventory, the exposed people counted from the buildings layer."""
    return assess(cat["risk_sources"].frame, cat["buildings"].frame)


@router.get(
    "/major-hazards",
    summary="GB 18218-2018: S, exposed people, α, R and the grade of every site",
    dependencies=[PUBLIC],
)
def get_major_hazards(cat: CatalogDep) -> dict[str, Any]:
    """Each substance's q, Q and β with where they came from, and the calculation in words."""
    table = major_hazards(cat)
    major = table[table["major"]]
    return {"major": [int(f) for f in major.index], "sources": records(table)}


@router.get(
    "/grades",
    summary="Four-colour risk levels by LEC or LS, and the count of each colour per village",
    dependencies=[PUBLIC],
)
def get_grades(cat: CatalogDep) -> dict[str, Any]:
    """The rule applied to each source, and where it disagrees with the level on record."""
    graded = grade(cat["risk_sources"].frame, cat["villages"].frame)
    villages = village_summary(graded, cat["villages"].frame)
    return {"sources": records(graded), "villages": records(villages, index=False)}


@router.get(
    "/register.xlsx",
    summary="The graded register: major hazard sources and every risk source's level",
    **sends(XLSX, description="重大危险源清单 and the four-colour register"),
)
def register_xlsx(cat: CatalogDep, user: CurrentUser) -> Response:
    """重大危险源清单 with grades and responsible units, the four-colour register, and the villages ranked by the
    stored composite surface with its weights."""
    cells, villages = cat["risk_surface"].frame, cat["villages"].frame
    stamp = stored_parameters(cells)
    rules = None if stamp is None else SurfaceRules.from_dict(stamp)
    ranking = None if rules is None else rank_from_cells(cells, villages, rules)
    book = register_workbook(cat["risk_sources"].frame, cat["buildings"].frame, villages, ranking=ranking, rules=rules)
    return Response(book, media_type=XLSX, headers={"Content-Disposition": 'attachment; filename="risk-register.xlsx"'})


@router.get("/incident", summary="What is near an incident: risk sources, people exposed, rescue by road, shelters")
def get_incident(
    cat: CatalogDep,
    settings: SettingsDep,
    user: Viewer,
    lon: Annotated[float, Query(ge=-180, le=180, description="incident longitude, WGS 84")],
    lat: Annotated[float, Query(ge=-90, le=90, description="incident latitude, WGS 84")],
    radius_m: Annotated[
        list[float] | None,
        Query(description=f"radii in metres, repeatable, at most {MAX_RADII} (default {DEFAULT_RADII_M})"),
    ] = None,
) -> dict[str, Any]:
    """The emergency officer's first screen in one call: risk sources within each radius with their four-colour
    level, GB 18218 grade and substances; residents, buildings and old settlements within each radius; the quickest
    fire station, micro station, clinics and rescue team by road with today's blockages; the nearest shelters; and,
    for a signed-in viewer, the open hazards they may see within the largest radius."""
    check_in_area(lon, lat, settings)
    try:
        radii = check_radii(radius_m)
    except ValueError as exc:
        raise InvalidParameter(f"radius_m: {exc}") from None
    hazards = None if user is None else visible_fids(user, cat["hazards"].frame)
    return incident_report(cat, IncidentContext.served(cat), lon, lat, radii, hazards=hazards)


Weights = Annotated[
    list[str] | None,
    Query(description=f"component=weight, repeatable; components: {', '.join(COMPONENTS)} (default weights otherwise)"),
]


@router.post("/surface", summary="Compute the composite risk surface (H3 hexagons) and store it as risk_surface")
def run_surface(
    cat: CatalogDep, settings: SettingsDep, user: TownOffice, as_of: AsOf = None, weight: Weights = None
) -> dict[str, Any]:
    """Risk sources, open hazards, crashes, black spots, fire-coverage gaps and people counted per hexagon, scored
    with the weights given, stored for the emergency view; the villages ranked by the same formula."""
    try:
        rules = SurfaceRules().with_weights(weight or [])
    except ValueError as exc:
        raise InvalidParameter(str(exc)) from None
    day = as_of or date.today()
    result, frame = surface(Served(cat, settings), day, rules)
    return _surface_json(frame, result.villages, result.rules.as_dict(), day.isoformat())


@router.get(
    "/surface",
    summary="The stored composite risk surface: its weights, the top hexagons, villages ranked",
    dependencies=[PUBLIC],
)
def get_surface(cat: CatalogDep, top: Annotated[int, Query(ge=1, le=500)] = 20) -> dict[str, Any]:
    """Read from the risk_surface layer the map shows; the whole layer is at /collections/risk_surface/items."""
    frame = cat["risk_surface"].frame
    stamp = stored_parameters(frame)
    if stamp is None:
        return {"as_of": None, "rules": None, "cells": 0, "top": [], "villages": []}
    rules = SurfaceRules.from_dict(stamp)
    villages = rank_from_cells(frame, cat["villages"].frame, rules)
    return _surface_json(frame, villages, rules.as_dict(), stamp.get("as_of"), top)


def _surface_json(frame, villages: pd.DataFrame, rules: dict, as_of: str | None, top: int = 20) -> dict[str, Any]:
    shown = frame.drop(columns=["parameters"]).sort_values("rank").head(top)
    return {
        "as_of": as_of,
        "rules": rules,
        "cells": len(frame),
        "top": records(shown.drop(columns=shown.geometry.name)),
        "villages": records(villages, index=False),
    }
