"""Helpers for tests that use something outside Python: a program on the PATH, or the service as a real process.

A missing program skips the test on a developer's machine but fails it in CI (CI=true), so a missing install step
cannot hide behind a skip.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest

from store.base import is_database_url


def need_tool(name: str, install: str) -> str:
    """The path of an outside program; skip without it, except in CI where its absence is a failure."""
    path = shutil.which(name)
    if path:
        return path
    if os.environ.get("CI") == "true":
        pytest.fail(f"{name} must be installed in CI ({install})")
    pytest.skip(f"{name} not found: {install}")


@dataclasses.dataclass
class Service:
    """A running `onemap serve`: its base URL, process, and the file its stdout and stderr go to."""

    url: str
    proc: subprocess.Popen
    log: Path


@contextlib.contextmanager
def service_process(data: Path | str, **env: str) -> Iterator[Service]:
    """`onemap serve` over `data` (a file or a database URL) in a child process on a free loopback port, stopped (if
    still alive) at the end."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    if is_database_url(data):
        log_path = Path(tempfile.mkdtemp(prefix="onemap-serve-")) / "server.log"
        where = {"ONEMAP_DATABASE_URL": str(data)}
    else:
        data = Path(data)
        log_path = data.with_name(f"{data.stem}.server.log")
        where = {"ONEMAP_DATA": str(data)}
    with log_path.open("a") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "onemap", "serve", "--port", str(port)],
            env={**os.environ, **where, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if proc.poll() is not None:
                    pytest.fail(f"server exited early:\n{log_path.read_text()}")
                time.sleep(0.1)
            else:
                pytest.fail("server did not answer /healthz within 30 s")
            yield Service(url, proc, log_path)
        finally:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=10)


@contextlib.contextmanager
def running_service(data: Path | str, **env: str) -> Iterator[str]:
    """`onemap serve` over `data` on a free loopback port; yields its base URL."""
    with service_process(data, **env) as service:
        yield service.url
