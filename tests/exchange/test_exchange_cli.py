"""`onemap import` and `onemap export` end to end through the CLI: exit codes, messages, and re-read exports."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import geopandas as gpd
import openpyxl
import pyogrio
import pytest
from backends import BACKEND, empty_location
from exchange_samples import FAR_AWAY_ROW, FATAL_WITHOUT_DEATHS_ROW, SWAPPED_ROW, accident_rows
from typer.testing import CliRunner

from layers import SYNTHETIC_NOTICE, get_layer
from onemap.cli import app
from store import DatasetInfo, open_store
from store.transfer import migrate

runner = CliRunner()
ACCIDENTS = get_layer("accidents")


def write_accidents_csv(path, rows):
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def onemap(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


# -- import ------------------------------------------------------------------------------------------------------


def test_import_rejects_the_file_and_names_the_three_rows(tmp_path):
    data = empty_location(BACKEND, tmp_path)
    source = write_accidents_csv(tmp_path / "accidents.csv", accident_rows())
    result = onemap("import", source, "--layer", "accidents", "--data", data)
    assert result.exit_code == 1
    out = result.output
    for row in (SWAPPED_ROW, FATAL_WITHOUT_DEATHS_ROW, FAR_AWAY_ROW):
        assert f"第 {row + 1} 行 (line {row + 1}, record {row})" in out
    assert "swapped" in out and "deaths is 0" in out and "outside the service area" in out
    assert "nothing was written" in out
    assert open_store(data).count(ACCIDENTS) == 0


def test_import_skip_invalid_writes_97(tmp_path):
    data = empty_location(BACKEND, tmp_path)
    source = write_accidents_csv(tmp_path / "accidents.csv", accident_rows())
    result = onemap("import", source, "-l", "accidents", "-d", data, "--skip-invalid")
    assert result.exit_code == 0, result.output
    assert "wrote 97 features" in result.output and "skipped 3 invalid" in result.output
    assert open_store(data).count(ACCIDENTS) == 97


def test_import_all_rows_bad_with_skip_invalid_is_exit_1(tmp_path, target):
    rows = accident_rows()[SWAPPED_ROW - 1 : SWAPPED_ROW]
    source = write_accidents_csv(tmp_path / "one.csv", rows)
    result = onemap("import", source, "-l", "accidents", "-d", target, "--skip-invalid")
    assert result.exit_code == 1 and "no valid rows" in result.output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--layer", "no_such_layer"], "unknown layer 'no_such_layer'"),
        (["--layer", "accident_segments"], "derived layer"),
        (["--layer", "accidents", "--crs", "not-a-crs"], "unknown CRS"),
    ],
)
def test_import_usage_errors_exit_2(tmp_path, target, args, expected):
    source = write_accidents_csv(tmp_path / "a.csv", accident_rows()[:2])
    result = onemap("import", source, "-d", target, *args)
    assert result.exit_code == 2
    assert expected in result.output


def test_import_crs_conflict_exit_2(tmp_path, target):
    source = tmp_path / "gk.gpkg"
    frame = gpd.GeoDataFrame(
        {"occurred_at": ["2024-05-01 08:00"], "severity": ["property"]},
        geometry=gpd.points_from_xy([553_000.0], [4_745_000.0]),
        crs="EPSG:4549",
    )
    pyogrio.write_dataframe(frame, source)
    result = onemap("import", source, "-l", "accidents", "-d", target, "--crs", "4326")
    assert result.exit_code == 2
    assert "EPSG:4549" in result.output and "EPSG:4326" in result.output
    ok = onemap("import", source, "-l", "accidents", "-d", target, "--crs", "4549")
    assert ok.exit_code == 0, ok.output


def test_import_unreadable_and_missing_files_exit_2(tmp_path, target):
    array = tmp_path / "datav.json"
    array.write_text('[{"type": "Feature", "properties": {}, "geometry": null}]', "utf-8")
    result = onemap("import", array, "-l", "villages", "-d", target)
    assert result.exit_code == 2 and "not a GeoJSON FeatureCollection" in result.output
    result = onemap("import", tmp_path / "nope.csv", "-l", "villages", "-d", target)
    assert result.exit_code == 2 and "no such file" in result.output
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    result = onemap("import", empty, "-l", "accidents", "-d", target)
    assert result.exit_code == 2 and "empty" in result.output
    assert not Path(target).exists() if BACKEND == "gpkg" else open_store(target).count(ACCIDENTS) == 0


def test_import_unknown_columns_exit_1(tmp_path, target):
    source = tmp_path / "a.csv"
    source.write_text("lon,lat,发生时间,事故等级,天气\n120.65,42.85,2024-05-01 08:00,财产损失事故,晴\n", "utf-8")
    result = onemap("import", source, "-l", "accidents", "-d", target)
    assert result.exit_code == 1 and "天气" in result.output and "unknown columns" in result.output


def test_markup_like_text_is_printed_literally(tmp_path, target):
    source = tmp_path / "a.csv"
    source.write_text("lon,lat,发生时间,事故等级\n[red],42.85,2024-05-01 08:00,财产损失事故\n", "utf-8")
    result = onemap("import", source, "-l", "accidents", "-d", target)
    assert result.exit_code == 1 and "'[red]'" in result.output


# -- export ------------------------------------------------------------------------------------------------------


@pytest.fixture
def target(tmp_path) -> str:
    """Where an import writes: a new file, or a new database after `onemap db init`."""
    return empty_location(BACKEND, tmp_path, "t.gpkg")


@pytest.fixture
def data(filled_store) -> str:
    return filled_store.location


def test_export_geojson(data, tmp_path):
    out = tmp_path / "accidents.geojson"
    result = onemap("export", "accidents", "--format", "geojson", "--out", out, "--data", data)
    assert result.exit_code == 0, result.output
    assert "exported 2 features" in result.output
    raw = out.read_bytes()
    assert "前进嘎查路口".encode() in raw  # UTF-8, not \\u escapes
    collection = json.loads(raw)
    assert collection["type"] == "FeatureCollection" and "crs" not in collection
    first = collection["features"][0]
    assert first["geometry"] == {"type": "Point", "coordinates": [120.61, 42.81]}  # lon, lat
    assert first["properties"]["severity"] == "fatal"
    assert first["properties"]["occurred_at"] == "2024-05-01T08:30:00"
    frame = gpd.read_file(out)
    assert len(frame) == 2 and frame.crs.to_epsg() == 4326


def test_export_xlsx_reads_like_a_ledger(data, tmp_path):
    out = tmp_path / "accidents.xlsx"
    assert onemap("export", "accidents", "-f", "xlsx", "-o", out, "-d", data).exit_code == 0
    book = openpyxl.load_workbook(out)
    sheet = book.worksheets[0]
    assert sheet.title == "交通事故"
    headers = [c.value for c in sheet[1]]
    assert headers == [
        "要素编号",
        "发生时间",
        "事故等级",
        "死亡人数",
        "受伤人数",
        "事故形态",
        "道路编号",
        "酒驾",
        "毒驾",
        "简要情况",
        "经度",
        "纬度",
    ]
    assert all(c.font.bold for c in sheet[1])
    assert sheet.freeze_panes == "A2"
    row = [c.value for c in sheet[2]]
    assert row[1].isoformat() == "2024-05-01T08:30:00" and row[2] == "死亡事故" and row[7] == "否"
    assert row[-2:] == [120.61, 42.81]
    assert [c.value for c in sheet[3]][7] == "是"
    assert sheet.column_dimensions["J"].width >= 14  # 简要情况 fits its Chinese text


def test_export_xlsx_of_areas_uses_wkt_and_imports_back(data, tmp_path):
    out = tmp_path / "villages.xlsx"
    assert onemap("export", "villages", "-f", "xlsx", "-o", out, "-d", data).exit_code == 0
    sheet = openpyxl.load_workbook(out).worksheets[0]
    assert sheet.title == "行政村、嘎查"
    assert [c.value for c in sheet[1]][-1] == "几何(WKT)"
    assert [c.value for c in sheet[2]][3] == "嘎查"
    again = empty_location(BACKEND, tmp_path, "again.gpkg")
    result = onemap("import", out, "-l", "villages", "-d", again)
    assert result.exit_code == 0, result.output
    original, copy = (
        open_store(data).read(get_layer("villages")),
        open_store(again).read(get_layer("villages")),
    )
    assert copy.drop(columns="geometry").equals(original.drop(columns="geometry"))
    assert copy.geometry.iloc[0].equals(original.geometry.iloc[0])


def test_export_csv_has_a_bom_and_the_xlsx_columns(data, tmp_path):
    out = tmp_path / "hazards.csv"
    assert onemap("export", "hazards", "-f", "csv", "-o", out, "-d", data).exit_code == 0
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(raw.decode("utf-8-sig").splitlines()))
    header, row = rows[0], dict(zip(rows[0], rows[1], strict=True))
    assert header[:3] == ["要素编号", "隐患编号", "所属村"] and header[-2:] == ["经度", "纬度"]
    assert row["行业领域"] == "消防" and row["发现方式"] == "部门检查" and row["状态"] == "登记"
    assert row["发现日期"] == "2024-04-03" and row["整改时限"] == "2024-05-03" and row["挂牌督办"] == "否"
    again = empty_location(BACKEND, tmp_path, "again.gpkg")
    assert onemap("import", out, "-l", "hazards", "-d", again).exit_code == 0


def test_export_gpkg(data, tmp_path):
    out = tmp_path / "out.gpkg"
    assert onemap("export", "accidents", "-f", "gpkg", "-o", out, "-d", data).exit_code == 0
    assert [name for name, _ in pyogrio.list_layers(out)] == ["accidents"]
    frame = pyogrio.read_dataframe(out, fid_as_index=True)
    assert list(frame.index) == [1, 2] and frame.crs.to_epsg() == 4326
    assert list(frame["severity"]) == ["fatal", "injury"]


def test_export_overwrites_an_existing_file(data, tmp_path):
    out = tmp_path / "a.geojson"
    out.write_text("old", "utf-8")
    assert onemap("export", "accidents", "-o", out, "-d", data).exit_code == 0
    assert json.loads(out.read_text("utf-8"))["type"] == "FeatureCollection"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temp files left


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["no_such_layer"], "unknown layer"),
        (["accidents", "-f", "shp"], "supported formats"),
    ],
)
def test_export_usage_errors_exit_2(data, tmp_path, args, expected):
    result = onemap("export", *args, "-o", tmp_path / "x", "-d", data)
    assert result.exit_code == 2 and expected in result.output


def test_export_missing_data_file_exit_2(tmp_path):
    result = onemap("export", "accidents", "-o", tmp_path / "x.geojson", "-d", tmp_path / "none.gpkg")
    assert result.exit_code == 2 and "no such data file" in result.output


def test_export_empty_layer_warns(data, tmp_path):
    result = onemap("export", "roads", "-f", "csv", "-o", tmp_path / "roads.csv", "-d", data)
    assert result.exit_code == 0 and "the layer is empty" in result.output
    assert (tmp_path / "roads.csv").read_text("utf-8-sig").startswith("要素编号,道路名称")


def test_synthetic_data_is_marked_in_exports(data, tmp_path):
    open_store(data).set_info(DatasetInfo(title="义隆永镇", synthetic=True, notice=SYNTHETIC_NOTICE))
    assert onemap("export", "accidents", "-o", tmp_path / "a.geojson", "-d", data).exit_code == 0
    assert json.loads((tmp_path / "a.geojson").read_text("utf-8"))["notice"] == SYNTHETIC_NOTICE
    assert onemap("export", "accidents", "-f", "xlsx", "-o", tmp_path / "a.xlsx", "-d", data).exit_code == 0
    book = openpyxl.load_workbook(tmp_path / "a.xlsx")
    assert book.sheetnames == ["交通事故", "说明"] and book["说明"]["A2"].value == SYNTHETIC_NOTICE
    result = onemap(
        "import", tmp_path / "a.xlsx", "-l", "accidents", "-d", empty_location(BACKEND, tmp_path, "again.gpkg")
    )
    assert result.exit_code == 0 and "other sheets not read" in result.output


def test_export_refuses_to_overwrite_the_data_file(filled_store, tmp_path):
    data = tmp_path / "town.gpkg"  # a file, whatever the backend: a database has no file to overwrite
    migrate(filled_store.location, str(data))
    result = onemap("export", "accidents", "-f", "gpkg", "-o", data, "-d", data)
    assert result.exit_code == 2 and "overwrite the data file" in result.output
    assert open_store(str(data)).count(get_layer("villages")) == 1
