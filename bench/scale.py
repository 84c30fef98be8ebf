"""Scale datasets: many demo towns over a banner, a city or the province, written as one GeoPackage or database.

Each town is the ordinary demo town (`data.demo.generate`) with a seed of its own, moved in metres to a slot of its
county (bench/scale_regions.py says where). A town's code is its county's code and its number (101, 102, ...), a
village's code the town's code and the village's serial, and a hazard's code starts with the town's code. Feature
ids are renumbered per layer across towns, and every field that points at another feature (road, lane, an
intersection's roads, a hazard's linked feature) is rewritten to match. Each town keeps the demo town's densities
of roads, buildings, accidents, sites and hazards.

Levels:

- `banner`: 15 towns over Naiman Banner (150525), padded with hamlets (bench/scale_hamlets.py) to 100,000 features;
  built in memory, as the benchmarks over the banner have always used it.
- `city`: about 100 towns over the eight county-level divisions of Tongliao (1505).
- `province`: about 1,000 towns over the 103 county-level divisions of Inner Mongolia, millions of features.

City and province are streamed: worker processes make the towns and each batch is appended to the output as soon as
it is complete, so memory holds a batch or two, not the dataset. The output is a GeoPackage (written beside its final
name and renamed when complete) or a `postgresql://` URL (written in place through the store).

    python -m bench.scale --level city --out /tmp/city.gpkg
    python -m bench.scale --level province --towns 200 --workers 2
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from shapely.affinity import translate

from bench.scale_hamlets import MIN_FEATURES, add_hamlets
from bench.scale_regions import LEVELS, TownSlot, plan, town_outline
from data.demo import DEFAULT_SEED, generate
from data.demo.town import Feature, Town, Village
from geo.crs import WGS84, transform_geometries, transformer
from layers import LAYERS, Layer
from layers.base import SYNTHETIC_NOTICE
from layers.frames import empty_frame, frame_from_properties
from store import GeoPackageStore, Store, StoreError, open_store
from store.base import DatasetInfo, is_database_url

#: Where a level is written when no --out is given (ignored by git).
DEFAULT_OUT = Path(__file__).resolve().parent / "data"
#: Towns appended to the output at a time when streaming.
BATCH = 20
#: Seeds tried per town, SEED_STRIDE apart, before giving up (see `generated`).
SEED_TRIES, SEED_STRIDE = 5, 1_000_000

#: Fields that hold the fid of a feature in another layer: layer → field → the layer it points into.
FID_LINKS: dict[str, dict[str, str]] = {
    "accidents": {"road_id": "roads"},
    "accident_segments": {"road_id": "roads"},
    "obstructions": {"lane_id": "fire_lanes"},
}
#: Layers whose features carry a `village_code`.
VILLAGE_CODE_LAYERS = ("buildings", "old_settlements", "emergency_resources", "hazards")


# -- one town: generated, moved to its slot, and as frames -------------------------------------------------------------


@dataclass
class PlacedTown:
    """A demo town moved to its slot: the seed it came from, its features and villages in its county's metres."""

    slot: TownSlot
    seed: int
    dx: float
    dy: float
    features: dict[str, list[Feature]]
    villages: list[Village]
    hamlet_houses: int = 0
    hamlets: int = 0

    @property
    def number(self) -> int:
        """The town's number in its county (101, 102, ...)."""
        return self.slot.number


@dataclass(frozen=True)
class TownFrames:
    """A town ready to write: one frame per layer in lon/lat, fids 1, 2, ... within the town, codes final."""

    slot: TownSlot
    seed: int
    frames: dict[str, gpd.GeoDataFrame]
    shift_m: tuple[float, float]
    hamlets: int = 0
    hamlet_houses: int = 0

    @property
    def features(self) -> int:
        """All features of the town."""
        return sum(len(f) for f in self.frames.values())

    def record(self) -> dict:
        """What the summary lists about the town."""
        return {
            "code": self.slot.code,
            "county": self.slot.county.name,
            "number": self.slot.number,
            "seed": self.seed,
            "centre_lonlat": [round(v, 4) for v in self.slot.lonlat],
            "shift_m": [round(v) for v in self.shift_m],
            "features": self.features,
            "hamlets": self.hamlets,
            "hamlet_houses": self.hamlet_houses,
        }


