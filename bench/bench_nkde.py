"""Benchmark network kernel density (analysis.nkde) on synthetic road networks: time, memory and scaling.

Run `python -m bench.bench_nkde --help` for options. For each size, `bench.road_networks.road_network(n)` gives
about n road segments (a jittered 250 m grid in EPSG:4549) and `crashes(roads, n)` as many crashes; each method
then runs `--repeat` times below 1M segments (median kept) and once from 1M up. Figures:

- *median s*: wall time of `nkde(roads, crashes, params)`, network building and snapping included; *density s*
  and *snap s* are its stages. Lixel midpoints and LineStrings are built on first use and timed apart.
- *RSS peak MiB*: the process's peak resident memory during the call above its resident memory before it
  (VmHWM after a reset through /proc/self/clear_refs; ru_maxrss where that reset is not possible).
- *tracemalloc MiB*: peak of Python and numpy allocations in one more call (not GEOS).
- *∫density / event*: Σ density · lixel length per placed crash: just under 1 for the discontinuous kernel
  (mass is lost only at dead ends), above 1 for the simple kernel (counted again on every branch).
- *scaling exponent*: slope of log(time) against log(segments) over the sizes run; 1 is linear.

Timings depend on the machine and on what else runs on it; compare runs made on the same machine.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import scipy
import shapely

from analysis.nkde import METHODS, KdeParams, nkde
from bench.measure import add_sizes_option, environment, scaling_exponent, time_runs, traced_mib, write_results
from bench.road_networks import crashes, road_network

DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
#: Sizes from this one up run once: a 1M-segment run takes tens of seconds, and its spread is small.
SINGLE_RUN_FROM = 1_000_000
DEFAULT_OUT = Path(__file__).parent / "results" / "nkde.json"


def measure(roads, events, params: KdeParams, runs: int, trace: bool) -> tuple[dict, object]:
    """Wall time of `runs` calls (median and all), RSS peak above the start of each run, and a tracemalloc peak."""
    stages = []
    timed = time_runs(
        lambda: nkde(roads, events, params),
        runs,
        each=lambda result: stages.append({k: v for k, v in result.stats.items() if k.endswith("_s")}),
    )
    result = timed.result
    out = {
        "seconds_median": statistics.median(timed.seconds),
        "seconds_runs": timed.seconds,
        "stages_s": {k: statistics.median(run[k] for run in stages) for k in stages[0]},  # median per stage
        "rss_peak_above_start_mib": max(timed.peaks_mib),
        "rss_peak_method": timed.peak_method,
    }
    if trace:
        # A separate call, so the timings above carry no tracing overhead.
        gc.collect()
        out["tracemalloc_peak_mib"] = traced_mib(lambda: nkde(roads, events, params))[2]
    mass = float(np.sum(result.density * result.lixel_length_m))
    out["result"] = {
        "lixels": len(result),
        "nodes": result.stats["nodes"],
        "placed": result.stats["placed"],
        "unplaced": len(result.unplaced),
        "integral_of_density": mass,
        "integral_per_placed_event": mass / max(result.stats["placed"], 1),
        "max_density_per_km": float(result.density_per_km.max()) if len(result) else 0.0,
    }
    return out, result


def materialise(result) -> dict:
    """Time to build the lixel midpoints and LineStrings, which `nkde` leaves until first use."""
    t0 = time.perf_counter()
    _ = result.lixel_mid_xy
    t1 = time.perf_counter()
    geometry = result.geometry
    t2 = time.perf_counter()
    return {"midpoints_s": t1 - t0, "geometry_s": t2 - t1, "lixels": len(geometry)}


def run(sizes: list[int], methods: list[str], repeat: int, params: KdeParams, seed: int, trace: bool) -> dict:
    """Generate each network and its crashes, time every method on it, then fit the scaling exponents."""
    nkde(road_network(200, seed), crashes(road_network(200, seed), 50, seed + 1), params)  # warm-up: imports
    rows = []
    for size in sizes:
        t0 = time.perf_counter()
        roads = road_network(size, seed)
        events = crashes(roads, size, seed + 1)
        generate_s = time.perf_counter() - t0
        runs = repeat if size < SINGLE_RUN_FROM else 1
        row = {"segments": len(roads), "crashes": len(events), "runs": runs, "generate_s": generate_s, "methods": {}}
        for method in methods:
            row["methods"][method], result = measure(roads, events, replace(params, method=method), runs, trace)
            print(
                f"{size:>9,} segments  {method:<13} {row['methods'][method]['seconds_median']:7.2f} s  "
                f"peak +{row['methods'][method]['rss_peak_above_start_mib']:.0f} MiB",
                flush=True,
            )
        row["materialise"] = materialise(result)
        del result, roads, events
        gc.collect()
        rows.append(row)
    scaling = {}
    for method in methods:
        n = [r["segments"] for r in rows]
        scaling[method] = {
            "total": scaling_exponent(n, [r["methods"][method]["seconds_median"] for r in rows]),
            "density_stage": scaling_exponent(n, [r["methods"][method]["stages_s"]["density_s"] for r in rows]),
        }
    return {
        "config": {
            "sizes": sizes,
            "methods": methods,
            "repeat_below_1m": repeat,
            "params": asdict(params),
            "seed": seed,
            "network": "bench.road_networks.road_network: jittered 250 m grid, 15% links dropped, EPSG:4549",
            "crashes": "bench.road_networks.crashes: as many as segments, up to 10 m off the centreline",
            "timing": "wall time of nkde(roads, crashes, params), snapping and network building included; "
            "median of the runs; lixel midpoints and geometries are built lazily and timed apart",
        },
        "environment": environment(np, scipy, shapely, cpus=os.cpu_count()),
        "sizes": rows,
        "scaling_exponent": scaling,
    }


def markdown(results: dict) -> str:
    """The results as a Markdown table and one line per method with its fitted scaling exponent."""
    p = results["config"]["params"]
    lines = [
        f"NKDE, {p['kernel']} kernel, h = {p['bandwidth_m']:g} m, lixels {p['lixel_m']:g} m "
        f"(seed {results['config']['seed']})",
        "",
        "| segments | crashes | lixels | method | median s | density s | snap s | RSS peak MiB | tracemalloc MiB "
        "| ∫density / event |",
        "|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in results["sizes"]:
        for method, m in row["methods"].items():
            trace = m.get("tracemalloc_peak_mib")
            lines.append(
                f"| {row['segments']:,} | {row['crashes']:,} | {m['result']['lixels']:,} | {method} "
                f"| {m['seconds_median']:.2f} | {m['stages_s']['density_s']:.2f} | {m['stages_s']['snap_s']:.2f} "
                f"| {m['rss_peak_above_start_mib']:.0f} | {'' if trace is None else f'{trace:.0f}'} "
                f"| {m['result']['integral_per_placed_event']:.3f} |"
            )
    lines.append("")
    for method, s in results["scaling_exponent"].items():
        if s["total"] is not None:
            lines.append(f"{method}: time grows as n^{s['total']:.2f} (density stage n^{s['density_stage']:.2f})")
    for row in results["sizes"]:
        mat = row["materialise"]
        lines.append(
            f"{row['segments']:,} segments: lixel midpoints {mat['midpoints_s']:.2f} s, "
            f"LineStrings {mat['geometry_s']:.2f} s (built on first use)"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    """Parse options, run the benchmark, print the table and write the JSON file."""
    defaults = KdeParams()
    parser = argparse.ArgumentParser(prog="python -m bench.bench_nkde", description=__doc__.splitlines()[0])
    add_sizes_option(parser, DEFAULT_SIZES, "road segment counts, as many crashes each")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated (default simple,discontinuous)")
    parser.add_argument(
        "--repeat", type=int, default=3, help=f"runs per size below {SINGLE_RUN_FROM:,}, median kept (default 3)"
    )
    parser.add_argument("--lixel", type=float, default=defaults.lixel_m, help="lixel length, m (default 20)")
    parser.add_argument("--bandwidth", type=float, default=defaults.bandwidth_m, help="bandwidth h, m (default 300)")
    parser.add_argument("--kernel", default=defaults.kernel, help="kernel (default quartic)")
    parser.add_argument("--no-tracemalloc", action="store_true", help="skip the extra traced call per size and method")
    parser.add_argument("--seed", type=int, default=20240611, help="random seed (default 20240611)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON output (default {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    try:
        methods = [m.strip() for m in args.methods.split(",") if m.strip()]
        params = KdeParams(lixel_m=args.lixel, bandwidth_m=args.bandwidth, kernel=args.kernel)
        for method in methods:
            KdeParams(method=method)
    except ValueError as exc:
        parser.error(str(exc))
    if not args.sizes or min(args.sizes) < 1 or args.repeat < 1:
        parser.error("--sizes and --repeat must be positive")

    results = run(args.sizes, methods, args.repeat, params, args.seed, not args.no_tracemalloc)
    print(markdown(results))
    write_results(args.out, results)
    return results


if __name__ == "__main__":
    main()
