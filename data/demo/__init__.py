"""The demo town generator: a synthetic rural town in Naiman Banner, written as one GeoPackage plus its planted truths.

Everything is laid out in EPSG:4549 metres from one seed and converted to lon/lat at the end, so the same seed gives
the same file. The truths (which junctions are black spots, which fire lanes are blocked, which sites are major hazard
sources) go to a JSON file beside the GeoPackage, so that the analyses can be tested against what was planted.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from data.demo.accidents import crash_features
from data.demo.area import lay_out, place_villages, seat_box
from data.demo.buildings import building_features
from data.demo.fire import lane_features, obstruction_features
from data.demo.graph import Graph
from data.demo.hazards import AS_OF, hazard_features
from data.demo.junctions import intersection_features, plan_hotspots
from data.demo.metric import to_lonlat
from data.demo.network import build_network
from data.demo.roads import classify, road_features
from data.demo.sites import resource_features, risk_source_features
from data.demo.town import LayoutError, Town
from layers import LAYERS
from layers.base import SYNTHETIC_NOTICE
from layers.frames import frame_from_properties
from store.base import DatasetInfo
from store.geopackage import GeoPackageStore

DEFAULT_SEED = 20201
TITLE = "义隆永镇（示例）"
#: The analyses shipped with the demo count the three full years before this day (the planted black-spot window).
ANALYSED_ON = date(2026, 1, 1)
#: [K] the demo's lights-and-belts budget, yuan.
DEMO_BUDGET_YUAN = 300_000
AREA = "内蒙古自治区通辽市奈曼旗（合成示例镇 synthetic sample town）"


def truth_path(gpkg: str | Path) -> Path:
    """Where the planted truths of a demo GeoPackage are written: `<name>.truth.json` beside it."""
    gpkg = Path(gpkg)
    return gpkg.with_name(f"{gpkg.stem}.truth.json")


@dataclass(frozen=True)
class DemoSummary:
    """What was built: feature counts per layer, the planted truths, the file and how long it took."""

    path: Path
    seed: int
    counts: dict[str, int]
    truth: dict
    seconds: float

    def table(self) -> Table:
        """A table for the terminal: each layer's Chinese title and count, then the planted truths."""
        table = Table(title=f"{TITLE} → {self.path}  (seed {self.seed}, {self.seconds:.1f} s)")
        table.add_column("图层 layer")
        table.add_column("要素数 features", justify="right")
        for layer_id, n in self.counts.items():
            table.add_row(f"{LAYERS[layer_id].title} ({layer_id})", str(n))
        black = self.truth["accident_black_spots"]
        lanes = self.truth["fire_lanes"]
        table.add_section()
        table.add_row("事故多发点/段 planted black spots", f"{len(black['spots'])} + {len(black['segments'])}")
        table.add_row(
            "堵塞/部分堵塞消防车通道 blocked/partial lanes",
            f"{len(lanes['blocked_lane_fids'])}/{len(lanes['partial_lane_fids'])}",
        )
        table.add_row("重大危险源 major hazard sources", str(len(self.truth["major_hazard_sources"]["sites"])))
        table.caption = f"{SYNTHETIC_NOTICE}; truths in {truth_path(self.path).name}"
        return table


#: The generation steps in order, each with the label its progress bar shows.
STEPS: tuple[tuple[str, Callable[[Town, Graph], object]], ...] = (
    ("村界 villages", lambda town, g: place_villages(town)),
    ("路网 road network", lambda town, g: _network(town, g)),
    ("道路 roads", road_features),
    ("平交路口 intersections", lambda town, g: (plan_hotspots(town, g), intersection_features(town, g))),
    ("交通事故 accidents", crash_features),
    ("风险源 risk sources", risk_source_features),
    ("应急资源 emergency resources", resource_features),
    ("消防车通道 fire lanes", lambda town, g: (lane_features(town), obstruction_features(town))),
    ("建筑与老旧小区 buildings", building_features),
    ("隐患台账 hazards", lambda town, g: hazard_features(town)),
)


#: Draws tried per seed before giving up; a draw fails when it cannot hold every planted item (see LayoutError).
MAX_ATTEMPTS = 8


def generate(seed: int = DEFAULT_SEED, *, progress: Progress | None = None) -> Town:
    """Lay out the whole town in memory (metric coordinates); the same seed always gives the same town."""
    failures = []
    for attempt in range(MAX_ATTEMPTS):
        try:
            return _generate(seed, attempt, progress)
        except LayoutError as exc:
            failures.append(str(exc))
    raise RuntimeError(f"seed {seed}: no usable layout in {MAX_ATTEMPTS} draws ({'; '.join(failures)})")


