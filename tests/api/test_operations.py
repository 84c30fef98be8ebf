"""Operations: /readyz on both backends and when storage is gone, request ids in and out, one access line per
request, and an unhandled exception as a 500 that quotes the request id while the traceback stays in the log."""

from __future__ import annotations

import json
import logging
import os
import shutil
from datetime import datetime
from urllib.parse import urlsplit

import httpx2 as httpx
import psycopg
import pytest
from backends import BACKENDS, SERVER, settings_for, town_copy
from fastapi.testclient import TestClient
from outside_tools import service_process
from pydantic import ValidationError

from api.main import create_app
from api.observability import JsonFormatter, RequestIdFilter, TextFormatter, internal_error_body
from onemap.settings import Settings


@pytest.fixture(params=BACKENDS)
def location(request, tmp_path, tiny_town_file) -> str:
    """A writable copy of the tiny town on each backend."""
    return town_copy(request.param, tiny_town_file, tmp_path)


def _private(text: str) -> list[str]:
    """What a response must never show: code, tracebacks, file paths."""
    return [word for word in ("Traceback", "/work", "/tmp", ".py", ".gpkg", "File ") if word in text]


# -- /readyz ------------------------------------------------------------------------------------------------------


def test_ready_once_started_on_either_backend(location):
    with TestClient(create_app(settings_for(location))) as client:
        response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"catalog": "ok", "storage": "ok"}}
    assert response.headers["Cache-Control"] == "no-store"


def test_not_ready_before_start_up_has_loaded_the_layers(location):
    client = TestClient(create_app(settings_for(location)))  # not entered: the lifespan has not run
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 503 and body["status"] == "unavailable"
    assert body["failed"] == ["catalog", "storage"] and "starting" in body["checks"]["catalog"]
    assert client.get("/healthz").status_code == 200  # alive all the same


def test_not_ready_when_the_data_file_is_deleted_or_replaced(tmp_path, tiny_town_file):
    data = town_copy("gpkg", tiny_town_file, tmp_path)
    with TestClient(create_app(settings_for(data))) as client:
        assert client.get("/readyz").status_code == 200
        os.replace(data, tmp_path / "moved.gpkg")  # the volume went, or someone moved the file away
        gone = client.get("/readyz")
        shutil.copy(tiny_town_file, data)  # a file is back at the path, but not the one the service writes to
        replaced = client.get("/readyz")
    for response in (gone, replaced):
        body = response.json()
        assert response.status_code == 503 and body["failed"] == ["storage"], body
        assert body["checks"]["catalog"] == "ok" and "restart" in body["checks"]["storage"]
        assert not _private(response.text), response.text


@pytest.mark.skipif("postgis" not in BACKENDS, reason="needs ONEMAP_TEST_BACKEND=postgis")
def test_not_ready_when_the_database_is_dropped(tmp_path, tiny_town_file):
    url = town_copy("postgis", tiny_town_file, tmp_path)
    with TestClient(create_app(settings_for(url))) as client:
        assert client.get("/readyz").status_code == 200
        with psycopg.connect(SERVER, autocommit=True) as server:
            server.execute(f'DROP DATABASE "{urlsplit(url).path[1:]}" WITH (FORCE)')
        response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 503 and body["failed"] == ["storage"], body
    assert "did not answer" in body["checks"]["storage"] and "存储无应答" in body["checks"]["storage"]
    assert not _private(response.text) and "127.0.0.1" not in response.text, response.text


# -- request ids and the access log -------------------------------------------------------------------------------


@pytest.fixture
def client(tmp_path, tiny_town_file):
    """The service over the tiny town with one route only tests have, which fails after logging a line."""
    app = create_app(settings_for(town_copy("gpkg", tiny_town_file, tmp_path)))

    @app.get("/test-only/fail")
    def fail() -> None:
        logging.getLogger("onemap.test").info("about to fail")
        raise RuntimeError(f"invariant broken in {__file__}")

    with TestClient(app) as test_client:
        yield test_client


def test_a_sane_request_id_is_echoed_and_anything_else_replaced(client):
    assert client.get("/healthz", headers={"X-Request-ID": "gw-2026.11_29-a"}).headers["X-Request-ID"] == (
        "gw-2026.11_29-a"
    )
    generated = {client.get("/healthz").headers["X-Request-ID"] for _ in range(3)}
    assert len(generated) == 3 and all(len(g) == 32 and int(g, 16) >= 0 for g in generated)
    for bad in ("x" * 65, "has space", "semi;colon", "a/b", ""):
        echoed = client.get("/healthz", headers={"X-Request-ID": bad}).headers["X-Request-ID"]
        assert echoed != bad and len(echoed) == 32
    refused = client.get("/collections/nope", headers={"X-Request-ID": "r-404"})
    assert refused.status_code == 404 and refused.headers["X-Request-ID"] == "r-404"
    assert set(refused.json()) == {"code", "description", "detail"}  # api/errors.py's shape, unchanged


