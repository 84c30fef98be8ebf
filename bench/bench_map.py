"""Benchmark the one-map page (/map) at banner scale against a naive folium page that embeds every feature.

Builds (or reuses, with --data) the banner GeoPackage of bench/banner.py, starts `onemap serve` on a loopback port
and opens /map in headless Chromium at 1280 x 800 until its first complete render, then does the same for a plain
folium page that carries every feature of every layer as folium.GeoJson. Reports HTML size, time to first complete
render (median over runs, a fresh browser each run), the JS heap after the render and the renderer's peak memory.
`python -m bench.bench_map --help` lists the options.
"""

from __future__ import annotations

import argparse
import base64
import functools
import http.server
import importlib.metadata
import json
import math
import mimetypes
import os
import platform
import re
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import folium
import httpx2 as httpx
import pandas as pd
from playwright.sync_api import Browser, Playwright, Route, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from bench.banner import add_banner_arguments, banner_dataset
from bench.serving import onemap_server, peak_rss_mb
from layers import LAYERS, Layer
from maps import assets
from store.geopackage import GeoPackageStore

DEFAULT_OUT = Path(__file__).parent / "results" / "map.json"
CHROMIUM = "/usr/bin/chromium"
VIEWPORT = {"width": 1280, "height": 800}
OURS_TIMEOUT_S = 120.0
NAIVE_TIMEOUT_S = 600.0
TOOLTIP_FIELDS = 3
#: Requests that leave the machine: anything not addressed to the loopback interface.
EXTERNAL = re.compile(r"^https?://(?!(127\.0\.0\.1|localhost)[:/])")
#: A 1 x 1 transparent PNG, returned for map tiles.
BLANK_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)

# -- what runs in the page -------------------------------------------------------------------------------------------

#: Shared by both pages: marks on performance.now() (0 = navigation start), the count of /map/data bodies not yet
#: read, and `finish()`, which waits two animation frames (so the frame with the features has been produced) and
#: then records the page's statistics.
PROBE = r"""
(() => {
  const bench = window.__bench = { done: false, marks: {}, pendingData: 0, dataRequests: 0, abortedData: 0 };
  bench.mark = (name) => { if (!(name in bench.marks)) bench.marks[name] = performance.now(); };
  const fetch0 = window.fetch;
  window.fetch = function (input, init) {
    const url = String((input && input.url) || input);
    if (!url.includes("/map/data/")) return fetch0.call(this, input, init);
    bench.pendingData += 1;
    bench.dataRequests += 1;
    let open = true;
    const settle = () => { if (open) { open = false; bench.pendingData -= 1; } };
    return fetch0.call(this, input, init).then((response) => {
      const json = response.json.bind(response);
      response.json = () => json().finally(settle);
      return response;
    }, (error) => {
      if (error.name === "AbortError") bench.abortedData += 1;
      settle();
      throw error;
    });
  };
  const count = (selector) => document.querySelectorAll(selector).length;
  const stats = () => {
    const nav = performance.getEntriesByType("navigation")[0] || {};
    const resources = performance.getEntriesByType("resource");
    const data = resources.filter((e) => e.name.includes("/map/data/"));
    const sum = (entries) => entries.reduce((n, e) => n + (e.encodedBodySize || 0), 0);
    return {
      interactive: count(".leaflet-interactive"),
      svg_paths: count("path"),
      marker_icons: count(".leaflet-marker-icon"),
      dom_elements: document.getElementsByTagName("*").length,
      document_bytes: nav.encodedBodySize || 0,
      dom_content_loaded_ms: nav.domContentLoadedEventEnd || null,
      resources: resources.length,
      loopback_resource_bytes: sum(resources.filter((e) => /^https?:\/\/127\.0\.0\.1[:/]/.test(e.name))),
      data_requests: data.length,
      data_bytes: sum(data),
      data_urls: data.map((e) => [e.name, Math.round(e.startTime), Math.round(e.responseEnd), e.encodedBodySize]),
    };
  };
  bench.finish = () => {
    if ("complete" in bench.marks) return;
    bench.mark("complete");
    requestAnimationFrame(() => requestAnimationFrame(() => {
      bench.mark("painted");
      bench.stats = stats();
      bench.done = true;
    }));
  };
  addEventListener("load", () => bench.mark("load"));
  __PAGE__
})();
"""

