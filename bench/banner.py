"""The banner-scale dataset: 15 demo towns over Naiman Banner, padded with hamlets to 100,000 features.

`python -m bench.banner --out FILE` is `python -m bench.scale --level banner --out FILE` (bench/scale.py builds all
three levels); `build_banner` does the same from Python. The benchmarks take their data through `add_banner_arguments`
and `banner_dataset`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.scale import ScaleSummary, build
from bench.scale import main as scale_main
from bench.scale_hamlets import MIN_FEATURES
from bench.scale_regions import BANNER_BOX
from data.demo import DEFAULT_SEED
from layers import LAYERS
from store.geopackage import GeoPackageStore

#: County-level division code of Naiman Banner; a town's code adds 101, 102, ... and a village's its serial.
COUNTY_CODE = "150525"

__all__ = ["BANNER_BOX", "COUNTY_CODE", "MIN_FEATURES", "add_banner_arguments", "banner_dataset", "build_banner"]


def build_banner(
    path: str | Path,
    towns: int = 15,
    seed: int = DEFAULT_SEED,
    *,
    min_features: int = MIN_FEATURES,
    workers: int | None = None,
    log: Callable[[str], None] | None = None,
) -> ScaleSummary:
    """Generate `towns` demo towns (seeds seed, seed + 1, ...), spread them over the banner and write `path`."""
    return build(path, "banner", towns, seed, min_features=min_features, workers=workers, log=log)


def add_banner_arguments(parser: argparse.ArgumentParser) -> None:
    """--level, --towns, --data and --seed, as every benchmark over the scale datasets takes them."""
    parser.add_argument(
        "--level", choices=("banner", "city", "province"), default="banner", help="which scale dataset to build"
    )
    parser.add_argument("--towns", type=int, default=None, help="demo towns (default: the level's, 15 for a banner)")
    parser.add_argument("--data", type=Path, default=None, help="use this banner GeoPackage instead of building one")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of the first town")


def banner_dataset(
    data: Path | None, towns: int | None, seed: int, folder: Path, *, level: str = "banner"
) -> tuple[Path, dict[str, Any]]:
    """For a benchmark: the GeoPackage given (`data`), or one of `level` built in `folder`; with what it holds."""
    if data is not None:
        store = GeoPackageStore(data)
        counts = {layer.id: store.count(layer) for layer in LAYERS.values()}
        return data, {"path": str(data), "built": False, "counts": counts, "title": store.info().title}
    print(f"building the {level} dataset ({towns or 'its default number of'} towns) ...", file=sys.stderr)
    path = folder / f"{level}.gpkg"
    summary = build(path, level, towns, seed, log=lambda line: print(f"  {line}", file=sys.stderr))
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
    """Command line entry point: `python -m bench.scale --level banner` with the same options."""
    scale_main(["--level", "banner", *sys.argv[1:]])


if __name__ == "__main__":
    main()
