"""Benchmark the emergency officer's incident call (/analysis/risk/incident) over HTTP at banner scale.

Builds (or reuses, with --data) the banner GeoPackage of bench/banner.py, starts `onemap serve` on a loopback port
and times real HTTP requests: the first call, which builds the routing network and the gradings, on its own; then
--queries calls at incident points drawn with a fixed seed, most a few metres off a random road of a random town
(where an officer clicks), the rest anywhere in the towns. Reports median, p95 and max latency against the 200 ms
target, the server's peak memory, and the dataset's and the network's size.
`python -m bench.bench_incident --help` lists the options.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import fastapi
import geopandas as gpd
import httpx2 as httpx
import numpy as np
import pandas as pd
import scipy
import shapely
import uvicorn

from analysis.incident import IncidentRouter
from analysis.incident_report import CONTEXT_LAYERS, DEFAULT_RADII_M, IncidentContext, incident_report
from analysis.major_hazard import assess
from analysis.risk_grading import grade
from api.catalog import Catalog
from bench.banner import add_banner_arguments, banner_dataset
from bench.measure import environment, write_results
from bench.serving import onemap_server, peak_rss_mb
from geo.crs import LOCAL_METRIC, WGS84, transform_geometries
from layers import LAYERS
from store.geopackage import GeoPackageStore

DEFAULT_OUT = Path(__file__).parent / "results" / "incident.json"
TARGET_MS = 200.0
POINTS_SEED = 7
#: Share of the incident points put beside a road; the rest fall anywhere in the towns.
ROAD_SHARE = 0.8
#: How far beside the road's centreline a road point lies (m), to either side.
ROAD_OFFSET_M = (2.0, 15.0)
#: The single radius of the second run (m).
SINGLE_RADIUS_M = 3000.0
#: The layers whose sizes the report gives.
COUNTED = ("roads", "fire_lanes", "buildings", "risk_sources", "emergency_resources", "obstructions", "villages")


# -- the data --------------------------------------------------------------------------------------------------------


def _town_of(codes: pd.Series) -> np.ndarray:
    """The town number in each 12-digit village code (150525 + town + serial); one town where codes differ."""
    text = codes.astype(str)
    if text.str.fullmatch(r"\d{12}").all():
        return text.str.slice(6, 9).astype(int).to_numpy()
    return np.zeros(len(text), dtype=int)


def incident_points(path: Path, n: int, seed: int) -> list[dict[str, Any]]:
    """`n` incident points (lon/lat) drawn with `seed`: a share `ROAD_SHARE` a few metres off a random road of a
    random town (a town first, then one of its roads, a place along it and a side), the rest uniform over the towns
    (the union of the village polygons, which tile them)."""
    store = GeoPackageStore(path)
    villages = store.read(LAYERS["villages"])
    roads = store.read(LAYERS["roads"])
    village_m = transform_geometries(villages.geometry.values, WGS84, LOCAL_METRIC)
    road_m = transform_geometries(roads.geometry.values, WGS84, LOCAL_METRIC)
    village_town = _town_of(villages["code"])

    # Each road belongs to the town of the village holding its middle (the nearest village where none does).
    tree = shapely.STRtree(village_m)
    middle = shapely.line_interpolate_point(road_m, 0.5, normalized=True)
    road_village = tree.nearest(middle)
    road_town = village_town[road_village]
    towns = np.unique(road_town)
    by_town = {t: np.flatnonzero(road_town == t) for t in towns}
    west, south, east, north = shapely.total_bounds(village_m)

    rng = np.random.default_rng(seed)
    points = []
    while len(points) < n:
        if rng.random() < ROAD_SHARE:
            town = int(rng.choice(towns))
            road = int(rng.choice(by_town[town]))
            line = road_m[road]
            at = rng.uniform(0.0, line.length)
            side = rng.choice([-1.0, 1.0]) * rng.uniform(*ROAD_OFFSET_M)
            a = line.interpolate(max(at - 0.5, 0.0))
            b = line.interpolate(min(at + 0.5, line.length))
            dx, dy = b.x - a.x, b.y - a.y
            norm = math.hypot(dx, dy) or 1.0
            on = line.interpolate(at)
            x, y = on.x - dy / norm * side, on.y + dx / norm * side
            kind = "road"
        else:
            while True:  # uniform over the towns: rejection from their bounding box
                x, y = rng.uniform(west, east), rng.uniform(south, north)
                inside = tree.query(shapely.Point(x, y), predicate="within")
                if len(inside):
                    break
            town = int(village_town[inside[0]])
            kind = "town"
        lon, lat = transform_geometries([shapely.Point(x, y)], LOCAL_METRIC, WGS84)[0].coords[0]
        points.append({"lon": round(lon, 7), "lat": round(lat, 7), "kind": kind, "town": town})
    return points


# -- serving and timing ----------------------------------------------------------------------------------------------


def ask(client: httpx.Client, point: dict[str, Any], radii: tuple[float, ...] | None) -> dict[str, Any]:
    """One incident call, timed from the request to the last byte of the answer; anything but 200 stops the run."""
    params: list[tuple[str, str]] = [("lon", f"{point['lon']:.7f}"), ("lat", f"{point['lat']:.7f}")]
    params += [("radius_m", f"{r:g}") for r in radii or ()]
    t0 = time.perf_counter()
    response = client.get("/analysis/risk/incident", params=params)
    elapsed = time.perf_counter() - t0
    if response.status_code != 200:
        raise RuntimeError(
            f"/analysis/risk/incident at ({point['lon']}, {point['lat']}) answered {response.status_code}: "
            f"{response.text[:500]}"
        )
    body = response.json()
    outer = body["exposed"][-1]
    return {
        **point,
        "ms": elapsed * 1000,
        "bytes": len(response.content),
        "on_network": bool(body["on_network"]),
        "reached": sum(1 for row in body["nearest_by_time"] if row["fid"] is not None),
        "risk_sources": len(body["risk_sources"]),
        "buildings": outer["buildings"],
        "residents": outer["residents"],
    }


def stats(calls: list[dict[str, Any]]) -> dict[str, Any]:
    """Median, p95 (nearest rank) and max latency, the share under the target, and what the answers held."""
    if not calls:
        return {"n": 0}
    ms = sorted(c["ms"] for c in calls)
    return {
        "n": len(ms),
        "median_ms": statistics.median(ms),
        "p95_ms": ms[max(math.ceil(0.95 * len(ms)) - 1, 0)],
        "max_ms": ms[-1],
        "under_target_share": sum(m < TARGET_MS for m in ms) / len(ms),
        "off_network": sum(not c["on_network"] for c in calls),
        "median_bytes": statistics.median(c["bytes"] for c in calls),
        "median_risk_sources": statistics.median(c["risk_sources"] for c in calls),
        "median_buildings_outer": statistics.median(c["buildings"] for c in calls),
    }


def measure(data: Path, points: list[dict[str, Any]], first: dict[str, Any], single: bool) -> dict[str, Any]:
    """Serve `data`, make the first call at `first`, then one call per point with the default radii (and again
    with the single radius when `single`)."""
    with onemap_server(data) as server, httpx.Client(base_url=server["base"], timeout=120) as client:
        rss_startup = peak_rss_mb(server["pid"])
        print(f"server up in {server['startup_s']:.1f} s; first call ...", file=sys.stderr)
        first_call = ask(client, first, None)
        rss_first = peak_rss_mb(server["pid"])
        print(f"  first call {first_call['ms'] / 1000:.2f} s; {len(points)} calls ...", file=sys.stderr)
        runs = {"default": [ask(client, p, None) for p in points]}
        if single:
            print(f"  {len(points)} calls with radius_m={SINGLE_RADIUS_M:g} ...", file=sys.stderr)
            runs["single"] = [ask(client, p, (SINGLE_RADIUS_M,)) for p in points]
        rss_end = peak_rss_mb(server["pid"])
    return {
        "startup_s": server["startup_s"],
        "first_call_s": first_call["ms"] / 1000,
        "first_call": first_call,
        "server_peak_rss_mb": {"after_startup": rss_startup, "after_first_call": rss_first, "at_end": rss_end},
        "runs": runs,
    }


def in_process(data: Path, points: list[dict[str, Any]], first: dict[str, Any]) -> dict[str, Any]:
    """Outside the server, after it has stopped: the context's parts timed one by one, the network's size, and the
    same calls without HTTP after one untimed call at `first` (so the difference is what serving and JSON cost)."""
    t0 = time.perf_counter()
    cat = Catalog.load(GeoPackageStore(data))
    load_s = time.perf_counter() - t0
    frame = {name: cat[name].frame for name in CONTEXT_LAYERS}
    t0 = time.perf_counter()
    router = IncidentRouter.build(
        frame["roads"], frame["fire_lanes"], frame["emergency_resources"], obstructions=frame["obstructions"]
    )
    router_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    major = assess(frame["risk_sources"], frame["buildings"])
    assess_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    graded = grade(frame["risk_sources"], frame["villages"])
    grade_s = time.perf_counter() - t0
    context = IncidentContext(router=router, major=major, graded=graded)  # as IncidentContext.build makes it
    incident_report(cat, context, first["lon"], first["lat"])
    ms = []
    for p in points:
        t0 = time.perf_counter()
        incident_report(cat, context, p["lon"], p["lat"])
        ms.append((time.perf_counter() - t0) * 1000)
    ms.sort()
    network = router.network
    return {
        "catalog_load_s": load_s,
        "context_build_s": router_s + assess_s + grade_s,
        "router_build_s": router_s,
        "gb18218_assess_s": assess_s,
        "risk_grading_s": grade_s,
        "report_median_ms": statistics.median(ms),
        "report_p95_ms": ms[max(math.ceil(0.95 * len(ms)) - 1, 0)],
        "network": {
            "nodes": network.n_nodes,
            "edges": len(network.edges),
            "edge_km": float(network.length_m.sum() / 1000),
            "graph_nodes": router.graph.n_nodes,
            "open_pieces": int((router._open & (router._u != router._v)).sum()),
            "blockages": len(router.blockages),
            "resources_on_network": int(router.resources["on_network"].sum()),
            "resources": len(router.resources),
        },
    }


# -- the report ------------------------------------------------------------------------------------------------------


def _row(label: str, s: dict[str, Any]) -> str:
    if not s["n"]:
        return f"| {label} | 0 | – | – | – | – | – |"
    return (
        f"| {label} | {s['n']} | {s['median_ms']:.1f} | {s['p95_ms']:.1f} | {s['max_ms']:.1f} | "
        f"{s['under_target_share']:.0%} | {s['off_network']} |"
    )


def table(result: dict[str, Any]) -> str:
    """The Markdown table of the calls, with the first call, memory and sizes."""
    served, summary = result["served"], result["summary"]
    radii = "/".join(f"{r:g}" for r in DEFAULT_RADII_M)
    rows = [
        f"| call | n | median ms | p95 ms | max ms | under {TARGET_MS:g} ms | off the network |",
        "|---|---:|---:|---:|---:|---:|---:|",
        f"| first call (builds the network and gradings) | 1 | {served['first_call_s'] * 1000:.0f} | – | – | – | "
        f"{int(not served['first_call']['on_network'])} |",
        _row(f"radii {radii} m, all points", summary["default"]),
        _row("  of which a few metres off a road", summary["default_road"]),
        _row("  of which anywhere in a town", summary["default_town"]),
    ]
    if "single" in summary:
        rows.append(_row(f"single radius {SINGLE_RADIUS_M:g} m, all points", summary["single"]))
    counts = result["dataset"]["counts"]
    net = result["in_process"]["network"]
    rss = served["server_peak_rss_mb"]
    notes = [
        "",
        f"Dataset {result['dataset']['title']}: {sum(counts.values()):,} features "
        f"({', '.join(f'{k} {counts[k]:,}' for k in COUNTED)}). Network: {net['nodes']:,} nodes, {net['edges']:,} "
        f"edges ({net['edge_km']:,.0f} km), {net['blockages']} blockages; {net['resources_on_network']} of "
        f"{net['resources']} resources on it.",
        f"Server start-up {served['startup_s']:.1f} s; first call {served['first_call_s']:.2f} s. Server peak RSS "
        f"{rss['after_startup']:.0f} MB after start-up, {rss['after_first_call']:.0f} MB after the first call, "
        f"{rss['at_end']:.0f} MB at the end.",
        f"In process (no HTTP): context {result['in_process']['context_build_s']:.2f} s (router "
        f"{result['in_process']['router_build_s']:.2f} s), report median {result['in_process']['report_median_ms']:.1f}"
        f" ms, p95 {result['in_process']['report_p95_ms']:.1f} ms.",
    ]
    return "\n".join(rows + notes)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Build or open the data, draw the points, serve and measure; returns everything as a dict."""
    with tempfile.TemporaryDirectory(prefix="bench_incident_") as tmp:
        data, data_info = banner_dataset(args.data, args.towns, args.seed, Path(tmp), level=args.level)
        drawn = incident_points(data, args.queries + 1, args.points_seed)
        first, points = drawn[0], drawn[1:]
        served = measure(data, points, first, not args.no_single)
        print("timing in process ...", file=sys.stderr)
        inproc = in_process(data, points, first)
    calls = served["runs"]["default"]
    summary = {
        "default": stats(calls),
        "default_road": stats([c for c in calls if c["kind"] == "road"]),
        "default_town": stats([c for c in calls if c["kind"] == "town"]),
    }
    if "single" in served["runs"]:
        summary["single"] = stats(served["runs"]["single"])
    return {
        "config": {
            "level": None if args.data else args.level,
            "towns": None if args.data else len(data_info["towns"]),
            "queries": args.queries,
            "seed": args.seed,
            "points_seed": args.points_seed,
            "road_share": ROAD_SHARE,
            "road_offset_m": ROAD_OFFSET_M,
            "radii_m": DEFAULT_RADII_M,
            "single_radius_m": None if args.no_single else SINGLE_RADIUS_M,
            "target_ms": TARGET_MS,
            "signed_in": False,
            "data": str(args.data) if args.data else None,
        },
        "versions": environment(np, scipy, shapely, pd, gpd, fastapi, uvicorn, cpus=os.cpu_count()),
        "dataset": data_info,
        "served": served,
        "summary": summary,
        "in_process": inproc,
    }


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_banner_arguments(parser)
    parser.add_argument("--queries", type=int, default=200, help="timed calls (after the first)")
    parser.add_argument("--points-seed", type=int, default=POINTS_SEED, help="seed of the incident points")
    parser.add_argument("--no-single", action="store_true", help=f"skip the run with radius_m={SINGLE_RADIUS_M:g}")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    result = run(args)
    print(table(result))
    write_results(args.out, result)


if __name__ == "__main__":
    main()
