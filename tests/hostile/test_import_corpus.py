"""Every hostile file in the corpus, through `onemap import`: refused with the expected exit code and a message
that names the problem, never a traceback, within bounded memory for the big ones, and with the data untouched."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from backends import BACKEND
from corpus import BIG_RSS_LIMIT, CASES, FILES, Case, case, circle, snapshot, village_geojson
from typer.testing import CliRunner

from exchange.importer import import_file
from exchange.limits import ImportLimits, json_too_deep
from layers import get_layer
from onemap.cli import app
from onemap.settings import get_settings
from store import open_store

runner = CliRunner()

#: Seconds a refusal may take before the import counts as hung (generous: two shared cores, a cold start).
HANG_SECONDS = 180


@dataclass(frozen=True)
class Run:
    exit_code: int
    output: str
    peak_rss: int | None = None  # bytes, for a subprocess


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """Each case's file, built once a session (imports only read it)."""
    cache: dict[str, Path] = {}

    def build(c: Case) -> Path:
        if c.id not in cache:
            cache[c.id] = c.build(tmp_path_factory.mktemp(c.id))
        return cache[c.id]

    return build


def import_in_process(path: Path, layer: str, location: str, *options: str) -> Run:
    result = runner.invoke(
        app, ["import", str(path), "--layer", layer, "--data", location, *options], catch_exceptions=False
    )
    return Run(result.exit_code, result.output)


#: Runs a command and writes its peak RSS (KB): measured in a small process of its own, because a child forked
#: straight from pytest starts its high-water mark at pytest's size, not its own.
LAUNCHER = (
    "import resource, subprocess, sys; code = subprocess.call(sys.argv[2:]); "
    "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)); sys.exit(code)"
)


