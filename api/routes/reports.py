"""Public reports (群众举报): anyone may report a hazard and follow it by code; staff accept or reject it.

Reporting needs no account and is rate-limited per address. The reporter's name and phone are shown to staff only.
An accepted report becomes a ledger hazard (发现方式: 群众举报) in the same transaction that marks it accepted.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, File, Path, Request, Response, UploadFile
from pydantic import BaseModel, Field, ValidationError
from shapely.geometry import Point

from api.access import PUBLIC
from api.auth import CurrentUser
from api.errors import InvalidParameter
from api.params import MAX_ID, SettingsDep
from api.responses import IMAGES, sends
from api.routes.ledger import add_to_catalog
from api.routes.ogc import CatalogDep
from api.uploads import read_photo
from layers.ledger import HazardProperties
from layers.vocab import Channel, HazardStatus
from ledger.roles import Forbidden, Role, check_create
from store.reports import Report, ReportStore

public = APIRouter(prefix="/reports", tags=["public reports 群众举报"])
staff = APIRouter(prefix="/ledger/reports", tags=["public reports 群众举报"])


class NewReport(BaseModel):
    """What a member of the public reports: where, what, and (optionally) how to reach them."""

    lon: float
    lat: float
    description: str = Field(min_length=5, max_length=1000)
    reporter: str | None = Field(None, max_length=30)
    phone: str | None = Field(None, max_length=30)


class Acceptance(BaseModel):
    """How staff file an accepted report in the ledger."""

    sector: str
    responsible_unit: str = Field(min_length=1, max_length=80)
    responsible_person: str = Field(min_length=1, max_length=30)
    description: str | None = Field(None, description="defaults to the reporter's words")


class Rejection(BaseModel):
    """Why a report is not taken up (the reporter sees this)."""

    reason: str = Field(min_length=2, max_length=300)


def _limit(request: Request) -> None:
    """Count one public submission against the sender's address."""
    request.app.state.report_limit.hit(request.client.host if request.client else "unknown")


def _reports(request: Request) -> ReportStore:
    return request.app.state.reports


def _staff_view(report: Report) -> dict[str, Any]:
    return {**report.public(), "id": report.id, "lon": report.lon, "lat": report.lat,
            "village_code": report.village_code, "description": report.description, "reporter": report.reporter,
            "phone": report.phone, "decided_by": report.decided_by, "hazard_id": report.hazard_fid}  # fmt: skip


@public.post("", status_code=201, summary="Report a hazard (no account needed)", dependencies=[PUBLIC])
def submit_report(request: Request, cat: CatalogDep, settings: SettingsDep, new: NewReport) -> dict[str, Any]:
    """Store the report and return its tracking code; at most a few reports per address every ten minutes."""
    _limit(request)
    village_code = cat.village_code_at(new.lon, new.lat, settings.region_bbox)
    report = _reports(request).submit(new.lon, new.lat, village_code, new.description, new.reporter, new.phone)
    return {**report.public(), "message": "已收到举报，请保存跟踪码查询处理结果 (keep the code to follow the report)"}


@public.post("/{code}/photo", summary="Add one photo to your report", dependencies=[PUBLIC])
async def add_report_photo(
    request: Request,
    settings: SettingsDep,
    code: Annotated[str, Path(min_length=4, max_length=20)],
    file: Annotated[UploadFile, File(description="JPEG, PNG or WebP")],
) -> dict[str, Any]:
    """One photo per report, while it is pending; checked for type and size like every photo."""
    _limit(request)
    photo, data = await read_photo(file, settings.max_photo_bytes)
    return _reports(request).add_photo(code, photo, data).public()


@public.get("/{code}", summary="Follow a report by its tracking code", dependencies=[PUBLIC])
def follow_report(request: Request, code: Annotated[str, Path(min_length=4, max_length=20)]) -> dict[str, Any]:
    """Status only: no contact details, no staff names."""
    return _reports(request).by_code(code).public()


def _check_staff(user: Any, report: Report) -> None:
    if user.role not in (Role.ADMIN, Role.VILLAGE):
        raise Forbidden("只有镇安办和村干部处理群众举报 (only the town office and village officials handle reports)")
    if user.role == Role.VILLAGE and report.village_code != user.village_code:
        raise Forbidden(f"只能处理本村（{user.village_code}）的举报 (village accounts handle their own village only)")


@staff.get("", summary="Reports waiting for a decision")
def pending_reports(request: Request, user: CurrentUser) -> dict[str, Any]:
    """Pending reports within the user's remit, with the reporters' contact details."""
    if user.role not in (Role.ADMIN, Role.VILLAGE):
        raise Forbidden("只有镇安办和村干部处理群众举报 (only the town office and village officials handle reports)")
    reports = [r for r in _reports(request).pending() if user.role == Role.ADMIN or r.village_code == user.village_code]
    return {"count": len(reports), "reports": [_staff_view(r) for r in reports]}


@staff.get("/{report_id}/photo", summary="The reporter's photo", **sends(*IMAGES, description="The image"))
def report_photo(request: Request, user: CurrentUser, report_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> Response:
    """For staff who may decide the report."""
    store = _reports(request)
    _check_staff(user, store.get(report_id))
    media_type, data = store.photo(report_id)
    return Response(data, media_type=media_type, headers={"Cache-Control": "private, max-age=3600"})


@staff.post("/{report_id}/accept", status_code=201, summary="Accept a report into the ledger")
def accept_report(
    request: Request,
    cat: CatalogDep,
    user: CurrentUser,
    report_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    filing: Acceptance,
) -> dict[str, Any]:
    """Register the report as a hazard (发现方式 群众举报) and mark it accepted, together."""
    store = _reports(request)
    report = store.get(report_id)
    _check_staff(user, report)
    try:
        hazard = HazardProperties(
            code=f"JB{date.today():%Y}-{report.code[2:]}",
            village_code=report.village_code,
            sector=filing.sector,
            description=filing.description or report.description,
            discovered_on=date.fromisoformat(report.submitted_at[:10]),
            channel=Channel.PUBLIC_REPORT,
            responsible_unit=filing.responsible_unit,
            responsible_person=filing.responsible_person,
            status=HazardStatus.REGISTERED,
        )
    except ValidationError as exc:
        raise InvalidParameter("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())) from None
    check_create(user, hazard)
    report, fid = store.accept(report_id, hazard, by=user.actor)
    add_to_catalog(cat, fid, hazard, Point(report.lon, report.lat))
    return {"report": _staff_view(report), "hazard_id": fid}


@staff.post("/{report_id}/reject", summary="Reject a report with a reason")
def reject_report(
    request: Request, user: CurrentUser, report_id: Annotated[int, Path(ge=1, le=MAX_ID)], rejection: Rejection
) -> dict[str, Any]:
    """The reporter sees the reason when they follow the code."""
    store = _reports(request)
    _check_staff(user, store.get(report_id))
    return _staff_view(store.reject(report_id, rejection.reason, by=user.actor))
