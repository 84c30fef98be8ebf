"""Zipped Shapefiles (GBK without .cpg, UTF-8 with one) and CRS handling: 4549, 4490, 3857, conflicts, none declared."""

from __future__ import annotations

import csv
import math
import zipfile
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import Point, box

from exchange.errors import ColumnMismatch, CRSConflict, UnreadableFile
from exchange.importer import import_file
from exchange.readers import dbf_encoding
from layers import get_layer

VILLAGES = get_layer("villages")
ACCIDENTS = get_layer("accidents")

# CGCS2000 ellipsoid (GRS80 axes): a = 6378137 m, 1/f = 298.257222101.
A, F = 6_378_137.0, 1 / 298.257222101
E2 = F * (2 - F)


def meridian_arc(lat_deg: float, steps: int = 2_000) -> float:
    """Distance along the meridian from the equator (Simpson's rule): the Gauss-Krüger northing on the central
    meridian (scale 1, no false northing), worked out here without pyproj."""
    phi = math.radians(lat_deg)
    h = phi / steps
    f = [(1 - E2 * math.sin(i * h) ** 2) ** -1.5 for i in range(steps + 1)]
    return A * (1 - E2) * h / 3 * (f[0] + f[-1] + 4 * sum(f[1:-1:2]) + 2 * sum(f[2:-1:2]))


def metres_apart(p: Point, lon: float, lat: float) -> float:
    """Ground distance in metres between two nearby lon/lat points (enough for centimetre checks)."""
    dy = (p.y - lat) * math.pi / 180 * A
    dx = (p.x - lon) * math.pi / 180 * A * math.cos(math.radians(lat))
    return math.hypot(dx, dy)


def same_shape(a, b, tolerance: float) -> bool:
    """Vertex-by-vertex equality up to ring orientation (Shapefiles store outer rings clockwise)."""
    return shapely.normalize(a).equals_exact(shapely.normalize(b), tolerance)


def zip_shapefile(folder: Path, stem: str, out: Path, *, inner: str = "", drop: tuple[str, ...] = ()) -> Path:
    with zipfile.ZipFile(out, "w") as archive:
        for part in sorted(folder.glob(f"{stem}.*")):
            if part.suffix.lstrip(".") not in drop:
                archive.write(part, f"{inner}{part.name}")
    return out


def village_frame(crs: str = "EPSG:4326") -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame(
        {
            "名称": ["前进嘎查", "义隆永村"],
            "区划代码": ["150525107001", "150525107002"],
            "类型": ["嘎查", "行政村"],
            "户籍人口": [812, 1_034],
            "户数": [260, 351],
            "包村干部": ["张三", "李四"],
        },
        geometry=[box(120.60, 42.80, 120.63, 42.83), box(120.63, 42.80, 120.66, 42.83)],
        crs="EPSG:4326",
    )
    return frame.to_crs(crs)


# -- encodings ---------------------------------------------------------------------------------------------------


def test_gbk_shapefile_without_cpg(tmp_path, store):
    folder = tmp_path / "shp"
    folder.mkdir()
    pyogrio.write_dataframe(village_frame(), folder / "villages.shp", encoding="GBK")
    (folder / "villages.cpg").unlink()
    dbf = (folder / "villages.dbf").read_bytes()
    assert "前进嘎查".encode("gbk") in dbf and "户籍人口".encode("gbk") in dbf  # really GBK on disk
    with pytest.raises(UnicodeDecodeError):
        dbf.decode("utf-8")
    assert dbf_encoding(dbf) == "GB18030"
    path = zip_shapefile(folder, "villages", tmp_path / "villages.zip", inner="义隆永镇/")
    report = import_file(store, VILLAGES, path)
    assert report.written == 2
    assert any("GB18030" in note for note in report.notes)
    stored = store.read(VILLAGES)
    assert list(stored["name"]) == ["前进嘎查", "义隆永村"]
    assert list(stored["kind"]) == ["gacha", "village"]
    assert list(stored["official"]) == ["张三", "李四"]


