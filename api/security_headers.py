"""Security headers on every response, set by one pure ASGI middleware, and cross-origin access (off by default).

A pure ASGI middleware rather than Starlette's BaseHTTPMiddleware, which buffers response bodies and runs the app in
a task of its own: this one only adds headers to the `http.response.start` message, so tiles, photos and exports
stream as before.

What it sets, unless the route set the header itself:

* `X-Content-Type-Options: nosniff`, so an uploaded photo or a JSON body is never run as a script or page;
* `Referrer-Policy: same-origin`, so a Tianditu key or a hazard id in a URL never leaves in a Referer;
* `X-Frame-Options: DENY` and CSP `frame-ancestors 'none'`: no other site can frame the map to trick a click;
* a Content-Security-Policy. HTML gets `PAGE_POLICY`: scripts from this service only, plus the page's own inline
  scripts carrying the per-request nonce (`csp_nonce`), so markup slipped into a popup or panel cannot run even if
  escaping were ever missed; `'unsafe-eval'` because the vendored leaflet-measure compiles its lodash templates
  with `Function`; inline styles because Leaflet and folium write them; images from this service and the online
  basemaps' tile hosts (`TILE_HOSTS`). The API docs page (`docs_paths`) gets `DOCS_POLICY`, which allows the CDN
  FastAPI loads Swagger UI from and its inline start-up script. Anything else (JSON, GeoJSON, tiles, images) gets
  `API_POLICY`, which lets nothing load: a response opened on its own cannot become a page;
* `Cache-Control: no-store` on what carries a signed-in user's data: every /ledger and /auth response, and any
  response to a request with credentials (bearer token or sign-in cookie) that does not set caching of its own
  (tiles and static files send ETag or Last-Modified, photos and tiles their own Cache-Control: kept as they are).
"""

from __future__ import annotations

import inspect
import re
import secrets
from collections.abc import Iterable, Sequence
from typing import get_args
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import COOKIE
from maps.basemaps import BasemapName, basemap

#: Key of the per-request CSP nonce in the ASGI scope's state (read it with `csp_nonce`).
NONCE = "csp_nonce"
#: Paths whose responses hold a signed-in user's data whatever the request carries.
PRIVATE_PREFIXES = ("/ledger", "/auth")


def _tile_hosts() -> tuple[str, ...]:
    """The hosts the online basemaps draw tiles from, as CSP sources: a subdomain template becomes `*.`."""
    hosts = set()
    for name in get_args(BasemapName):
        for tiles in basemap(name, tianditu_key="key").tiles:
            parts = urlsplit(tiles.url)
            labels = parts.netloc.split(".")
            if "{" in labels[0]:
                labels[0] = "*"
            hosts.add(f"{parts.scheme}://{'.'.join(labels)}")
    return tuple(sorted(hosts))


def _docs_origins() -> tuple[str, ...]:
    """Where FastAPI's Swagger UI page loads its script and stylesheet from (its defaults: a public CDN)."""
    defaults = inspect.signature(get_swagger_ui_html).parameters
    urls = [defaults[name].default for name in ("swagger_js_url", "swagger_css_url")]
    return tuple(sorted({f"{urlsplit(u).scheme}://{urlsplit(u).netloc}" for u in urls if isinstance(u, str)}))


TILE_HOSTS = _tile_hosts()
DOCS_ORIGINS = _docs_origins()
_COMMON = "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
PAGE_POLICY = (
    "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    f"img-src 'self' data: blob: {' '.join(TILE_HOSTS)}; font-src 'self' data:; connect-src 'self'; {_COMMON}"
)
_CDN = " ".join(DOCS_ORIGINS)
DOCS_POLICY = (
    f"default-src 'self'; script-src 'self' 'unsafe-inline' {_CDN}; style-src 'self' 'unsafe-inline' {_CDN}; "
    f"img-src 'self' data: https:; font-src 'self' data: {_CDN}; connect-src 'self'; {_COMMON}"
)
API_POLICY = "default-src 'none'; frame-ancestors 'none'"
FIXED = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
_COOKIE = re.compile(rf"(?:^|;)\s*{re.escape(COOKIE)}=")


def csp_nonce(request: Request) -> str | None:
    """The nonce this response's CSP allows inline scripts by (None without the middleware: then no CSP either)."""
    return request.scope.get("state", {}).get(NONCE)


class SecurityHeaders:
    """Adds the headers above to every HTTP response; `docs_paths` are the API docs pages (FastAPI's Swagger UI)."""

    def __init__(self, app: ASGIApp, docs_paths: Iterable[str | None] = ()) -> None:
        self.app = app
        self.docs_paths = frozenset(p for p in docs_paths if p)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on with a fresh nonce in its state; add the headers as the response starts."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(18)
        scope.setdefault("state", {})[NONCE] = nonce
        path: str = scope["path"]
        request = Headers(scope=scope)
        credentials = "authorization" in request or bool(_COOKIE.search(request.get("cookie", "")))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", []))
                headers = MutableHeaders(scope=message)
                for name, value in FIXED.items():
                    headers.setdefault(name, value)
                if path in self.docs_paths:
                    policy = DOCS_POLICY
                elif headers.get("content-type", "").startswith("text/html"):
                    policy = PAGE_POLICY.format(nonce=nonce)
                else:
                    policy = API_POLICY
                headers.setdefault("Content-Security-Policy", policy)
                if "cache-control" not in headers:
                    cached = "etag" in headers or "last-modified" in headers
                    if path.startswith(PRIVATE_PREFIXES) or (credentials and not cached):
                        headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)


def allow_origins(app: FastAPI, origins: Sequence[str]) -> None:
    """Let the web front ends at `origins` call the API from their pages (CORS); with none, no other origin may.

    Credentials are not shared across origins: a front end sends its own bearer token, and the map's sign-in cookie
    (SameSite=Strict) stays with this service's pages.
    """
    if not origins:
        return
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(origins),
        allow_methods=["GET", "POST"],
        allow_headers=["Authorization", "Content-Type", "If-Match", "If-None-Match"],
        expose_headers=["ETag", "Location"],
        max_age=600,
    )
