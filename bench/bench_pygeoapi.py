"""Benchmark onemap against pygeoapi serving the same GeoPackage layer, under concurrent load over HTTP.

For each size (10k, 100k and 1M accident points by default) writes one GeoPackage with bench_items' generator, R-tree
included, and serves it in turn with `onemap serve` and with pygeoapi (its Starlette app under uvicorn, one process
each, on loopback ports), through pygeoapi's SQLiteGPKG provider and through its OGR provider. Checks on a few bboxes
and offsets that the answers agree, then loads each server with wrk: ~1 km bbox queries and pages of 100 at random
offsets, the same URLs in the same order, a fixed number of connections for a fixed time. Reports requests/s, p50
and p95 latency, the ratio onemap/pygeoapi and each server's peak RSS. pygeoapi runs from a venv of its own
(`.bench-venvs/pygeoapi`), never from the project's. `python -m bench.bench_pygeoapi --help` lists the options.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

import fastapi
import geopandas as gpd
import httpx2 as httpx
import numpy as np
import pandas as pd
import shapely
import uvicorn

from bench.bench_items import BBOX_SIZES_DEG, CENTER_LAT, CENTER_LON, HALF_LAT, HALF_LON, generate
from bench.measure import add_sizes_option, environment, write_results
from bench.serving import free_port, http_server, onemap_server, peak_rss_mb

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = Path(__file__).parent / "results" / "pygeoapi.json"
DEFAULT_VENV = REPO / ".bench-venvs" / "pygeoapi"
PYGEOAPI_VERSION = "0.21.0"
#: Debian's interpreter: its sqlite3 can load extensions (SpatiaLite), which pyenv's build here cannot.
BASE_PYTHON = "/usr/bin/python3"
LAYER = "accidents"
LIMIT = 100
BBOX_DEG = BBOX_SIZES_DEG["~1 km"]
#: pygeoapi's providers measured, by option name: the provider's name in its configuration.
PROVIDERS = {"sqlite": "SQLiteGPKG", "ogr": "OGR"}
KINDS = {"bbox": "bbox ~1 km, limit 100", "page": "page of 100 at a random offset"}
WRK_DONE = """
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %.0f, "bytes": %.0f, "p50_us": %.1f, "p95_us": %.1f, '
    .. '"p99_us": %.1f, "max_us": %.1f, "mean_us": %.1f, "errors": {"connect": %d, "read": %d, "write": %d, '
    .. '"status": %d, "timeout": %d}}\\n',
    summary.requests, summary.duration, summary.bytes, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max, latency.mean, e.connect, e.read, e.write, e.status, e.timeout))
end
"""


# -- pygeoapi's venv and server ---------------------------------------------------------------------------------------


def _run(cmd: list[str], **kwargs: Any) -> str:
    """Run a command; its output, or its output in the error when it fails."""
    done = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout


def pygeoapi_venv(venv: Path, base_python: str, providers: list[str]) -> dict[str, str]:
    """Create (or reuse) `venv` with pygeoapi and the project's own uvicorn and starlette; returns its versions.

    The OGR provider needs GDAL's Python bindings: those of Debian's python3-gdal (built for the same interpreter)
    are exposed to the venv alone through a .pth file naming a folder that holds only `osgeo`."""
    python = venv / "bin" / "python"
    if not python.exists():
        probe = "import sqlite3; sqlite3.connect(':memory:').enable_load_extension(True)"
        if subprocess.run([base_python, "-c", probe], capture_output=True).returncode != 0:
            raise SystemExit(f"{base_python} cannot load SQLite extensions; give another with --base-python")
        print(f"creating {venv} ...", file=sys.stderr)
        _run([base_python, "-m", "venv", str(venv)])
    pins = [f"pygeoapi=={PYGEOAPI_VERSION}", f"uvicorn=={uvicorn.__version__}"]
    pins.append(f"starlette=={metadata.version('starlette')}")
    _run([str(python), "-m", "pip", "install", "-q", *pins])
    probe = (
        "import sqlite3; c = sqlite3.connect(':memory:'); c.enable_load_extension(True);"
        "c.execute(\"SELECT load_extension('mod_spatialite')\");"
        "print(c.execute('SELECT spatialite_version()').fetchone()[0])"
    )
    try:
        spatialite = _run([str(python), "-c", probe]).strip()
    except RuntimeError as err:
        raise SystemExit(f"SpatiaLite is missing: apt-get install -y libsqlite3-mod-spatialite\n{err}") from err
    if "ogr" in providers:
        _expose_gdal(venv, base_python, python)
    probe = (
        "import json, platform, sqlite3; from importlib import metadata as m; d = {n: m.version(n) for n in"
        " ('pygeoapi', 'starlette', 'uvicorn', 'pydantic')}; d['python'] = platform.python_version();"
        " d['sqlite'] = sqlite3.sqlite_version\n"
        "try:\n from osgeo import gdal; d['gdal'] = gdal.__version__\nexcept ImportError: pass\n"
        "print(json.dumps(d))"
    )
    versions = json.loads(_run([str(python), "-c", probe]))
    versions["spatialite"] = spatialite
    versions["venv"] = str(venv.relative_to(REPO) if venv.is_relative_to(REPO) else venv)
    return versions


def _expose_gdal(venv: Path, base_python: str, python: Path) -> None:
    """Link Debian's `osgeo` package into `venv/debian-gdal` and name that folder in a .pth file of the venv."""
    try:
        where = _run([base_python, "-c", "import os, osgeo; print(os.path.dirname(osgeo.__file__))"]).strip()
    except RuntimeError as err:
        raise SystemExit(f"the OGR provider needs GDAL's bindings: apt-get install -y python3-gdal\n{err}") from err
    folder = venv / "debian-gdal"
    folder.mkdir(exist_ok=True)
    link = folder / "osgeo"
    if not link.is_symlink():
        link.symlink_to(where, target_is_directory=True)
    site = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).strip()
    (Path(site) / "debian-gdal.pth").write_text(f"{folder}\n")


