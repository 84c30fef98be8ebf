"""Benchmark the accident-prone spot and segment screening: time and peak memory of `screen` as the network grows.

Run `python -m bench.bench_screening --help` for options. Networks come from bench/road_networks.py (a jittered grid
of about 250 m links with routes along its rows and columns), with as many crashes as road lines; intersections are
the nodes where three or more lines meet, found from the line ends with numpy. The scaling exponent is the slope of
log(time) against log(size) over the sizes run: about 1 means the work grows as n (n log n looks like 1.0–1.1).
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from collections import Counter
from datetime import date
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from analysis.screening import Rules, run_screening
from bench.measure import add_sizes_option, environment, scaling_exponent, time_runs, write_results
from bench.road_networks import crashes, road_network, to_lonlat
from geo.crs import LOCAL_METRIC

DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
DEFAULT_OUT = Path(__file__).parent / "results" / "screening.json"
#: The synthetic crashes span 2023-01-01 to 2025-12-31: screening as of 2026-01-01 counts all three years.
AS_OF = date(2026, 1, 1)


def intersections_of(roads: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Nodes where three or more road lines end (EPSG:4549), with legs and the legs' largest and smallest AADT."""
    lines = roads.geometry.to_numpy()
    ends = np.concatenate(
        [shapely.get_coordinates(shapely.get_point(lines, 0)), shapely.get_coordinates(shapely.get_point(lines, -1))]
    )
    aadt = np.tile(roads["aadt"].to_numpy(dtype=float), 2)
    nodes, node_of_end, legs = np.unique(ends, axis=0, return_inverse=True, return_counts=True)
    node_of_end = node_of_end.ravel()
    major = np.full(len(nodes), -np.inf)
    minor = np.full(len(nodes), np.inf)
    np.maximum.at(major, node_of_end, aadt)
    np.minimum.at(minor, node_of_end, aadt)
    keep = legs >= 3
    return gpd.GeoDataFrame(
        {
            "legs": legs[keep],
            "control": "none",
            "major_aadt": major[keep].astype(int),
            "minor_aadt": minor[keep].astype(int),
        },
        geometry=shapely.points(nodes[keep]),
        crs=LOCAL_METRIC,
        index=pd.RangeIndex(1, int(keep.sum()) + 1),
    )


def make_data(segments: int, n_crashes: int, seed: int) -> tuple[dict, dict]:
    """The three lon/lat layers for one size, and how long making them took."""
    t0 = time.perf_counter()
    roads = road_network(segments, seed)
    # The generator grades national routes 二级; make them 一级 so the 1,000 m / 4,000 m windows run at scale too.
    roads["tech_class"] = np.where(roads["admin_class"] == "G", "class1", roads["tech_class"])
    accidents = crashes(roads, n_crashes, seed + 1)
    junctions = intersections_of(roads)
    generate_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    layers = {"accidents": to_lonlat(accidents), "intersections": to_lonlat(junctions), "roads": to_lonlat(roads)}
    return layers, {"generate_s": generate_s, "to_lonlat_s": time.perf_counter() - t0}


def measure(layers: dict, rules: Rules, repeat: int) -> dict:
    """Wall time (best of `repeat`) and peak resident memory of one screening, with what it found."""
    runs = time_runs(
        lambda: run_screening(layers["accidents"], layers["intersections"], layers["roads"], AS_OF, rules), repeat
    )
    result = runs.result
    kinds = Counter((f.kind, f.grade, f.road_type) for f in result.findings)
    sites = result.sites
    return {
        "seconds_best": min(runs.seconds),
        "seconds_runs": runs.seconds,
        "stage_seconds_last_run": result.timings,
        "rss_peak_above_start_mib": runs.peaks_mib[0],
        "rss_peak_method": runs.peak_method,
        "findings": len(result.findings),
        "findings_by_kind_grade_road": {"/".join(k): v for k, v in sorted(kinds.items())},
        "findings_with_eb_excess": sum(f.eb_excess is not None for f in result.findings),
        "unplaced": len(result.unplaced),
        "sites": len(sites),
        "sites_ranked_by_eb": int((sites["method"] == "eb").sum()),
        "notes": result.notes,
    }


def run(sizes: list[int], crashes_per_segment: float, repeat: int, seed: int) -> dict:
    """Every size in turn; then the fitted exponent of time against size."""
    rows = []
    for size in sizes:
        layers, made = make_data(size, round(size * crashes_per_segment), seed)
        counts = {name: len(frame) for name, frame in layers.items()}
        row = {"segments": size, **{f"n_{k}": v for k, v in counts.items()}, **made, **measure(layers, Rules(), repeat)}
        rows.append(row)
        print(
            f"{size:>9,} segments: {row['seconds_best']:7.2f} s, peak +{row['rss_peak_above_start_mib'] or 0:,.0f} MiB,"
            f" {row['findings']:,} findings",
            file=sys.stderr,
        )
        del layers
        gc.collect()
    exponent = scaling_exponent([r["segments"] for r in rows], [r["seconds_best"] for r in rows])
    return {
        "config": {
            "sizes": sizes,
            "crashes_per_segment": crashes_per_segment,
            "repeat": repeat,
            "seed": seed,
            "as_of": AS_OF.isoformat(),
            "rules": "analysis.screening.Rules() defaults",
            "network": "bench.road_networks.road_network (national routes set to class1), crashes(); "
            "intersections = line-end nodes with >= 3 lines",
        },
        "environment": environment(shapely, pyproj, np, pd, cpus=len(os.sched_getaffinity(0))),
        "runs": rows,
        "scaling_exponent": exponent,
    }


def markdown(results: dict) -> str:
    """The figures as a Markdown table."""
    lines = [
        "| segments | crashes | intersections | screen (s) | peak RSS +MiB | findings | unplaced | EB sites |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results["runs"]:
        lines.append(
            f"| {r['segments']:,} | {r['n_accidents']:,} | {r['n_intersections']:,} | {r['seconds_best']:.2f} "
            f"| {r['rss_peak_above_start_mib'] or 0:,.0f} | {r['findings']:,} | {r['unplaced']:,} "
            f"| {r['sites_ranked_by_eb']:,} / {r['sites']:,} |"
        )
    if results["scaling_exponent"] is not None:
        lines.append(f"\nscaling exponent (slope of log time vs log segments): {results['scaling_exponent']:.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    """Parse options, run the benchmark, print the table and write the JSON file."""
    parser = argparse.ArgumentParser(prog="python -m bench.bench_screening", description=__doc__.splitlines()[0])
    add_sizes_option(parser, DEFAULT_SIZES, "road-line counts, one run each")
    parser.add_argument("--crashes-per-segment", type=float, default=1.0, help="crashes per road line (default 1)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per size; best kept (default 1)")
    parser.add_argument("--seed", type=int, default=20260101, help="random seed (default 20260101)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON output (default {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    if args.repeat < 1 or not args.sizes or min(args.sizes) < 10 or args.crashes_per_segment <= 0:
        parser.error("--repeat and --crashes-per-segment must be positive, and every size at least 10")

    results = run(args.sizes, args.crashes_per_segment, args.repeat, args.seed)
    print(markdown(results))
    write_results(args.out, results)
    return results


if __name__ == "__main__":
    main()
