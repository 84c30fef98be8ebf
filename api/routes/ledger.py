"""The rectification ledger over HTTP: hazards as each user may see them, workflow steps, and their history.

Every route needs a signed-in user and checks the role and the village or unit before reading or writing. A step
carries the version the client last saw (in the body or as `If-Match`); if the hazard has moved on, the answer is 409
and nothing is written.
"""

from __future__ import annotations

import threading
import uuid
from datetime import date
from typing import Annotated, Any, Literal
from urllib.parse import quote

import pandas as pd
from fastapi import APIRouter, File, Form, Header, Path, Query, Request, Response, UploadFile
from pydantic import BaseModel, Field, ValidationError
from shapely.geometry import Point

from api.auth import CurrentUser
from api.catalog import Catalog, LayerData
from api.errors import InvalidParameter
from api.params import MAX_ID, SettingsDep
from api.responses import IMAGES, XLSX, sends
from api.routes.ogc import CatalogDep
from api.tables import records
from api.uploads import read_photo
from layers import LAYERS
from layers.frames import frame_from_properties, properties_of
from layers.ledger import HazardProperties
from layers.vocab import HazardStatus
from ledger.lists import due_within, hazard_table, problem_list, statistics, workbook
from ledger.roles import STEPS_BY_ROLE, Forbidden, Role, check_create, check_move, check_read, check_step, visible_fids
from ledger.workflow import Action, allowed, is_overdue
from store.ledger import LedgerStore

router = APIRouter(prefix="/ledger", tags=["ledger 隐患台账"])
FidPath = Annotated[int, Path(ge=1, le=MAX_ID, description="Hazard id (fid)")]


class StepRequest(BaseModel):
    """One workflow step: the action, the version it is based on, and the fields the action takes."""

    action: Action
    version: int | None = Field(None, ge=0, description="the version last read; or send If-Match")
    fields: dict[str, Any] = Field(default_factory=dict, description="e.g. {'deadline': '2026-06-01'}")
    reason: str | None = Field(None, max_length=500)
    note: str | None = Field(None, max_length=500)


class NewHazard(BaseModel):
    """A hazard to register: where it is, what it is, who answers for it. The village follows from the location."""

    lon: float = Field(description="longitude, WGS 84 / CGCS2000 (checked against the service area)")
    lat: float = Field(description="latitude")
    sector: str
    description: str
    channel: str
    responsible_unit: str
    responsible_person: str
    discovered_on: date | None = None
    unit: str | None = None
    basis: str | None = None
    code: str | None = Field(None, description="left out: one is assigned")
    linked_layer: str | None = None
    linked_fid: int | None = None


def _ledger(request: Request) -> LedgerStore:
    return request.app.state.ledger


def _view(cat: Catalog, user: Any, fid: int, props: HazardProperties, version: int) -> dict[str, Any]:
    today = date.today()
    actions = [a for a in allowed(props.status) if a in STEPS_BY_ROLE[user.role]]
    return {
        "id": fid,
        "version": version,
        "overdue": is_overdue(props, today),
        "status_label": props.status.label,
        "actions": [{"action": a.value, "label": a.label} for a in actions],
        "properties": props.model_dump(mode="json"),
    }


def _etag(version: int) -> str:
    return f'"v{version}"'


@router.get("/hazards", summary="Hazards the signed-in user may see")
def list_hazards(
    cat: CatalogDep,
    user: CurrentUser,
    status: Annotated[HazardStatus | None, Query(description="only this status")] = None,
    overdue: Annotated[bool | None, Query(description="only overdue (true) or not overdue (false)")] = None,
) -> dict[str, Any]:
    """Open and closed hazards within the user's remit, newest first, with overdue flags."""
    frame = cat["hazards"].frame
    mine = frame.loc[visible_fids(user, frame)]
    today = date.today()
    items = []
    for fid, record in zip(mine.index, mine.drop(columns=mine.geometry.name).to_dict(orient="records"), strict=True):
        props = HazardProperties.model_validate(properties_of(cat["hazards"].layer, record))
        if status is not None and props.status != status:
            continue
        late = is_overdue(props, today)
        if overdue is not None and late != overdue:
            continue
        items.append({"id": int(fid), "overdue": late, **props.model_dump(mode="json")})
    items.sort(key=lambda h: h["discovered_on"], reverse=True)
    return {"count": len(items), "hazards": items}