#: The one map: omReady counts refreshes whose overlays have all been drawn. A refresh whose requests were aborted
#: by a newer one still counts, so the render is complete at the first tick with no /map/data body left unread.
OURS_PROBE = PROBE.replace(
    "__PAGE__",
    r"""
  new MutationObserver(() => {
    const ready = Number((document.body && document.body.dataset.omReady) || 0);
    if (ready < 1) return;
    bench.mark("om_ready_1");
    if (bench.pendingData === 0 && !("complete" in bench.marks)) { bench.ticks = ready; bench.finish(); }
  }).observe(document, { attributes: true, subtree: true, attributeFilter: ["data-om-ready"] });
""",
)

#: The naive page: every folium GeoJson layer (global `geo_json_<hex>`) is on the map with all its features. The
#: page adds them synchronously, so this holds at `load`; it is checked every frame from then on all the same.
NAIVE_PROBE = PROBE.replace(
    "__PAGE__",
    r"""
  addEventListener("load", () => {
    const check = () => {
      const globals = Object.keys(window);
      const map = globals.filter((k) => /^map_[0-9a-f]{32}$/.test(k)).map((k) => window[k])[0];
      let layers = 0, features = 0;
      for (const k of globals.filter((k) => /^geo_json_[0-9a-f]{32}$/.test(k))) {
        if (map && map.hasLayer(window[k])) { layers += 1; features += window[k].getLayers().length; }
      }
      bench.layers_on_map = layers;
      bench.features_on_map = features;
      if (layers >= __LAYERS__ && features >= __FEATURES__) bench.finish();
      else requestAnimationFrame(check);
    };
    check();
  });
""",
)


# -- serving ---------------------------------------------------------------------------------------------------------


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class names it so
        pass


