"""Sample data and helpers for the exchange tests (a unique module name, importable from any test module here)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"

#: Rows (1-based) of the 100-row accident file that are wrong, and how.
SWAPPED_ROW, FATAL_WITHOUT_DEATHS_ROW, FAR_AWAY_ROW = 17, 42, 88


def shared_data(relative: str) -> Path:
    """A file from ../shared/data; skipped when absent, except on CI where it must be there."""
    path = SHARED_DATA / relative
    if not path.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but the shared test data is missing: {path}")
        pytest.skip(f"shared test data not available here: {path} (a clone without ../shared)")
    return path


def accident_rows() -> list[dict]:
    """100 accidents near the banner seat, with exactly 3 bad rows (see the *_ROW constants)."""
    rows = []
    kinds = [("injury", 0, 1, "追尾"), ("property", 0, 0, "刮擦"), ("fatal", 1, 2, "正面相撞")]
    for n in range(1, 101):
        severity, deaths, injuries, crash = kinds[n % 3]
        lon, lat = 120.60 + n * 0.001, 42.80 + n * 0.0005
        if n == SWAPPED_ROW:
            lon, lat = lat, lon
        if n == FATAL_WITHOUT_DEATHS_ROW:
            severity, deaths = "fatal", 0
        if n == FAR_AWAY_ROW:
            lon, lat = 116.397, 39.909  # Beijing
        rows.append(
            {
                "lon": lon,
                "lat": lat,
                "occurred_at": f"2024-{(n % 12) + 1:02d}-{(n % 28) + 1:02d} 08:{n % 60:02d}",
                "severity": severity,
                "deaths": deaths,
                "injuries": injuries,
                "crash_type": crash,
                "description": f"第{n}起事故",
            }
        )
    return rows
