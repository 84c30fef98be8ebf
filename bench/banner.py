"""A banner-scale dataset: many demo towns laid side by side over Naiman Banner, written as one GeoPackage.

Each town is the ordinary demo town (`data.demo.generate`) with its own seed, moved in EPSG:4549 metres to a cell of
a grid over the banner. Feature ids are renumbered per layer across towns, village codes are made unique
(150525 + town number 101.. + the village's serial) and every field that points at another feature (road, lane,
linked feature, village code, hazard code) is rewritten to match. If the towns hold fewer features than asked for,
outlying hamlets (自然屯) of courtyard houses are added to the rural villages until they do.

`python -m bench.banner --out FILE` writes the file; `build_banner` does the same from Python.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.affinity import translate
from shapely.geometry import Point, Polygon

from data.demo import DEFAULT_SEED, generate
from data.demo.area import OUTLINE_LONLAT
from data.demo.metric import lonlat_to_xy, to_lonlat
from data.demo.town import Feature, Village
from layers import LAYERS
from layers.base import SYNTHETIC_NOTICE
from layers.fire import BuildingProperties
from layers.frames import frame_from_properties
from onemap.settings import NAIMAN_REGION
from store.base import DatasetInfo
from store.geopackage import GeoPackageStore

#: The part of Naiman Banner the towns are spread over: (min_lon, min_lat, max_lon, max_lat).
BANNER_BOX = (120.0, 42.3, 121.6, 43.6)
#: County-level division code of Naiman Banner; a town's code adds 101, 102, ... and a village's its serial.
COUNTY_CODE = "150525"
FIRST_TOWN_NUMBER = 101
MIN_FEATURES = 100_000
AREA = "内蒙古自治区通辽市奈曼旗（合成示例：{towns} 个示例镇 synthetic sample towns）"

#: Fields that hold the fid of a feature in another layer: layer → field → the layer it points into.
FID_LINKS: dict[str, dict[str, str]] = {
    "accidents": {"road_id": "roads"},
    "accident_segments": {"road_id": "roads"},
    "obstructions": {"lane_id": "fire_lanes"},
}
#: Layers whose features carry a `village_code`.
VILLAGE_CODE_LAYERS = ("buildings", "old_settlements", "emergency_resources", "hazards")

#: Hamlet layout: radius range (m), distance range from the village centre (m), house rows and pitch (m).
HAMLET_RADIUS = (70.0, 120.0)
HAMLET_DISTANCE = (500.0, 1800.0)
ROW_PITCH, HOUSE_PITCH = 27.0, 18.0
HOUSE_W, HOUSE_D = 10.0, 8.0
ROAD_CLEARANCE, POINT_CLEARANCE, BUILDING_CLEARANCE = 8.0, 15.0, 4.0


@dataclass(frozen=True)
class GeneratedTown:
    """What a worker sends back: one town's features (metres, fid order) and its villages."""

    seed: int
    features: dict[str, list[Feature]]
    villages: list[Village]


@dataclass
class PlacedTown:
    """A town moved to its cell, with its number and the shift applied (metres)."""

    number: int
    seed: int
    dx: float
    dy: float
    features: dict[str, list[Feature]]
    villages: list[Village]
    hamlet_houses: int = 0
    hamlets: int = 0


@dataclass(frozen=True)
class BannerSummary:
    """What was built: counts per layer, the towns and where they went, and how long each stage took."""

    path: Path
    seed: int
    towns: list[dict]
    counts: dict[str, int]
    hamlet_houses: int
    hamlets: int
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """All features of all layers."""
        return sum(self.counts.values())

    def lines(self) -> list[str]:
        """A short plain-text report."""
        out = [f"{self.path}: {self.total:,} features in {len(self.towns)} towns (seed {self.seed})"]
        out += [f"  {layer_id:20s} {n:>8,}" for layer_id, n in self.counts.items()]
        out.append(f"  of which hamlet houses added: {self.hamlet_houses:,} in {self.hamlets:,} hamlets")
        out.append(f"  town seeds: {[t['seed'] for t in self.towns]}")
        out.append("  time: " + ", ".join(f"{k} {v:.1f} s" for k, v in self.seconds.items()))
        return out


