"""Serving a GeoPackage for an HTTP benchmark: `onemap serve` on a free loopback port, and its peak memory."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2 as httpx

from store.base import is_database_url


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peak_rss_mb(pid: int) -> float | None:
    """The process's peak resident memory so far (VmHWM), MiB; None once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


@contextmanager
def http_server(cmd: list[str], env: dict[str, str], port: int, ready: str = "/healthz") -> Iterator[dict[str, Any]]:
    """A server process started with `cmd` on a loopback `port`, waited for until `ready` answers 200; yields its
    base URL, pid and start-up time, and stops it afterwards."""
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        started = time.perf_counter()
        with httpx.Client(base_url=base, timeout=120) as client:
            while True:
                if server.poll() is not None:
                    raise RuntimeError(f"{cmd[0]} exited with {server.returncode}")
                try:
                    if client.get(ready).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.05)
        yield {"base": base, "pid": server.pid, "startup_s": time.perf_counter() - started}
    finally:
        server.terminate()
        server.wait(timeout=30)


@contextmanager
def onemap_server(data: Path | str, **settings: str) -> Iterator[dict[str, Any]]:
    """`onemap serve` over `data` (a GeoPackage, or a postgresql:// URL) on a free loopback port, with further
    settings as keyword arguments (`tile_encoder="memory"` is ONEMAP_TILE_ENCODER=memory), until /healthz answers."""
    port = free_port()
    env = {**os.environ, **{f"ONEMAP_{name.upper()}": value for name, value in settings.items()}}
    env["ONEMAP_DATABASE_URL" if is_database_url(data) else "ONEMAP_DATA"] = str(data)
    with http_server([sys.executable, "-m", "onemap", "serve", "--port", str(port)], env, port) as server:
        yield server