def test_utf8_shapefile_with_cpg(tmp_path, store):
    folder = tmp_path / "shp"
    folder.mkdir()
    frame = village_frame().rename(
        columns={
            "名称": "name",
            "区划代码": "code",
            "类型": "kind",
            "户籍人口": "population",
            "户数": "households",
            "包村干部": "official",
        }
    )
    pyogrio.write_dataframe(frame, folder / "v.shp", encoding="UTF-8")
    assert (folder / "v.cpg").read_text().strip().upper() in {"UTF-8", "UTF8"}
    assert "前进嘎查".encode() in (folder / "v.dbf").read_bytes()
    report = import_file(store, VILLAGES, zip_shapefile(folder, "v", tmp_path / "v.zip"))
    assert report.written == 2
    assert list(store.read(VILLAGES)["name"]) == ["前进嘎查", "义隆永村"]


def test_utf8_shapefile_with_chinese_names_cut_at_10_bytes(tmp_path, store):
    folder = tmp_path / "shp"
    folder.mkdir()
    with pytest.warns(RuntimeWarning, match="laundered"):  # GDAL cuts 区划代码 (12 bytes in UTF-8) mid-character
        pyogrio.write_dataframe(village_frame(), folder / "v.shp", encoding="UTF-8")
    report = import_file(store, VILLAGES, zip_shapefile(folder, "v", tmp_path / "v.zip"))
    assert report.written == 2
    stored = store.read(VILLAGES)
    assert list(stored["code"]) == ["150525107001", "150525107002"]
    assert list(stored["population"]) == [812, 1_034]


def test_cpg_is_respected_over_detection(tmp_path):
    folder = tmp_path / "shp"
    folder.mkdir()
    pyogrio.write_dataframe(village_frame(), folder / "v.shp", encoding="GBK")
    assert (folder / "v.cpg").read_text().strip() == "GBK"
    from exchange.readers import read_source

    table = read_source(zip_shapefile(folder, "v", tmp_path / "v.zip"))
    assert table.encoding == "GB18030" and table.records[0]["名称"] == "前进嘎查"
    assert any(".cpg" in note for note in table.notes)


def test_zip_missing_dbf_is_named(tmp_path, store):
    folder = tmp_path / "shp"
    folder.mkdir()
    pyogrio.write_dataframe(village_frame(), folder / "v.shp", encoding="GBK")
    with pytest.raises(UnreadableFile, match=r"\.dbf"):
        import_file(store, VILLAGES, zip_shapefile(folder, "v", tmp_path / "v.zip", drop=("dbf",)))


def test_zip_with_two_shapefiles_needs_source_layer(tmp_path, store):
    folder = tmp_path / "shp"
    folder.mkdir()
    pyogrio.write_dataframe(village_frame(), folder / "a.shp", encoding="GBK")
    pyogrio.write_dataframe(village_frame(), folder / "b.shp", encoding="GBK")
    path = tmp_path / "two.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for part in folder.iterdir():
            archive.write(part, part.name)
    with pytest.raises(UnreadableFile, match="a, b|b, a"):
        import_file(store, VILLAGES, path)
    assert import_file(store, VILLAGES, path, source_layer="b").written == 2


# -- coordinate systems ------------------------------------------------------------------------------------------


@pytest.fixture
def gk_points(tmp_path) -> Path:
    """Accidents in EPSG:4549 (CGCS2000 3-degree Gauss-Krüger CM 120E): one on the central meridian, one east of it."""
    y = meridian_arc(42.8)
    frame = gpd.GeoDataFrame(
        {"occurred_at": ["2024-05-01 08:00", "2024-05-02 09:00"], "severity": ["property", "property"]},
        geometry=[Point(500_000.0, y), Point(553_123.45, 4_745_678.9)],
        crs="EPSG:4549",
    )
    path = tmp_path / "gk.gpkg"
    pyogrio.write_dataframe(frame, path, layer="crashes")
    return path


def test_gauss_kruger_central_meridian_lands_exactly(gk_points, store):
    report = import_file(store, ACCIDENTS, gk_points)
    assert report.written == 2
    assert any("EPSG:4549" in note for note in report.notes)
    on_meridian = store.read(ACCIDENTS).geometry.iloc[0]
    assert metres_apart(on_meridian, 120.0, 42.8) < 0.01  # x = 500 000 is 120°E; y is the meridian arc to 42.8°N


