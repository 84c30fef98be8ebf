"""Helpers for tests that use something outside Python: a program on the PATH, or the service as a real process.

A missing program skips the test on a developer's machine but fails it in CI (CI=true), so a missing install step
cannot hide behind a skip.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest


def need_tool(name: str, install: str) -> str:
    """The path of an outside program; skip without it, except in CI where its absence is a failure."""
    path = shutil.which(name)
    if path:
        return path
    if os.environ.get("CI") == "true":
        pytest.fail(f"{name} must be installed in CI ({install})")
    pytest.skip(f"{name} not found: {install}")


@contextlib.contextmanager
def running_service(data: Path, **env: str) -> Iterator[str]:
    """`onemap serve` over `data` in a child process on a free loopback port; yields its base URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log_path = data.with_name(f"{data.stem}.server.log")
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "onemap", "serve", "--port", str(port)],
            env={**os.environ, "ONEMAP_DATA": str(data), **env},
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
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=10)