# -- generating and placing towns ------------------------------------------------------------------------------------


def _generate(seed: int) -> GeneratedTown:
    """One demo town in metres (runs in a worker process)."""
    town = generate(seed)
    return GeneratedTown(seed, town.features, town.villages)


def generate_towns(towns: int, first_seed: int, workers: int | None = None) -> list[GeneratedTown]:
    """Demo towns for the seeds first_seed, first_seed + 1, ..., generated in parallel."""
    workers = max(1, workers or os.cpu_count() or 1)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(_generate, range(first_seed, first_seed + towns)))


def grid_centres(towns: int, box: tuple[float, float, float, float] = BANNER_BOX) -> list[tuple[float, float]]:
    """(lon, lat) of the cell centres of a grid over `box`, row by row from the north-west."""
    cols = math.ceil(math.sqrt(towns * 1.6))
    rows = math.ceil(towns / cols)
    west, south, east, north = box
    dlon, dlat = (east - west) / cols, (north - south) / rows
    cells = [(west + (c + 0.5) * dlon, north - (r + 0.5) * dlat) for r in range(rows) for c in range(cols)]
    return cells[:towns]


def place_towns(generated: list[GeneratedTown]) -> list[PlacedTown]:
    """Each town shifted so that its outline's centre sits on its grid cell's centre; cells must not overlap."""
    outline = Polygon(lonlat_to_xy(OUTLINE_LONLAT))
    ox, oy = outline.centroid.x, outline.centroid.y
    centres = lonlat_to_xy(grid_centres(len(generated)))
    placed, outlines = [], []
    for k, (town, (cx, cy)) in enumerate(zip(generated, centres, strict=True)):
        dx, dy = float(cx - ox), float(cy - oy)
        features = {
            layer_id: [(props, translate(geom, dx, dy)) for props, geom in items]
            for layer_id, items in town.features.items()
        }
        villages = [_moved_village(v, dx, dy) for v in town.villages]
        placed.append(PlacedTown(FIRST_TOWN_NUMBER + k, town.seed, dx, dy, features, villages))
        outlines.append(translate(outline, dx, dy))
    tree = shapely.STRtree(outlines)
    left, right = tree.query(outlines, predicate="intersects")
    if np.any(left != right):
        raise ValueError(f"{len(generated)} towns do not fit side by side in {BANNER_BOX}; use fewer towns")
    return placed


def _moved_village(v: Village, dx: float, dy: float) -> Village:
    return Village(
        v.code, v.name, v.kind, translate(v.polygon, dx, dy), translate(v.centre, dx, dy), v.population, v.households
    )


# -- hamlets: extra courtyard houses ---------------------------------------------------------------------------------


@dataclass
class _Obstacles:
    """What a new house keeps clear of in one town: roads, lanes, sites and existing buildings."""

    lines: shapely.STRtree
    points: shapely.STRtree
    buildings: shapely.STRtree

    @classmethod
    def of(cls, town: PlacedTown) -> _Obstacles:
        def geoms(*layers: str) -> list:
            return [g for layer_id in layers for _, g in town.features.get(layer_id, [])]

        return cls(
            lines=shapely.STRtree(geoms("roads", "fire_lanes")),
            points=shapely.STRtree(geoms("risk_sources", "emergency_resources", "hazards", "intersections")),
            buildings=shapely.STRtree(geoms("buildings")),
        )

    def clear(self, footprints: np.ndarray) -> np.ndarray:
        """A mask of the footprints that keep their distance from everything."""
        ok = np.ones(len(footprints), dtype=bool)
        for tree, distance in (
            (self.lines, ROAD_CLEARANCE),
            (self.points, POINT_CLEARANCE),
            (self.buildings, BUILDING_CLEARANCE),
        ):
            hit, _ = tree.query(footprints, predicate="dwithin", distance=distance)
            ok[hit] = False
        return ok