def test_gauss_kruger_round_trip(gk_points, store):
    import_file(store, ACCIDENTS, gk_points)
    east = store.read(ACCIDENTS).geometry.iloc[1]
    back = Transformer.from_crs("EPSG:4326", "EPSG:4549", always_xy=True).transform(east.x, east.y)
    assert math.hypot(back[0] - 553_123.45, back[1] - 4_745_678.9) < 0.01
    assert 120.6 < east.x < 120.7  # 53 km east of 120°E at 42.8°N


def test_named_crs_matching_the_file_is_fine(gk_points, store):
    assert import_file(store, ACCIDENTS, gk_points, crs="EPSG:4549").written == 2


def test_named_crs_conflicting_with_the_file_is_refused(gk_points, store):
    with pytest.raises(CRSConflict, match="EPSG:4549.*EPSG:4490"):
        import_file(store, ACCIDENTS, gk_points, crs="4490")
    assert store.count(ACCIDENTS) == 0


def test_shapefile_without_prj_needs_crs(tmp_path, store):
    folder = tmp_path / "shp"
    folder.mkdir()
    pyogrio.write_dataframe(village_frame("EPSG:4549"), folder / "v.shp", encoding="GBK")
    path = zip_shapefile(folder, "v", tmp_path / "v.zip", drop=("prj",))
    with pytest.raises(CRSConflict, match="--crs"):
        import_file(store, VILLAGES, path)
    report = import_file(store, VILLAGES, path, crs="4549")
    assert report.written == 2
    assert same_shape(store.read(VILLAGES).geometry.iloc[0], box(120.60, 42.80, 120.63, 42.83), 1e-7)


def test_cgcs2000_shapefile(tmp_path, store):
    folder = tmp_path / "shp"
    folder.mkdir()
    pyogrio.write_dataframe(village_frame().set_crs("EPSG:4490", allow_override=True), folder / "v.shp", encoding="GBK")
    report = import_file(store, VILLAGES, zip_shapefile(folder, "v", tmp_path / "v.zip"))
    assert any("4490" in note for note in report.notes)
    # CGCS2000 and WGS 84 agree to well under a metre: no shift is applied
    assert same_shape(store.read(VILLAGES).geometry.iloc[0], box(120.60, 42.80, 120.63, 42.83), 1e-9)


def test_csv_in_web_mercator(tmp_path, store):
    lon, lat = 120.65, 42.85
    x = A * math.radians(lon)  # spherical Mercator, worked out by hand
    y = A * math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))
    path = tmp_path / "m.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([["x", "y", "occurred_at", "severity"], [x, y, "2024-05-01 08:00", "property"]])
    import_file(store, ACCIDENTS, path, crs="EPSG:3857")
    assert metres_apart(store.read(ACCIDENTS).geometry.iloc[0], lon, lat) < 0.01


def test_csv_with_projected_coordinates_and_no_crs_says_so(tmp_path, store):
    path = tmp_path / "gk.csv"
    path.write_text("x,y,occurred_at,severity\n553000,4745000,2024-05-01 08:00,property\n", "utf-8")
    from exchange.errors import ImportRejected

    with pytest.raises(ImportRejected) as caught:
        import_file(store, ACCIDENTS, path)
    assert "EPSG:4549" in caught.value.report.problems[0].reasons[0]


def test_unknown_crs_name(tmp_path, store, gk_points):
    with pytest.raises(CRSConflict, match="unknown CRS"):
        import_file(store, ACCIDENTS, gk_points, crs="EPSG:999999")


def test_unknown_column_is_named(tmp_path, store):
    folder = tmp_path / "shp"
    folder.mkdir()
    frame = village_frame()
    frame["备注说明"] = "x"
    frame["OBJECTID"] = [1, 2]
    pyogrio.write_dataframe(frame, folder / "v.shp", encoding="GBK")
    with pytest.raises(ColumnMismatch, match="备注说明") as caught:
        import_file(store, VILLAGES, zip_shapefile(folder, "v", tmp_path / "v.zip"))
    assert "OBJECTID" not in caught.value.message  # internal ids are ignored, not refused
