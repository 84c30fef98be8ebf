"""SIGTERM stops `onemap serve` gracefully: a write in flight finishes and is answered, the process exits 0, and
the write is there after a restart; a client that never finishes its request holds the stop no longer than
ONEMAP_SHUTDOWN_TIMEOUT. The server runs as a real process; the upload is sent in two halves over a raw socket, so
the signal arrives while the request is in flight."""

from __future__ import annotations

import hashlib
import http.client
import io
import json
import signal
import socket
import time
from urllib.parse import urlsplit

import httpx2 as httpx
import numpy as np
import pytest
from backends import BACKEND, BACKENDS, town_copy, with_account
from outside_tools import running_service, service_process
from PIL import Image

from onemap.settings import DEMO_GPKG

PASSWORD = "correct horse battery"


@pytest.fixture(params=BACKENDS)
def data(request, tmp_path) -> str:
    """The demo town with an admin account, as a file or a database."""
    return with_account(town_copy(request.param, DEMO_GPKG, tmp_path), "admin", PASSWORD, "admin")


def _png() -> bytes:
    pixels = np.random.default_rng(7).integers(0, 256, (96, 96, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _sign_in(url: str) -> dict[str, str]:
    token = httpx.post(f"{url}/auth/token", data={"username": "admin", "password": PASSWORD}).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def _raw(request: httpx.Request) -> tuple[bytes, bytes]:
    """The request's head and body as they go on the wire."""
    body = request.read()
    lines = [f"{request.method} {request.url.raw_path.decode()} HTTP/1.1"]
    lines += [f"{name}: {value}" for name, value in request.headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode(), body


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return True
    return False


def _wait_until_refused(port: int, within: float = 10) -> None:
    """Until the server has stopped accepting connections: its shutdown has begun."""
    deadline = time.monotonic() + within
    while not _refused(port):
        assert time.monotonic() < deadline, "the server still accepts connections after SIGTERM"
        time.sleep(0.05)


def test_a_write_in_flight_at_sigterm_is_finished_answered_and_kept(data):
    image = _png()
    with service_process(data, ONEMAP_SHUTDOWN_TIMEOUT="30") as service:
        auth = _sign_in(service.url)
        hazards = httpx.get(f"{service.url}/ledger/hazards", headers=auth).json()["hazards"]
        fid = next(h["id"] for h in hazards if h["status"] == "rectifying")
        before = httpx.get(f"{service.url}/ledger/hazards/{fid}/photos", headers=auth).json()["photos"]
        upload = httpx.Request(
            "POST",
            f"{service.url}/ledger/hazards/{fid}/photos",
            data={"kind": "before"},
            files={"file": ("整改前.png", image, "image/png")},
            headers={**auth, "X-Request-ID": "in-flight"},
        )
        head, body = _raw(upload)
        port = urlsplit(service.url).port
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(head + body[: len(body) // 2])
            time.sleep(0.5)  # the server has read the head: the request is in flight
            stopping = time.monotonic()
            service.proc.send_signal(signal.SIGTERM)
            _wait_until_refused(port)
            sock.sendall(body[len(body) // 2 :])
            response = http.client.HTTPResponse(sock)
            response.begin()
            answer = json.loads(response.read())
        assert response.status == 201, answer
        assert response.getheader("X-Request-ID") == "in-flight"
        assert service.proc.wait(timeout=30) == 0
        assert time.monotonic() - stopping < 30
    records = [json.loads(line) for line in service.log.read_text().splitlines() if line.startswith("{")]
    order = [r["message"] for r in records if r["message"] == "Shutting down" or r["request_id"] == "in-flight"]
    assert order[0] == "Shutting down" and "201" in order[-1]  # asked to stop first, answered after
    with running_service(data) as url:  # the photo and its history event outlived the restart
        auth = _sign_in(url)
        after = httpx.get(f"{url}/ledger/hazards/{fid}/photos", headers=auth).json()["photos"]
        history = httpx.get(f"{url}/ledger/hazards/{fid}/history", headers=auth).json()["events"]
    assert len(after) == len(before) + 1 and after[-1]["id"] == answer["id"]
    assert after[-1]["sha256"] == hashlib.sha256(image).hexdigest()
    assert history[-1]["action"] == "attach" and len(history) == answer["version"]


def test_a_client_that_never_finishes_cannot_hold_the_stop(tmp_path):
    data = town_copy(BACKEND, DEMO_GPKG, tmp_path)
    with service_process(data, ONEMAP_SHUTDOWN_TIMEOUT="2") as service:
        port = urlsplit(service.url).port
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            head = "POST /auth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            sock.sendall(f"{head}Content-Length: 1000\r\n\r\nusername=".encode())  # and nothing more, ever
            time.sleep(0.5)
            stopping = time.monotonic()
            service.proc.send_signal(signal.SIGTERM)
            assert service.proc.wait(timeout=20) == 0
            took = time.monotonic() - stopping
    assert 1.5 < took < 15, took  # waited for the request, then gave up on it at the bound
    assert "timeout graceful shutdown exceeded" in service.log.read_text()
