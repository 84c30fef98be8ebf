"""Wiring only: settings → data → app → routers → error handlers → health."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

import onemap
from api import auth, readiness
from api.access import PUBLIC
from api.catalog import Catalog
from api.errors import add_exception_handlers
from api.limits import BodyLimit, upload_limits
from api.observability import RequestLog
from api.openapi import openapi_30
from api.ratelimit import SlidingWindow
from api.routes import analysis, fire, imports, ledger, maps, ogc, reports, risk, tiles, villages
from api.security_headers import SecurityHeaders, allow_origins
from layers import LAYERS
from maps import assets
from onemap.settings import Settings, get_settings
from store import open_store
from store.ledger import LedgerStore
from store.reports import ReportStore
from store.users import UserStore


def create_app(settings: Settings | None = None) -> FastAPI:
    """The onemap service over the GeoPackage, or the PostgreSQL database, named in the settings."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.database_url is None and not settings.data.exists():
            raise RuntimeError(f"data file {settings.data} does not exist: run `onemap demo` or set ONEMAP_DATA")
        store = open_store(settings.location)
        # Tables first, while nothing else has the file open: from here on every write goes through sqlite3 (or,
        # for a database, through the stores' own connections).
        store.ensure_tables(LAYERS.values())
        app.state.catalog = Catalog.load(store)
        app.state.store = store  # vector tiles on PostgreSQL may be written by the database (api/tile_encoders.py)
        app.state.ledger = LedgerStore(settings.location)
        app.state.users = UserStore(settings.location)
        app.state.reports = ReportStore(settings.location, app.state.ledger)
        app.state.report_limit = SlidingWindow(settings.report_limit, 600)
        app.state.login_limit = SlidingWindow(settings.login_limit, 600, what=("登录", "sign-in attempts"))
        # The catalog lives as long as the process; freezing it spares the collector from re-walking a million
        # geometries on every full collection, which otherwise shows up as latency spikes on large layers.
        gc.freeze()
        yield
        gc.unfreeze()
        app.state.ledger.close()
        app.state.users.close()
        app.state.reports.close()
        close = getattr(store, "close", None)  # connections a PostGIS store keeps for tiles
        if close is not None:
            close()

    app = FastAPI(
        title="onemap 一张图",
        version=onemap.__version__,
        description="乡镇安全风险一张图: OGC API – Features for GIS clients, plus township safety endpoints.",
        openapi_url="/api",
        docs_url="/api.html",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.openapi = lambda: openapi_30(app)  # type: ignore[method-assign]
    app.include_router(ogc.router)
    app.include_router(tiles.router)
    app.include_router(villages.router)
    app.include_router(maps.router)
    app.include_router(auth.router)
    app.include_router(ledger.router)
    app.include_router(reports.public)
    app.include_router(reports.staff)
    app.include_router(analysis.router)
    app.include_router(fire.router)
    app.include_router(risk.router)
    app.include_router(imports.router)
    for prefix, folder in assets.MOUNTS.items():
        app.mount(f"{assets.STATIC_URL}/{prefix}", StaticFiles(directory=folder), name=f"static-{prefix}")
    add_exception_handlers(app)
    app.add_middleware(BodyLimit, default=settings.max_request_bytes, rules=upload_limits(settings))
    app.add_middleware(RequestLog)  # inside CORS and security headers, so its 500 carries them too
    allow_origins(app, settings.cors_origins)
    app.add_middleware(SecurityHeaders, docs_paths=(app.docs_url, app.swagger_ui_oauth2_redirect_url))

    @app.get("/favicon.ico", include_in_schema=False, dependencies=[PUBLIC])
    def favicon() -> FileResponse:
        """Browsers ask for it whatever the page says."""
        return FileResponse(assets.ROOT / "static" / "favicon.svg", media_type="image/svg+xml")

    @app.get("/healthz", tags=["operations"], summary="Liveness", dependencies=[PUBLIC])
    def healthz() -> dict[str, str]:
        """The process answers."""
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["operations"],
        summary="Readiness",
        responses={503: {"description": "not ready"}},
        dependencies=[PUBLIC],
    )
    def readyz() -> JSONResponse:
        """Ready to serve: the layers are loaded and the storage answers; 503 names the check that failed."""
        return readiness.response(app)

    return app
