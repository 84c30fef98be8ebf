"""Request ids, one access line per request, and logs a collector can parse (`onemap serve`).

`RequestLog` is a pure ASGI middleware, not Starlette's BaseHTTPMiddleware (which buffers streamed bodies and runs
the app in a task of its own): it only reads `http.response.start`. Each request gets an id, the caller's
`X-Request-ID` when it is a sane token (a proxy or client tracing a call across services) or a new uuid4; the id is
sent back in `X-Request-ID`, kept in `request.state.request_id`, held in a context variable for every log record
emitted while the request is handled (`RequestIdFilter`), and written with the access line on the `onemap.access`
logger. An exception no handler turned into a response is logged once, traceback and id together, and the client
gets a 500 that quotes the id and nothing of the code: the id is what an administrator searches the log for.

`logging_config` is the `dictConfig` for the server process: JSON lines on stderr (`ONEMAP_LOG_FORMAT=json`, for a
collector) or plain text (`text`, for a person at a terminal), uvicorn's own loggers included and its access log
replaced by ours.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from contextvars import ContextVar
from datetime import datetime
from typing import Any, Literal

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "X-Request-ID"
#: What an incoming id may look like: short, and nothing that could forge a log line or a header.
VALID_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

#: The id of the request being handled (None outside a request).
request_id: ContextVar[str | None] = ContextVar("onemap_request_id", default=None)

access_log = logging.getLogger("onemap.access")
error_log = logging.getLogger("onemap.errors")


def new_request_id(incoming: str | None) -> str:
    """The caller's id when it is well formed, else a fresh uuid4 (hex)."""
    if incoming is not None and VALID_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


def internal_error_body(rid: str) -> dict[str, str]:
    """What a client sees of an unhandled exception: the request id to quote, nothing about the code."""
    text = f"内部错误，请把请求编号 {rid} 告诉管理员 (internal error; quote request id {rid})"
    return {"code": "InternalError", "description": text, "detail": text}


class RequestLog:
    """Pure ASGI middleware: request id in and out, one access line per request, unhandled exceptions as a 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI call; anything but HTTP passes straight through."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = new_request_id(Headers(scope=scope).get(HEADER))
        scope.setdefault("state", {})["request_id"] = rid
        token = request_id.set(rid)
        started = time.perf_counter()
        status: int | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                MutableHeaders(scope=message)[HEADER] = rid
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            error_log.exception(
                "unhandled exception in %s %s",
                scope["method"],
                scope["path"],
                extra={"request_id": rid, "method": scope["method"], "path": scope["path"]},
            )
            if status is None:  # nothing sent yet: the client gets the id to quote; else the response is cut short
                await JSONResponse(internal_error_body(rid), status_code=500)(scope, receive, send_with_id)
        finally:
            duration = round((time.perf_counter() - started) * 1000, 1)
            client = scope.get("client")
            fields = {
                "request_id": rid,
                "method": scope["method"],
                "path": scope["path"],
                "status": status,
                "duration_ms": duration,
                "client": client[0] if client else None,
            }
            level = logging.ERROR if status is None or status >= 500 else logging.INFO
            shown = "no response" if status is None else status  # cancelled at the shutdown bound, or cut off
            access_log.log(level, "%s %s %s %.1f ms", scope["method"], scope["path"], shown, duration, extra=fields)
            request_id.reset(token)


class RequestIdFilter(logging.Filter):
    """Gives every record the id of the request being handled (None outside one), unless it carries one already."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Always keeps the record; only adds the attribute."""
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id.get()
        return True


#: Attributes every LogRecord has: anything else on a record came in through `extra=` and is written out.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "color_message"}


def _timestamp(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created).astimezone().isoformat(timespec="milliseconds")


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and k != "request_id"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, request_id, the record's extra fields, and the
    traceback (as one string) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        line: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        line.update(_extras(record))
        if record.exc_info:
            line["traceback"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["traceback"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """`ts level [request id] logger: message`, then the traceback on the lines below."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as text for a person."""
        rid = getattr(record, "request_id", None)
        head = f"{_timestamp(record)} {record.levelname:<7} [{rid or '-'}] {record.name}: {record.getMessage()}"
        if record.exc_info:
            head += "\n" + self.formatException(record.exc_info)
        return head


def logging_config(log_format: Literal["json", "text"] = "json", level: str = "INFO") -> dict[str, Any]:
    """The server's logging: every record to stderr in one format, with the request id; uvicorn's access log off
    (RequestLog writes the access lines)."""
    formatter = {"()": f"{__name__}.{'JsonFormatter' if log_format == 'json' else 'TextFormatter'}"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": f"{__name__}.RequestIdFilter"}},
        "formatters": {"onemap": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "onemap",
                "filters": ["request_id"],
            }
        },
        "loggers": {
            "uvicorn": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.error": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            "pyogrio": {"level": "WARNING"},  # a line per layer written ("Created 0 records") at start-up
        },
        "root": {"handlers": ["stderr"], "level": level},
    }