def _generate(seed: int, attempt: int, progress: Progress | None) -> Town:
    town = lay_out(seed)
    town.attempt = attempt
    town.extras["seat_box"] = seat_box(town)
    graph = Graph()
    task = progress.add_task("生成 generating", total=len(STEPS)) if progress else None
    for label, step in STEPS:
        if progress is not None:
            progress.update(task, description=f"生成 {label}")
        step(town, graph)
        if progress is not None:
            progress.advance(task)
    if progress is not None:
        progress.remove_task(task)
    for layer_id in LAYERS:  # derived layers start empty: their tables exist for the analyses to fill
        town.features.setdefault(layer_id, [])
    town.truth["grade_separated_road_fids"] = [
        fid for fid, (props, _) in enumerate(town.features["roads"], start=1) if props.grade_separated
    ]
    town.truth["layout_attempt"] = attempt
    return town


def _network(town: Town, graph: Graph) -> None:
    built = build_network(town)
    graph.nodes, graph.edges = built.nodes, built.edges
    classify(town, graph)


def build_demo(path: str | Path, *, seed: int = DEFAULT_SEED, progress: bool = False) -> DemoSummary:
    """Generate the town and write it to `path` (replaced atomically) with its truths beside it."""
    path = Path(path)
    started = time.perf_counter()
    with Progress(
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(), disable=not progress, transient=True,
    ) as bar:  # fmt: skip
        town = generate(seed, progress=bar)
        counts = _write(town, path, bar)
    truth = {
        "seed": seed,
        "notice": SYNTHETIC_NOTICE,
        "as_of": AS_OF.isoformat(),
        "counts": counts,
        **town.truth,
    }
    tmp = truth_path(path).with_suffix(".json.tmp")
    tmp.write_text(json.dumps(truth, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, truth_path(path))
    return DemoSummary(path, seed, counts, truth, time.perf_counter() - started)


def _write(town: Town, path: Path, progress: Progress) -> dict[str, int]:
    """Every layer into a temporary GeoPackage, then one rename, so a reader never sees half a town."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    tmp.unlink(missing_ok=True)
    store = GeoPackageStore(tmp)
    task = progress.add_task("写入 writing", total=len(LAYERS))
    counts = {}
    try:
        for layer in LAYERS.values():
            progress.update(task, description=f"写入 {layer.title}")
            features = town.features.get(layer.id, [])
            frame = frame_from_properties(
                layer,
                [props for props, _ in features],
                to_lonlat([geom for _, geom in features]),
                fids=range(1, len(features) + 1),
            )
            store.replace(layer, frame, description=f"{layer.description} {SYNTHETIC_NOTICE}")
            counts[layer.id] = len(features)
            progress.advance(task)
        progress.update(task, description="分析 analysing")
        counts.update(_analyse(store))
        store.set_info(DatasetInfo(title=TITLE, synthetic=True, notice=SYNTHETIC_NOTICE, area=AREA))
        _single_file(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return counts


def _analyse(store: GeoPackageStore) -> dict[str, int]:
    """Run the analyses as the town office would, so the demo's views open with results to look at.

    Intersections are extracted (their surveyed ids and treatment kept), then screened, the crash density and the
    lights-and-belts plan made, the fire analyses run and the composite risk surface counted, all as of
    ANALYSED_ON; the layers they write are ordinary derived layers.
    """
    from analysis import fire_runs, risk_runs, runs  # the analyses read the layers just written

    runs.intersections(store)
    _, segments = runs.blackspots(store, ANALYSED_ON)
    density = runs.crash_density(store, ANALYSED_ON)
    plan = runs.treatment_plan(store, DEMO_BUDGET_YUAN, ANALYSED_ON)
    fire = fire_runs.fire(store, ANALYSED_ON)
    _, risk_cells = risk_runs.surface(store, ANALYSED_ON, fire_times_s=fire.response.buildings["time_blocked_any_s"])
    return {
        "accident_segments": len(segments),
        "crash_density": len(density.frame),
        "treatment_plan": len(plan.frame),
        **{name: len(frame) for name, frame in fire.frames.items()},
        "risk_surface": len(risk_cells),
    }


def _single_file(path: Path) -> None:
    """Back to a rollback journal, so the shipped file is one self-contained file that opens read-only too."""
    db = sqlite3.connect(path)
    try:
        db.execute("PRAGMA journal_mode = DELETE")
    finally:
        db.close()
