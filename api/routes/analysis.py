"""Analyses over HTTP: run the accident-prone spot and segment screening, and read what it found."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query

from analysis.screening import Rules, screen, to_frame
from api.auth import CurrentUser
from api.catalog import LayerData
from api.params import SettingsDep
from api.routes.ogc import CatalogDep
from layers import LAYERS
from ledger.roles import Forbidden, Role
from store import open_store

router = APIRouter(prefix="/analysis", tags=["analysis 分析"])


def _summary(findings: list, unplaced: list[int], as_of: date) -> dict[str, Any]:
    return {
        "as_of": as_of.isoformat(),
        "rules": asdict(Rules()),
        "found": [
            {
                "kind": f.kind,
                "grade": f.grade,
                "intersection_fid": f.intersection_fid,
                "route_code": f.route_code,
                "start_m": f.start_m,
                "end_m": f.end_m,
                "casualty_crashes": f.casualty,
                "fatal_crashes": f.fatal,
                "accident_fids": f.accident_fids,
            }
            for f in findings
        ],
        "unplaced_accident_fids": unplaced,
    }


@router.post("/blackspots", summary="Screen the accidents for 事故多发点段 and store the result")
def run_blackspots(
    cat: CatalogDep,
    settings: SettingsDep,
    user: CurrentUser,
    as_of: Annotated[date | None, Query(description="count the three years before this day (default: today)")] = None,
) -> dict[str, Any]:
    """The town office runs it; the accident_segments layer is replaced and served at once."""
    if user.role != Role.ADMIN:
        raise Forbidden("只有镇安办可以运行分析 (only the town office runs analyses)")
    day = as_of or date.today()
    accidents = cat["accidents"].frame
    findings, unplaced = screen(accidents, cat["intersections"].frame, cat["roads"].frame, day)
    frame = to_frame(findings, accidents, day)
    open_store(str(settings.data)).replace(LAYERS["accident_segments"], frame)
    cat.replace("accident_segments", LayerData.build(LAYERS["accident_segments"], frame))
    return _summary(findings, unplaced, day)


@router.get("/blackspots", summary="The stored 事故多发点段")
def get_blackspots(cat: CatalogDep) -> dict[str, Any]:
    """The accident_segments layer as stored, with the parameters each finding came from."""
    frame = cat["accident_segments"].frame
    records = frame.drop(columns=frame.geometry.name).reset_index().to_dict(orient="records")
    found = [{k: str(v) if hasattr(v, "isoformat") else v for k, v in r.items()} for r in records]
    return {"count": len(found), "found": found}