def generated(seed: int) -> tuple[int, Town]:
    """The demo town of `seed`; where that seed has no usable layout, of seed + 1,000,000, then + 2,000,000, ...

    About one seed in a hundred has none (`data.demo.generate` gives up after its draws). The stand-in seeds lie far
    above any town's own, so each town still has a seed of its own and the dataset is the same on every run.
    """
    failures = []
    for k in range(SEED_TRIES):
        try:
            return seed + k * SEED_STRIDE, generate(seed + k * SEED_STRIDE)
        except RuntimeError as exc:
            failures.append(str(exc))
    raise RuntimeError(f"no usable town for seed {seed}: {'; '.join(failures)}")


def place(slot: TownSlot) -> PlacedTown:
    """The demo town of the slot's seed, moved so that its outline's centre sits on the slot (runs in a worker)."""
    seed, town = generated(slot.seed)
    _, (ox, oy) = town_outline()
    (cx,), (cy,) = transformer(WGS84, slot.county.crs).transform([slot.lonlat[0]], [slot.lonlat[1]])
    dx, dy = float(cx - ox), float(cy - oy)

    def moved(items: list[Feature]) -> list[Feature]:
        geoms = shapely.transform([g for _, g in items], lambda xy: xy + (dx, dy))
        return [(props, g) for (props, _), g in zip(items, geoms, strict=True)]

    villages = [
        Village(v.code, v.name, v.kind, translate(v.polygon, dx, dy), translate(v.centre, dx, dy), v.population,
                v.households)
        for v in town.villages
    ]  # fmt: skip
    features = {layer_id: moved(items) for layer_id, items in town.features.items()}
    return PlacedTown(slot, seed, dx, dy, features, villages)


def town_frames(town: PlacedTown) -> TownFrames:
    """The town's layers as frames in lon/lat with its codes; refuses a feature outside its county's box."""
    slot = town.slot
    codes = {v.code: f"{slot.code}{v.code[-3:]}" for v in town.villages}
    frames = {}
    for layer in LAYERS.values():
        items = town.features.get(layer.id, [])
        geoms = _lonlat([g for _, g in items], slot.county.crs)
        if geoms and not shapely.box(*slot.county.box).contains(shapely.box(*shapely.total_bounds(geoms))):
            raise ValueError(f"town {slot.code}: layer {layer.id} leaves {slot.county.name}'s box {slot.county.box}")
        frame = frame_from_properties(layer, [p for p, _ in items], geoms, fids=range(1, len(items) + 1))
        frames[layer.id] = _recoded(layer.id, frame, codes, slot.code)
    return TownFrames(slot, town.seed, frames, (town.dx, town.dy), town.hamlets, town.hamlet_houses)


def framed(slot: TownSlot) -> TownFrames:
    """One town made, placed and turned into frames (runs in a worker)."""
    return town_frames(place(slot))


def _lonlat(geoms: list, crs: str) -> list:
    """Metric geometries as lon/lat rounded to 1e-7° (about 1 cm), as the demo town is written."""
    if not geoms:
        return []
    return list(shapely.set_precision(transform_geometries(geoms, crs, WGS84), 1e-7))


def _recoded(layer_id: str, frame: gpd.GeoDataFrame, codes: dict[str, str], town_code: str) -> gpd.GeoDataFrame:
    """Village codes moved to the town's (town code + serial); hazard codes prefixed with the town's code."""
    if layer_id == "villages":
        frame["code"] = [codes[c] for c in frame["code"]]
    if layer_id in VILLAGE_CODE_LAYERS:
        frame["village_code"] = [None if c is None else codes[c] for c in frame["village_code"]]
    if layer_id == "hazards":
        frame["code"] = [f"{town_code}-{c}" for c in frame["code"]]
    return frame


# -- many towns: fids renumbered across them ---------------------------------------------------------------------------


def relinked(town: TownFrames, offsets: dict[str, int]) -> dict[str, gpd.GeoDataFrame]:
    """The town's frames with fids, and the fields pointing at fids, moved past `offsets` (features before it)."""
    out = {}
    for layer_id, frame in town.frames.items():
        frame = frame.copy()
        frame.index = pd.Index(frame.index.to_numpy() + offsets[layer_id], name="fid")
        for name, target in FID_LINKS.get(layer_id, {}).items():
            frame[name] = frame[name] + offsets[target]
        if layer_id == "intersections":
            frame["road_ids"] = [
                json.dumps([fid + offsets["roads"] for fid in json.loads(v)]) for v in frame["road_ids"]
            ]
        if layer_id == "hazards":
            shift = [offsets[name] if name else 0 for name in frame["linked_layer"]]
            frame["linked_fid"] = frame["linked_fid"] + pd.array(shift, dtype="Int64")
        out[layer_id] = frame
    return out


