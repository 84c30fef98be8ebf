"""Readiness for `/readyz`: whether the service can serve now, not only whether the process answers (`/healthz`).

Two checks. The catalog: start-up has loaded every layer (it has not while the lifespan still runs). The storage:
each store beside the layers (ledger, accounts, reports) answers a trivial query through the very connection the
service writes with, so a database that went away or restarted, or a GeoPackage deleted or replaced under the
running service, shows here rather than on the next write. The body says which check failed in words a person can
act on; the driver's error, which may name hosts or files, goes to the log only.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse

logger = logging.getLogger("onemap.readiness")

#: The stores pinged, by their name on app.state, with the words for each.
STORES = {"ledger": "台账 ledger", "users": "账号 accounts", "reports": "举报 reports"}
OK = "ok"


def _catalog(app: FastAPI) -> str:
    if getattr(app.state, "catalog", None) is None:
        return "图层尚未载入，服务仍在启动 (the layers are not loaded yet: the service is still starting)"
    return OK


def _storage(app: FastAPI) -> str:
    for name, words in STORES.items():
        store = getattr(app.state, name, None)
        if store is None:
            return f"{words} 存储尚未打开 (the {name} storage is not open yet)"
        try:
            store.ping()
        except Exception as exc:  # whatever the driver raises, the answer is the same: not ready
            logger.warning("not ready: the %s storage did not answer: %r", name, exc)
            return (
                f"{words} 存储无应答，请检查数据库或数据文件后重启服务 "
                f"(the {name} storage did not answer ({type(exc).__name__}): check the database or data file, "
                "then restart the service)"
            )
    return OK


CHECKS = {"catalog": _catalog, "storage": _storage}


def readiness(app: FastAPI) -> tuple[bool, dict[str, Any]]:
    """(ready, body): every check's result, "ok" or what is wrong."""
    checks = {name: check(app) for name, check in CHECKS.items()}
    failed = [name for name, result in checks.items() if result != OK]
    if not failed:
        return True, {"status": "ready", "checks": checks}
    return False, {"status": "unavailable", "failed": failed, "checks": checks}


def response(app: FastAPI) -> JSONResponse:
    """200 when ready, else 503; never cached, since the answer changes with the state of the service."""
    ready, body = readiness(app)
    return JSONResponse(body, status_code=200 if ready else 503, headers={"Cache-Control": "no-store"})
