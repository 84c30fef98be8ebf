"""Benchmark vector tiles (/collections/{id}/tiles/{z}/{x}/{y}) over HTTP on the demo town and at banner scale.

For each dataset, starts `onemap serve` on a loopback port and asks, one request at a time, for tiles of a polygon,
a line and a point layer at zooms 12, 14 and 16: first one tile per layer on its own (it makes the layer's
web-Mercator copy), then --tiles tiles per zoom under features drawn with a fixed seed (where a map user looks).
Reports tiles per second, median and p95 latency, and the tiles' median size and feature count.

With --postgis, compares instead the two ways the service writes a tile on PostgreSQL + PostGIS: each dataset is
migrated into a fresh schema, served twice at once (ONEMAP_TILE_ENCODER=memory: the in-process encoder over the
catalogue read from the database; =database: ST_AsMVT), and the same tiles at zooms 10 to 16 are asked of both in
turn, alternating which goes first. Reports median and p95 per zoom for each, their ratio, and whether both tiles
held the same features. `python -m bench.bench_tiles --help` lists the options.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

import fastapi
import httpx2 as httpx
import mapbox_vector_tile
import mercantile
import numpy as np
import psycopg
import shapely

from bench.banner import add_banner_arguments, banner_dataset
from bench.measure import environment, write_results
from bench.serving import onemap_server, peak_rss_mb
from layers import LAYERS
from onemap.settings import DEMO_GPKG
from store.geopackage import GeoPackageStore
from store.transfer import migrate

DEFAULT_OUT = Path(__file__).parent / "results" / "tiles.json"
POSTGIS_OUT = Path(__file__).parent / "results" / "tiles_postgis.json"
LAYER_IDS = ("buildings", "roads", "accidents")
ZOOMS = (12, 14, 16)
#: The encoder comparison adds zoom 10, where a banner tile holds thousands of buildings.
POSTGIS_ZOOMS = (10, 12, 14, 16)
POSTGIS_SERVER = "postgresql://postgres@127.0.0.1:5432/test"
ENCODERS = ("memory", "database")
TILES_SEED = 11


def tiles_under_features(path: Path, layer_id: str, zoom: int, n: int, seed: int) -> list[mercantile.Tile]:
    """`n` tiles (repeats allowed) under features of the layer drawn with `seed`: dense places come up more often."""
    frame = GeoPackageStore(path).read(LAYERS[layer_id])
    rng = np.random.default_rng(seed)
    points = shapely.point_on_surface(frame.geometry.to_numpy()[rng.integers(0, len(frame), n)])
    return [mercantile.tile(p.x, p.y, zoom) for p in points]


def fetch(client: httpx.Client, layer_id: str, tile: mercantile.Tile) -> dict[str, Any]:
    """One tile, timed from the request to the last byte; anything but 200 or 204 stops the run."""
    t0 = time.perf_counter()
    response = client.get(f"/collections/{layer_id}/tiles/{tile.z}/{tile.x}/{tile.y}")
    elapsed = time.perf_counter() - t0
    if response.status_code not in (200, 204):
        raise RuntimeError(f"tile {layer_id} {tile} answered {response.status_code}: {response.text[:500]}")
    return {"ms": elapsed * 1000, "bytes": len(response.content), "body": response.content}


def stats(calls: list[dict[str, Any]], layer_id: str) -> dict[str, Any]:
    """Tiles per second (one client, one request at a time), median and p95 (nearest rank), size and features."""
    ms = sorted(c["ms"] for c in calls)
    features = [
        len(mapbox_vector_tile.decode(c["body"]).get(layer_id, {}).get("features", [])) if c["body"] else 0
        for c in calls
    ]
    return {
        "n": len(ms),
        "tiles_per_s": 1000 * len(ms) / sum(ms),
        "median_ms": statistics.median(ms),
        "p95_ms": ms[max(math.ceil(0.95 * len(ms)) - 1, 0)],
        "max_ms": ms[-1],
        "median_bytes": statistics.median(c["bytes"] for c in calls),
        "median_features": statistics.median(features),
        "max_features": max(features),
    }


def measure(path: Path, n: int, seed: int) -> dict[str, Any]:
    """Serve `path` and time its tiles: the first per layer on its own, then `n` per layer and zoom."""
    plan = {(lid, z): tiles_under_features(path, lid, z, n + 1, seed) for lid in LAYER_IDS for z in ZOOMS}
    with onemap_server(path) as server, httpx.Client(base_url=server["base"], timeout=120) as client:
        rss_startup = peak_rss_mb(server["pid"])
        first = {}
        for lid in LAYER_IDS:
            call = fetch(client, lid, plan[(lid, ZOOMS[0])][0])
            first[lid] = call["ms"]
            print(f"  {lid}: first tile {call['ms']:.0f} ms", file=sys.stderr)
        runs = {}
        for (lid, z), tiles in plan.items():
            runs[f"{lid}/{z}"] = stats([fetch(client, lid, t) for t in tiles[1:]], lid)
            s = runs[f"{lid}/{z}"]
            print(f"  {lid} z{z}: median {s['median_ms']:.1f} ms, p95 {s['p95_ms']:.1f} ms", file=sys.stderr)
        rss_end = peak_rss_mb(server["pid"])
    counts = {lid: GeoPackageStore(path).count(LAYERS[lid]) for lid in LAYER_IDS}
    return {
        "startup_s": server["startup_s"],
        "first_tile_ms": first,
        "server_peak_rss_mb": {"after_startup": rss_startup, "at_end": rss_end},
        "counts": counts,
        "runs": runs,
    }


@contextmanager
def migrated(path: Path, server: str) -> Iterator[str]:
    """The GeoPackage moved into a fresh schema on `server`: its URL, the schema dropped afterwards."""
    schema = f"bench_tiles_{uuid.uuid4().hex[:8]}"
    try:
        migrate(str(path), f"{server}?schema={schema}")
        yield f"{server}?schema={schema}"
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def feature_ids(body: bytes, layer_id: str) -> set[int]:
    """The feature ids a tile holds (none for a 204)."""
    return {f["id"] for f in mapbox_vector_tile.decode(body).get(layer_id, {}).get("features", [])} if body else set()


def compare_encoders(path: Path, server: str, n: int, seed: int) -> dict[str, Any]:
    """Serve `path` from PostGIS with each encoder at once and time the same tiles on both, alternating the order."""
    plan = {(lid, z): tiles_under_features(path, lid, z, n + 1, seed) for lid in LAYER_IDS for z in POSTGIS_ZOOMS}
    with (
        migrated(path, server) as url,
        onemap_server(url, tile_encoder="memory") as memory,
        onemap_server(url, tile_encoder="database") as database,
        httpx.Client(base_url=memory["base"], timeout=300) as memory_client,
        httpx.Client(base_url=database["base"], timeout=300) as database_client,
    ):
        clients = {"memory": memory_client, "database": database_client}
        first = {name: {} for name in ENCODERS}
        for lid in LAYER_IDS:
            for name, client in clients.items():  # the copy for the one, the connections and plan for the other
                first[name][lid] = fetch(client, lid, plan[(lid, POSTGIS_ZOOMS[0])][0])["ms"]
        runs = {}
        for (lid, z), tiles in plan.items():
            calls: dict[str, list[dict[str, Any]]] = {name: [] for name in ENCODERS}
            for i, address in enumerate(tiles[1:]):
                for name in ENCODERS if i % 2 == 0 else ENCODERS[::-1]:
                    calls[name].append(fetch(clients[name], lid, address))
            same = sum(
                feature_ids(a["body"], lid) == feature_ids(b["body"], lid)
                for a, b in zip(calls["memory"], calls["database"], strict=True)
            )
            run = {name: stats(calls[name], lid) for name in ENCODERS}
            run["median_ratio"] = run["memory"]["median_ms"] / run["database"]["median_ms"]
            run["p95_ratio"] = run["memory"]["p95_ms"] / run["database"]["p95_ms"]
            run["same_features"] = same
            runs[f"{lid}/{z}"] = run
            print(
                f"  {lid} z{z}: in process {run['memory']['median_ms']:.1f} ms (p95 {run['memory']['p95_ms']:.1f}), "
                f"ST_AsMVT {run['database']['median_ms']:.1f} ms (p95 {run['database']['p95_ms']:.1f}), "
                f"same features {same}/{len(tiles) - 1}",
                file=sys.stderr,
            )
        rss = {name: peak_rss_mb(s["pid"]) for name, s in (("memory", memory), ("database", database))}
    counts = {lid: GeoPackageStore(path).count(LAYERS[lid]) for lid in LAYER_IDS}
    return {
        "startup_s": {"memory": memory["startup_s"], "database": database["startup_s"]},
        "first_tile_ms": first,
        "server_peak_rss_mb": rss,
        "counts": counts,
        "runs": runs,
    }


def postgis_table(result: dict[str, Any]) -> str:
    """The Markdown table of the encoder comparison: one row per dataset, layer and zoom."""
    rows = [
        "| dataset | layer | zoom | median features (max) | in process median / p95 ms | ST_AsMVT median / p95 ms "
        "| in process ÷ ST_AsMVT, median / p95 | same features |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, served in result["datasets"].items():
        for key, run in served["runs"].items():
            lid, z = key.split("/")
            mem, db = run["memory"], run["database"]
            rows.append(
                f"| {name} | {lid} ({served['counts'][lid]:,}) | {z} | {mem['median_features']:.0f} "
                f"({mem['max_features']}) | {mem['median_ms']:.1f} / {mem['p95_ms']:.1f} "
                f"| {db['median_ms']:.1f} / {db['p95_ms']:.1f} | {run['median_ratio']:.2f}× / {run['p95_ratio']:.2f}× "
                f"| {run['same_features']}/{mem['n']} |"
            )
    notes = [""]
    for name, served in result["datasets"].items():
        first = "; ".join(
            f"{enc} " + ", ".join(f"{lid} {ms:.0f} ms" for lid, ms in served["first_tile_ms"][enc].items())
            for enc in ENCODERS
        )
        notes.append(f"{name}: first tile per layer (memory: makes the web-Mercator copy; database: plans) {first}.")
    return "\n".join(rows + notes)


def run_postgis(args: argparse.Namespace) -> dict[str, Any]:
    """The encoder comparison on the demo town and the banner data, each migrated to `args.postgis`."""
    datasets, data_info = _on_both(args, "on PostGIS", lambda path: compare_encoders(path, args.postgis, args.tiles,
                                                                                     args.tiles_seed))  # fmt: skip
    with psycopg.connect(args.postgis) as conn:
        postgis = conn.execute("SELECT postgis_full_version(), version()").fetchone()
    return {
        "config": _config(args, data_info, POSTGIS_ZOOMS),
        "versions": {
            **environment(np, shapely, mercantile, fastapi, psycopg, cpus=os.cpu_count()),
            "mapbox_vector_tile": metadata.version("mapbox-vector-tile"),
            "postgis": postgis[0],
            "postgresql": postgis[1],
        },
        "banner": data_info,
        "datasets": datasets,
    }


def table(result: dict[str, Any]) -> str:
    """The Markdown table: one row per dataset, layer and zoom."""
    rows = [
        "| dataset | layer | zoom | tiles/s | median ms | p95 ms | median KiB | median features (max) |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    notes = [""]
    for name, served in result["datasets"].items():
        for key, s in served["runs"].items():
            lid, z = key.split("/")
            rows.append(
                f"| {name} | {lid} ({served['counts'][lid]:,}) | {z} | {s['tiles_per_s']:.0f} | {s['median_ms']:.1f} "
                f"| {s['p95_ms']:.1f} | {s['median_bytes'] / 1024:.1f} | {s['median_features']:.0f} "
                f"({s['max_features']}) |"
            )
        first = ", ".join(f"{lid} {ms:.0f} ms" for lid, ms in served["first_tile_ms"].items())
        rss = served["server_peak_rss_mb"]
        notes.append(
            f"{name}: start-up {served['startup_s']:.1f} s; first tile per layer (makes its web-Mercator copy) "
            f"{first}; server peak RSS {rss['after_startup']:.0f} MB after start-up, {rss['at_end']:.0f} MB at the end."
        )
    return "\n".join(rows + notes)


def _config(args: argparse.Namespace, data_info: dict[str, Any], zooms: tuple[int, ...]) -> dict[str, Any]:
    """How a run was set up, as its results record it."""
    return {
        "level": None if args.data else args.level,
        "towns": None if args.data else len(data_info["towns"]),
        "tiles": args.tiles,
        "seed": args.seed,
        "tiles_seed": args.tiles_seed,
        "layers": LAYER_IDS,
        "zooms": zooms,
        "data": str(args.data) if args.data else None,
    }


def _on_both(args: argparse.Namespace, where: str, measure_one) -> tuple[dict[str, Any], dict[str, Any]]:
    """`measure_one(path)` on a copy of the demo town and on the banner data (built, or `args.data`); the figures
    by dataset, and what the banner data holds."""
    with tempfile.TemporaryDirectory(prefix="bench_tiles_") as tmp:
        demo = Path(tmp) / "demo.gpkg"
        shutil.copy(DEMO_GPKG, demo)
        print(f"demo town {where} ...", file=sys.stderr)
        datasets = {"demo": measure_one(demo)}
        data, data_info = banner_dataset(args.data, args.towns, args.seed, Path(tmp), level=args.level)
        print(f"banner {where} ...", file=sys.stderr)
        datasets["banner"] = measure_one(data)
    return datasets, data_info


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Copy the demo, build or open the banner data, and measure both; returns everything as a dict."""
    datasets, data_info = _on_both(args, "in process", lambda path: measure(path, args.tiles, args.tiles_seed))
    return {
        "config": _config(args, data_info, ZOOMS),
        "versions": {
            **environment(np, shapely, mercantile, fastapi, cpus=os.cpu_count()),
            "mapbox_vector_tile": metadata.version("mapbox-vector-tile"),
        },
        "banner": data_info,
        "datasets": datasets,
    }


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_banner_arguments(parser)
    parser.add_argument("--tiles", type=int, default=100, help="timed tiles per layer and zoom")
    parser.add_argument("--tiles-seed", type=int, default=TILES_SEED, help="seed of the features the tiles are under")
    parser.add_argument(
        "--postgis",
        metavar="URL",
        nargs="?",
        const=POSTGIS_SERVER,
        help=f"compare the in-process encoder with ST_AsMVT on this PostgreSQL server (default {POSTGIS_SERVER})",
    )
    parser.add_argument("--out", type=Path, help=f"default {DEFAULT_OUT}, with --postgis {POSTGIS_OUT}")
    args = parser.parse_args(argv)
    if args.postgis:
        result = run_postgis(args)
        print(postgis_table(result))
        write_results(args.out or POSTGIS_OUT, result)
        return
    result = run(args)
    print(table(result))
    write_results(args.out or DEFAULT_OUT, result)


if __name__ == "__main__":
    main()