def stacked(towns: Sequence[TownFrames], offsets: dict[str, int]) -> dict[str, gpd.GeoDataFrame]:
    """The towns' frames one after another per layer, numbered on from `offsets`, which are moved past them."""
    parts: dict[str, list[gpd.GeoDataFrame]] = {layer_id: [] for layer_id in LAYERS}
    for town in towns:
        for layer_id, frame in relinked(town, offsets).items():
            parts[layer_id].append(frame)
            offsets[layer_id] += len(frame)
    return {
        layer_id: pd.concat(nonempty) if (nonempty := [f for f in frames if len(f)]) else empty_frame(LAYERS[layer_id])
        for layer_id, frames in parts.items()
    }


def _description(layer: Layer) -> str:
    return f"{layer.description} {SYNTHETIC_NOTICE}"


def write_all(towns: Sequence[TownFrames], store: Store) -> dict[str, int]:
    """Every town into `store` at once, each layer written whole; returns the features per layer."""
    counts = dict.fromkeys(LAYERS, 0)
    for layer_id, frame in stacked(towns, counts).items():
        store.replace(LAYERS[layer_id], frame, description=_description(LAYERS[layer_id]))
    return counts


def write_streamed(
    batches: Iterable[Sequence[TownFrames]],
    store: Store,
    *,
    written: Callable[[Sequence[TownFrames]], None] | None = None,
) -> dict[str, int]:
    """Towns batch by batch: every layer is emptied, then each batch appended; returns the features per layer.

    `written(batch)` is called after each batch. The fids the store gives must be the ones the links were
    rewritten for (1, 2, ... in order), which holds for an emptied GeoPackage or PostGIS table.
    """
    for layer in LAYERS.values():
        store.replace(layer, empty_frame(layer), description=_description(layer))
    counts = dict.fromkeys(LAYERS, 0)
    for batch in batches:
        for layer_id, frame in stacked(batch, counts).items():
            if len(frame) == 0:
                continue
            fids = store.append(LAYERS[layer_id], frame)
            if fids != frame.index.tolist():
                raise StoreError(
                    f"{store.location}: layer {layer_id} numbered the batch {fids[0]}..{fids[-1]}, "
                    f"not {frame.index[0]}..{frame.index[-1]}; its links would point at the wrong features"
                )
        if written is not None:
            written(batch)
    return counts


# -- making towns in worker processes ----------------------------------------------------------------------------------


class TownMaker:
    """`work(slot)` for each slot, in slot order, in worker processes, with at most `window` results waiting.

    The pool and its processes are started on entering, before any progress display starts a thread.
    """

    def __init__(self, work: Callable[[TownSlot], object], slots: Sequence[TownSlot], workers: int, window: int):
        self.work, self.slots, self.workers, self.window = work, slots, workers, max(window, workers)
        self.pool: ProcessPoolExecutor | None = None
        self.pending: deque[Future] = deque()
        #: Seconds spent waiting for (or, in-process, making) the next town.
        self.waited = 0.0

    def __enter__(self) -> TownMaker:
        self.todo = iter(self.slots)
        if self.workers > 1:
            self.pool = ProcessPoolExecutor(max_workers=self.workers)
            for slot in self._next(self.window):
                self.pending.append(self.pool.submit(self.work, slot))
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)

    def __iter__(self) -> Iterator:
        if self.pool is None:
            for slot in self.todo:
                yield self._timed(self.work, slot)
            return
        while self.pending:
            result = self._timed(self.pending.popleft().result)
            for slot in self._next(1):
                self.pending.append(self.pool.submit(self.work, slot))
            yield result

    def _timed(self, call: Callable, *args: object) -> object:
        started = time.perf_counter()
        try:
            return call(*args)
        finally:
            self.waited += time.perf_counter() - started

    def _next(self, n: int) -> list[TownSlot]:
        return [slot for _, slot in zip(range(n), self.todo, strict=False)]


def batched(items: Iterable, size: int) -> Iterator[list]:
    """Lists of `size` items (the last may be shorter)."""
    batch: list = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


