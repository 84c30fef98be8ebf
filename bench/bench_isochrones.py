"""Benchmark fire-engine isochrones on synthetic county networks of 10k to 1M road edges.

    python -m bench.bench_isochrones                        # 10k, 100k and 1M edges; a few minutes on 2 cores
    python -m bench.bench_isochrones --sizes 10000,100000   # quick check

Data: `bench.road_networks.road_network(n, seed)`, a jittered 250 m grid of two-piece road lines (EPSG:4549) with
national, county, township and village classes, and about one fire station per 2,000 edges, each up to 30 m off a
random road (`--edges-per-station`).

What is timed, on the network `analysis.response_network.response_network` builds from the lines (its build time
is reported apart):

- `snap`: every station to its nearest edge (STRtree);
- `graph`: the edges split at the stations into pieces, with a source node per station;
- `dijkstra`: every node's time from the nearest station, one multi-source `scipy.sparse.csgraph.dijkstra` run with
  `min_only=True` (never all pairs);
- `bands`: the stretch of each piece within each band (3, 5, 10, 15, 30 min), split where a band boundary falls;
- `geometry`: those stretches as LineStrings (metres).

`isochrones` is the sum of the five, each the best of `--repeat` runs; the peak resident memory is the largest rise
of VmHWM over one whole isochrone run (`bench.measure`). The fitted scaling exponent is the slope of log time
against log edges (1 = linear). On the smallest network the multi-source times are checked against one Dijkstra per
station and the minimum taken over them.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy
import shapely
from scipy.sparse.csgraph import dijkstra

from analysis.response_network import band_pieces, response_graph, response_network, snap, substrings
from analysis.response_params import ResponseParams
from bench.measure import add_sizes_option, environment, scaling_exponent, time_runs, write_results
from bench.road_networks import road_network

DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
DEFAULT_OUT = Path(__file__).parent / "results" / "isochrones.json"
EDGES_PER_STATION = 2_000
STATION_OFFSET_M = 30.0
STEPS = ("snap", "graph", "dijkstra", "bands", "geometry")


def stations(roads, n: int, seed: int) -> np.ndarray:
    """`n` station points up to STATION_OFFSET_M off random roads."""
    rng = np.random.default_rng(seed)
    lines = roads.geometry.to_numpy()[rng.choice(len(roads), n, replace=False)]
    at = shapely.line_interpolate_point(lines, rng.uniform(0.1, 0.9, n), normalized=True)
    xy = shapely.get_coordinates(at) + rng.uniform(-STATION_OFFSET_M, STATION_OFFSET_M, (n, 2)) / np.sqrt(2)
    return shapely.points(xy)


def isochrones(network, points: np.ndarray, params: ResponseParams) -> dict:
    """One isochrone run, step by step: returns each step's seconds and what it made."""
    out: dict = {"seconds": {}}
    t0 = time.perf_counter()
    placed = snap(network, points, params.access_max_m)
    ok = np.flatnonzero(placed.on_network)
    t1 = time.perf_counter()
    offset = params.turnout_s + placed.distance_m[ok] / (params.station_yard_kmh / 3.6)
    graph = response_graph(
        network, station_edge=placed.edge[ok], station_position_m=placed.position_m[ok], station_offset_s=offset
    )
    t2 = time.perf_counter()
    node_t = graph.node_times(np.zeros(0, bool), [np.arange(len(ok))])[0]
    t3 = time.perf_counter()
    bands_s = [b * 60.0 for b in params.bands_min]
    edge, band, start, end = band_pieces(graph, node_t, np.zeros(0, bool), bands_s)
    t4 = time.perf_counter()
    geoms = substrings(network.edges, edge, start, end)
    t5 = time.perf_counter()
    for step, (a, b) in zip(STEPS, ((t0, t1), (t1, t2), (t2, t3), (t3, t4), (t4, t5)), strict=True):
        out["seconds"][step] = b - a
    n0 = network.n_nodes
    reached = np.isfinite(node_t[:n0])
    out.update(
        stations_placed=len(ok),
        pieces=len(graph.piece_edge),
        graph_nodes=graph.n_nodes,
        nodes_reached_share=float(reached.mean()) if n0 else 0.0,
        node_time_median_s=float(np.median(node_t[:n0][reached])) if reached.any() else None,
        node_time_max_s=float(node_t[:n0][reached].max()) if reached.any() else None,
        band_pieces={f"{b:g}": int((band == k).sum()) for k, b in enumerate(params.bands_min)},
        band_length_km={
            f"{b:g}": float(shapely.length(geoms[band == k]).sum() / 1000) for k, b in enumerate(params.bands_min)
        },
        _graph=graph,
        _node_t=node_t,
    )
    return out


def check_against_per_station(result: dict) -> dict:
    """Multi-source times against one Dijkstra per station with the minimum taken: the largest difference (s)."""
    graph, node_t = result["_graph"], result["_node_t"]
    matrix = graph.matrix(np.zeros(0, bool))
    per = dijkstra(matrix, directed=True, indices=graph.station_source)
    best = per.min(axis=0)
    both = np.isfinite(best) & np.isfinite(node_t)
    return {
        "stations": len(graph.station_source),
        "same_reach": bool(np.array_equal(np.isfinite(best), np.isfinite(node_t))),
        "max_abs_diff_s": float(np.abs(best[both] - node_t[both]).max()) if both.any() else 0.0,
    }


