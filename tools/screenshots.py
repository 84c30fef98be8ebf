"""Take the README's screenshots: every map view of the demo town at 1280×800 in headless Chromium.

    python tools/screenshots.py [--out docs/screenshots] [--chromium /usr/bin/chromium]

Starts `onemap serve` on a free loopback port over a copy of the demo town, opens each view, waits until every
visible overlay has drawn, and saves a PNG. The emergency view is also shown after a click on the town seat.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
SHOTS = {
    "town": "/map",
    "planner": "/map/planner",
    "emergency": "/map/emergency",
    "village": "/map/village/150525107201",
}

#: Opens the popup of the first-ranked intersection of the plan, to show its factors.
PLAN_POPUP = """
fetch('/map/popup/treatment_plan/1').then(r => r.text()).then(html =>
  L.popup({ maxWidth: 420 }).setLatLng([42.855749, 120.492833]).setContent(html).openOn(oneMap.map));
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(page: Page, after: int = 0) -> None:
    page.wait_for_function(f"Number(document.body.dataset.omReady || 0) > {after}", timeout=60_000)
    page.wait_for_timeout(500)  # let markers and the heat canvas settle


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "demo.gpkg"
        shutil.copy(ROOT / "data" / "demo_town.gpkg", data)
        port = _free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "onemap", "serve", "--port", str(port)],
            env={**os.environ, "ONEMAP_DATA": str(data)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    urllib.request.urlopen(f"{base}/healthz", timeout=1)
                    break
                except OSError:
                    time.sleep(0.1)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
                for name, path in SHOTS.items():
                    page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="zh-CN")
                    page.goto(base + path)
                    _wait_ready(page)
                    if name == "planner":
                        page.evaluate("oneMap.map.setView([42.8557, 120.4928], 15, { animate: false })")
                        _wait_ready(page, 1)
                        page.locator(".leaflet-interactive").first.wait_for()
                        page.evaluate(PLAN_POPUP)
                        page.locator(".om-factors").wait_for()
                        page.wait_for_timeout(300)
                    if name == "emergency":
                        count = int(page.evaluate("Number(document.body.dataset.omReady)"))
                        page.evaluate("oneMap.map.setView([42.846, 120.548], 15, { animate: false })")
                        _wait_ready(page, count)
                        page.evaluate("oneMap.map.fire('click', { latlng: L.latLng(42.8455, 120.5475) })")
                        page.locator(".om-near-section").first.wait_for()
                        page.wait_for_timeout(300)
                    page.screenshot(path=str(args.out / f"{name}.png"))
                    print(f"wrote {args.out / f'{name}.png'}")
                    page.close()
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