# -- a whole dataset ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScaleSummary:
    """What was built: where, the level, counts per layer, the towns, how long it took and the peak memory."""

    location: str
    level: str
    seed: int
    towns: list[dict]
    counts: dict[str, int]
    region: tuple[float, float, float, float]
    hamlet_houses: int = 0
    hamlets: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    peak_mb: dict[str, float] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """All features of all layers."""
        return sum(self.counts.values())

    @property
    def features_per_s(self) -> float:
        """Features written per second of the whole build."""
        return self.total / self.seconds["total"] if self.seconds.get("total") else 0.0

    def lines(self) -> list[str]:
        """A short plain-text report."""
        counties = len({t["code"][:6] for t in self.towns})
        out = [f"{self.location}: {self.total:,} features in {_count(len(self.towns), 'town')} of "
               f"{_count(counties, 'county', 'counties')} ({self.level}, seed {self.seed})"]  # fmt: skip
        out += [f"  {layer_id:20s} {n:>10,}" for layer_id, n in self.counts.items()]
        stand_ins = [f"{t['code']} {t['seed']}" for k, t in enumerate(self.towns) if t["seed"] != self.seed + k]
        if stand_ins:
            out.append(f"  seeds without a layout, replaced: {', '.join(stand_ins)}")
        if self.hamlet_houses:
            out.append(f"  of which hamlet houses added: {self.hamlet_houses:,} in {self.hamlets:,} hamlets")
        out.append("  time: " + ", ".join(f"{k} {v:.1f} s" for k, v in self.seconds.items()))
        out.append(f"  {self.features_per_s:,.0f} features/s")
        out.append("  peak memory: " + ", ".join(f"{k} {v:,.0f} MB" for k, v in self.peak_mb.items()))
        out.append(f"  serve it with ONEMAP_REGION_BBOX={','.join(str(v) for v in self.region)}")
        return out


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else many or one + 's'}"


