"""Fire-safety analyses over HTTP: run and store them (town office), or read any part of them as JSON or XLSX.

The reads compute from the layers the service holds (a second or two for a town), so they always match the data.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Query, Request, Response

from analysis import fire_runs
from api.access import PUBLIC, TownOffice
from api.catalog import FeatureNotFound
from api.errors import AlreadyRegistered
from api.params import SettingsDep
from api.responses import XLSX, sends
from api.routes.analysis import AsOf, Served
from api.routes.ledger import add_to_catalog
from api.routes.ogc import CatalogDep
from api.tables import records
from layers import Layer
from layers.ledger import HazardProperties

router = APIRouter(prefix="/analysis/fire", tags=["analysis 分析"])
#: Ledger codes of 一区一策 records: other hazards linked to a settlement (a blocked lane, say) are not plans.
PLAN_CODE = "YQYC-"


class _ReadOnly:
    """The served layers as a run's input, with nothing written: for answers computed on request."""

    def __init__(self, cat) -> None:
        self.cat = cat

    def read(self, layer: Layer):
        """The layer as the service holds it."""
        return self.cat[layer.id].frame.copy()

    def replace(self, layer: Layer, frame) -> None:
        """Reads never store."""


def _now(cat, as_of: date | None) -> fire_runs.FireRun:
    return fire_runs.fire(_ReadOnly(cat), as_of or date.today())


def _summary(run: fire_runs.FireRun) -> dict[str, Any]:
    cut = run.response.cut_off
    return {
        "as_of": run.as_of.isoformat(),
        "lanes": run.lanes.summary(),
        "cut_off_buildings": sorted({int(b) for b in cut["building_fid"]}),
        "cut_off_settlements": run.response.report["cut_off_settlements"],
        "blockages_to_clear": sorted({int(o) for fids in cut["obstruction_fids"] for o in fids}),
        "settlements_ranked": [
            {"fid": int(fid), "name": row["name"], "rank": int(row["rank"]), "score": float(row["score"])}
            for fid, row in run.separation.settlements.sort_values("rank").iterrows()
        ],
        "clusters": len(run.separation.clusters),
        "stored": {name: len(frame) for name, frame in run.frames.items()},
    }


@router.post("", summary="Run the fire analyses and store response bands, cut-off buildings and clusters")
def run_fire(cat: CatalogDep, settings: SettingsDep, user: TownOffice, as_of: AsOf = None) -> dict[str, Any]:
    """Lanes, who a blockage cuts off, response coverage, fire separation; three derived layers replaced."""
    return _summary(fire_runs.fire(Served(cat, settings), as_of or date.today()))


@router.get("", summary="The fire analyses' findings in brief", dependencies=[PUBLIC])
def get_fire(cat: CatalogDep, as_of: AsOf = None) -> dict[str, Any]:
    """Blocked lanes, cut-off buildings and settlements with the blockage to clear, settlements ranked."""
    return _summary(_now(cat, as_of))


@router.get(
    "/lanes",
    summary="Every fire lane: passability, obstructions, dead end, legal basis and party",
    dependencies=[PUBLIC],
)
def fire_lanes(cat: CatalogDep) -> dict[str, Any]:
    """Computed from the lanes and obstructions; disagreements with the surveyed status are listed."""
    lanes, table = fire_runs.lane_findings(_ReadOnly(cat))
    return {
        "lanes": records(table),
        "spacing_violations": records(lanes.spacing_frame(), index=False),
        "summary": lanes.summary(),
    }


@router.get(
    "/cut-off", summary="Buildings a blocked lane cuts off or puts beyond the response standard", dependencies=[PUBLIC]
)
def cut_off(cat: CatalogDep, as_of: AsOf = None) -> dict[str, Any]:
    """Each with the time before and after, the standard, and the obstruction whose clearing restores it."""
    rows = _now(cat, as_of).response.cut_off
    return {"count": len(rows), "cut_off": records(rows, index=False)}