def _house_footprints(cx: float, cy: float, radius: float, rng: np.random.Generator) -> np.ndarray:
    """Courtyard houses (10 × 8 m, facing roughly south) in rows within a ragged circle, like the demo villages."""
    angle = float(rng.uniform(-0.14, 0.14))
    c, s = math.cos(angle), math.sin(angle)
    t, u = np.meshgrid(np.arange(-radius, radius, ROW_PITCH), np.arange(-radius, radius, HOUSE_PITCH), indexing="ij")
    t, u = t.ravel(), u.ravel()
    keep = u * u + t * t <= radius * radius * rng.uniform(0.75, 1.05, len(t))
    t, u = t[keep], u[keep]
    x, y = cx + u * c - t * s, cy + u * s + t * c
    hw, hd = HOUSE_W / 2, HOUSE_D / 2
    corners = np.array([(-hw, -hd), (hw, -hd), (hw, hd), (-hw, hd), (-hw, -hd)])
    rot = np.array([[c, s], [-s, c]])
    ring = corners @ rot  # (5, 2): each corner turned by `angle`
    coords = np.stack([x, y], axis=1)[:, None, :] + ring[None, :, :]
    return shapely.polygons(coords)


def _hamlet_site(
    village: Village, taken: list[tuple[Point, float]], radius: float, rng: np.random.Generator
) -> Point | None:
    """A hamlet centre inside the village, away from its core cluster and from other hamlets; None if no room."""
    inner = village.polygon.buffer(-(radius + 30.0))
    core = 70 + village.population / 40
    for _ in range(40):
        theta = rng.uniform(0, 2 * math.pi)
        d = rng.uniform(*HAMLET_DISTANCE)
        p = Point(village.centre.x + d * math.cos(theta), village.centre.y + d * math.sin(theta))
        if d < core + radius + 150 or not inner.contains(p):
            continue
        if all(p.distance(q) >= radius + r + 100 for q, r in taken):
            return p
    return None


def _hamlet(
    village: Village, taken: list[tuple[Point, float]], obstacles: _Obstacles, rng: np.random.Generator
) -> list[Feature]:
    """One hamlet of the village: its house footprints that fit, with attributes."""
    radius = float(rng.uniform(*HAMLET_RADIUS))
    site = _hamlet_site(village, taken, radius, rng)
    if site is None:
        return []
    taken.append((site, radius))
    footprints = _house_footprints(site.x, site.y, radius, rng)
    footprints = footprints[shapely.contains(village.polygon, footprints) & obstacles.clear(footprints)]
    grades = rng.choice(["3", "3", "4", "unknown"], len(footprints))
    residents = rng.integers(1, 6, len(footprints))
    years = rng.integers(1980, 2023, len(footprints))
    return [
        (
            BuildingProperties(
                storeys=1,
                fire_grade=str(g),
                use="residential",
                residents=int(r),
                build_year=int(y),
                village_code=village.code,
            ),
            fp,
        )
        for g, r, y, fp in zip(grades, residents, years, footprints, strict=True)
    ]


def add_hamlets(towns: list[PlacedTown], shortfall: int, seed: int) -> int:
    """Add hamlets round by round (village serial, then town) until `shortfall` houses are added; returns the count.

    Each hamlet has its own random stream (seed, town, village, round), so the result does not depend on the order.
    """
    if shortfall <= 0:
        return 0
    obstacles = {t.number: _Obstacles.of(t) for t in towns}
    taken: dict[tuple[int, int], list[tuple[Point, float]]] = {}
    added = 0
    for rnd in range(1, 100):
        added_this_round = 0
        for k in range(1, max(len(t.villages) for t in towns)):
            for town in towns:
                if k >= len(town.villages):
                    continue
                village = town.villages[k]
                rng = np.random.default_rng([seed, town.number, k, rnd])
                houses = _hamlet(village, taken.setdefault((town.number, k), []), obstacles[town.number], rng)
                if not houses:
                    continue
                town.features["buildings"].extend(houses)
                town.hamlet_houses += len(houses)
                town.hamlets += 1
                added += len(houses)
                added_this_round += len(houses)
                if added >= shortfall:
                    return added
        if added_this_round == 0:
            break
    raise RuntimeError(f"no room for more hamlets: added {added:,} of the {shortfall:,} houses needed")


