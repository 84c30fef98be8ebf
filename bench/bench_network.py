"""Benchmark road-network building and junction extraction on synthetic county networks of 10k to 1M segments.

    python -m bench.bench_network                        # 10k, 100k and 1M segments; about 1 minute on 2 cores
    python -m bench.bench_network --sizes 10000,100000   # quick check

Data: `bench.road_networks.road_network(n, seed)`, a jittered 250 m grid of two-piece lines (EPSG:4549) meeting
only at their ends ("clean"), and the same network made messy ("noisy"): one long straight road per 1,000
segments laid across the grid with no shared vertices (half of them flagged grade-separated, which must stay
whole) and 1 % of the segments pulled back 0.5-1.8 m at their end so that they stop short of their junction.
The noisy run records what was planted, including the crossings to expect (counted pair by pair through an
STRtree, independently of the noding), so the repairs can be checked against it.

Figures: for build_network and find_junctions (and, on the clean network, the whole `extract` of the
intersections layer from lon/lat roads with a house per two segments beside them, sight triangles and all), the
best wall time over `--repeat` runs and the peak resident memory during a run above the memory before it (VmHWM
reset through /proc/self/clear_refs after returning freed heap to the system with malloc_trim, so a later run's
peak is not hidden in memory an earlier run freed); the network's counts and repairs; and the fitted scaling
exponent, the slope of log time against log n (1 = linear).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from analysis.intersections import extract
from bench.measure import add_sizes_option, environment, scaling_exponent, time_runs, write_results
from bench.road_networks import DROPPED, ORIGIN, SPACING_M, buildings, road_network, to_lonlat
from geo.junctions import find_junctions
from geo.network import NetworkParams, build_network

DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
STEPS = ("build_network", "find_junctions")
DEFAULT_OUT = Path(__file__).parent / "results" / "network.json"
#: Noisy variant: one long straight road per this many segments, crossing the grid without shared vertices ...
SEGMENTS_PER_CROSSING_LINE = 1_000
CROSSING_LENGTH_M = (2_000.0, 8_000.0)
#: ... half of them flagged grade-separated (they must not be split) ...
CROSSING_FLAGGED_SHARE = 0.5
#: ... and this share of segments pulled back 0.5-1.8 m at their end, so they stop short of their junction.
NEAR_MISS_SHARE = 0.01
NEAR_MISS_M = (0.5, 1.8)


# -- data ------------------------------------------------------------------------------------------------------


def noisy_network(segments: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """The grid network plus long crossing lines and near-miss ends; lines, flags, keys and what was planted."""
    roads = road_network(segments, seed)
    lines = roads.geometry.to_numpy().copy()
    keys = roads["route_code"].to_numpy().astype(object)
    rng = np.random.default_rng(seed + 1)

    # Near misses: move the last vertex of some lines back along their last segment.
    short = rng.choice(len(lines), size=int(len(lines) * NEAR_MISS_SHARE), replace=False)
    xy, owner = shapely.get_coordinates(lines[short], return_index=True)
    last = np.r_[owner[1:] != owner[:-1], True]
    prev = np.flatnonzero(last) - 1
    step = xy[np.flatnonzero(last)] - xy[prev]
    pull = rng.uniform(*NEAR_MISS_M, len(short))
    xy[np.flatnonzero(last)] -= step / np.hypot(*step.T)[:, None] * pull[:, None]
    lines[short] = shapely.linestrings(xy, indices=owner)

    # Long straight roads across the grid, meeting it only where they cross (no shared vertices).
    n_cross = max(1, segments // SEGMENTS_PER_CROSSING_LINE)
    k = max(2, math.ceil(math.sqrt(segments / (2 * (1 - DROPPED)))) + 1)  # the grid size road_network uses
    extent = (k - 1) * SPACING_M
    centre = np.asarray(ORIGIN) + rng.uniform(0.1, 0.9, size=(n_cross, 2)) * extent
    angle = rng.uniform(0, np.pi, n_cross)
    half = rng.uniform(*CROSSING_LENGTH_M, n_cross) / 2
    d = np.stack([np.cos(angle), np.sin(angle)], axis=1) * half[:, None]
    crossing = shapely.linestrings(np.stack([centre - d, centre + d], axis=1))
    flagged = rng.random(n_cross) < CROSSING_FLAGGED_SHARE
    # The crossings to expect, counted independently of the noding: every point where an unflagged crossing
    # line meets another unflagged line (grid lines meet only at their ends, so they add none).
    others = np.concatenate([lines, crossing[~flagged]])
    a, b = shapely.STRtree(others).query(crossing[~flagged], predicate="intersects")
    b_is_self = b == len(lines) + a
    a, b = a[~b_is_self], b[~b_is_self]
    meet = shapely.get_coordinates(shapely.intersection(crossing[~flagged][a], others[b]))
    cross_points = len(np.unique(meet, axis=0))
    all_lines = np.concatenate([lines, crossing])
    flags = np.concatenate([roads["grade_separated"].to_numpy(), flagged])
    all_keys = np.concatenate([keys, np.array([f"S{9000 + i}" for i in range(n_cross)], dtype=object)])
    planted = {
        "grid_segments": len(lines),
        "near_miss_ends": len(short),
        "crossing_lines": n_cross,
        "crossing_lines_grade_separated": int(flagged.sum()),
        "crossing_points_expected": cross_points,
    }
    return all_lines, flags, all_keys, planted


# -- measuring -------------------------------------------------------------------------------------------------


def measure(call: Callable[[], object], repeat: int) -> tuple[object, dict]:
    """Best wall time over `repeat` runs and the peak resident memory above the start of a run (VmHWM)."""
    runs = time_runs(call, repeat, trim=True)
    return runs.result, {
        "seconds_best": min(runs.seconds),
        "seconds_runs": runs.seconds,
        "rss_peak_above_start_mib": max(runs.peaks_mib),
    }


def run_one(lines: np.ndarray, flags: np.ndarray, keys: np.ndarray, params: NetworkParams, repeat: int) -> dict:
    """Time build_network and find_junctions on one network; returns timings, memory and counts."""
    net, build = measure(lambda: build_network(lines, flags, keys, params), repeat)
    junctions, find = measure(lambda: find_junctions(net, params), repeat)
    return {
        "input_lines": len(lines),
        "build_network": build,
        "find_junctions": find,
        "edges": len(net.edges),
        "nodes": len(net.node_xy),
        "raw_junction_nodes": junctions.raw_count,
        "clusters": junctions.cluster_count,
        "intersections": len(junctions),
        "approaches": {str(k): int(v) for k, v in zip(*np.unique(junctions.legs, return_counts=True), strict=True)},
        "repairs": {k: v for k, v in net.repairs.summary().items() if not isinstance(v, list)},
    }


def run_extract(roads, houses: int, seed: int, repeat: int) -> dict:
    """Time the whole intersection layer from lon/lat roads and houses: network, attributes, sight triangles."""
    stored, homes = to_lonlat(roads), to_lonlat(buildings(roads, houses, seed))
    extraction, timing = measure(lambda: extract(stored, buildings=homes), repeat)
    return {**timing, "buildings": houses, "sight_obstructed": extraction.report["sight_obstructed"]}


def run(sizes: list[int], repeat: int, seed: int) -> dict:
    """Both variants at every size, then the fitted exponents; returns the JSON-ready results."""
    params = NetworkParams()
    rows = []
    for n in sizes:
        t0 = time.perf_counter()
        roads = road_network(n, seed)
        clean = (roads.geometry.to_numpy(), roads["grade_separated"].to_numpy(), roads["route_code"].to_numpy())
        generate_clean = time.perf_counter() - t0
        row = {"segments": n, "clean": run_one(*clean, params, repeat)}
        row["clean"]["generate_seconds"] = generate_clean
        row["clean"]["extract"] = run_extract(roads, n // 2, seed, repeat)
        del roads, clean
        t0 = time.perf_counter()
        lines, flags, keys, planted = noisy_network(n, seed)
        generate_noisy = time.perf_counter() - t0
        row["noisy"] = {**run_one(lines, flags, keys, params, repeat), "planted": planted}
        row["noisy"]["generate_seconds"] = generate_noisy
        rows.append(row)
        print(f"  {n:>9,} segments done", file=sys.stderr)
    scaling = {}
    for variant, steps in (("clean", ("build_network", "find_junctions", "extract")), ("noisy", STEPS)):
        for step in steps:
            scaling[f"{variant}.{step}"] = scaling_exponent(
                [r[variant]["input_lines"] for r in rows], [r[variant][step]["seconds_best"] for r in rows]
            )
    return {
        "config": {
            "sizes": sizes,
            "repeat": repeat,
            "seed": seed,
            "params": params.__dict__,
            "metric_crs": "EPSG:4549",
            "noisy": {
                "segments_per_crossing_line": SEGMENTS_PER_CROSSING_LINE,
                "crossing_length_m": CROSSING_LENGTH_M,
                "crossing_flagged_share": CROSSING_FLAGGED_SHARE,
                "near_miss_share": NEAR_MISS_SHARE,
                "near_miss_m": NEAR_MISS_M,
            },
            "timing": "best of `repeat` runs; memory is the largest VmHWM rise over a run",
        },
        "environment": environment(shapely, np, pd),
        "results": rows,
        "scaling_exponent": scaling,
    }


def markdown(results: dict) -> str:
    """A Markdown table of the results."""
    lines = [
        "| segments | variant | build (s) | build peak (MiB) | junctions (s) | junctions peak (MiB) | edges "
        "| raw nodes | intersections | split points | snapped ends |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in results["results"]:
        for variant in ("clean", "noisy"):
            r = row[variant]
            lines.append(
                f"| {row['segments']:,} | {variant} | {r['build_network']['seconds_best']:.2f} "
                f"| {r['build_network']['rss_peak_above_start_mib']:.0f} | {r['find_junctions']['seconds_best']:.2f} "
                f"| {r['find_junctions']['rss_peak_above_start_mib']:.0f} | {r['edges']:,} "
                f"| {r['raw_junction_nodes']:,} | {r['intersections']:,} | {r['repairs']['split_points']:,} "
                f"| {r['repairs']['snapped_ends']:,} |"
            )
    extract_rows = [
        f"| {row['segments']:,} | {row['clean']['extract']['seconds_best']:.2f} "
        f"| {row['clean']['extract']['rss_peak_above_start_mib']:.0f} | {row['clean']['intersections']:,} |"
        for row in results["results"]
        if "extract" in row["clean"]
    ]
    if extract_rows:
        lines += [
            "",
            "| segments | extract with attributes (s) | peak (MiB) | intersections |",
            "|---:|---:|---:|---:|",
        ]
        lines += extract_rows
    exps = ", ".join(f"{k} {v:.2f}" for k, v in results["scaling_exponent"].items() if v is not None)
    lines.append(f"\nFitted exponents (slope of log time vs log n): {exps}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    """Parse options, run the benchmark, print the table and write the JSON file."""
    parser = argparse.ArgumentParser(prog="python -m bench.bench_network", description=__doc__.splitlines()[0])
    add_sizes_option(parser, DEFAULT_SIZES, "segment counts")
    parser.add_argument("--repeat", type=int, default=1, help="runs per step; best time kept (default 1)")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the networks (default 1)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON output (default {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    if args.repeat < 1 or not args.sizes or min(args.sizes) < 10:
        parser.error("--repeat must be positive and every size at least 10")

    results = run(sorted(args.sizes), args.repeat, args.seed)
    print(markdown(results))
    write_results(args.out, results)
    return results


if __name__ == "__main__":
    main()
