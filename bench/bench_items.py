"""Benchmark the running service: items pages with bbox filters on 1,000,000 points and 200,000 lines.

Builds a GeoPackage of generated features (fixed seed), starts `onemap serve` on a loopback port and times real
HTTP requests. Reports start-up (read + index build), the server's peak memory and median/p95 latency per
query kind, and repeats the run on 1/50 of the data: the ratio of the two medians shows how requests scale.
`python -m bench.bench_items --help` lists the options.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import httpx2 as httpx
import numpy as np
import pandas as pd
import shapely

from bench.serving import onemap_server, peak_rss_mb
from geo.crs import WGS84
from layers import get_layer
from layers.frames import coerce
from store import GeoPackageStore

CENTER_LON, CENTER_LAT = 120.6, 42.85
HALF_LON, HALF_LAT = 0.5, 0.4
BBOX_SIZES_DEG = {"~200 m": 0.0025, "~1 km": 0.012, "~5 km": 0.06}
DEFAULT_OUT = Path(__file__).parent / "results" / "items.json"


def generate(path: Path, points: int, lines: int, seed: int) -> None:
    """Write `points` accidents and `lines` roads, uniformly spread over a banner-sized area."""
    rng = np.random.default_rng(seed)
    lon = rng.uniform(CENTER_LON - HALF_LON, CENTER_LON + HALF_LON, points)
    lat = rng.uniform(CENTER_LAT - HALF_LAT, CENTER_LAT + HALF_LAT, points)
    accidents = get_layer("accidents")
    severity = rng.choice(["fatal", "injury", "property"], size=points, p=[0.05, 0.35, 0.6])
    frame = pd.DataFrame(
        {
            "occurred_at": pd.Timestamp("2023-01-01")
            + pd.to_timedelta(rng.integers(0, 3 * 365 * 24, points), unit="h"),
            "severity": severity,
            "deaths": np.where(severity == "fatal", 1, 0),
            "injuries": np.where(severity == "injury", 1, 0),
            "crash_type": "other",
            "road_id": rng.integers(1, max(lines, 1) + 1, points),
            "drunk_driving": False,
            "drug_driving": False,
            "description": None,
        }
    )
    frame.index = pd.RangeIndex(1, points + 1, name="fid")
    GeoPackageStore(path).replace(
        accidents, gpd.GeoDataFrame(coerce(accidents, frame), geometry=shapely.points(lon, lat), crs=WGS84)
    )
    roads = get_layer("roads")
    start_lon = rng.uniform(CENTER_LON - HALF_LON, CENTER_LON + HALF_LON, lines)
    start_lat = rng.uniform(CENTER_LAT - HALF_LAT, CENTER_LAT + HALF_LAT, lines)
    steps = rng.normal(0, 0.002, (lines, 3, 2)).cumsum(axis=1)
    coords = np.concatenate(
        [
            np.stack([start_lon, start_lat], axis=1)[:, None, :],
            steps + np.stack([start_lon, start_lat], axis=1)[:, None, :],
        ],
        axis=1,
    )
    geoms = shapely.linestrings(coords)
    road_frame = pd.DataFrame(
        {
            "name": "bench road",
            "route_code": None,
            "admin_class": "C",
            "tech_class": "class4",
            "lanes": 2,
            "speed_limit_kmh": 40,
            "surface": "concrete",
            "aadt": None,
            "grade_separated": False,
        },
        index=pd.RangeIndex(1, lines + 1, name="fid"),
    )
    GeoPackageStore(path).replace(roads, gpd.GeoDataFrame(coerce(roads, road_frame), geometry=geoms, crs=WGS84))


def _bboxes(rng: np.random.Generator, size: float, n: int) -> list[tuple[float, float, float, float]]:
    lon = rng.uniform(CENTER_LON - HALF_LON, CENTER_LON + HALF_LON - size, n)
    lat = rng.uniform(CENTER_LAT - HALF_LAT, CENTER_LAT + HALF_LAT - size, n)
    return [(a, b, a + size, b + size) for a, b in zip(lon, lat, strict=True)]


def _time(client: httpx.Client, url: str, params: dict[str, str]) -> tuple[float, dict]:
    t0 = time.perf_counter()
    response = client.get(url, params=params)
    elapsed = time.perf_counter() - t0
    response.raise_for_status()
    return elapsed, response.json()


def _stats(samples: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in samples)
    return {"median_ms": statistics.median(ms), "p95_ms": ms[max(int(round(0.95 * len(ms))) - 1, 0)], "n": len(ms)}


def run(points: int, lines: int, queries: int, seed: int) -> dict:
    """Generate, serve, measure; returns the results as a dict."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.gpkg"
        t0 = time.perf_counter()
        generate(path, points, lines, seed)
        generate_s = time.perf_counter() - t0
        with onemap_server(path) as server, httpx.Client(base_url=server["base"], timeout=120) as client:
            rng = np.random.default_rng(seed + 1)
            results: dict = {"generate_s": generate_s, "startup_s": server["startup_s"], "queries": {}}
            for layer_id, noun in (("accidents", "points"), ("roads", "lines")):
                for size_label, size in BBOX_SIZES_DEG.items():
                    samples, matched = [], []
                    for bbox in _bboxes(rng, size, queries):
                        params = {"bbox": ",".join(f"{v:.6f}" for v in bbox), "limit": "100"}
                        elapsed, body = _time(client, f"/collections/{layer_id}/items", params)
                        samples.append(elapsed)
                        matched.append(body["numberMatched"])
                    stats = _stats(samples)
                    stats["median_matched"] = statistics.median(matched)
                    results["queries"][f"{noun}, bbox {size_label}, limit 100"] = stats
                pages = []
                count = points if layer_id == "accidents" else lines
                for offset in rng.integers(0, max(count - 100, 1), queries // 2 or 1):
                    elapsed, _ = _time(
                        client, f"/collections/{layer_id}/items", {"limit": "100", "offset": str(offset)}
                    )
                    pages.append(elapsed)
                results["queries"][f"{noun}, page of 100 at a random offset"] = _stats(pages)
            results["server_peak_rss_mb"] = peak_rss_mb(server["pid"])
    results.update({"points": points, "lines": lines, "queries_per_kind": queries, "seed": seed})
    return results


def table(full: dict, small: dict) -> str:
    """Both runs as a Markdown table; the growth column is how much slower a request gets on 50× the data."""
    rows = [
        f"{full['points']:,} points + {full['lines']:,} lines: server start-up (read + index build) "
        f"{full['startup_s']:.1f} s, server peak RSS {full['server_peak_rss_mb']:.0f} MB "
        f"(at {small['points']:,} + {small['lines']:,}: {small['startup_s']:.1f} s, "
        f"{small['server_peak_rss_mb']:.0f} MB).",
        "",
        f"| request | median ms | p95 ms | median matched | median ms at {small['points']:,} + {small['lines']:,} "
        f"| growth for {full['points'] // small['points']}× data |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, s in full["queries"].items():
        base = small["queries"][name]
        matched = f"{s['median_matched']:.0f}" if "median_matched" in s else "–"
        rows.append(
            f"| {name} | {s['median_ms']:.1f} | {s['p95_ms']:.1f} | {matched} | {base['median_ms']:.1f} "
            f"| {s['median_ms'] / base['median_ms']:.1f}× |"
        )
    return "\n".join(rows)


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--queries", type=int, default=200, help="requests per query kind")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--scale", type=int, default=50, help="the baseline run has 1/scale of the features")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    small = run(args.points // args.scale, args.lines // args.scale, args.queries, args.seed)
    full = run(args.points, args.lines, args.queries, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"full": full, "baseline": small}, indent=2, ensure_ascii=False))
    print(table(full, small))


if __name__ == "__main__":
    main()
