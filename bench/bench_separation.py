"""Benchmark fire separation and 连片 clustering (analysis.fire_separation) as the number of buildings grows.

Run `python -m bench.bench_separation --help` for options. Buildings are synthetic villages of 10 × 8 m courtyard
houses in rows: each village has its own house pitch (10.5–20 m along a row, 14–24 m between rows, so gaps of 0.5–10 m
and 6–16 m) with a little jitter, grades drawn at random (一二级, 三级, 四级, unknown) and a few high-rise blocks, so
that too-close pairs, chains, rings and isolated houses all occur. Every fifth village has an old quarter (built before
2000) with its settlement polygon. The layers are handed over in lon/lat, as stored. The scaling exponent is the slope
of log(time) against log(size): about 1 means the work grows as n (n log n looks like 1.0–1.1).
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import sys
import time
from datetime import date
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import scipy
import shapely

from analysis.fire_separation import SeparationRules
from analysis.settlement_plans import analyse
from bench.measure import add_sizes_option, environment, scaling_exponent, time_runs, write_results
from geo.crs import LOCAL_METRIC, WGS84

DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
DEFAULT_OUT = Path(__file__).parent / "results" / "separation.json"
AS_OF = date(2026, 10, 31)
#: Village grid origin in EPSG:4549 metres (inside Naiman Banner) and village spacing.
ORIGIN = (480_000.0, 4_700_000.0)
VILLAGE_SPACING_M = 1_500.0
GRADES = np.array(["1", "2", "3", "4", "unknown"], dtype=object)
GRADE_P = [0.05, 0.10, 0.40, 0.25, 0.20]


def villages(n: int, seed: int) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """About `n` houses (EPSG:4549) in villages of 100–400, and one old-settlement polygon per fifth village."""
    rng = np.random.default_rng(seed)
    sizes = []
    while sum(sizes) < n:
        sizes.append(int(rng.integers(100, 401)))
    sizes[-1] -= sum(sizes) - n  # the last village takes what is left: at least one house
    k = len(sizes)
    side = math.ceil(math.sqrt(k))
    parts, settlements = [], []
    for v, size in enumerate(sizes):
        cols = max(1, round(math.sqrt(size * 1.5)))
        rows = math.ceil(size / cols)
        pitch_x, pitch_y = rng.uniform(10.5, 20.0), rng.uniform(14.0, 24.0)
        ij = np.stack(np.divmod(np.arange(size), cols), axis=1)[:, ::-1].astype(float)
        centre = np.array(ORIGIN) + VILLAGE_SPACING_M * np.array(divmod(v, side))[::-1]
        xy = centre + ij * (pitch_x, pitch_y) + rng.uniform(-0.5, 0.5, (size, 2))
        quarter = ij[:, 1] < rows / 3  # the first third of the rows
        old = quarter & (v % 5 == 0)
        parts.append(
            pd.DataFrame(
                {
                    "x": xy[:, 0],
                    "y": xy[:, 1],
                    "village_code": f"150525{100 + v // 1000:03d}{v % 1000:03d}",
                    "old": old,
                }
            )
        )
        if v % 5 == 0:
            lo, hi = xy[quarter].min(axis=0) - 8, xy[quarter].max(axis=0) + 8
            code = parts[-1]["village_code"][0]
            box = shapely.box(lo[0], lo[1], hi[0], hi[1])
            settlements.append({"name": f"老村片区{v}", "build_year": 1988, "village_code": code, "geometry": box})
    frame = pd.concat(parts, ignore_index=True)
    m = len(frame)
    corners = np.array([(-5, -4), (5, -4), (5, 4), (-5, 4)], dtype=float)
    rings = frame[["x", "y"]].to_numpy()[:, None, :] + corners[None, :, :]
    storeys = np.where(rng.random(m) < 0.005, 11, rng.choice([1, 1, 1, 2], m))
    grade = np.where(storeys > 9, "2", rng.choice(GRADES, m, p=GRADE_P))
    year = np.where(frame["old"], rng.integers(1975, 2001, m), rng.integers(2001, 2024, m))
    buildings = gpd.GeoDataFrame(
        {
            "storeys": storeys,
            "fire_grade": grade,
            "use": np.where(rng.random(m) < 0.92, "residential", "commercial"),
            "residents": rng.integers(1, 7, m),
            "build_year": year,
            "village_code": frame["village_code"].to_numpy(),
        },
        geometry=shapely.polygons(rings),
        crs=LOCAL_METRIC,
        index=pd.RangeIndex(1, m + 1, name="fid"),
    )
    old = gpd.GeoDataFrame(settlements, geometry="geometry", crs=LOCAL_METRIC)
    old.index = pd.RangeIndex(1, len(old) + 1, name="fid")
    return buildings, old


def make_data(size: int, seed: int) -> tuple[dict, dict]:
    """The lon/lat layers for one size, and how long making them took."""
    t0 = time.perf_counter()
    buildings, old = villages(size, seed)
    generate_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    layers = {"buildings": buildings.to_crs(WGS84), "old_settlements": old.to_crs(WGS84)}
    return layers, {"generate_s": generate_s, "to_lonlat_s": time.perf_counter() - t0}


def measure(layers: dict, rules: SeparationRules, repeat: int) -> dict:
    """Wall time (best of `repeat`) and peak resident memory of one analysis, with what it found."""
    runs = time_runs(
        lambda: analyse(layers["buildings"], old_settlements=layers["old_settlements"], as_of=AS_OF, rules=rules),
        repeat,
    )
    r = runs.result
    clusters = r.clusters
    return {
        "seconds_best": min(runs.seconds),
        "seconds_runs": runs.seconds,
        "stage_seconds_last_run": r.timings,
        "separation_and_clustering_s": sum(r.timings[k] for k in ("prepare", "pairs", "components", "clusters")),
        "rss_peak_above_start_mib": runs.peaks_mib[0],
        "rss_peak_method": runs.peak_method,
        "too_close_pairs": len(r.pairs),
        "pairs_by_required_m": {f"{k:g}": int(v) for k, v in r.pairs["required_m"].value_counts().sort_index().items()},
        "clusters": len(clusters),
        "buildings_in_clusters": int(clusters["buildings"].sum()),
        "largest_cluster": int(clusters["buildings"].max()) if len(clusters) else 0,
        "high_rise_buildings": int(r.buildings["high_rise"].sum()),
        "villages": len(r.villages),
        "settlements": len(r.settlements),
        "drafts": len(r.drafts),
    }


def run(sizes: list[int], repeat: int, seed: int) -> dict:
    """Every size in turn; then the fitted exponents of time against size."""
    rows = []
    for size in sizes:
        layers, made = make_data(size, seed)
        row = {"buildings": len(layers["buildings"]), "old_settlements": len(layers["old_settlements"]), **made}
        row |= measure(layers, SeparationRules(), repeat)
        rows.append(row)
        print(
            f"{size:>9,} buildings: {row['seconds_best']:7.2f} s (separation + clusters "
            f"{row['separation_and_clustering_s']:.2f} s), peak +{row['rss_peak_above_start_mib'] or 0:,.0f} MiB, "
            f"{row['too_close_pairs']:,} pairs, {row['clusters']:,} clusters",
            file=sys.stderr,
        )
        del layers
        gc.collect()
    n = [r["buildings"] for r in rows]
    return {
        "config": {
            "sizes": sizes,
            "repeat": repeat,
            "seed": seed,
            "as_of": AS_OF.isoformat(),
            "rules": "analysis.fire_separation.SeparationRules() defaults",
            "data": "bench.bench_separation.villages: 10 x 8 m houses in rows, pitch 10.5-20 m x 14-24 m per village, "
            "grades 1/2/3/4/unknown at 5/10/40/25/20 %, 0.5 % eleven-storey 二级 blocks; lon/lat input",
        },
        "environment": environment(shapely, pyproj, np, pd, scipy, cpus=len(os.sched_getaffinity(0))),
        "runs": rows,
        "scaling_exponent": scaling_exponent(n, [r["seconds_best"] for r in rows]),
        "scaling_exponent_separation_and_clustering": scaling_exponent(
            n, [r["separation_and_clustering_s"] for r in rows]
        ),
    }


def markdown(results: dict) -> str:
    """The figures as a Markdown table."""
    lines = [
        "| buildings | whole analysis (s) | separation + clusters (s) | peak RSS +MiB | too-close pairs | clusters "
        "| largest |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results["runs"]:
        lines.append(
            f"| {r['buildings']:,} | {r['seconds_best']:.2f} | {r['separation_and_clustering_s']:.2f} "
            f"| {r['rss_peak_above_start_mib'] or 0:,.0f} | {r['too_close_pairs']:,} | {r['clusters']:,} "
            f"| {r['largest_cluster']:,} |"
        )
    if results["scaling_exponent"] is not None:
        lines.append(
            f"\nscaling exponent (slope of log time vs log buildings): whole {results['scaling_exponent']:.2f}, "
            f"separation + clusters {results['scaling_exponent_separation_and_clustering']:.2f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    """Parse options, run the benchmark, print the table and write the JSON file."""
    parser = argparse.ArgumentParser(prog="python -m bench.bench_separation", description=__doc__.splitlines()[0])
    add_sizes_option(parser, DEFAULT_SIZES, "building counts, one run each")
    parser.add_argument("--repeat", type=int, default=1, help="runs per size; best kept (default 1)")
    parser.add_argument("--seed", type=int, default=20261031, help="random seed (default 20261031)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON output (default {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    if args.repeat < 1 or not args.sizes or min(args.sizes) < 100:
        parser.error("--repeat must be positive and every size at least 100")
    results = run(args.sizes, args.repeat, args.seed)
    print(markdown(results))
    write_results(args.out, results)
    return results


if __name__ == "__main__":
    main()