@contextmanager
def static_server(folder: Path) -> Iterator[str]:
    """A loopback HTTP server for the naive page's folder, in a thread; yields its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


# -- the browser -----------------------------------------------------------------------------------------------------


@functools.cache
def vendored_files() -> dict[str, Path]:
    """File name → vendored copy (first one wins), to answer CDN requests with the file we ship."""
    out: dict[str, Path] = {}
    for path in sorted((assets.ROOT / "vendor").rglob("*")):
        if path.is_file():
            out.setdefault(path.name, path)
    return out


class Offline:
    """Answers every request that would leave the machine: a vendored file by name, a blank tile, or an empty body."""

    def __init__(self) -> None:
        self.answered: dict[str, str] = {}
        self.bytes = 0

    def handle(self, route: Route) -> None:
        url = route.request.url
        name = Path(urlparse(url).path).name
        kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
        vendored = vendored_files().get(name)
        if vendored is not None:
            body, how = vendored.read_bytes(), f"vendored {vendored.relative_to(assets.ROOT).as_posix()}"
        elif re.fullmatch(r"\d+\.png", name):
            body, how, kind = BLANK_PNG, "blank tile", "image/png"
        else:
            body, how = b"", "empty stub"
        self.answered[_generic_tile(url)] = how
        self.bytes += len(body)
        route.fulfill(status=200, body=body, content_type=kind, headers={"Access-Control-Allow-Origin": "*"})


def _generic_tile(url: str) -> str:
    """Tile URLs folded into one {z}/{x}/{y} pattern, so the report lists each source once."""
    return re.sub(r"/\d+/\d+/\d+\.png$", "/{z}/{x}/{y}.png", url)


def _process_tree() -> dict[int, list[int]]:
    children: dict[int, list[int]] = defaultdict(list)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children[int(fields[1])].append(int(stat.parent.name))
    return children


def renderer_peak_rss_mb() -> float | None:
    """The largest VmHWM among Chromium renderer processes started by this process (the browser is fresh per run)."""
    tree, stack, peak = _process_tree(), [os.getpid()], None
    while stack:
        pid = stack.pop()
        stack.extend(tree.get(pid, []))
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"--type=renderer" in cmdline:
            rss = peak_rss_mb(pid)
            if rss is not None:
                peak = max(peak or 0.0, rss)
    return peak


def launch(pw: Playwright) -> Browser:
    return pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])


def one_run(pw: Playwright, url: str, probe: str, timeout_s: float) -> dict[str, Any]:
    """Open `url` in a fresh browser and context until the probe says the render is complete."""
    browser = launch(pw)
    try:
        context = browser.new_context(viewport=VIEWPORT)
        offline = Offline()
        context.route(EXTERNAL, offline.handle)
        context.add_init_script(probe)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)[:300]))
        cdp = context.new_cdp_session(page)
        cdp.send("Performance.enable")
        started = time.perf_counter()
        try:
            page.goto(url, wait_until="commit", timeout=timeout_s * 1000)
            left_ms = max(timeout_s - (time.perf_counter() - started), 1.0) * 1000
            page.wait_for_function("window.__bench && window.__bench.done", timeout=left_ms, polling=200)
        except PlaywrightTimeout:
            return {"timed_out": True, "timeout_s": timeout_s, "page_errors": errors, "external": offline.answered}
        wall_s = time.perf_counter() - started
        probe_result = page.evaluate("window.__bench")
        metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
        marks = {k: v / 1000 for k, v in probe_result.pop("marks").items()}
        return {
            "timed_out": False,
            "render_s": marks["painted"],
            "marks_s": marks,
            "wall_s": wall_s,
            "probe": {k: v for k, v in probe_result.items() if k not in ("done", "mark", "finish")},
            "js_heap_used_mb": metrics.get("JSHeapUsedSize", 0) / 2**20,
            "js_heap_total_mb": metrics.get("JSHeapTotalSize", 0) / 2**20,
            "renderer_peak_rss_mb": renderer_peak_rss_mb(),
            "page_errors": errors,
            "external": offline.answered,
            "external_bytes": offline.bytes,
        }
    finally:
        browser.close()


def measure(
    pw: Playwright, url: str, probe: str, runs: int, warmup: int, timeout_s: float, label: str
) -> list[dict[str, Any]]:
    """`warmup` discarded runs, then `runs` measured ones; stops early after a timeout (recorded as such)."""
    results = []
    for k in range(warmup + runs):
        result = one_run(pw, url, probe, timeout_s)
        kind = "warm-up" if k < warmup else f"run {k - warmup + 1}/{runs}"
        shown = "timed out" if result["timed_out"] else f"{result['render_s']:.2f} s"
        print(f"  {label} {kind}: {shown}", file=sys.stderr)
        if k >= warmup:
            results.append(result)
        if result["timed_out"]:
            break
    return results


# -- the naive page --------------------------------------------------------------------------------------------------


def fit_zoom(bounds: tuple[float, float, float, float], width: int, height: int) -> tuple[list[float], int]:
    """Centre [lat, lon] and the largest whole zoom that shows `bounds` in width x height (as Leaflet's fitBounds)."""
    west, south, east, north = bounds

    def y(lat: float) -> float:
        return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))

    dx = (east - west) / 360 * 256
    dy = (y(north) - y(south)) / (2 * math.pi) * 256
    zoom = math.floor(math.log2(min(width / dx, height / dy)))
    centre_y = (y(north) + y(south)) / 2
    return [math.degrees(2 * math.atan(math.exp(centre_y)) - math.pi / 2), (west + east) / 2], zoom