# -- merging: one feature list per layer, ids renumbered -------------------------------------------------------------


def village_code(town_number: int, old_code: str) -> str:
    """150525 + the town's number + the village's serial (the last three digits of its demo code)."""
    return f"{COUNTY_CODE}{town_number:03d}{old_code[-3:]}"


def _relinked(layer_id: str, props, offsets: dict[str, int], codes: dict[str, str], town_number: int):
    """One feature's attributes with its ids moved into the merged numbering."""
    update: dict = {}
    for name, target in FID_LINKS.get(layer_id, {}).items():
        value = getattr(props, name)
        if value is not None:
            update[name] = value + offsets[target]
    if layer_id == "intersections":
        update["road_ids"] = [fid + offsets["roads"] for fid in props.road_ids]
    if layer_id == "villages":
        update["code"] = codes[props.code]
    if layer_id in VILLAGE_CODE_LAYERS and props.village_code is not None:
        update["village_code"] = codes[props.village_code]
    if layer_id == "hazards":
        update["code"] = f"T{town_number}-{props.code}"
        if props.linked_fid is not None and props.linked_layer:
            update["linked_fid"] = props.linked_fid + offsets[props.linked_layer]
    return props.model_copy(update=update) if update else props


def merge(towns: list[PlacedTown]) -> dict[str, list[Feature]]:
    """Every layer's features, town after town; a feature's fid is its position + 1."""
    merged: dict[str, list[Feature]] = {layer_id: [] for layer_id in LAYERS}
    for town in towns:
        offsets = {layer_id: len(items) for layer_id, items in merged.items()}
        codes = {v.code: village_code(town.number, v.code) for v in town.villages}
        for layer_id in LAYERS:
            for props, geom in town.features.get(layer_id, []):
                merged[layer_id].append((_relinked(layer_id, props, offsets, codes, town.number), geom))
    return merged


# -- writing ---------------------------------------------------------------------------------------------------------