@router.get(
    "/coverage",
    summary="Share of buildings, people, risk sources and old settlements within each band",
    dependencies=[PUBLIC],
)
def coverage(
    cat: CatalogDep,
    as_of: AsOf = None,
    scenario: Annotated[str, Query(pattern="^(blocked|clear)$", description="with today's blockages, or cleared")] = (
        "blocked"
    ),
) -> dict[str, Any]:
    """Per village and band (cumulative minutes), and the places outside every band."""
    run = _now(cat, as_of)
    table = run.response.coverage
    outside = run.response.outside
    return {
        "coverage": records(table[table["scenario"] == scenario], index=False),
        "outside": records(outside[outside["scenario"] == scenario], index=False),
    }


@router.get(
    "/settlements",
    summary="Old settlements ranked for rectification, with a 一区一策 draft each",
    dependencies=[PUBLIC],
)
def settlements(cat: CatalogDep, as_of: AsOf = None) -> dict[str, Any]:
    """Each factor's points, the explanation, and the draft plan that can be registered in the ledger."""
    found = fire_runs.settlement_findings(_ReadOnly(cat), as_of or date.today())
    table = found.settlements.sort_values("rank").reset_index()
    table = table.replace({np.nan: None})
    return {"settlements": records(table, index=False), "drafts": [d.to_dict() for d in found.drafts]}


@router.get(
    ".xlsx",
    summary="Every fire finding as one Excel workbook",
    **sends(XLSX, description="Fire findings"),
    dependencies=[PUBLIC],
)
def fire_xlsx(cat: CatalogDep, as_of: AsOf = None) -> Response:
    """Lanes, cut-off buildings, coverage, places outside, settlements ranked, drafts, clusters, block spacing."""
    run = _now(cat, as_of)
    name = f"fire-safety-{run.as_of.isoformat()}.xlsx"
    return Response(
        fire_runs.workbook(run), media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@router.post(
    "/settlements/{fid}/register",
    status_code=201,
    summary="Register a settlement's 一区一策 in the ledger (隐患台账), linked to the settlement",
)
def register_plan(fid: int, request: Request, cat: CatalogDep, user: TownOffice, as_of: AsOf = None) -> dict:
    """The draft becomes a hazard under rectification tracking: findings, measures, basis, deadline and the village
    committee as the responsible unit; a settlement with an open 一区一策 already gets 409 and nothing new."""
    settlements = cat["old_settlements"].frame
    if fid not in settlements.index:
        raise FeatureNotFound(f"没有编号为 {fid} 的老旧小区/老旧场所 (no old settlement {fid})")
    hazards = cat["hazards"].frame
    open_ = hazards[
        (hazards["linked_layer"] == "old_settlements")
        & (hazards["linked_fid"] == fid)
        & hazards["code"].str.startswith(PLAN_CODE)
        & ~hazards["status"].isin(["closed", "voided"])
    ]
    if len(open_):
        raise AlreadyRegistered(
            f"该老旧小区已有未销号的一区一策 {open_['code'].iloc[0]} (settlement {fid} already has an open plan)"
        )
    day = as_of or date.today()
    draft = next(d for d in fire_runs.settlement_findings(_ReadOnly(cat), day).drafts if d.linked_fid == fid)
    villages = cat["villages"].frame.set_index("code")
    code = draft.village_code or settlements.loc[fid, "village_code"]
    village = villages.loc[code] if code in villages.index else None
    point = settlements.geometry.loc[fid].representative_point()
    props = HazardProperties(
        code=f"{PLAN_CODE}{fid}-{day:%Y%m%d}",
        village_code=code,
        sector="fire",
        level="general",
        description=f"{draft.name}一区一策：{draft.findings_zh}"[:1000],
        basis=draft.basis[:200],
        discovered_on=day,
        channel="department_inspection",
        responsible_unit=f"{village['name']}村（居）民委员会" if village is not None else "镇安全生产办公室",
        responsible_person=str(village["official"]) if village is not None else user.actor[:30],
        measures=draft.plan_zh[:1000],
        deadline=draft.deadline,
        linked_layer="old_settlements",
        linked_fid=fid,
    )
    hazard_fid, _ = request.app.state.ledger.register(props, point.x, point.y, actor=user.actor)
    add_to_catalog(cat, hazard_fid, props, point)
    return {
        "hazard_fid": hazard_fid,
        "code": props.code,
        "deadline": props.deadline.isoformat(),
        "draft": draft.to_dict(),
    }
