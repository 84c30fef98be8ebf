"""The 100-row accident file with exactly 3 bad rows, as CSV, GeoJSON and XLSX: all-or-nothing, then skip_invalid."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import geopandas as gpd
import openpyxl
import pytest
from exchange_samples import FAR_AWAY_ROW, FATAL_WITHOUT_DEATHS_ROW, SWAPPED_ROW, accident_rows
from shapely.geometry import Point

from exchange.errors import ImportRejected
from exchange.importer import import_file, import_frame
from layers import get_layer

ACCIDENTS = get_layer("accidents")
BAD_ROWS = [SWAPPED_ROW, FATAL_WITHOUT_DEATHS_ROW, FAR_AWAY_ROW]
REASONS = {
    SWAPPED_ROW: "latitude and longitude are swapped",
    FATAL_WITHOUT_DEATHS_ROW: "fatal but deaths is 0",
    FAR_AWAY_ROW: "outside the service area",
}


def write_csv(path: Path, rows: list[dict], encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_geojson(path: Path, rows: list[dict]) -> Path:
    features = [
        {
            "type": "Feature",
            "properties": {k: v for k, v in row.items() if k not in ("lon", "lat")},
            "geometry": {"type": "Point", "coordinates": [row["lon"], row["lat"]]},
        }
        for row in rows
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False), "utf-8")
    return path


def write_xlsx(path: Path, rows: list[dict]) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["经度", "纬度", "发生时间", "事故等级", "死亡人数", "受伤人数", "事故形态", "简要情况"])
    for row in rows:
        sheet.append(
            [
                row["lon"],
                row["lat"],
                row["occurred_at"],
                row["severity"],
                row["deaths"],
                row["injuries"],
                row["crash_type"],
                row["description"],
            ]
        )
    book.save(path)
    return path


WRITERS = {"csv": write_csv, "geojson": write_geojson, "xlsx": write_xlsx}


@pytest.mark.parametrize("fmt", WRITERS)
def test_any_bad_row_rejects_the_whole_file(tmp_path, store, fmt):
    path = WRITERS[fmt](tmp_path / f"accidents.{fmt}", accident_rows())
    with pytest.raises(ImportRejected) as caught:
        import_file(store, ACCIDENTS, path)
    report = caught.value.report
    assert store.count(ACCIDENTS) == 0
    assert report.total == 100 and report.written == 0
    assert report.bad_rows() == BAD_ROWS
    for problem in report.problems:
        assert len(problem.reasons) == 1
        assert REASONS[problem.row] in problem.reasons[0]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_spreadsheet_rows_name_their_line(tmp_path, store, fmt):
    path = WRITERS[fmt](tmp_path / f"accidents.{fmt}", accident_rows())
    with pytest.raises(ImportRejected) as caught:
        import_file(store, ACCIDENTS, path)
    problems = caught.value.report.problems
    assert [p.line for p in problems] == [r + 1 for r in BAD_ROWS]  # the header is line 1
    assert str(problems[0]).startswith(f"第 {SWAPPED_ROW + 1} 行")


def test_geojson_rows_are_features(tmp_path, store):
    path = write_geojson(tmp_path / "accidents.geojson", accident_rows())
    with pytest.raises(ImportRejected) as caught:
        import_file(store, ACCIDENTS, path)
    assert caught.value.report.problems[0].where().startswith(f"第 {SWAPPED_ROW} 个要素")


def test_existing_rows_survive_a_rejected_import(tmp_path, store):
    good = [r for i, r in enumerate(accident_rows(), start=1) if i not in BAD_ROWS]
    import_file(store, ACCIDENTS, write_csv(tmp_path / "good.csv", good))
    assert store.count(ACCIDENTS) == 97
    with pytest.raises(ImportRejected):
        import_file(store, ACCIDENTS, write_csv(tmp_path / "all.csv", accident_rows()))
    assert store.count(ACCIDENTS) == 97


@pytest.mark.parametrize("fmt", WRITERS)
def test_skip_invalid_writes_the_97_good_rows(tmp_path, store, fmt):
    path = WRITERS[fmt](tmp_path / f"accidents.{fmt}", accident_rows())
    report = import_file(store, ACCIDENTS, path, skip_invalid=True)
    assert report.written == 97 and len(report.fids) == 97
    assert report.bad_rows() == BAD_ROWS
    stored = store.read(ACCIDENTS)
    assert len(stored) == 97
    first = stored.iloc[0]
    assert first["crash_type"] == "sideswipe"  # "刮擦" arrived as a Chinese label
    assert first["description"] == "第1起事故"
    assert stored.geometry.iloc[0].equals(Point(120.601, 42.8005))


def test_import_frame_takes_a_geodataframe_in_any_crs(store):
    rows = accident_rows()[:3]
    frame = gpd.GeoDataFrame(
        [{k: v for k, v in r.items() if k not in ("lon", "lat")} for r in rows],
        geometry=[Point(r["lon"], r["lat"]) for r in rows],
        crs="EPSG:4490",
    ).to_crs("EPSG:4549")
    report = import_frame(store, ACCIDENTS, frame, progress=True)
    assert report.written == 3
    lonlat = store.read(ACCIDENTS).geometry
    assert lonlat.iloc[0].distance(Point(rows[0]["lon"], rows[0]["lat"])) < 1e-8