def test_one_access_line_per_request_with_its_id(client, caplog):
    caplog.set_level(logging.INFO, logger="onemap.access")
    response = client.get("/collections/villages/items", params={"limit": 1}, headers={"X-Request-ID": "one"})
    client.get("/healthz")
    lines = [r for r in caplog.records if r.name == "onemap.access"]
    assert len(lines) == 2
    first = json.loads(JsonFormatter().format(lines[0]))
    assert first == {
        "ts": first["ts"],
        "level": "INFO",
        "logger": "onemap.access",
        "message": first["message"],
        "request_id": "one",
        "method": "GET",
        "path": "/collections/villages/items",
        "status": response.status_code,
        "duration_ms": first["duration_ms"],
        "client": "testclient",
    }
    assert datetime.fromisoformat(first["ts"]).tzinfo is not None
    assert isinstance(first["duration_ms"], float) and first["duration_ms"] >= 0
    assert lines[1].request_id == json.loads(JsonFormatter().format(lines[1]))["request_id"] != "one"


def test_an_unhandled_exception_is_a_500_quoting_the_id_and_a_traceback_in_the_log(client, caplog):
    caplog.set_level(logging.INFO)
    caplog.handler.addFilter(RequestIdFilter())  # as the server's handler does (api.observability.logging_config)
    response = client.get("/test-only/fail", headers={"X-Request-ID": "trace-me"})
    assert response.status_code == 500 and response.headers["X-Request-ID"] == "trace-me"
    assert response.json() == internal_error_body("trace-me")
    assert response.json()["code"] == "InternalError" and "请求编号 trace-me" in response.json()["description"]
    assert not _private(response.text) and "invariant" not in response.text, response.text
    by_logger = {r.name: r for r in caplog.records}
    inside = by_logger["onemap.test"]  # logged by the route, in a worker thread: the id came with the context
    assert inside.request_id == "trace-me"
    error = json.loads(JsonFormatter().format(by_logger["onemap.errors"]))
    assert error["request_id"] == "trace-me" and error["level"] == "ERROR"
    assert error["traceback"].startswith("Traceback") and "RuntimeError: invariant broken" in error["traceback"]
    assert "\n" not in JsonFormatter().format(by_logger["onemap.errors"])  # one record, one line
    access = by_logger["onemap.access"]
    assert access.status == 500 and access.request_id == "trace-me" and access.levelname == "ERROR"
    text = TextFormatter().format(by_logger["onemap.errors"])
    assert "[trace-me]" in text.splitlines()[0] and "Traceback" in text


def test_the_real_server_logs_json_lines_or_text(tmp_path, tiny_town_file):
    data = town_copy("gpkg", tiny_town_file, tmp_path / "json")
    with service_process(data) as service:
        assert httpx.get(f"{service.url}/readyz", headers={"X-Request-ID": "probe-1"}).status_code == 200
        assert httpx.get(f"{service.url}/no/such/path", headers={"X-Request-ID": "probe-2"}).status_code == 404
    records = [json.loads(line) for line in service.log.read_text().splitlines() if line.strip()]  # every line
    access = {r["request_id"]: r for r in records if r["logger"] == "onemap.access"}
    assert access["probe-1"] | {"ts": "", "duration_ms": 0} == {
        "ts": "",
        "level": "INFO",
        "logger": "onemap.access",
        "message": access["probe-1"]["message"],
        "request_id": "probe-1",
        "method": "GET",
        "path": "/readyz",
        "status": 200,
        "duration_ms": 0,
        "client": "127.0.0.1",
    }
    assert access["probe-2"]["status"] == 404
    assert sum(r["request_id"] == "probe-1" for r in records) == 1  # no second access line from uvicorn
    assert any(r["logger"].startswith("uvicorn") for r in records)  # the server's own records are JSON too
    data = town_copy("gpkg", tiny_town_file, tmp_path / "text")
    with service_process(data, ONEMAP_LOG_FORMAT="text") as service:
        httpx.get(f"{service.url}/healthz", headers={"X-Request-ID": "probe-3"})
    lines = service.log.read_text().splitlines()
    line = next(line for line in lines if "[probe-3]" in line)
    assert "INFO" in line and "onemap.access: GET /healthz 200" in line
    assert not any(line.startswith("{") for line in lines)


def test_log_format_and_shutdown_bound_are_settings(monkeypatch):
    for name in ("ONEMAP_LOG_FORMAT", "ONEMAP_SHUTDOWN_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    defaults = Settings(_env_file=None)
    assert (defaults.log_format, defaults.shutdown_timeout) == ("json", 30)
    monkeypatch.setenv("ONEMAP_LOG_FORMAT", "text")
    monkeypatch.setenv("ONEMAP_SHUTDOWN_TIMEOUT", "5")
    assert (Settings(_env_file=None).log_format, Settings(_env_file=None).shutdown_timeout) == ("text", 5)
    for name, value in (("ONEMAP_LOG_FORMAT", "xml"), ("ONEMAP_SHUTDOWN_TIMEOUT", "0")):
        monkeypatch.setenv(name, value)
        with pytest.raises(ValidationError, match=name.removeprefix("ONEMAP_").lower()):
            Settings(_env_file=None)
        monkeypatch.delenv(name)
