"""The browser the map pages are tested in: Debian's Chromium driven by Playwright, one per module."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from outside_tools import need_tool


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Headless Chromium (skipped without it or Playwright, except in CI, where that fails)."""
    chromium = need_tool("chromium", "Debian: apt-get install chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("Playwright must be installed in CI (pip install -e . --group test)")
        pytest.skip("Playwright not installed: pip install -e . --group test")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield browser
        browser.close()