def tooltip_fields(layer: Layer) -> list[str]:
    """The first few plain (not list or object) fields of a layer."""
    nested = set(layer.json_fields())
    return [name for name in layer.fields if name not in nested][:TOOLTIP_FIELDS]


def json_ready(frame: pd.DataFrame) -> pd.DataFrame:
    """Timestamps as ISO text: folium cannot serialise pandas Timestamps (the one change a user would have to make)."""
    frame = frame.copy()
    for name in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[name]):
            text = frame[name].dt.strftime("%Y-%m-%dT%H:%M:%S")
            frame[name] = text.astype(object).where(frame[name].notna(), None)
    return frame


def naive_page(data: Path, out: Path) -> dict[str, Any]:
    """A folium page with folium's defaults and every feature of every layer embedded as GeoJson with a tooltip."""
    started = time.perf_counter()
    store = GeoPackageStore(data)
    frames = {layer.id: store.read(layer) for layer in LAYERS.values()}
    bounds = tuple(float(v) for v in frames["villages"].total_bounds)
    centre, zoom = fit_zoom(bounds, VIEWPORT["width"], VIEWPORT["height"])  # type: ignore[arg-type]
    m = folium.Map(location=centre, zoom_start=zoom)
    layers = features = 0
    for layer_id, frame in frames.items():
        if frame.empty:
            continue
        layer = LAYERS[layer_id]
        fields = tooltip_fields(layer)
        titles = layer.field_titles()
        tooltip = folium.GeoJsonTooltip(fields, aliases=[titles[f] for f in fields])
        folium.GeoJson(json_ready(frame), name=layer.title, tooltip=tooltip).add_to(m)
        layers += 1
        features += len(frame)
    folium.LayerControl().add_to(m)
    m.save(str(out))
    return {
        "layers": layers,
        "features": features,
        "zoom": zoom,
        "html_bytes": out.stat().st_size,
        "build_s": time.perf_counter() - started,
    }


# -- what /map fetched -----------------------------------------------------------------------------------------------


def first_view(base: str, data_urls: list[list[Any]]) -> dict[str, Any]:
    """For the last request of each layer in a run: what the server sent (features, grouped, hidden, bytes)."""
    latest: dict[str, str] = {}
    for url, _start, _end, _size in sorted(data_urls, key=lambda row: row[1]):
        latest[urlparse(url).path.rsplit("/", 1)[1]] = url
    out: dict[str, Any] = {}
    with httpx.Client(timeout=60) as client:
        for layer_id, url in latest.items():
            response = client.get(url if url.startswith("http") else base + url)
            body = response.json()
            out[layer_id] = {
                "features": len(body["features"]),
                "matched": body.get("numberMatched"),
                "grouped": bool(body.get("grouped")),
                "hidden": body.get("hidden"),
                "bytes": len(response.content),
                "zoom": body.get("zoom"),
            }
    return out


def request_counts(data_urls: list[list[Any]]) -> dict[str, int]:
    """How many /map/data requests each layer got during the first render (aborted ones included)."""
    counts: dict[str, int] = defaultdict(int)
    for url, *_ in data_urls:
        counts[urlparse(url).path.rsplit("/", 1)[1]] += 1
    return dict(counts)