def write(features: dict[str, list[Feature]], path: Path, towns: int) -> dict[str, int]:
    """Every layer into a temporary GeoPackage, then one rename (as the demo town is written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    tmp.unlink(missing_ok=True)
    store = GeoPackageStore(tmp)
    counts: dict[str, int] = {}
    try:
        for layer in LAYERS.values():
            items = features.get(layer.id, [])
            geoms = to_lonlat([geom for _, geom in items])
            _check_inside(layer.id, geoms)
            frame = frame_from_properties(layer, [props for props, _ in items], geoms, fids=range(1, len(items) + 1))
            store.replace(layer, frame, description=f"{layer.description} {SYNTHETIC_NOTICE}")
            counts[layer.id] = len(items)
        store.set_info(
            DatasetInfo(
                title=f"奈曼旗（示例，{towns} 个镇）",
                synthetic=True,
                notice=SYNTHETIC_NOTICE,
                area=AREA.format(towns=towns),
            )
        )
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return counts


def _check_inside(layer_id: str, geoms: list) -> None:
    """Refuse to write anything outside the banner box (and so outside the service region)."""
    if not geoms:
        return
    west, south, east, north = shapely.total_bounds(geoms)
    for box in (BANNER_BOX, NAIMAN_REGION):
        if west < box[0] or south < box[1] or east > box[2] or north > box[3]:
            raise ValueError(f"layer {layer_id} reaches {west, south, east, north}, outside {box}")


# -- entry points ----------------------------------------------------------------------------------------------------


def build_banner(
    path: str | Path,
    towns: int = 15,
    seed: int = DEFAULT_SEED,
    *,
    min_features: int = MIN_FEATURES,
    workers: int | None = None,
    log: Callable[[str], None] | None = None,
) -> BannerSummary:
    """Generate `towns` demo towns, spread them over the banner and write `path`.

    The towns use the seeds seed, seed + 1, ... Hamlets are added while the total is below `min_features`.
    """
    path = Path(path)
    say = log or (lambda _: None)
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    generated = generate_towns(towns, seed, workers)
    seconds["generate"] = time.perf_counter() - t0
    say(f"generated {towns} towns in {seconds['generate']:.1f} s")
    t1 = time.perf_counter()
    placed = place_towns(generated)
    total = sum(len(items) for town in placed for items in town.features.values())
    added = add_hamlets(placed, min_features - total, seed)
    seconds["hamlets"] = time.perf_counter() - t1
    say(f"{total:,} town features; added {added:,} hamlet houses in {seconds['hamlets']:.1f} s")
    t2 = time.perf_counter()
    counts = write(merge(placed), path, towns)
    seconds["write"] = time.perf_counter() - t2
    seconds["total"] = time.perf_counter() - t0
    say(f"wrote {sum(counts.values()):,} features to {path} in {seconds['write']:.1f} s")
    lonlat = [(round(lon, 4), round(lat, 4)) for lon, lat in grid_centres(towns)]
    return BannerSummary(
        path=path,
        seed=seed,
        towns=[
            {
                "number": t.number,
                "seed": t.seed,
                "centre_lonlat": c,
                "shift_m": [round(t.dx), round(t.dy)],
                "hamlets": t.hamlets,
                "hamlet_houses": t.hamlet_houses,
            }
            for t, c in zip(placed, lonlat, strict=True)
        ],  # fmt: skip
        counts=counts,
        hamlet_houses=added,
        hamlets=sum(t.hamlets for t in placed),
        seconds=seconds,
    )


def add_banner_arguments(parser: argparse.ArgumentParser) -> None:
    """--towns, --data and --seed, as every benchmark over the banner dataset takes them."""
    parser.add_argument("--towns", type=int, default=15, help="demo towns in the banner dataset")
    parser.add_argument("--data", type=Path, default=None, help="use this banner GeoPackage instead of building one")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of the first town")


def banner_dataset(data: Path | None, towns: int, seed: int, folder: Path) -> tuple[Path, dict[str, Any]]:
    """For a benchmark: the banner GeoPackage given (`data`), or one built in `folder`; with what it holds."""
    if data is not None:
        store = GeoPackageStore(data)
        counts = {layer.id: store.count(layer) for layer in LAYERS.values()}
        return data, {"path": str(data), "built": False, "counts": counts, "title": store.info().title}
    print(f"building the banner dataset ({towns} towns) ...", file=sys.stderr)
    path = folder / "banner.gpkg"
    summary = build_banner(path, towns, seed, log=lambda line: print(f"  {line}", file=sys.stderr))
    return path, {
        "path": "(temporary)",
        "built": True,
        "title": GeoPackageStore(path).info().title,
        "counts": summary.counts,
        "build_s": summary.seconds,
        "towns": summary.towns,
        "hamlet_houses": summary.hamlet_houses,
        "hamlets": summary.hamlets,
        "file_bytes": path.stat().st_size,
    }


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="GeoPackage to write (replaced)")
    parser.add_argument("--towns", type=int, default=15)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of the first town; the next add 1")
    parser.add_argument("--min-features", type=int, default=MIN_FEATURES, help="add hamlets up to this total")
    parser.add_argument("--workers", type=int, default=None, help="processes generating towns (default: all cores)")
    args = parser.parse_args()
    summary = build_banner(
        args.out, args.towns, args.seed, min_features=args.min_features, workers=args.workers, log=print
    )
    print("\n".join(summary.lines()))


if __name__ == "__main__":
    main()