@contextlib.contextmanager
def opened(out: str | Path) -> Iterator[Store]:
    """The store to write: a database in place; a GeoPackage beside its final path, renamed there when complete."""
    if is_database_url(out):
        store = open_store(str(out))
        store.ensure_tables(LAYERS.values())  # the schema, its info table and the layer tables
        yield store
        return
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    tmp.unlink(missing_ok=True)
    try:
        yield GeoPackageStore(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _peak_mb() -> dict[str, float]:
    """Peak resident memory of this process and of the largest worker process so far (ru_maxrss)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"main": own, "largest worker": workers} if workers else {"main": own}


def build(
    out: str | Path,
    level: str = "banner",
    towns: int | None = None,
    seed: int = DEFAULT_SEED,
    *,
    counties: Sequence[str] | None = None,
    workers: int | None = None,
    batch: int = BATCH,
    min_features: int | None = None,
    progress: bool = False,
    log: Callable[[str], None] | None = None,
) -> ScaleSummary:
    """Make the towns of `level` (its default number unless `towns`) and write them to `out` (file or URL).

    Towns use the seeds seed, seed + 1, ... (`generated` says what replaces a seed without a layout); `counties`
    narrows the level to some of its county (or prefecture) codes. With `min_features` (the banner's default) the
    towns are built in memory and padded with hamlets up to that many features; otherwise they are streamed in
    batches of `batch` towns.
    """
    lvl = LEVELS[level]
    slots = plan(lvl, lvl.towns if towns is None else towns, seed, counties)
    min_features = lvl.min_features if min_features is None else min_features
    if min_features > 0 and level != "banner":
        raise ValueError("hamlets need every town in memory: --min-features is for the banner level")
    workers = max(1, workers or os.cpu_count() or 1)
    say = log or (lambda _: None)
    counties = _count(len({s.county for s in slots}), "county", "counties")
    say(f"{level}: {_count(len(slots), 'town')} in {counties}, {_count(workers, 'worker')}")
    started = time.perf_counter()
    with opened(out) as store:
        if min_features > 0:
            made, counts, seconds = _in_memory(slots, store, workers, min_features, say)
        else:
            made, counts, seconds = _streamed(slots, store, workers, batch, progress, say)
        store.set_info(
            DatasetInfo(
                title=f"{lvl.title}（示例，{len(slots)} 个镇）",
                synthetic=True,
                notice=SYNTHETIC_NOTICE,
                area=f"{lvl.area}（合成示例：{len(slots)} 个示例镇 synthetic sample towns）",
            )
        )
    seconds["total"] = time.perf_counter() - started
    summary = ScaleSummary(
        location=str(out),
        level=level,
        seed=seed,
        towns=made,
        counts=counts,
        region=lvl.region,
        hamlet_houses=sum(t["hamlet_houses"] for t in made),
        hamlets=sum(t["hamlets"] for t in made),
        seconds=seconds,
        peak_mb=_peak_mb(),
    )
    say(f"wrote {summary.total:,} features to {out} in {seconds['total']:.1f} s ({summary.features_per_s:,.0f}/s)")
    return summary


def _in_memory(
    slots: Sequence[TownSlot], store: Store, workers: int, min_features: int, say: Callable[[str], None]
) -> tuple[list[dict], dict[str, int], dict[str, float]]:
    """All towns made, padded with hamlets up to `min_features`, then written at once."""
    t0 = time.perf_counter()
    with TownMaker(place, slots, workers, window=len(slots)) as maker:
        placed: list[PlacedTown] = list(maker)
    seconds = {"generate": time.perf_counter() - t0}
    say(f"generated {len(placed)} towns in {seconds['generate']:.1f} s")
    t1 = time.perf_counter()
    total = sum(len(items) for town in placed for items in town.features.values())
    added = add_hamlets(placed, min_features - total, slots[0].seed)
    seconds["hamlets"] = time.perf_counter() - t1
    say(f"{total:,} town features; added {added:,} hamlet houses in {seconds['hamlets']:.1f} s")
    t2 = time.perf_counter()
    towns = [town_frames(t) for t in placed]
    counts = write_all(towns, store)
    seconds["write"] = time.perf_counter() - t2
    return [t.record() for t in towns], counts, seconds


def _streamed(
    slots: Sequence[TownSlot],
    store: Store,
    workers: int,
    batch: int,
    progress: bool,
    say: Callable[[str], None],
) -> tuple[list[dict], dict[str, int], dict[str, float]]:
    """Towns made in workers and appended batch by batch, with a progress bar on a terminal (else a line a batch)."""
    made: list[dict] = []
    started = time.perf_counter()
    console = Console(stderr=True)
    bar = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("towns"),
        TextColumn("{task.fields[features]:>12,} features  {task.fields[rate]:>8,.0f}/s"),
        TimeElapsedColumn(), TimeRemainingColumn(), console=console, disable=not (progress and console.is_terminal),
    )  # fmt: skip

    def written(towns: Sequence[TownFrames]) -> None:
        made.extend(t.record() for t in towns)
        features = sum(t["features"] for t in made)
        rate = features / (time.perf_counter() - started)
        bar.update(task, advance=len(towns), features=features, rate=rate)
        if bar.disable:
            say(f"{len(made):,}/{len(slots):,} towns, {features:,} features, {rate:,.0f} features/s")

    with TownMaker(framed, slots, workers, window=batch) as maker, bar:
        task = bar.add_task("写入 writing", total=len(slots), features=0, rate=0.0)
        counts = write_streamed(batched(maker, batch), store, written=written)
    spent = time.perf_counter() - started
    return made, counts, {"waiting for towns": maker.waited, "relinking and writing": spent - maker.waited}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `python -m bench.scale`."""
    parser.add_argument("--level", choices=list(LEVELS), default="banner", help="banner, city or province")
    parser.add_argument(
        "--out", default=None, help=f"GeoPackage (replaced) or postgresql:// URL (default {DEFAULT_OUT}/LEVEL.gpkg)"
    )
    parser.add_argument("--towns", type=int, default=None, help="towns in all (default: banner 15, city 100, ...)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of the first town; the next add 1")
    parser.add_argument("--workers", type=int, default=None, help="processes making towns (default: all cores)")
    parser.add_argument("--counties", default=None, help="only these county (or prefecture) codes, comma-separated")
    parser.add_argument("--batch", type=int, default=BATCH, help="towns appended at a time when streaming")
    parser.add_argument(
        "--min-features",
        type=int,
        default=None,
        help=f"banner: add hamlets up to this total (default {MIN_FEATURES:,})",
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        summary = build(
            args.out or DEFAULT_OUT / f"{args.level}.gpkg",
            args.level,
            args.towns,
            args.seed,
            counties=args.counties.split(",") if args.counties else None,
            workers=args.workers,
            batch=args.batch,
            min_features=args.min_features,
            progress=True,
            log=lambda line: print(line, file=sys.stderr, flush=True),
        )
    except ValueError as exc:
        parser.error(str(exc))
    print("\n".join(summary.lines()))


if __name__ == "__main__":
    main()
