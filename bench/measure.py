"""What the benchmarks share: peak memory, timed runs, scaling exponents, machine facts and the results file.

Every benchmark measures the same way, so that their figures can be compared: wall time from
`time.perf_counter`, peak resident memory as the rise of VmHWM above the resident memory before the call (after
resetting VmHWM through /proc/self/clear_refs; the rise of ru_maxrss where that reset is not possible), and the
scaling exponent as the slope of log(time) against log(size).
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import platform
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import numpy as np

#: How a peak read from ru_maxrss is described in the results file: the fallback where VmHWM cannot be reset.
MAXRSS_METHOD = "ru_maxrss delta (under-reports if an earlier step peaked higher)"


def rss_kib(field_name: str) -> int | None:
    """A field of /proc/self/status in KiB (VmRSS, VmHWM), or None off Linux."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0), so it shows the peak of what follows; False where not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def maxrss_kib() -> int:
    """The process's peak resident memory so far (ru_maxrss, KiB on Linux): the fallback when VmHWM cannot be reset."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def trim_heap() -> None:
    """Return freed heap memory to the system (glibc), so a later run's peak shows as a rise in RSS."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


class PeakRss:
    """Peak resident memory of a `with` block above the resident memory at its start, in MiB (`mib` on exit)."""

    def __enter__(self) -> PeakRss:
        self.rss_before = rss_kib("VmRSS")
        self.from_hwm = reset_peak_rss() and self.rss_before is not None
        self.maxrss_before = maxrss_kib()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.from_hwm:
            self.mib = (rss_kib("VmHWM") - self.rss_before) / 1024
        else:
            self.mib = (maxrss_kib() - self.maxrss_before) / 1024

    def method(self, before: str = "the call") -> str:
        """How `mib` was read, for the results file."""
        if self.from_hwm:
            return f"VmHWM after reset via /proc/self/clear_refs, minus VmRSS before {before}"
        return MAXRSS_METHOD


@dataclass
class Runs:
    """What `time_runs` measured: the last run's result, each run's wall time and peak, and how peaks were read."""

    result: object
    seconds: list[float] = field(default_factory=list)
    peaks_mib: list[float] = field(default_factory=list)
    peak_method: str = MAXRSS_METHOD


def time_runs(
    call: Callable[[], object],
    repeat: int,
    *,
    each: Callable[[object], None] | None = None,
    trim: bool = False,
) -> Runs:
    """Run `call` `repeat` times, each from a collected heap, timing it and reading its peak memory.

    The previous result is dropped before each run, so a run's peak does not include it. `each` sees every run's
    result (for figures the result carries); `trim` returns freed heap to the system first (`trim_heap`).
    """
    runs = Runs(result=None)
    for _ in range(repeat):
        runs.result = None
        gc.collect()
        if trim:
            trim_heap()
        with PeakRss() as peak:
            t0 = time.perf_counter()
            runs.result = call()
            runs.seconds.append(time.perf_counter() - t0)
        runs.peaks_mib.append(peak.mib)
        runs.peak_method = peak.method()
        if each is not None:
            each(runs.result)
    return runs


def traced_mib(call: Callable[[], object]) -> tuple[object, float, float]:
    """`call`'s result with the Python and numpy memory it left allocated and its peak, in MiB (tracemalloc).

    Tracing slows the call, so it is run apart from the timed runs; GEOS and other C++ allocations are not seen.
    """
    tracemalloc.start()
    result = call()
    kept, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return result, kept / 2**20, peak / 2**20


def scaling_exponent(sizes: list[int] | list[float], seconds: list[float]) -> float | None:
    """Slope of log(time) against log(n): 1 is linear, 2 quadratic; None with fewer than two sizes."""
    if len(sizes) < 2:
        return None
    return float(np.polyfit(np.log(sizes), np.log(seconds), 1)[0])


def environment(*modules: ModuleType, cpus: int | None = None) -> dict:
    """Python, platform, CPUs when given and each module's version (shapely's with GEOS), to read a result by."""
    env: dict = {"python": platform.python_version(), "platform": platform.platform()}
    if cpus is not None:
        env["cpus"] = cpus
    for module in modules:
        env[module.__name__] = module.__version__
        if module.__name__ == "shapely":
            env["geos"] = module.geos_version_string
    return env


def parse_sizes(text: str) -> list[int]:
    """The sizes of a comma-separated option ("10000,100_000"); a bad one raises ValueError, which argparse reports."""
    return [int(s.replace("_", "")) for s in text.split(",") if s.strip()]


def add_sizes_option(parser: argparse.ArgumentParser, default: tuple[int, ...], what: str) -> None:
    """The --sizes option of the benchmarks that run at several sizes to fit the scaling exponent."""
    listed = ",".join(str(n) for n in default)
    parser.add_argument(
        "--sizes", type=parse_sizes, default=list(default), help=f"comma-separated {what} (default {listed})"
    )


def write_results(out: Path, results: dict) -> None:
    """Write the results as indented UTF-8 JSON, making the folder if needed, and say where."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"\nwrote {out}")
