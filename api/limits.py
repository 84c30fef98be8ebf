"""Request body limits, checked before a byte reaches a route: a declared Content-Length over the limit is refused
at once, and a body sent without one (chunked) is counted as it arrives, so no client can make the service buffer
or spool more than the limit. Uploads (photos, files to import) have limits of their own."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from onemap.settings import Settings

#: Room for the multipart framing and form fields around an uploaded file.
MULTIPART_ROOM = 64 * 2**10


def upload_limits(settings: Settings) -> list[tuple[str, int]]:
    """The routes that take a file, each with its configured size and room for the form around it."""
    photo = settings.max_photo_bytes + MULTIPART_ROOM
    return [
        (r"/ledger/hazards/[^/]+/photos", photo),
        (r"/reports/[^/]+/photo", photo),
        (r"/collections/[^/]+/import", settings.max_import_bytes + MULTIPART_ROOM),
    ]


class BodyLimit:
    """At most `default` bytes of request body, or the limit of the first (path pattern, bytes) rule that matches."""

    def __init__(self, app: ASGIApp, default: int, rules: Sequence[tuple[str, int]] = ()) -> None:
        self.app = app
        self.default = default
        self.rules = [(re.compile(pattern), limit) for pattern, limit in rules]

    def limit_for(self, path: str) -> int:
        """The body limit for a request to `path`."""
        return next((limit for pattern, limit in self.rules if pattern.fullmatch(path)), self.default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse by the declared length, else count what arrives."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(send, declared, limit)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:  # an HTTPException, which FastAPI passes on while it parses the body
                raise HTTPException(413, _message(received, limit))
            return message

        await self.app(scope, counted, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _message(size: int, limit: int) -> str:
    return (
        f"请求内容过大：{_mb(size)}，上限 {_mb(limit)} (the request body is too large: {size} bytes, at most {limit})"
    )


def _mb(size: int) -> str:
    return f"{size / 2**20:.1f} MB"


async def _refuse(send: Send, size: int, limit: int) -> None:
    text = _message(size, limit)
    body = json.dumps({"code": "PayloadTooLarge", "description": text, "detail": text}, ensure_ascii=False).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    # The unread body is not drained: the connection is closed, as a client sending 200 MB should not be waited on.
    headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})
