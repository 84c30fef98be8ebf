"""Benchmark SpatialIndex on synthetic banner-sized data: build time and memory, query latency, index vs scan.

Run `python -m bench.bench_index --help` for options; bench/README.md says what each figure means.
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyproj
import rtree
import shapely
from shapely.geometry import Point, box

from bench.measure import PeakRss, environment, rss_kib, time_runs, traced_mib, write_results
from geo.crs import LOCAL_METRIC, WGS84, transformer
from geo.index import SpatialIndex

#: Centre of the synthetic area, roughly the middle of Naiman Banner (lon, lat).
CENTER_LON, CENTER_LAT = 120.6, 42.85
#: Half-extent of the area in degrees: about 82 km x 89 km, the size of the banner.
HALF_LON, HALF_LAT = 0.5, 0.4
BBOX_SIZES_M = (200.0, 1_000.0, 5_000.0)
DISTANCE_M = 500.0
K_NEAREST = 5
DEFAULT_OUT = Path(__file__).parent / "results" / "index.json"


# -- data ------------------------------------------------------------------------------------------------------


def make_points(n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` lon/lat points: half uniform over the area, half clustered around 300 settlements (sd 800 m)."""
    n_uniform = n // 2
    lon = rng.uniform(CENTER_LON - HALF_LON, CENTER_LON + HALF_LON, n_uniform)
    lat = rng.uniform(CENTER_LAT - HALF_LAT, CENTER_LAT + HALF_LAT, n_uniform)
    centres_lon = rng.uniform(CENTER_LON - HALF_LON * 0.9, CENTER_LON + HALF_LON * 0.9, 300)
    centres_lat = rng.uniform(CENTER_LAT - HALF_LAT * 0.9, CENTER_LAT + HALF_LAT * 0.9, 300)
    pick = rng.integers(0, 300, n - n_uniform)
    dlon, dlat = 800.0 / (111_320.0 * np.cos(np.radians(CENTER_LAT))), 800.0 / 111_000.0
    lon = np.concatenate([lon, centres_lon[pick] + rng.normal(0, dlon, len(pick))])
    lat = np.concatenate([lat, centres_lat[pick] + rng.normal(0, dlat, len(pick))])
    return shapely.points(lon, lat)


