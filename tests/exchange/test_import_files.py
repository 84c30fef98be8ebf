"""Reading real-world files: GB18030 CSV with Chinese headers, XLSX, GeoPackages, and files that must be refused."""

from __future__ import annotations

import json
from datetime import datetime

import geopandas as gpd
import openpyxl
import pyogrio
import pytest
from backends import BACKEND, empty_location
from exchange_samples import shared_data
from shapely.geometry import Point

from exchange.errors import ColumnMismatch, ImportRejected, UnreadableFile
from exchange.importer import import_file
from exchange.readers import read_source
from layers import get_layer
from store import open_store

ACCIDENTS = get_layer("accidents")
VILLAGES = get_layer("villages")

GB_CSV = """经度,纬度,发生时间,事故等级,死亡人数,受伤人数,事故形态,酒驾,简要情况
120.651,42.851,2024/5/1 8:30,死亡事故,1,0,正面相撞,是,货车与农用三轮车正面相撞
120.652,42.852,2024年6月2日 17:05,伤人事故,0,2,追尾,否,
"""


def test_gb18030_csv_with_chinese_headers_and_labels(tmp_path, store):
    path = tmp_path / "事故.csv"
    path.write_bytes(GB_CSV.encode("gb18030"))
    report = import_file(store, ACCIDENTS, path)
    assert report.written == 2
    assert any("GB18030" in note for note in report.notes)
    stored = store.read(ACCIDENTS)
    first, second = stored.iloc[0], stored.iloc[1]
    assert first["severity"] == "fatal" and first["crash_type"] == "head_on" and bool(first["drunk_driving"]) is True
    assert first["occurred_at"] == datetime(2024, 5, 1, 8, 30)
    assert first["description"] == "货车与农用三轮车正面相撞"
    assert second["occurred_at"] == datetime(2024, 6, 2, 17, 5)
    assert second["description"] is None  # empty cell: not given
    assert bool(second["drug_driving"]) is False  # column absent: the schema default


def test_utf8_bom_csv_and_english_headers(tmp_path, store):
    path = tmp_path / "a.csv"
    text = "Longitude,Latitude,occurred_at,severity,injuries\n120.65,42.85,2024-05-01T08:30:00,injury,1\n"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert import_file(store, ACCIDENTS, path).written == 1


def test_bad_cells_are_reported_per_row_in_chinese_and_english(tmp_path, store):
    path = tmp_path / "bad.csv"
    path.write_text(
        "lng,lat,发生时间,事故等级,死亡人数\n"
        "东经120,42.85,2024-05-01 08:00,财产损失事故,0\n"
        "120.65,42.85,昨天,翻车事故,-1\n",
        "utf-8",
    )
    with pytest.raises(ImportRejected) as caught:
        import_file(store, ACCIDENTS, path)
    first, second = caught.value.report.problems
    assert first.line == 2 and "lng 不是数字" in first.reasons[0]
    text = "; ".join(second.reasons)
    assert "发生时间 (occurred_at)" in text and "日期时间格式不对" in text
    assert "事故等级 (severity)" in text and "死亡事故、伤人事故、财产损失事故" in text
    assert "死亡人数 (deaths)" in text and "数值过小" in text


def test_xlsx_with_lon_lat_blank_rows_and_a_chosen_sheet(tmp_path, store):
    book = openpyxl.Workbook()
    book.active.title = "封面"
    book.active.append(["义隆永镇交通事故台账"])
    sheet = book.create_sheet("事故")
    sheet.append(["序号", "lon", "lat", "发生时间", "事故等级", "受伤人数", "酒驾"])
    sheet.append([1, 120.65, 42.85, datetime(2024, 5, 1, 8, 30), "伤人事故", 1, "否"])
    sheet.append([None] * 7)
    sheet.append([2, 120.66, 42.86, "2024-05-03 10:00", "injury", 0, None])
    path = tmp_path / "事故.xlsx"
    book.save(path)
    with pytest.raises(UnreadableFile, match="经纬度"):  # the first sheet is read unless one is named
        import_file(store, ACCIDENTS, path)
    with pytest.raises(ImportRejected) as caught:
        import_file(store, ACCIDENTS, path, source_layer="事故")
    (problem,) = caught.value.report.problems
    assert problem.line == 4 and problem.row == 2  # the blank line 3 is skipped, but lines are Excel's
    assert "injuries >= 1" in problem.reasons[0]


def test_gpkg_with_several_layers_needs_source_layer(tmp_path, store):
    path = tmp_path / "many.gpkg"
    frame = gpd.GeoDataFrame(
        {"occurred_at": ["2024-05-01 08:00"], "severity": ["property"]}, geometry=[Point(120.65, 42.85)], crs=4326
    )
    pyogrio.write_dataframe(frame, path, layer="crashes_2023")
    pyogrio.write_dataframe(frame, path, layer="crashes_2024")
    with pytest.raises(UnreadableFile, match="crashes_2023, crashes_2024"):
        import_file(store, ACCIDENTS, path)
    with pytest.raises(UnreadableFile, match="no layer 'crashes_2025'"):
        import_file(store, ACCIDENTS, path, source_layer="crashes_2025")
    assert import_file(store, ACCIDENTS, path, source_layer="crashes_2024").written == 1


def test_datav_bare_array_is_refused_as_not_a_feature_collection(store):
    path = shared_data("boundaries/naiman_banner_150525_datav_array.json")
    assert isinstance(json.loads(path.read_text("utf-8")), list)
    with pytest.raises(UnreadableFile, match="not a GeoJSON FeatureCollection"):
        import_file(store, VILLAGES, path)