def pygeoapi_config(data: Path, provider: str, folder: Path, venv: Path) -> tuple[Path, Path]:
    """Write pygeoapi's configuration for the accidents table of `data` through `provider`, and generate its
    OpenAPI document with `pygeoapi openapi generate`; returns both paths. JSON is valid YAML, so it is written so.
    Limits are onemap's: 100 items by default, at most 10,000."""
    if provider == "sqlite":
        source = {"type": "feature", "name": "SQLiteGPKG", "data": str(data), "id_field": "fid", "table": LAYER}
    else:
        source = {
            "type": "feature",
            "name": "OGR",
            "data": {
                "source_type": "GPKG",
                "source": str(data),
                "source_capabilities": {"paging": True},
                "gdal_ogr_options": {"EMPTY_AS_NULL": "NO", "GDAL_CACHEMAX": 64, "CPL_DEBUG": "NO"},
            },
            "id_field": "fid",
            "layer": LAYER,
        }
    url = "http://127.0.0.1"
    config = {
        "server": {
            "bind": {"host": "127.0.0.1", "port": 5000},
            "url": url,
            "mimetype": "application/json; charset=UTF-8",
            "encoding": "utf-8",
            "language": "en-US",
            "cors": False,
            "pretty_print": False,
            "limits": {"default_items": LIMIT, "max_items": 10_000},
            "map": {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png", "attribution": "OpenStreetMap"},
        },
        "logging": {"level": "ERROR"},
        "metadata": {
            "identification": {
                "title": "bench",
                "description": "onemap benchmark",
                "keywords": ["bench"],
                "keywords_type": "theme",
                "terms_of_service": url,
                "url": url,
            },
            "license": {"name": "MIT", "url": url},
            "provider": {"name": "bench", "url": url},
            "contact": {
                **dict.fromkeys(["name", "position", "address", "city", "stateorprovince", "country"], "bench"),
                **dict.fromkeys(["postalcode", "phone", "fax", "hours", "instructions"], "-"),
                "email": "bench@example.org",
                "url": url,
                "role": "pointOfContact",
            },
        },
        "resources": {
            LAYER: {
                "type": "collection",
                "title": LAYER,
                "description": "generated accident points",
                "keywords": [LAYER],
                "extents": {
                    "spatial": {
                        "bbox": [
                            CENTER_LON - HALF_LON,
                            CENTER_LAT - HALF_LAT,
                            CENTER_LON + HALF_LON,
                            CENTER_LAT + HALF_LAT,
                        ],
                        "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
                    }
                },
                "providers": [source],
            }
        },
    }
    path, openapi = folder / f"pygeoapi-{provider}.yml", folder / f"openapi-{provider}.yml"
    path.write_text(json.dumps(config, indent=2))
    _run([str(venv / "bin" / "pygeoapi"), "openapi", "generate", str(path), "--output-file", str(openapi)])
    return path, openapi


@contextmanager
def pygeoapi_server(venv: Path, config: Path, openapi: Path) -> Iterator[dict[str, Any]]:
    """`uvicorn pygeoapi.starlette_app:APP` (one process) on a free loopback port, until the collection answers;
    yields its base URL, pid and start-up time, and stops it afterwards."""
    port = free_port()
    env = {**os.environ, "PYGEOAPI_CONFIG": str(config), "PYGEOAPI_OPENAPI": str(openapi)}
    cmd = [str(venv / "bin" / "python"), "-m", "uvicorn", "pygeoapi.starlette_app:APP"]
    cmd += ["--host", "127.0.0.1", "--port", str(port)]
    with http_server(cmd, env, port, ready=f"/collections/{LAYER}?f=json") as server:
        yield server


# -- the requests ----------------------------------------------------------------------------------------------------


def request_plan(size: int, n: int, seed: int) -> dict[str, list[str]]:
    """`n` item URLs of each kind, drawn with `seed`: ~1 km bboxes placed uniformly over the data's extent, and
    pages of 100 at offsets uniform over the layer."""
    rng = np.random.default_rng(seed)
    lon = rng.uniform(CENTER_LON - HALF_LON, CENTER_LON + HALF_LON - BBOX_DEG, n)
    lat = rng.uniform(CENTER_LAT - HALF_LAT, CENTER_LAT + HALF_LAT - BBOX_DEG, n)
    items = f"/collections/{LAYER}/items"
    bbox = [
        f"{items}?bbox={a:.6f},{b:.6f},{a + BBOX_DEG:.6f},{b + BBOX_DEG:.6f}&limit={LIMIT}"
        for a, b in zip(lon, lat, strict=True)
    ]
    page = [f"{items}?limit={LIMIT}&offset={o}" for o in rng.integers(0, max(size - LIMIT, 1), n)]
    return {"bbox": bbox, "page": page}


def _json(client: httpx.Client, url: str, tries: int = 3) -> dict[str, Any]:
    """The JSON answer to `url`, asking again after a 500 (SQLiteGPKG fails now and then; see the README)."""
    response = client.get(url)
    for _ in range(tries - 1):
        if response.status_code != 500:
            break
        response = client.get(url)
    return response.raise_for_status().json()


def answers(base: str, plan: dict[str, list[str]], checks: int, onemap: bool) -> list[dict[str, Any]]:
    """The first `checks` URLs of each kind: the ids of the page and the count matched (onemap: numberMatched and
    every matched id, through limit=10000; pygeoapi: resulttype=hits, since its pages carry no count)."""
    out = []
    with httpx.Client(base_url=base, timeout=300) as client:
        for kind, urls in plan.items():
            for url in urls[:checks]:
                body = _json(client, url)
                answer = {"kind": kind, "url": url, "ids": [f["id"] for f in body["features"]]}
                if kind == "bbox" and onemap:
                    answer["matched"] = body["numberMatched"]
                    every = _json(client, url.replace(f"limit={LIMIT}", "limit=10000"))
                    answer["all_ids"] = [f["id"] for f in every["features"]]
                elif kind == "bbox":
                    hits = _json(client, f"{url}&resulttype=hits")
                    answer["matched"] = hits["numberMatched"]
                out.append(answer)
    return out


def compare(ours: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> dict[str, Any]:
    """Whether pygeoapi's answers agree with onemap's: the same count matched; a page as long as onemap's, whose ids
    all match the bbox in onemap's answer; and whether the page is the same ids in the same order (onemap pages in
    id order; an R-tree scan returns its own order)."""
    rows = []
    for a, b in zip(ours, theirs, strict=True):
        row = {"kind": a["kind"], "url": a["url"], "same_page": a["ids"] == b["ids"]}
        if a["kind"] == "bbox":
            row |= {"onemap_matched": a["matched"], "pygeoapi_matched": b["matched"]}
            row["same_count"] = a["matched"] == b["matched"]
            row["page_in_matched"] = len(b["ids"]) == len(a["ids"]) and set(b["ids"]) <= set(a["all_ids"])
        rows.append(row)
    bbox = [r for r in rows if r["kind"] == "bbox"]
    pages = [r for r in rows if r["kind"] == "page"]
    return {
        "agree": all(r["same_count"] and r["page_in_matched"] for r in bbox) and all(r["same_page"] for r in pages),
        "bbox_same_first_page": all(r["same_page"] for r in bbox),
        "median_matched": float(np.median([r["onemap_matched"] for r in bbox])) if bbox else None,
        "rows": rows,
    }


# -- the load --------------------------------------------------------------------------------------------------------


def wait_for_quiet(max_load: float, max_wait: float) -> dict[str, Any]:
    """Poll the 1-minute load average until it is below `max_load`, for at most `max_wait` seconds."""
    started = time.monotonic()
    while os.getloadavg()[0] >= max_load and time.monotonic() - started < max_wait:
        time.sleep(5)
    load = os.getloadavg()
    waited = round(time.monotonic() - started, 1)
    return {"loadavg": [round(x, 2) for x in load], "waited_s": waited, "quiet": load[0] < max_load}


def wrk_script(urls: list[str], folder: Path, name: str) -> Path:
    """A wrk script that cycles through `urls`; thread k of t starts k/t of the way along (plus the offset given
    after `--`), and the summary is printed as one JSON line."""
    listed = ",\n".join(json.dumps(u) for u in urls)
    text = (
        f"local urls = {{\n{listed}\n}}\n"
        "local threads, counter = 0, 0\n"
        "function setup(thread) thread:set('k', threads); threads = threads + 1 end\n"
        "function init(args)\n"
        "  local n = tonumber(args[2] or '1')\n"
        "  counter = (tonumber(args[1] or '0') + math.floor(k * #urls / n)) % #urls\n"
        "end\n"
        "function request() counter = counter % #urls + 1; return wrk.format('GET', urls[counter]) end\n" + WRK_DONE
    )
    path = folder / f"{name}.lua"
    path.write_text(text)
    return path


def wrk(base: str, script: Path, seconds: int, connections: int, threads: int, start: int = 0) -> dict[str, Any]:
    """One wrk run against `base`: its requests, duration, latency percentiles and errors. Throughput counts the
    answers with status 200 only; the latencies are wrk's, over every answer."""
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "120s", "-s", str(script)]
    cmd += [base, "--", str(start), str(threads)]
    out = _run(cmd, timeout=seconds + 180)
    line = next(line for line in out.splitlines() if line.startswith("WRK_JSON "))
    result = json.loads(line.removeprefix("WRK_JSON "))
    seconds_run = result["duration_us"] / 1e6
    ok = result["requests"] - result["errors"]["status"]
    return {
        "requests": result["requests"],
        "ok": ok,
        "duration_s": seconds_run,
        "requests_per_s": ok / seconds_run,
        "error_share": 1 - ok / max(result["requests"], 1),
        "p50_ms": result["p50_us"] / 1000,
        "p95_ms": result["p95_us"] / 1000,
        "p99_ms": result["p99_us"] / 1000,
        "max_ms": result["max_us"] / 1000,
        "mean_ms": result["mean_us"] / 1000,
        "mb_per_s": result["bytes"] / seconds_run / 1e6,
        "errors": result["errors"],
    }


def alive(pid: int) -> bool:
    """Whether the process is still running (not gone, not a zombie)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    state = next((line.split()[1] for line in status.splitlines() if line.startswith("State:")), "X")
    return state not in ("Z", "X")


def load_once(server: dict[str, Any], script: Path, n_urls: int, args: argparse.Namespace) -> dict[str, Any]:
    """One kind of request against one server: wait for a quiet machine, warm up, then the measured run. When the
    server dies, the run says so (`server_died`, and `in_warmup` when no measured request was made)."""
    machine = wait_for_quiet(args.max_load, args.max_wait)
    try:
        if args.warmup > 0:
            wrk(server["base"], script, args.warmup, args.connections, args.wrk_threads, start=n_urls // 2)
        if not alive(server["pid"]):
            raise RuntimeError("the server died in the warm-up")
        run = wrk(server["base"], script, args.duration, args.connections, args.wrk_threads) | machine
    except RuntimeError:
        if alive(server["pid"]):
            raise
        print(f"    {script.stem}: the server DIED before the measured run", file=sys.stderr)
        return {"server_died": True, "in_warmup": True, "ok": 0} | machine
    run["server_died"] = not alive(server["pid"])
    died = f"; the server DIED after {run['ok']} answers" if run["server_died"] else ""
    print(
        f"    {script.stem}: {run['requests_per_s']:.1f} req/s, p50 {run['p50_ms']:.1f} ms, p95 {run['p95_ms']:.1f} ms "
        f"({run['ok']} answers, load {run['loadavg'][0]:.2f} after {run['waited_s']:.0f} s){died}",
        file=sys.stderr,
    )
    return run


def serve_and_load(
    start: Callable[[], AbstractContextManager[dict[str, Any]]],
    scripts: dict[str, Path],
    n_urls: int,
    args: argparse.Namespace,
    check: Callable[[str], Any],
) -> dict[str, Any]:
    """Start a server, `check` its answers, then load it with each kind in turn. A server that dies during a run is
    recorded as such and started again for the next kind. Peak RSS is the highest VmHWM read while it ran."""
    served: dict[str, Any] = {"startup_s": [], "runs": {}, "peak_rss_mb": None}
    pending = list(scripts)
    while pending:
        with start() as server:
            served["startup_s"].append(server["startup_s"])
            if "check" not in served:
                served["check"] = check(server["base"])
            while pending:
                kind = pending.pop(0)
                served["runs"][kind] = run = load_once(server, scripts[kind], n_urls, args)
                if run["server_died"]:
                    break
                served["peak_rss_mb"] = max(peak_rss_mb(server["pid"]) or 0, served["peak_rss_mb"] or 0)
    return served


def measure_size(size: int, args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """Generate `size` points, then check and load onemap and each pygeoapi provider on them. Each server gets its
    own copy of the file as generated: `onemap serve` adds its other layers' empty tables to the file it opens, and
    pygeoapi's SQLiteGPKG provider adds a SpatiaLite virtual table per geometry table on every request."""
    pristine = folder / f"accidents-{size}.gpkg"
    t0 = time.perf_counter()
    generate(pristine, size, 0, args.seed)
    generate_s = time.perf_counter() - t0
    plan = request_plan(size, args.urls, args.seed + 1)
    scripts = {kind: wrk_script(urls, folder, f"{kind}-{size}") for kind, urls in plan.items()}
    servers: dict[str, Any] = {}
    print(f"{size:,} points: onemap ...", file=sys.stderr)
    data = folder / f"onemap-{size}.gpkg"
    shutil.copy(pristine, data)
    ours: list[dict[str, Any]] = []
    servers["onemap"] = serve_and_load(
        lambda: onemap_server(data),
        scripts,
        args.urls,
        args,
        lambda base: ours.extend(answers(base, plan, args.checks, onemap=True)),
    )
    del servers["onemap"]["check"]
    for provider in args.providers:
        name = f"pygeoapi {PROVIDERS[provider]}"
        print(f"{size:,} points: {name} ...", file=sys.stderr)
        copy = folder / f"{provider}-{size}.gpkg"
        shutil.copy(pristine, copy)
        config, openapi = pygeoapi_config(copy, provider, folder, args.venv)
        servers[name] = serve_and_load(
            lambda config=config, openapi=openapi: pygeoapi_server(args.venv, config, openapi),
            scripts,
            args.urls,
            args,
            lambda base: compare(ours, answers(base, plan, args.checks, onemap=False)),
        )
        if not servers[name]["check"]["agree"]:
            print(f"    answers differ from onemap's: {servers[name]['check']['rows']}", file=sys.stderr)
    ratios = {
        name: {
            kind: {
                "throughput": servers["onemap"]["runs"][kind]["requests_per_s"] / run["requests_per_s"],
                "p95": run["p95_ms"] / servers["onemap"]["runs"][kind]["p95_ms"],
            }
            for kind, run in served["runs"].items()
            if run.get("requests_per_s") and not (run["server_died"] or servers["onemap"]["runs"][kind]["server_died"])
        }
        for name, served in servers.items()
        if name != "onemap"
    }
    return {
        "features": size,
        "generate_s": generate_s,
        "gpkg_mb": pristine.stat().st_size / 1e6,
        "servers": servers,
        "onemap_over_pygeoapi": ratios,
    }


# -- the report ------------------------------------------------------------------------------------------------------


def _row(features: int, label: str, name: str, r: dict[str, Any], ours: dict[str, Any], rss: float | None) -> str:
    """One table row; a run during which the server died gives the answers it had sent and their latencies."""
    lead = f"| {features:,} | {label} | {name} |"
    rss_text = f"{rss:,.0f}" if rss else "–"
    if r.get("in_warmup"):
        return f"{lead} died in the warm-up | – | – | – | – | {rss_text} |"
    rate = f"died after {r['ok']:,} answers" if r["server_died"] else f"{r['requests_per_s']:,.1f}"
    ratio = "–"
    if not (r["server_died"] or ours["server_died"]) and r["requests_per_s"]:
        ratio = f"{ours['requests_per_s'] / r['requests_per_s']:,.1f}×"
    return f"{lead} {rate} | {r['p50_ms']:,.1f} | {r['p95_ms']:,.1f} | {ratio} | {r['error_share']:.1%} | {rss_text} |"


def table(result: dict[str, Any]) -> str:
    """The Markdown table: a row per size, request and server, with onemap's throughput over each server's."""
    rows = [
        "| features | request | server | requests/s | p50 ms | p95 ms | onemap ÷ this, req/s | errors "
        "| server peak RSS MB |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    notes = [""]
    for run in result["runs"]:
        ours = run["servers"]["onemap"]
        for kind, label in KINDS.items():
            for name, served in run["servers"].items():
                r = served["runs"][kind]
                rows.append(_row(run["features"], label, name, r, ours["runs"][kind], served["peak_rss_mb"]))
        for name, served in run["servers"].items():
            if "check" in served:
                c = served["check"]
                notes.append(
                    f"{run['features']:,} points, {name}: answers {'agree' if c['agree'] else 'DIFFER'} with onemap's "
                    f"(median matched {c['median_matched']:.0f}, same first bbox page: "
                    f"{'yes' if c['bbox_same_first_page'] else 'no'}); start-up {served['startup_s'][0]:.1f} s "
                    f"(onemap {ours['startup_s'][0]:.1f} s)."
                )
    errors = [
        f"{run['features']:,} {name} {kind}: {r['errors']}"
        for run in result["runs"]
        for name, served in run["servers"].items()
        for kind, r in served["runs"].items()
        if any(r.get("errors", {}).values())
    ]
    if errors:
        notes.append("Errors: " + "; ".join(errors))
    return "\n".join(rows + notes)


def wrk_version() -> str:
    """wrk's version line, or an instruction when it is missing."""
    try:
        out = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
    except FileNotFoundError as err:
        raise SystemExit("wrk is missing: apt-get install -y wrk") from err
    found = re.search(r"wrk (\S+)", out.stdout + out.stderr)
    return found.group(1) if found else "unknown"


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Set up pygeoapi's venv, then measure every size; returns everything as a dict."""
    versions = {**environment(np, shapely, pd, gpd, fastapi, uvicorn, cpus=os.cpu_count()), "wrk": wrk_version()}
    versions["pygeoapi_venv"] = pygeoapi_venv(args.venv, args.base_python, args.providers)
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench_pygeoapi_") as tmp:
        for size in args.sizes:
            runs.append(measure_size(size, args, Path(tmp)))
    return {
        "config": {
            "sizes": args.sizes,
            "providers": [PROVIDERS[p] for p in args.providers],
            "layer": LAYER,
            "limit": LIMIT,
            "bbox_deg": BBOX_DEG,
            "urls_per_kind": args.urls,
            "checks_per_kind": args.checks,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "connections": args.connections,
            "wrk_threads": args.wrk_threads,
            "server_processes": 1,
            "max_load": args.max_load,
            "max_wait_s": args.max_wait,
            "seed": args.seed,
            "urls_seed": args.seed + 1,
        },
        "versions": versions,
        "runs": runs,
    }


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_sizes_option(parser, (10_000, 100_000, 1_000_000), "numbers of points")
    parser.add_argument(
        "--providers",
        type=lambda s: [p.strip() for p in s.split(",") if p.strip()],
        default=list(PROVIDERS),
        help="pygeoapi providers to measure, from sqlite (SQLiteGPKG) and ogr (OGR) (default sqlite,ogr)",
    )
    parser.add_argument("--duration", type=int, default=20, help="seconds of load per server and kind")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of discarded load before each run")
    parser.add_argument("--connections", type=int, default=8, help="concurrent connections")
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--urls", type=int, default=2000, help="distinct URLs per kind, cycled through")
    parser.add_argument("--checks", type=int, default=5, help="URLs per kind whose answers are compared")
    parser.add_argument("--max-load", type=float, default=1.5, help="wait until the 1-minute load is below this")
    parser.add_argument("--max-wait", type=float, default=120, help="longest wait for it, seconds")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV, help="pygeoapi's venv, made if missing")
    parser.add_argument("--base-python", default=BASE_PYTHON, help="the interpreter that makes the venv")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    unknown = set(args.providers) - set(PROVIDERS)
    if unknown:
        parser.error(f"unknown providers: {', '.join(sorted(unknown))}")
    result = run(args)
    print(table(result))
    write_results(args.out, result)


if __name__ == "__main__":
    main()