@router.post("/hazards", status_code=201, summary="Register a hazard (登记)")
def register_hazard(
    request: Request, response: Response, cat: CatalogDep, settings: SettingsDep, user: CurrentUser, new: NewHazard
) -> dict[str, Any]:
    """Check the location, derive the village, check the user's remit, then store it with its first event."""
    point = Point(new.lon, new.lat)
    village_code = cat.village_code_at(new.lon, new.lat, settings.region_bbox)
    if new.linked_layer is not None and (
        new.linked_layer not in cat or new.linked_fid not in cat[new.linked_layer].index
    ):
        raise InvalidParameter(f"关联要素不存在 (no feature {new.linked_fid} in layer {new.linked_layer!r})")
    fields = new.model_dump(exclude={"lon", "lat"}, exclude_none=True)
    if user.role == Role.UNIT:
        fields["unit"] = user.unit  # a unit registers its own hazards (自查自报)
        fields.setdefault("channel", "self_inspection")
    fields |= {
        "village_code": village_code,
        "discovered_on": new.discovered_on or date.today(),
        "code": new.code or f"H{date.today():%Y}-{uuid.uuid4().hex[:8].upper()}",
        "status": HazardStatus.REGISTERED,
    }
    try:
        props = HazardProperties.model_validate(fields)
    except ValidationError as exc:
        raise InvalidParameter("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())) from None
    check_create(user, props)
    fid, _ = _ledger(request).register(props, new.lon, new.lat, actor=user.actor)
    add_to_catalog(cat, fid, props, point)
    response.headers["ETag"] = _etag(1)
    response.headers["Location"] = f"/ledger/hazards/{fid}"
    return _view(cat, user, fid, props, 1)


def _table(cat: Catalog, user: Any) -> pd.DataFrame:
    """The hazards within the user's remit as the lists read them (village names, overdue flags)."""
    frame = cat["hazards"].frame
    mine = frame.loc[visible_fids(user, frame)]
    villages = dict(zip(cat["villages"].frame["code"], cat["villages"].frame["name"], strict=True))
    return hazard_table(mine, villages, date.today())


@router.get("/lists/overdue", summary="Overdue hazards (逾期)")
def overdue_list(cat: CatalogDep, user: CurrentUser) -> dict[str, Any]:
    """Hazards in rectification past their deadline, within the user's remit, as the problem list reads them."""
    table = _table(cat, user)
    rows = problem_list(table[table["overdue"]])
    return {"count": len(rows), "rows": records(rows, index=False)}


@router.get("/lists/due", summary="Hazards due within N days")
def due_list(
    cat: CatalogDep, user: CurrentUser, days: Annotated[int, Query(ge=0, le=365, description="days ahead")] = 7
) -> dict[str, Any]:
    """Hazards whose deadline falls between today and `days` days ahead."""
    rows = problem_list(due_within(_table(cat, user), date.today(), days))
    return {"days": days, "count": len(rows), "rows": records(rows, index=False)}


@router.get("/stats", summary="Statistics by village, sector, level or month")
def ledger_stats(
    cat: CatalogDep,
    user: CurrentUser,
    by: Annotated[Literal["village", "sector", "level", "month"], Query(description="how to group")] = "village",
) -> dict[str, Any]:
    """Found, closed, open, overdue, major and supervised hazards per group, within the user's remit."""
    return {"by": by, "rows": records(statistics(_table(cat, user), by), index=False)}


@router.get(
    "/export.xlsx",
    summary="The two lists (两个清单) as XLSX",
    **sends(XLSX, description="问题隐患清单, 制度措施清单, 责任单位汇总, 逾期, 7日内到期"),
)
def export_lists(cat: CatalogDep, user: CurrentUser) -> Response:
    """One workbook with Chinese headers, within the user's remit."""
    body = workbook(_table(cat, user), date.today())
    name = quote(f"隐患台账-{date.today():%Y%m%d}.xlsx")
    return Response(body, media_type=XLSX, headers={"Content-Disposition": f"attachment; filename*=UTF-8''{name}"})


@router.get("/hazards/{fid}", summary="One hazard, its version and the steps open to the user")
def get_hazard(request: Request, response: Response, cat: CatalogDep, user: CurrentUser, fid: FidPath) -> dict:
    """The hazard (403 outside the user's remit); the ETag is its version."""
    props, version = _ledger(request).hazard(fid)
    check_read(user, props)
    response.headers["ETag"] = _etag(version)
    return _view(cat, user, fid, props, version)


@router.post("/hazards/{fid}/steps", summary="Take a workflow step")
def take_step(
    request: Request,
    response: Response,
    cat: CatalogDep,
    user: CurrentUser,
    fid: FidPath,
    step: StepRequest,
    if_match: Annotated[str | None, Header(description='the ETag last read, e.g. "v3"')] = None,
) -> dict[str, Any]:
    """Check role and remit, then apply the step in one transaction; 409 when the version is stale."""
    version = step.version if step.version is not None else _version_from(if_match)
    ledger = _ledger(request)
    current, _ = ledger.hazard(fid)
    check_step(user, current, step.action)
    if user.role != Role.ADMIN:
        check_move(user, current.village_code, step.fields.get("village_code", current.village_code))
        if step.fields.get("unit", current.unit) != current.unit:
            raise Forbidden("只有镇安办可以改变隐患的所属单位 (only the town office can change a hazard's unit)")
    request_fields = {**step.fields}
    if step.reason:
        request_fields["reason"] = step.reason
    if step.note:
        request_fields["note"] = step.note
    new, version, event = ledger.apply(
        fid,
        version,
        step.action,
        request_fields,
        actor=user.actor,
        # The town office signs off at town level; banner- and city-supervised hazards wait for those levels.
        signed_off_by=user.signs_off_at,
    )
    _refresh(cat, fid, new)
    response.headers["ETag"] = _etag(version)
    body = _view(cat, user, fid, new, version)
    body["event"] = {"action": event.action.value, "from": event.from_status.value, "to": event.to_status.value}
    return body


@router.get("/hazards/{fid}/history", summary="Every step of a hazard, oldest first")
def hazard_history(request: Request, user: CurrentUser, fid: FidPath) -> dict[str, Any]:
    """The append-only history: who did what, when, from which status to which, what changed and why."""
    ledger = _ledger(request)
    props, version = ledger.hazard(fid)
    check_read(user, props)
    return {"id": fid, "version": version, "events": ledger.history(fid)}


@router.post("/hazards/{fid}/photos", status_code=201, summary="Add a before or after photo (整改前后照片)")
async def add_photo(
    request: Request,
    response: Response,
    user: CurrentUser,
    settings: SettingsDep,
    fid: FidPath,
    kind: Annotated[Literal["before", "after"], Form(description="before (整改前) or after (整改后)")],
    file: Annotated[UploadFile, File(description="JPEG, PNG or WebP")],
) -> dict[str, Any]:
    """Checked for type and size before anything is kept; recorded in the hazard's history."""
    ledger = _ledger(request)
    current, _ = ledger.hazard(fid)
    check_step(user, current, Action.EDIT)
    photo, data = await read_photo(file, settings.max_photo_bytes)
    photo_id, version = ledger.attach(fid, kind, photo, data, actor=user.actor)
    response.headers["ETag"] = _etag(version)
    return {"id": photo_id, "hazard_id": fid, "version": version, "media_type": photo.media_type}


@router.get("/hazards/{fid}/photos", summary="The photos of a hazard")
def list_photos(request: Request, user: CurrentUser, fid: FidPath) -> dict[str, Any]:
    """Kind, type, size, checksum, who and when; fetch each from /ledger/photos/{id}."""
    ledger = _ledger(request)
    props, _ = ledger.hazard(fid)
    check_read(user, props)
    return {"id": fid, "photos": ledger.photos(fid)}


@router.get("/photos/{photo_id}", summary="One photo", **sends(*IMAGES, description="The image"))
def get_photo(request: Request, user: CurrentUser, photo_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> Response:
    """The image itself, for users who may read its hazard."""
    ledger = _ledger(request)
    fid, media_type, data = ledger.photo(photo_id)
    check_read(user, ledger.hazard(fid)[0])
    return Response(data, media_type=media_type, headers={"Cache-Control": "private, max-age=3600"})


def _version_from(if_match: str | None) -> int:
    if not if_match:
        raise InvalidParameter('给出所依据的版本：请求体 version 或 If-Match 头 (send the version or If-Match: "vN")')
    text = if_match.strip().strip('"').removeprefix("W/").strip('"')
    if not text.startswith("v") or not text[1:].isdigit():
        raise InvalidParameter(f'If-Match 应为 "vN"，收到 {if_match!r} (If-Match must look like "v3")')
    return int(text[1:])


#: One change to the served ledger at a time, so two writes in flight cannot lose one another's row.
_serving = threading.Lock()


def add_to_catalog(cat: Catalog, fid: int, props: HazardProperties, point: Point) -> None:
    """Serve the new hazard at once on the maps and the OGC API. A new frame and index are swapped in together, so
    a request reading the layer meanwhile sees it whole, before or after, never an index ahead of its frame."""
    row = frame_from_properties(LAYERS["hazards"], [props], [point], fids=[fid])
    with _serving:
        data = cat["hazards"]
        cat.replace("hazards", LayerData.build(data.layer, pd.concat([data.frame, row[data.frame.columns]])))


def _refresh(cat: Catalog, fid: int, props: HazardProperties) -> None:
    """Keep the served copy (maps, OGC items) in step with the ledger: a changed copy swapped in, the index kept
    (a step moves no hazard)."""
    with _serving:
        data = cat["hazards"]
        frame = data.frame.copy()
        row = frame_from_properties(LAYERS["hazards"], [props], [frame.geometry.loc[fid]], fids=[fid])
        for name in row.columns.drop(row.geometry.name):
            frame.at[fid, name] = row.at[fid, name]
        cat.replace("hazards", LayerData(data.layer, frame, data.index))