def test_datav_feature_collection_reads_but_its_columns_do_not_fit(store):
    path = shared_data("boundaries/naiman_banner_150525.geojson")
    table = read_source(path)
    assert len(table) == 1 and table.geometries[0].geom_type == "MultiPolygon"
    with pytest.raises(ColumnMismatch, match="adcode"):
        import_file(store, VILLAGES, path)


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        (
            "broken.geojson",
            '{"type": "FeatureCollection", "features": [{"type": "Feature",',
            "not valid JSON at line 1",
        ),
        ("point.geojson", '{"type": "Point", "coordinates": [120.6, 42.8]}', "FeatureCollection"),
        ("empty.geojson", "", "empty"),
        ("empty.csv", "", "empty"),
        ("blank.csv", "\n\n  \n", "empty"),
        ("header_only.csv", "lon,lat,severity\n", "no rows"),
        ("no_coordinates.csv", "severity,deaths\nfatal,1\n", "no coordinate columns"),
        ("two_lon.csv", "lon,经度,lat\n1,2,3\n", "ambiguous"),
        ("not_a_zip.zip", "PK? no", "not a valid zip"),
        ("not_excel.xlsx", "hello", "not a valid .xlsx"),
        ("old.xls", "hello", ".xlsx"),
        ("notes.docx", "hello", "unsupported file type"),
    ],
)
def test_unreadable_files_get_a_clear_message(tmp_path, store, name, content, match):
    path = tmp_path / name
    path.write_text(content, "utf-8")
    with pytest.raises(UnreadableFile, match=match):
        import_file(store, ACCIDENTS, path)


def test_missing_file(tmp_path, store):
    with pytest.raises(UnreadableFile, match="no such file"):
        import_file(store, ACCIDENTS, tmp_path / "nope.csv")


def test_a_bad_feature_is_a_bad_row_not_a_crash(tmp_path, store):
    features = [
        {
            "type": "Feature",
            "properties": {"occurred_at": "2024-05-01 08:00", "severity": "property"},
            "geometry": {"type": "Point", "coordinates": [120.65, 42.85]},
        },
        {
            "type": "Feature",
            "properties": {"occurred_at": "2024-05-01 08:00", "severity": "property"},
            "geometry": {"type": "Point", "coordinates": "here"},
        },
        {
            "type": "Feature",
            "properties": {"occurred_at": "2024-05-01 08:00", "severity": "property"},
            "geometry": None,
        },
    ]
    path = tmp_path / "f.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), "utf-8")
    report = import_file(store, ACCIDENTS, path, skip_invalid=True)
    assert report.written == 1
    assert "cannot read geometry" in report.problems[0].reasons[0]
    assert "missing geometry" in report.problems[1].reasons[0]


def test_column_problems_are_named_before_any_row(tmp_path, store):
    path = tmp_path / "c.csv"
    path.write_text("lon,lat,名称,天气,severity,事故等级\n120.65,42.85,x,晴,fatal,死亡事故\n", "utf-8")
    with pytest.raises(ColumnMismatch) as caught:
        import_file(store, ACCIDENTS, path)
    message = caught.value.message
    assert "名称" in message and "天气" in message  # 名称 is not a field of accidents
    assert "severity, 事故等级" in message  # two columns for one field
    assert "发生时间/occurred_at" in message  # a required column is missing


GOOD_SQUARE = "POLYGON ((120.6 42.8, 120.63 42.8, 120.63 42.83, 120.6 42.83, 120.6 42.8))"
BOWTIE = "POLYGON ((120.6 42.8, 120.7 42.9, 120.7 42.8, 120.6 42.9, 120.6 42.8))"


def test_wkt_column_for_areas(tmp_path, store):
    path = tmp_path / "v.csv"
    path.write_text(
        "名称,区划代码,类型,户籍人口,户数,包村干部,几何(WKT)\n"
        f'前进嘎查,150525107001,嘎查,812,260,张三,"{GOOD_SQUARE}"\n'
        f'后进村,150525107002,行政村,10,5,李四,"{BOWTIE}"\n',
        "utf-8",
    )
    with pytest.raises(ImportRejected) as caught:
        import_file(store, VILLAGES, path)
    (problem,) = caught.value.report.problems
    assert problem.line == 3 and "自相交" in problem.reasons[0]


def test_unquoted_comma_in_a_row(tmp_path, store):
    path = tmp_path / "a.csv"
    path.write_text(
        "lon,lat,发生时间,事故等级,简要情况\n120.65,42.85,2024-05-01 08:00,财产损失事故,刮擦,无人伤亡\n", "utf-8"
    )
    with pytest.raises(ImportRejected) as caught:
        import_file(store, ACCIDENTS, path)
    assert "unquoted comma" in caught.value.report.problems[0].reasons[0]


def test_json_list_field_round_trips_through_csv(tmp_path, store):
    from exchange.exporter import export_layer

    risk = get_layer("risk_sources")
    path = tmp_path / "risk.csv"
    substances = '[{""name"": ""液化石油气"", ""cas"": ""68476-85-7"", ""quantity_t"": 12.5}]'
    path.write_text(
        "名称,类型,危险物质,风险等级,责任单位,责任人,经度,纬度\n"
        f'义隆永液化气站,液化气站,"{substances}",较大风险,某燃气公司,王五,120.64,42.84\n',
        "utf-8",
    )
    assert import_file(store, risk, path).written == 1
    out = tmp_path / "out.csv"
    export_layer(store, risk, out, "csv")
    copy = open_store(empty_location(BACKEND, tmp_path, "again.gpkg"))
    import_file(copy, risk, out)
    original, back = store.read(risk).iloc[0], copy.read(risk).iloc[0]
    assert json.loads(back["substances"]) == json.loads(original["substances"])
    assert json.loads(back["substances"])[0]["name"] == "液化石油气"
    assert back["kind"] == "lpg_depot" and back["level"] == "orange"