# -- figures ---------------------------------------------------------------------------------------------------------


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median, p95 (nearest rank), min and max of the render time, and medians of the rest."""
    done = [r for r in runs if not r["timed_out"]]
    out: dict[str, Any] = {"runs": len(runs), "completed": len(done), "timed_out": len(runs) - len(done)}
    if not done:
        return out
    times = sorted(r["render_s"] for r in done)
    out |= {
        "render_median_s": statistics.median(times),
        "render_p95_s": times[max(math.ceil(0.95 * len(times)) - 1, 0)],
        "render_min_s": times[0],
        "render_max_s": times[-1],
        "load_median_s": _median([r["marks_s"].get("load") for r in done]),
        "js_heap_used_median_mb": _median([r["js_heap_used_mb"] for r in done]),
        "js_heap_total_median_mb": _median([r["js_heap_total_mb"] for r in done]),
        "renderer_peak_rss_median_mb": _median([r["renderer_peak_rss_mb"] for r in done]),
        "interactive_elements": done[-1]["probe"]["stats"]["interactive"],
        "svg_paths": done[-1]["probe"]["stats"]["svg_paths"],
        "marker_icons": done[-1]["probe"]["stats"]["marker_icons"],
        "dom_elements": done[-1]["probe"]["stats"]["dom_elements"],
    }
    ready = [r["marks_s"].get("om_ready_1") for r in done]
    if all(v is not None for v in ready):
        out["om_ready_1_median_s"] = statistics.median(ready)
    return out


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def versions(browser_version: str) -> dict[str, str]:
    """Library and browser versions, and the vendored Leaflet."""
    out = {"python": platform.python_version(), "chromium": browser_version, "platform": platform.platform()}
    for name in ("folium", "branca", "playwright", "geopandas", "shapely", "fastapi", "uvicorn"):
        out[name] = importlib.metadata.version(name)
    manifest = json.loads((assets.ROOT / "vendor" / "MANIFEST.json").read_text(encoding="utf-8"))
    out["leaflet (vendored)"] = next(p["version"] for p in manifest["packages"] if p["package"] == "leaflet")
    out["leaflet (folium default)"] = re.search(r"leaflet@([\d.]+)", dict(folium.Map.default_js)["leaflet"]).group(1)
    return out


def _mb(n: float) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"


def _seconds(summary: dict[str, Any], key: str) -> str:
    return f"{summary[key]:.2f}" if key in summary else "–"


def table(result: dict[str, Any]) -> str:
    """The Markdown table of the two approaches, with notes."""
    ours, naive = result["ours"], result["naive"]
    so, sn = ours["summary"], naive["summary"]
    ratio = (
        f"{sn['render_median_s'] / so['render_median_s']:.0f}×"
        if "render_median_s" in sn
        else f"> {naive['timeout_s'] / so['render_median_s']:.0f}× (timed out)"
    )
    drawn_ours = sum(v["features"] for v in ours["first_view"].values())
    rows = [
        "| approach | HTML size | render median (s) | p95 / max (s) | ratio naive/ours | features in the page | "
        "features sent for the first view | JS heap used after render | renderer peak RSS |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| one map `/map` (fetches the viewport) | {_mb(ours['html_bytes'])} | {_seconds(so, 'render_median_s')} | "
        f"{_seconds(so, 'render_p95_s')} / {_seconds(so, 'render_max_s')} | 1× | 0 | {drawn_ours:,} "
        f"({_mb(so['data_bytes_median'])}) | {so['js_heap_used_median_mb']:.0f} MB | "
        f"{so['renderer_peak_rss_median_mb']:.0f} MB |",
        f"| naive folium, every feature as GeoJson | {_mb(naive['page']['html_bytes'])} | "
        f"{_seconds(sn, 'render_median_s')} | {_seconds(sn, 'render_p95_s')} / {_seconds(sn, 'render_max_s')} | "
        f"{ratio} | {naive['page']['features']:,} | {naive['page']['features']:,} | "
        + (f"{sn['js_heap_used_median_mb']:.0f} MB | " if "js_heap_used_median_mb" in sn else "– | ")
        + (f"{sn['renderer_peak_rss_median_mb']:.0f} MB |" if sn.get("renderer_peak_rss_median_mb") else "– |"),
    ]
    counts = result["dataset"]["counts"]
    notes = [
        "",
        f"Dataset {result['dataset']['title']}: {sum(counts.values()):,} features "
        f"({', '.join(f'{k} {v:,}' for k, v in counts.items() if v)}). {result['config']['runs']} runs each at "
        f"{VIEWPORT['width']}×{VIEWPORT['height']}, a fresh browser per run; times from navigation start.",
    ]
    if "om_ready_1_median_s" in so:
        notes.append(
            f"The one map's first `omReady` tick came at a median {so['om_ready_1_median_s']:.2f} s, before every "
            f"overlay was drawn; the table uses the first tick with no `/map/data` body left unread."
        )
    return "\n".join(rows + notes)


# -- the benchmark ---------------------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Build or open the data, then measure both pages; returns everything as a dict."""
    with tempfile.TemporaryDirectory(prefix="bench_map_") as tmp:
        folder = Path(tmp)
        data, data_info = banner_dataset(args.data, args.towns, args.seed, folder, level=args.level)
        with onemap_server(data) as server, sync_playwright() as pw:
            browser = launch(pw)
            browser_version = browser.version
            browser.close()
            url = f"{server['base']}/map"
            with httpx.Client(timeout=120) as client:
                html = client.get(url).content
            print("measuring /map ...", file=sys.stderr)
            ours_runs = measure(pw, url, OURS_PROBE, args.runs, args.warmup, OURS_TIMEOUT_S, "/map")
            done = [r for r in ours_runs if not r["timed_out"]]
            data_urls = done[-1]["probe"]["stats"]["data_urls"] if done else []
            ours = {
                "url": "/map",
                "html_bytes": len(html),
                "runs": ours_runs,
                "summary": summarise(ours_runs)
                | {"data_bytes_median": _median([r["probe"]["stats"]["data_bytes"] for r in done]) or 0},
                "first_view": first_view(server["base"], data_urls),
                "data_requests_per_layer": request_counts(data_urls),
                "server": {"startup_s": server["startup_s"], "peak_rss_mb": peak_rss_mb(server["pid"])},
            }
            print("building the naive page ...", file=sys.stderr)
            page = naive_page(data, folder / "naive.html")
            probe = NAIVE_PROBE.replace("__LAYERS__", str(page["layers"])).replace(
                "__FEATURES__", str(page["features"])
            )
            with static_server(folder) as static:
                print(f"measuring the naive page ({_mb(page['html_bytes'])}) ...", file=sys.stderr)
                naive_runs = measure(
                    pw, f"{static}/naive.html", probe, args.runs, args.warmup, args.naive_timeout, "naive"
                )
            naive = {
                "page": page,
                "runs": naive_runs,
                "summary": summarise(naive_runs),
                "timeout_s": args.naive_timeout,
            }
    return {
        "config": {
            "level": None if args.data else args.level,
            "towns": None if args.data else len(data_info["towns"]),
            "runs": args.runs,
            "warmup": args.warmup,
            "seed": args.seed,
            "viewport": VIEWPORT,
            "naive_timeout_s": args.naive_timeout,
            "ours_timeout_s": OURS_TIMEOUT_S,
            "data": str(args.data) if args.data else None,
        },
        "versions": versions(browser_version),
        "dataset": data_info,
        "ours": ours,
        "naive": naive,
        "stubbed": _stubbed(naive_runs + ours_runs),
    }


def _stubbed(runs: list[dict[str, Any]]) -> dict[str, str]:
    """Every outside URL any run asked for, and how it was answered."""
    out: dict[str, str] = {}
    for r in runs:
        out |= r.get("external", {})
    return dict(sorted(out.items()))


def main(argv: list[str] | None = None, *, out: Callable[[str], None] = print) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_banner_arguments(parser)
    parser.add_argument("--runs", type=int, default=5, help="measured runs per page")
    parser.add_argument("--warmup", type=int, default=1, help="discarded runs before them")
    parser.add_argument("--naive-timeout", type=float, default=NAIVE_TIMEOUT_S, help="seconds per naive run")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    result = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    out(table(result))


if __name__ == "__main__":
    main()