def make_lines(n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` lon/lat polylines of 2-5 vertices and 50-500 m total length, drawn in EPSG:4549 metres."""
    to_metric = transformer(WGS84, LOCAL_METRIC)
    to_lonlat = transformer(LOCAL_METRIC, WGS84)
    x0, y0 = to_metric.transform(
        rng.uniform(CENTER_LON - HALF_LON, CENTER_LON + HALF_LON, n),
        rng.uniform(CENTER_LAT - HALF_LAT, CENTER_LAT + HALF_LAT, n),
    )
    n_vertices = rng.integers(2, 6, n)
    n_segments = n_vertices - 1
    length = rng.uniform(50.0, 500.0, n)
    # Each segment gets an equal share of the length and a heading that wanders by up to 60 degrees.
    seg_owner = np.repeat(np.arange(n), n_segments)
    seg_len = (length / n_segments)[seg_owner]
    heading = rng.uniform(0, 2 * np.pi, n)[seg_owner] + rng.uniform(-np.pi / 3, np.pi / 3, len(seg_owner))
    dx, dy = seg_len * np.cos(heading), seg_len * np.sin(heading)
    # Vertex coordinates: the start point, then cumulative sums of the steps within each line.
    starts = np.concatenate([[0], np.cumsum(n_vertices)[:-1]])
    x = np.empty(n_vertices.sum())
    y = np.empty(n_vertices.sum())
    owner = np.repeat(np.arange(n), n_vertices)
    step_x = np.zeros(len(x))
    step_y = np.zeros(len(y))
    not_first = np.ones(len(x), dtype=bool)
    not_first[starts] = False
    step_x[not_first], step_y[not_first] = dx, dy
    cum_x, cum_y = np.cumsum(step_x), np.cumsum(step_y)
    x[:] = x0[owner] + cum_x - cum_x[starts][owner]
    y[:] = y0[owner] + cum_y - cum_y[starts][owner]
    lon, lat = to_lonlat.transform(x, y)
    return shapely.linestrings(np.column_stack([lon, lat]), indices=owner)


def random_boxes(size_m: float, n: int, rng: np.random.Generator) -> list[tuple[float, float, float, float]]:
    """`n` square-ish lon/lat boxes about `size_m` metres across, centred uniformly over the area."""
    dlon = size_m / (111_320.0 * np.cos(np.radians(CENTER_LAT)))
    dlat = size_m / 111_100.0
    lon = rng.uniform(CENTER_LON - HALF_LON, CENTER_LON + HALF_LON, n)
    lat = rng.uniform(CENTER_LAT - HALF_LAT, CENTER_LAT + HALF_LAT, n)
    return [(x - dlon / 2, y - dlat / 2, x + dlon / 2, y + dlat / 2) for x, y in zip(lon, lat, strict=True)]


def random_points(n: int, rng: np.random.Generator) -> list[Point]:
    """`n` query points uniform over the area."""
    lon = rng.uniform(CENTER_LON - HALF_LON, CENTER_LON + HALF_LON, n)
    lat = rng.uniform(CENTER_LAT - HALF_LAT, CENTER_LAT + HALF_LAT, n)
    return [Point(x, y) for x, y in zip(lon, lat, strict=True)]


# -- measuring -------------------------------------------------------------------------------------------------


def latencies_ms(calls: list[Callable[[], object]], repeat: int) -> tuple[np.ndarray, list[object]]:
    """Best-of-`repeat` wall time of each call in ms, and each call's result from its first run."""
    times = np.full(len(calls), np.inf)
    results: list[object] = [None] * len(calls)
    for r in range(repeat):
        for i, call in enumerate(calls):
            t0 = time.perf_counter_ns()
            out = call()
            times[i] = min(times[i], (time.perf_counter_ns() - t0) / 1e6)
            if r == 0:
                results[i] = out
    return times, results


def summary(times_ms: np.ndarray, counts: list[int] | None = None) -> dict:
    """Median, p95 and max latency (ms), with the mean and max result count when given."""
    out = {
        "n_queries": len(times_ms),
        "median_ms": float(np.median(times_ms)),
        "p95_ms": float(np.percentile(times_ms, 95)),
        "max_ms": float(times_ms.max()),
    }
    if counts is not None:
        out["mean_results"] = float(np.mean(counts))
        out["max_results"] = int(np.max(counts))
    return out


def measure_build(ids: np.ndarray, geoms: np.ndarray, repeat: int) -> tuple[SpatialIndex, dict]:
    """Build time (best and all runs) and memory of SpatialIndex(ids, geoms)."""
    runs = time_runs(lambda: SpatialIndex(ids, geoms), repeat).seconds
    # Memory, from a separate build so the timings above carry no tracing overhead.
    gc.collect()
    with PeakRss() as peak:
        index, py_kept, py_peak = traced_mib(lambda: SpatialIndex(ids, geoms))
    rss_after = rss_kib("VmRSS")
    memory = {
        "tracemalloc_peak_mib": py_peak,
        "tracemalloc_retained_mib": py_kept,
        "rss_retained_mib": (rss_after - peak.rss_before) / 1024 if peak.rss_before is not None else None,
        "rss_peak_above_start_mib": peak.mib,
        "rss_peak_method": peak.method(before="build"),
    }
    return index, {"seconds_best": min(runs), "seconds_runs": runs, **memory}


# -- the run ---------------------------------------------------------------------------------------------------


def run(n_points: int, n_lines: int, repeat: int, n_queries: int, n_scan: int, seed: int) -> dict:
    """Generate the data, build the index and time every query family; returns the JSON-ready results."""
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    geoms = np.concatenate([make_points(n_points, rng), make_lines(n_lines, rng)])
    # Non-contiguous ids, shuffled, as feature ids from a store would be.
    ids = rng.permutation(np.arange(len(geoms), dtype=np.int64) * 7 + 1_000)
    generate_s = time.perf_counter() - t0

    index, build = measure_build(ids, geoms, repeat)
    ids_by_pos = ids  # brute force returns positions; map them back to ids

    qrng = np.random.default_rng(seed + 1)
    bbox_rows = []
    for size in BBOX_SIZES_M:
        boxes = random_boxes(size, n_queries, qrng)
        times, results = latencies_ms([lambda b=b: index.bbox(b) for b in boxes], repeat)
        counts = [len(r) for r in results]
        row = {"size_m": size, **summary(times, counts)}
        # Brute force on a sample: one vectorised shapely.intersects over every geometry per query.
        sample = list(range(min(n_scan, len(boxes))))
        shapes = [box(*boxes[i]) for i in sample]
        for s in shapes:
            shapely.prepare(s)
        scan_times, scan_results = latencies_ms(
            [lambda s=s: np.sort(ids_by_pos[shapely.intersects(s, geoms)]) for s in shapes], 1
        )
        agree = all(np.array_equal(scan_results[j], results[i]) for j, i in enumerate(sample))
        row["scan"] = {**summary(scan_times), "results_agree": agree}
        row["speedup_median"] = float(np.median(scan_times) / np.median(times[sample]))
        bbox_rows.append(row)

    points = random_points(n_queries, qrng)
    times, results = latencies_ms([lambda p=p: index.within_distance(p, DISTANCE_M) for p in points], repeat)
    within = {"distance_m": DISTANCE_M, **summary(times, [len(r) for r in results])}
    times, results = latencies_ms([lambda p=p: index.nearest(p, K_NEAREST) for p in points], repeat)
    nearest = {"k": K_NEAREST, **summary(times, [len(r) for r in results])}
    nearest["mean_kth_distance_m"] = float(np.mean([r[-1][1] for r in results]))

    return {
        "config": {
            "points": n_points,
            "lines": n_lines,
            "repeat": repeat,
            "queries_per_family": n_queries,
            "scan_sample_per_size": n_scan,
            "seed": seed,
            "area_lonlat": [
                CENTER_LON - HALF_LON,
                CENTER_LAT - HALF_LAT,
                CENTER_LON + HALF_LON,
                CENTER_LAT + HALF_LAT,
            ],
            "metric_crs": LOCAL_METRIC,
            "latency": "best of `repeat` runs per query, then median/p95 over queries",
        },
        "environment": environment(shapely, rtree, pyproj, np),
        "generate_seconds": generate_s,
        "build": build,
        "bbox": bbox_rows,
        "within_distance": within,
        "nearest": nearest,
    }


def markdown(results: dict) -> str:
    """The results as a Markdown table plus a one-line build summary."""
    cfg, build = results["config"], results["build"]
    lines = [
        f"SpatialIndex on {cfg['points']:,} points + {cfg['lines']:,} lines "
        f"(seed {cfg['seed']}, best of {cfg['repeat']} per query)",
        "",
        f"Build: {build['seconds_best']:.2f} s; RSS retained {build['rss_retained_mib']:.0f} MiB, "
        f"RSS peak above start {build['rss_peak_above_start_mib']:.0f} MiB, "
        f"tracemalloc peak {build['tracemalloc_peak_mib']:.0f} MiB",
        "",
        "| query | n | median ms | p95 ms | mean results | scan median ms | speed-up |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in results["bbox"]:
        scan = row["scan"]
        ok = "" if scan["results_agree"] else " (MISMATCH)"
        lines.append(
            f"| bbox {row['size_m']:g} m | {row['n_queries']} | {row['median_ms']:.3f} | {row['p95_ms']:.3f} "
            f"| {row['mean_results']:.1f} | {scan['median_ms']:.1f} (n={scan['n_queries']}){ok} "
            f"| {row['speedup_median']:.0f}x |"
        )
    w, nn = results["within_distance"], results["nearest"]
    lines.append(
        f"| within_distance {w['distance_m']:g} m | {w['n_queries']} | {w['median_ms']:.3f} | {w['p95_ms']:.3f} "
        f"| {w['mean_results']:.1f} | | |"
    )
    lines.append(
        f"| nearest k={nn['k']} | {nn['n_queries']} | {nn['median_ms']:.3f} | {nn['p95_ms']:.3f} "
        f"| {nn['mean_results']:.1f} | | |"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    """Parse options, run the benchmark, print the table and write the JSON file."""
    parser = argparse.ArgumentParser(prog="python -m bench.bench_index", description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000, help="number of points (default 1,000,000)")
    parser.add_argument("--lines", type=int, default=200_000, help="number of short lines (default 200,000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per build and per query; best kept (default 3)")
    parser.add_argument("--queries", type=int, default=200, help="queries per bbox size and per family (default 200)")
    parser.add_argument("--scan-sample", type=int, default=10, help="brute-force scans per bbox size (default 10)")
    parser.add_argument("--seed", type=int, default=20240611, help="random seed (default 20240611)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON output (default {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.queries < 1 or args.points + args.lines < 1:
        parser.error("--repeat, --queries and the data size must be positive")

    results = run(args.points, args.lines, args.repeat, args.queries, args.scan_sample, args.seed)
    print(markdown(results))
    write_results(args.out, results)
    return results


if __name__ == "__main__":
    main()
