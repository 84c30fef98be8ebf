"""One error mapping and one JSON shape: domain exceptions become 4xx with a message a person can act on."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.auth import Unauthorized
from api.catalog import BadLocation, FeatureNotFound, UnknownVillage
from api.ratelimit import RateLimited
from geo.errors import GeoError, InvalidBBox
from layers import UnknownLayer
from ledger.roles import Forbidden
from ledger.workflow import TransitionError
from store.ledger import HazardNotFound, StaleVersion
from store.reports import ReportDecided, ReportNotFound


class InvalidParameter(ValueError):
    """A query parameter that is malformed or not allowed here."""


class AlreadyRegistered(ValueError):
    """The thing asked for is in the ledger already: registering it again would make a duplicate."""


class ImportRefused(ValueError):
    """A file to import, or some of its rows, refused; nothing was written. `report` (the rows and notes) is sent
    beside the message."""

    def __init__(self, message: str, report: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.report = report or {}


class PayloadTooLarge(ValueError):
    """An upload larger than the service accepts."""


STATUS_CODES: dict[type[Exception], int] = {
    UnknownLayer: status.HTTP_404_NOT_FOUND,
    FeatureNotFound: status.HTTP_404_NOT_FOUND,
    UnknownVillage: status.HTTP_404_NOT_FOUND,
    InvalidBBox: status.HTTP_400_BAD_REQUEST,
    InvalidParameter: status.HTTP_400_BAD_REQUEST,
    BadLocation: status.HTTP_400_BAD_REQUEST,
    GeoError: status.HTTP_400_BAD_REQUEST,
    Unauthorized: status.HTTP_401_UNAUTHORIZED,
    Forbidden: status.HTTP_403_FORBIDDEN,
    HazardNotFound: status.HTTP_404_NOT_FOUND,
    StaleVersion: status.HTTP_409_CONFLICT,
    TransitionError: status.HTTP_400_BAD_REQUEST,
    RateLimited: status.HTTP_429_TOO_MANY_REQUESTS,
    PayloadTooLarge: status.HTTP_413_CONTENT_TOO_LARGE,
    ReportNotFound: status.HTTP_404_NOT_FOUND,
    ReportDecided: status.HTTP_409_CONFLICT,
    AlreadyRegistered: status.HTTP_409_CONFLICT,
    ImportRefused: status.HTTP_400_BAD_REQUEST,
}


def _problem(code: int, title: str, detail: str, extra: dict[str, Any] | None = None) -> JSONResponse:
    return JSONResponse({"code": title, "description": detail, "detail": detail, **(extra or {})}, status_code=code)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("query", "path", "body"))
        parts.append(f"{where}: {error.get('msg', 'invalid value')} (got {error.get('input')!r})")
    return "; ".join(parts) or "invalid request"


def add_exception_handlers(app: FastAPI, status_codes: dict[type[Exception], int] = STATUS_CODES) -> None:
    """Register a handler per domain exception, and turn parameter validation errors into 400s."""
    for exc_type, code in status_codes.items():

        def handler(request: Request, exc: Exception, code: int = code) -> JSONResponse:
            response = _problem(code, type(exc).__name__, str(exc), getattr(exc, "report", None))
            if code == status.HTTP_401_UNAUTHORIZED:
                response.headers["WWW-Authenticate"] = "Bearer"
            if isinstance(exc, RateLimited):
                response.headers["Retry-After"] = str(exc.retry_after)
            return response

        app.add_exception_handler(exc_type, handler)

    def validation_handler(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return _problem(status.HTTP_400_BAD_REQUEST, "InvalidParameterValue", _validation_message(exc))

    app.add_exception_handler(RequestValidationError, validation_handler)

    def http_handler(request: Request, exc: Exception) -> JSONResponse:
        """The framework's own refusals (no such route, method not allowed) in the same Problem shape."""
        assert isinstance(exc, StarletteHTTPException)
        response = _problem(exc.status_code, _HTTP_CODES.get(exc.status_code, "HTTPError"), _http_message(exc))
        response.headers.update(exc.headers or {})
        return response

    app.add_exception_handler(StarletteHTTPException, http_handler)


_HTTP_CODES = {400: "InvalidBody", 404: "NotFound", 405: "MethodNotAllowed", 413: "PayloadTooLarge"}


def _http_message(exc: StarletteHTTPException) -> str:
    if exc.status_code == status.HTTP_404_NOT_FOUND:
        return "没有这个地址，请查看 /api.html (no such path: see /api.html for the API)"
    if exc.status_code == status.HTTP_400_BAD_REQUEST:  # a body FastAPI could not parse (JSON, form, multipart)
        return f"请求正文无法解析，请发送有效的 JSON 或表单 (the request body could not be parsed: {exc.detail})"
    if exc.status_code == status.HTTP_405_METHOD_NOT_ALLOWED:
        allowed = (exc.headers or {}).get("Allow", "")
        return f"此地址不支持该请求方法，可用 {allowed} (method not allowed here; allowed: {allowed})"
    return str(exc.detail)