def run_one(n: int, seed: int, repeat: int, edges_per_station: int, params: ResponseParams, check: bool) -> dict:
    """Build the network once, then time the isochrones `repeat` times."""
    t0 = time.perf_counter()
    roads = road_network(n, seed)
    generate = time.perf_counter() - t0
    built = time_runs(
        lambda: response_network(
            roads.geometry.to_numpy(),
            road_class=roads["admin_class"].tolist(),
            road_speed_limit_kmh=roads["speed_limit_kmh"].tolist(),
            road_grade_separated=roads["grade_separated"].tolist(),
            params=params,
        ),
        1,
        trim=True,
    )
    network = built.result
    n_stations = max(1, len(network.edges) // edges_per_station)
    points = stations(roads, n_stations, seed + 1)
    best: dict[str, float] = {}

    def keep_best(result: object) -> None:
        for step, s in result["seconds"].items():  # type: ignore[index]
            best[step] = min(best.get(step, np.inf), s)

    runs = time_runs(lambda: isochrones(network, points, params), repeat, each=keep_best, trim=True)
    result = runs.result
    row = {
        "input_lines": n,
        "edges": len(network.edges),
        "nodes": network.n_nodes,
        "stations": n_stations,
        "generate_seconds": generate,
        "network": {"seconds": built.seconds[0], "rss_peak_above_start_mib": built.peaks_mib[0]},
        "isochrones": {
            "seconds_best": float(sum(best.values())),
            "steps_seconds_best": best,
            "seconds_runs": runs.seconds,
            "rss_peak_above_start_mib": max(runs.peaks_mib),
        },
        **{k: v for k, v in result.items() if not k.startswith("_") and k != "seconds"},
    }
    if check:
        row["check_per_station"] = check_against_per_station(result)
    return row


def run(sizes: list[int], repeat: int, seed: int, edges_per_station: int) -> dict:
    """Every size, then the fitted exponents; returns the JSON-ready results."""
    params = ResponseParams()
    rows = []
    for i, n in enumerate(sizes):
        rows.append(run_one(n, seed, repeat, edges_per_station, params, check=i == 0))
        print(f"  {n:>9,} edges done", file=sys.stderr)
    edges = [r["edges"] for r in rows]
    scaling = {"isochrones": scaling_exponent(edges, [r["isochrones"]["seconds_best"] for r in rows])}
    for step in STEPS:
        scaling[step] = scaling_exponent(edges, [r["isochrones"]["steps_seconds_best"][step] for r in rows])
    scaling["network"] = scaling_exponent(edges, [r["network"]["seconds"] for r in rows])
    return {
        "config": {
            "sizes": sizes,
            "repeat": repeat,
            "seed": seed,
            "edges_per_station": edges_per_station,
            "station_offset_m": STATION_OFFSET_M,
            "bands_min": list(params.bands_min),
            "road_speed_kmh": dict(params.road_speed_kmh),
            "metric_crs": "EPSG:4549",
            "timing": "best of `repeat` runs per step; memory is the largest VmHWM rise over a whole isochrone run",
        },
        "environment": environment(shapely, np, pd, scipy, cpus=None),
        "results": rows,
        "scaling_exponent": scaling,
    }


def markdown(results: dict) -> str:
    """A Markdown table of the results."""
    lines = [
        "| edges | stations | network (s) | isochrones (s) | snap | graph | dijkstra | bands | geometry "
        "| peak (MiB) | nodes reached |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results["results"]:
        iso = r["isochrones"]
        steps = " | ".join(f"{iso['steps_seconds_best'][s]:.3f}" for s in STEPS)
        lines.append(
            f"| {r['edges']:,} | {r['stations']:,} | {r['network']['seconds']:.2f} | {iso['seconds_best']:.2f} "
            f"| {steps} | {iso['rss_peak_above_start_mib']:.0f} | {r['nodes_reached_share']:.1%} |"
        )
    exps = ", ".join(f"{k} {v:.2f}" for k, v in results["scaling_exponent"].items() if v is not None)
    lines.append(f"\nFitted exponents (slope of log time vs log edges): {exps}")
    checks = [r["check_per_station"] for r in results["results"] if "check_per_station" in r]
    for c in checks:
        lines.append(
            f"Check against one Dijkstra per station ({c['stations']} stations): same reach {c['same_reach']}, "
            f"largest difference {c['max_abs_diff_s']:.2e} s"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    """Parse options, run the benchmark, print the table and write the JSON file."""
    parser = argparse.ArgumentParser(prog="python -m bench.bench_isochrones", description=__doc__.splitlines()[0])
    add_sizes_option(parser, DEFAULT_SIZES, "road edge counts")
    parser.add_argument("--repeat", type=int, default=1, help="isochrone runs per size; best time kept (default 1)")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the networks (default 1)")
    parser.add_argument(
        "--edges-per-station",
        type=int,
        default=EDGES_PER_STATION,
        help=f"one station per this many edges (default {EDGES_PER_STATION:,})",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON output (default {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    if args.repeat < 1 or not args.sizes or min(args.sizes) < 10 or args.edges_per_station < 1:
        parser.error("--repeat and --edges-per-station must be positive and every size at least 10")
    results = run(sorted(args.sizes), args.repeat, args.seed, args.edges_per_station)
    print(markdown(results))
    write_results(args.out, results)
    return results


if __name__ == "__main__":
    main()