def import_in_subprocess(path: Path, layer: str, location: str, *options: str, folder: Path) -> Run:
    """`python -m onemap import …` in a process of its own, with its peak resident memory; killed if it hangs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONEMAP_")}
    env["PYTHONIOENCODING"] = "utf-8"
    rss = folder / "peak_rss_kb.txt"
    command = [sys.executable, "-m", "onemap", "import", str(path), "--layer", layer, "--data", location, *options]
    with (folder / "output.txt").open("w+b") as out:
        child = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, str(rss), *command],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=folder,
            start_new_session=True,
        )
        try:
            child.wait(timeout=HANG_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
            pytest.fail(f"onemap import hung for {HANG_SECONDS} s on {path.name}")
        out.seek(0)
        return Run(child.returncode, out.read().decode("utf-8"), int(rss.read_text()) * 1024)


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_hostile_file_is_refused_by_name(c: Case, built, town: str, tmp_path: Path) -> None:
    path = built(c)
    before = snapshot(town)
    if c.big:
        run = import_in_subprocess(path, c.layer, town, *c.options, folder=tmp_path)
    else:
        run = import_in_process(path, c.layer, town, *c.options)
    assert run.exit_code == c.exit_code, run.output
    assert "Traceback" not in run.output, run.output
    for fragment in c.expected:
        assert fragment in run.output, f"{fragment!r} not in:\n{run.output}"
    if run.peak_rss is not None:
        print(f"\n{c.id}: peak RSS {run.peak_rss / 2**20:.0f} MB on {BACKEND}")
        assert run.peak_rss < BIG_RSS_LIMIT, f"peak RSS {run.peak_rss / 2**20:.0f} MB"
    assert snapshot(town) == before


def test_every_committed_file_is_used_by_a_case() -> None:
    used = {name for c in CASES for name in c.committed}
    assert sorted(p.name for p in FILES.iterdir()) == sorted(used)


def test_case_ids_are_unique() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))


# -- what the refused files look like once their bad rows are dropped or repaired ----------------------------------


#: GDAL's note that a GeoPackage table made for Polygon gets a MultiPolygon (store/geopackage.py creates a village
#: table as Polygon): it is written all the same, but the suite turns warnings into errors.
MULTIPOLYGON_IN_POLYGON_TABLE = "ignore:A geometry of type MULTIPOLYGON is inserted:RuntimeWarning"


@pytest.mark.filterwarnings(MULTIPOLYGON_IN_POLYGON_TABLE)
def test_repair_is_named_row_by_row(built, town: str) -> None:
    villages = get_layer("villages")
    count = open_store(town).count(villages)
    path = built(case("invalid_polygons_unrepairable"))
    run = import_in_process(path, "villages", town, "--repair", "--skip-invalid")
    assert run.exit_code == 0, run.output
    assert "第 2 个要素 (feature 2): 已修复自相交，Polygon → MultiPolygon" in run.output
    assert "repaired 1 invalid geometries on request" in run.output
    assert "wrote 2 features" in run.output and "skipped 2 invalid" in run.output
    stored = open_store(town).read(villages)
    assert len(stored) == count + 2
    bowtie = stored.loc[stored["code"] == "150525107302"].geometry.iloc[0]
    assert bowtie.geom_type == "MultiPolygon" and bowtie.is_valid and len(bowtie.geoms) == 2


@pytest.mark.filterwarnings(MULTIPOLYGON_IN_POLYGON_TABLE)
def test_repair_through_the_python_api(built, town: str) -> None:
    store = open_store(town)
    path = built(case("invalid_polygons"))
    report = import_file(store, get_layer("villages"), path, repair=True, skip_invalid=True)
    assert [r.row for r in report.repaired] == [2]
    assert report.bad_rows() == [3, 4]
    assert "cannot repair" in report.problems[0].reasons[0]


@pytest.mark.parametrize(
    ("case_id", "layer", "column", "expected"),
    [
        ("gbk_csv_from_excel", "accidents", "description", ["货车与农用三轮车追尾", "嘎查村道会车刮擦"]),
        ("utf8_bom_csv_from_excel", "accidents", "description", ["货车与农用三轮车追尾", "嘎查村道会车刮擦"]),
        ("gbk_dbf_without_cpg", "villages", "name", ["前进嘎查"]),
        ("utf8_dbf_without_cpg", "villages", "name", ["前进嘎查"]),
        ("xlsx_title_row", "accidents", "description", ["追尾"]),
        ("csv_title_row", "accidents", "description", ["追尾"]),
    ],
)
def test_the_good_rows_read_right(built, town: str, case_id: str, layer: str, column: str, expected) -> None:
    store = open_store(town)
    before = set(store.read(get_layer(layer))[column].dropna())
    run = import_in_process(built(case(case_id)), layer, town, "--skip-invalid")
    assert run.exit_code == 0, run.output
    assert f"wrote {len(expected)} features" in run.output
    added = set(open_store(town).read(get_layer(layer))[column].dropna()) - before
    assert added == set(expected)


# -- limits ------------------------------------------------------------------------------------------------------


@pytest.fixture
def small_limits(monkeypatch):
    """The service configured with small import limits (and back to defaults afterwards)."""
    monkeypatch.setenv("ONEMAP_MAX_IMPORT_BYTES", str(2**17))
    monkeypatch.setenv("ONEMAP_MAX_IMPORT_VERTICES", "1000")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_limits_come_from_the_settings(small_limits, town: str, tmp_path: Path) -> None:
    path = village_geojson(tmp_path / "circle.geojson", circle(2_001))
    run = import_in_process(path, "villages", town)
    assert run.exit_code == 1 and "2,001 vertices, over the limit of 1,000" in run.output, run.output
    big = tmp_path / "big.csv"
    big.write_text("经度,纬度,发生时间,事故等级\n" + "120.65,42.85,2024-05-01 08:30,财产损失事故\n" * 4_000, "utf-8")
    run = import_in_process(big, "accidents", town)
    assert run.exit_code == 2 and "the file is 191 KB, over the import limit of 128 KB" in run.output, run.output


def test_limits_through_the_python_api(town: str, tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("经度,纬度,发生时间,事故等级\n120.65,42.85,2024-05-01 08:30,伤人事故\n", "utf-8")
    from exchange.errors import UnreadableFile

    with pytest.raises(UnreadableFile, match="over the import limit"):
        import_file(open_store(town), get_layer("accidents"), path, limits=ImportLimits(max_bytes=10))


@pytest.mark.parametrize(
    ("text", "limit", "deep"),
    [
        ("[]", 1, False),
        ("[[]]", 1, True),
        ('{"a": [[1, 2], [3, 4]]}', 3, False),
        ('{"a": [[1, 2], [3, 4]]}', 2, True),
        ('{"a": [{"b": []}]}', 3, True),  # arrays and objects both count
        ('{"a": "[[[[[[[[[["}', 1, False),  # brackets in strings do not
        ('{"a": "\\"[[[[[[[["}', 1, False),  # nor after an escaped quote
        ("[" * 10_000, 64, True),  # unbalanced, still deep
        ("]" * 10_000, 64, False),  # just broken: the parser says so
        ("[" * 64 + "]" * 64, 64, False),
        ("[" * 65 + "]" * 65, 64, True),
    ],
)
def test_json_depth(text: str, limit: int, deep: bool) -> None:
    assert json_too_deep(text, limit) is deep
