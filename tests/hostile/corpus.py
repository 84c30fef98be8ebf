"""Hostile import files and the refusal each must get: what township staff really send, and what attackers might.

Each Case builds its file into a folder (a committed file under files/, or one generated at test time when it is
large or binary) and says how `onemap import` must answer: the exit code (1 refused rows or columns, 2 the file
cannot be imported at all) and message fragments that name the problem. Every case is a refusal: nothing may be
written. test_import_corpus.py runs them through the CLI; an HTTP upload test can send the same files.
"""

from __future__ import annotations

import hashlib
import json
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pyogrio
from openpyxl.styles import Alignment
from shapely.geometry import Polygon, box

from layers import LAYERS
from store import open_store
from store.base import is_database_url

FILES = Path(__file__).resolve().parent / "files"

#: Peak resident memory allowed to an `onemap import` process refusing one of the big files.
BIG_RSS_LIMIT = 450 * 2**20

#: Codes in the town every case imports into (conftest.hostile_town_file).
STORED_VILLAGE_CODE = "150525107201"
STORED_HAZARD_CODE = "YLY-2024-001"


@dataclass(frozen=True)
class Committed:
    """A builder copying a committed file from files/ into the folder."""

    name: str

    def __call__(self, folder: Path) -> Path:
        target = folder / self.name
        target.write_bytes((FILES / self.name).read_bytes())
        return target


@dataclass(frozen=True)
class Case:
    """One hostile file: how to build it, where it is imported, and the refusal expected."""

    id: str
    build: Callable[[Path], Path]
    layer: str
    exit_code: int
    expected: tuple[str, ...]
    options: tuple[str, ...] = ()
    #: Large or resource-hungry: run in a subprocess, with peak memory held under BIG_RSS_LIMIT.
    big: bool = False
    why: str = ""

    @property
    def committed(self) -> tuple[str, ...]:
        """The files under files/ this case uses."""
        return (self.build.name,) if isinstance(self.build, Committed) else ()


# -- builders ----------------------------------------------------------------------------------------------------


def village_frame(names: list[str], kinds: list[str], crs: str = "EPSG:4326") -> gpd.GeoDataFrame:
    """Villages side by side near the banner seat, with Chinese column titles as a township file has them."""
    n = len(names)
    return gpd.GeoDataFrame(
        {
            "名称": names,
            "区划代码": [f"1505251074{i:02d}" for i in range(1, n + 1)],
            "类型": kinds,
            "户籍人口": [500 + i for i in range(n)],
            "户数": [150 + i for i in range(n)],
            "包村干部": ["张三"] * n,
        },
        geometry=[box(120.60 + 0.03 * i, 42.80, 120.63 + 0.03 * i, 42.83) for i in range(n)],
        crs="EPSG:4326",
    ).to_crs(crs)


def utf8_names(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The frame with the 4-character titles renamed: in UTF-8 they pass a .dbf's 10-byte field names."""
    return frame.rename(columns={"区划代码": "code", "户籍人口": "population", "包村干部": "official"})


def write_shapefile(
    folder: Path, frame: gpd.GeoDataFrame, *, encoding: str, drop: tuple[str, ...] = (), zipped: bool = True
) -> Path:
    """`frame` as a Shapefile in `encoding`, its parts in `drop` removed, zipped (or the bare .shp)."""
    parts = folder / "shp"
    parts.mkdir()
    pyogrio.write_dataframe(frame, parts / "村界.shp", encoding=encoding)
    for ext in drop:
        (parts / f"村界.{ext}").unlink()
    if not zipped:
        return parts / "村界.shp"
    target = folder / "村界.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for part in sorted(parts.iterdir()):
            archive.write(part, part.name)
    return target


def shapefile_gbk_without_cpg(folder: Path) -> Path:
    """GBK attributes with no .cpg, as ArcGIS on Chinese Windows writes them; the 2nd village has a bad type."""
    return write_shapefile(
        folder, village_frame(["前进嘎查", "义隆永村"], ["嘎查", "自然屯"]), encoding="GBK", drop=("cpg",)
    )


def shapefile_utf8_without_cpg(folder: Path) -> Path:
    """UTF-8 attributes with no .cpg (QGIS exports with the .cpg left out); the 2nd village has a bad type."""
    frame = utf8_names(village_frame(["前进嘎查", "义隆永村"], ["嘎查", "自然屯"]))
    return write_shapefile(folder, frame, encoding="UTF-8", drop=("cpg",))


def shapefile_without_dbf(folder: Path) -> Path:
    """A zipped Shapefile sent without its .dbf."""
    return write_shapefile(folder, village_frame(["前进嘎查"], ["嘎查"]), encoding="GBK", drop=("dbf",))


def bare_shapefile_without_dbf(folder: Path) -> Path:
    """A bare .shp (with .shx and .prj beside it) but no .dbf."""
    frame = village_frame(["前进嘎查"], ["嘎查"])
    return write_shapefile(folder, frame, encoding="GBK", drop=("dbf",), zipped=False)


def shapefile_without_prj(folder: Path) -> Path:
    """Gauss-Krüger metres (EPSG:4549) with the .prj left out: the CRS must be named."""
    return write_shapefile(folder, village_frame(["前进嘎查"], ["嘎查"], "EPSG:4549"), encoding="GBK", drop=("prj",))


def shapefile_null_geometry(folder: Path) -> Path:
    """A Shapefile whose second record has a null shape."""
    frame = village_frame(["前进嘎查", "义隆永村"], ["嘎查", "行政村"])
    frame.loc[1, "geometry"] = None
    return write_shapefile(folder, frame, encoding="GBK")


#: One valid village's attributes, titled as a township file has them.
VILLAGE = {
    "名称": "前进嘎查",
    "区划代码": "150525107401",
    "类型": "嘎查",
    "户籍人口": 812,
    "户数": 260,
    "包村干部": "张三",
}


def circle(vertices: int) -> np.ndarray:
    """A closed ring of `vertices` lon/lat positions (the last repeats the first) around the banner seat."""
    angles = np.linspace(0, 2 * np.pi, vertices)
    ring = np.column_stack([120.65 + 0.01 * np.cos(angles), 42.85 + 0.01 * np.sin(angles)])
    ring[-1] = ring[0]
    return ring


def village_geojson(path: Path, ring: np.ndarray) -> Path:
    """A GeoJSON of one village outlined by `ring`, written piece by piece (no million-item JSON list in memory)."""
    head = json.dumps({"type": "FeatureCollection", "features": [{"type": "Feature", "properties": VILLAGE}]})
    with path.open("w", encoding="utf-8") as out:
        out.write(head[: -len("}]}")] + ', "geometry": {"type": "Polygon", "coordinates": [[')
        out.write(",".join(f"[{x:.8f},{y:.8f}]" for x, y in ring.tolist()))
        out.write("]]}}]}\n")
    return path


def million_vertex_geojson(folder: Path) -> Path:
    """One village drawn with 1,000,001 vertices (a GPS track closed into a polygon), 27 MB of GeoJSON."""
    return village_geojson(folder / "百万顶点.geojson", circle(1_000_001))


def million_vertex_shapefile(folder: Path) -> Path:
    """The same million-vertex village as a zipped Shapefile (binary: cheap to read, costly to check)."""
    frame = village_frame(["前进嘎查"], ["嘎查"])
    frame.loc[0, "geometry"] = Polygon(circle(1_000_001))
    return write_shapefile(folder, frame, encoding="GBK")


def oversized_csv(folder: Path) -> Path:
    """A 200 MB CSV, made sparse (instantly, with no disk used): it must be refused before a byte is read."""
    path = folder / "全旗事故.csv"
    with path.open("wb") as out:
        out.write("经度,纬度,发生时间,事故等级\n".encode())
        out.truncate(200 * 2**20)
    return path


def deep_geojson(folder: Path) -> Path:
    """A GeoJSON whose property nests 10,000 arrays deep (Python's parser fails near 1,000)."""
    path = folder / "嵌套.geojson"
    props = {"发生时间": "2024-05-01 08:30", "事故等级": "财产损失事故", "简要情况": "DEEP"}
    feature = {"type": "Feature", "properties": props, "geometry": {"type": "Point", "coordinates": [120.6, 42.8]}}
    text = json.dumps({"type": "FeatureCollection", "features": [feature]}, ensure_ascii=False)
    path.write_text(text.replace('"DEEP"', "[" * 10_000 + "]" * 10_000), "utf-8")
    return path


def deep_json_cell(folder: Path) -> Path:
    """A CSV whose 危险物质 cell (a list stored as JSON text) nests 10,000 deep."""
    path = folder / "风险源.csv"
    cell = "[" * 10_000 + "]" * 10_000
    path.write_text(
        "名称,类型,危险物质,风险等级,责任单位,责任人,经度,纬度\n"
        f"义隆永液化气站,液化气站,{cell},较大风险,某燃气公司,王五,120.64,42.84\n",
        "utf-8",
    )
    return path


def _zero_stream(archive: zipfile.ZipFile, name: str, size: int) -> None:
    with archive.open(name, "w") as out:
        chunk = bytes(2**20)
        for _ in range(size // len(chunk)):
            out.write(chunk)


def zip_bomb(folder: Path) -> Path:
    """A zipped Shapefile whose .dbf inflates 300 MB of zeros from 300 KB (ratio about 1,000:1)."""
    path = folder / "炸弹.zip"
    small = write_shapefile(folder, village_frame(["前进嘎查"], ["嘎查"]), encoding="GBK", zipped=False)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(small, "v.shp")
        archive.write(small.with_suffix(".shx"), "v.shx")
        _zero_stream(archive, "v.dbf", 300 * 2**20)
    return path


def _patch_zip(path: Path, name: str, *, file_size: int | None = None, flag: int = 0) -> None:
    """Rewrite what the zip's headers (local and central) say about member `name`: its size, or a flag bit."""
    data = bytearray(path.read_bytes())
    end = data.rfind(b"PK\x05\x06")
    count, _, offset = struct.unpack("<HII", data[end + 10 : end + 20])
    for _ in range(count):
        assert data[offset : offset + 4] == b"PK\x01\x02"
        name_len, extra_len, comment_len = struct.unpack("<HHH", data[offset + 28 : offset + 34])
        local = struct.unpack("<I", data[offset + 42 : offset + 46])[0]
        if data[offset + 46 : offset + 46 + name_len].decode() == name:
            if file_size is not None:
                data[offset + 24 : offset + 28] = struct.pack("<I", file_size)
                data[local + 22 : local + 26] = struct.pack("<I", file_size)
            data[offset + 8] |= flag
            data[local + 6] |= flag
        offset += 46 + name_len + extra_len + comment_len
    path.write_bytes(bytes(data))


def zip_declaring_huge_sizes(folder: Path) -> Path:
    """A small zipped Shapefile whose headers declare a 3.75 GB .dbf."""
    path = write_shapefile(folder, village_frame(["前进嘎查"], ["嘎查"]), encoding="GBK")
    _patch_zip(path, "村界.dbf", file_size=0xF000_0000)
    return path


def zip_with_lying_header(folder: Path) -> Path:
    """A zip bomb in disguise: the .dbf declares 1,000 bytes (an honest-looking ratio) but inflates to 100 MB."""
    path = folder / "伪装.zip"
    small = write_shapefile(folder, village_frame(["前进嘎查"], ["嘎查"]), encoding="GBK", zipped=False)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(small, "v.shp")
        archive.write(small.with_suffix(".shx"), "v.shx")
        _zero_stream(archive, "v.dbf", 100 * 2**20)
    _patch_zip(path, "v.dbf", file_size=1_000)
    return path


def encrypted_zip(folder: Path) -> Path:
    """A zipped Shapefile marked password-protected (as when an office zips with a password)."""
    path = write_shapefile(folder, village_frame(["前进嘎查"], ["嘎查"]), encoding="GBK")
    _patch_zip(path, "村界.dbf", flag=0x1)
    return path


def xlsx_bomb(folder: Path) -> Path:
    """An .xlsx whose sheet XML inflates 300 MB of blanks: refused before openpyxl parses it."""
    book = openpyxl.Workbook()
    book.active.append(["经度", "纬度", "发生时间", "事故等级"])
    plain = folder / "plain.xlsx"
    book.save(plain)
    path = folder / "台账.xlsx"
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for member in source.infolist():
            if member.filename == "xl/worksheets/sheet1.xml":
                _zero_stream(archive, member.filename, 300 * 2**20)
            else:
                archive.writestr(member, source.read(member))
    return path


def _merged_sheet(folder: Path, rows: list[list], merges: list[str], name: str) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "事故台账"
    for row in rows:
        sheet.append(row)
    for cells in merges:
        sheet.merge_cells(cells)
        sheet[cells.split(":")[0]].alignment = Alignment(horizontal="center")
    path = folder / name
    book.save(path)
    return path


def xlsx_two_row_header(folder: Path) -> Path:
    """A ledger header over two rows: 位置 merged over 经度/纬度, 事故信息 over 发生时间/事故等级, 序号 down both."""
    return _merged_sheet(
        folder,
        [
            ["序号", "位置", None, "事故信息", None],
            [None, "经度", "纬度", "发生时间", "事故等级"],
            [1, 120.651, 42.851, "2024-05-01 08:30", "伤人事故"],
        ],
        ["A1:A2", "B1:C1", "D1:E1"],
        "两行表头.xlsx",
    )


def xlsx_merged_header_cell(folder: Path) -> Path:
    """One header cell (坐标) merged over the two coordinate columns, with no names below it."""
    return _merged_sheet(
        folder,
        [
            ["发生时间", "事故等级", "坐标", None],
            ["2024-05-01 08:30", "伤人事故", 120.651, 42.851],
        ],
        ["C1:D1"],
        "合并表头.xlsx",
    )


def xlsx_title_row(folder: Path) -> Path:
    """A title merged across the table above a one-row header (read: the title is skipped); row 4 is bad."""
    return _merged_sheet(
        folder,
        [
            ["义隆永镇交通事故台账（2024年）", None, None, None, None],
            ["经度", "纬度", "发生时间", "事故等级", "简要情况"],
            [120.651, 42.851, "2024-05-01 08:30", "财产损失事故", "追尾"],
            [120.652, 42.852, "2024-05-02 09:00", "翻车事故", "侧翻"],
        ],
        ["A1:E1"],
        "标题行.xlsx",
    )


# -- the corpus --------------------------------------------------------------------------------------------------

NOTHING = "nothing was written"

CASES: list[Case] = [
    # geometry
    Case(
        "invalid_polygons",
        Committed("villages_invalid.geojson"),
        "villages",
        1,
        (
            "第 2 个要素 (feature 2)",
            "自相交",
            "Self-intersection",
            "第 3 个要素 (feature 3)",
            "第 4 个要素 (feature 4)",
            "--repair",
            NOTHING,
        ),
        why="bow-tie, spike and flat polygons: reported with the reason and row, not repaired unasked",
    ),
    Case(
        "invalid_polygons_unrepairable",
        Committed("villages_invalid.geojson"),
        "villages",
        1,
        (
            "第 3 个要素 (feature 3)",
            "from Polygon to GeometryCollection",
            "第 4 个要素 (feature 4)",
            "from Polygon to MultiLineString",
            "无法修复",
            NOTHING,
        ),
        options=("--repair",),
        why="--repair refuses a repair that changes the geometry type (a spike, a flat polygon)",
    ),
    Case(
        "empty_and_null_geometries",
        Committed("accidents_empty_null.geojson"),
        "accidents",
        1,
        (
            "第 1 个要素 (feature 1): 缺少几何 (missing geometry)",
            "第 2 个要素 (feature 2): 几何为空 (empty geometry)",
            "第 3 个要素 (feature 3): 几何为空 (empty geometry)",
            "invalid rows): 3",
        ),
    ),
    Case(
        "null_shape_in_shapefile",
        shapefile_null_geometry,
        "villages",
        1,
        ("第 2 个要素 (feature 2): 缺少几何 (missing geometry)", "invalid rows): 1"),
    ),
    Case(
        "nan_inf_geojson",
        Committed("accidents_nan_inf.geojson"),
        "accidents",
        1,
        ("坐标含 NaN 或无穷大 (coordinates contain NaN or infinity)", "第 3 个要素 (feature 3)", "invalid rows): 3"),
    ),
    Case(
        "nan_inf_csv",
        Committed("accidents_nan_inf.csv"),
        "accidents",
        1,
        ("第 2 行 (line 2, record 1): 坐标含 NaN", "第 3 行 (line 3, record 2): 坐标含 NaN", "NaN or infinity"),
    ),
    Case(
        "swapped_lon_lat",
        Committed("accidents_swapped.csv"),
        "accidents",
        1,
        ("第 3 行 (line 3, record 2)", "经纬度似乎填反了", "latitude and longitude are swapped", "invalid rows): 1"),
    ),
    Case(
        "outside_china",
        Committed("accidents_outside.geojson"),
        "accidents",
        1,
        (
            "第 2 个要素 (feature 2): 坐标 (2.3522, 48.8566) 在中国境外",
            "outside China",
            "第 3 个要素 (feature 3): 坐标 (116.397, 39.909) 超出服务区域",
            "outside the service area",
        ),
    ),
    Case(
        "million_vertex_geojson",
        million_vertex_geojson,
        "villages",
        1,
        ("1,000,001 个顶点", "the geometry has 1,000,001 vertices, over the limit of 100,000 per feature"),
        big=True,
    ),
    Case(
        "million_vertex_shapefile",
        million_vertex_shapefile,
        "villages",
        1,
        ("1,000,001 个顶点", "over the limit of 100,000 per feature"),
        big=True,
    ),
    # Shapefile parts
    Case("zip_without_dbf", shapefile_without_dbf, "villages", 2, ("缺少 .dbf", "the shapefile lacks .dbf")),
    Case("shp_without_dbf", bare_shapefile_without_dbf, "villages", 2, ("缺少 村界.dbf", "the shapefile has no .dbf")),
    Case("shapefile_without_prj", shapefile_without_prj, "villages", 2, ("缺少 .prj", "--crs", "declares no CRS")),
    # text encodings: each file has one bad row whose Chinese value must come back intact in the message
    Case(
        "gbk_csv_from_excel",
        Committed("accidents_gbk_excel.csv"),
        "accidents",
        1,
        ("GB18030", "第 3 行 (line 3, record 2)", "事故等级 (severity)", "'翻车事故'"),
    ),
    Case(
        "utf8_bom_csv_from_excel",
        Committed("accidents_utf8_bom_excel.csv"),
        "accidents",
        1,
        ("UTF-8 (BOM)", "第 3 行 (line 3, record 2)", "事故等级 (severity)", "'翻车事故'"),
    ),
    Case(
        "bom_then_gbk_csv",
        Committed("accidents_bom_then_gbk.csv"),
        "accidents",
        2,
        ("开头有 UTF-8 标记 (BOM)", "starts with a UTF-8 byte-order mark but is not UTF-8 from line 1"),
    ),
    Case(
        "mixed_utf8_gbk_csv",
        Committed("accidents_mixed_utf8_gbk.csv"),
        "accidents",
        2,
        ("第 4 行起却不是 UTF-8", "UTF-8 up to line 4 and then is not: mixed encodings"),
    ),
    Case(
        "gbk_dbf_without_cpg",
        shapefile_gbk_without_cpg,
        "villages",
        1,
        ("GB18030", "no usable .cpg", "第 2 个要素 (feature 2)", "类型 (kind)", "'自然屯'"),
    ),
    Case(
        "utf8_dbf_without_cpg",
        shapefile_utf8_without_cpg,
        "villages",
        1,
        ("detected as UTF-8", "第 2 个要素 (feature 2)", "类型 (kind)", "'自然屯'"),
    ),
    # spreadsheet headers
    Case(
        "xlsx_two_row_header",
        xlsx_two_row_header,
        "accidents",
        2,
        ("第 1–2 行是两行表头", "请取消合并", "two-row header with merged cells: unmerge it"),
    ),
    Case(
        "csv_two_row_header",
        Committed("accidents_two_row_header.csv"),
        "accidents",
        2,
        ("第 1–2 行是两行表头", "two-row header with merged cells: unmerge it"),
    ),
    Case(
        "xlsx_merged_header_cell",
        xlsx_merged_header_cell,
        "accidents",
        2,
        ("第 4 列有数据但没有表头", "column 4 has data but no header: if the header has merged cells, unmerge them"),
    ),
    Case(
        "xlsx_title_row",
        xlsx_title_row,
        "accidents",
        1,
        ("skipped the title on line 1", "第 4 行 (line 4, record 2)", "'翻车事故'"),
        why="a merged title row is read past; lines stay Excel's",
    ),
    Case(
        "csv_title_row",
        Committed("accidents_title_row.csv"),
        "accidents",
        1,
        ("skipped the title on line 1", "第 4 行 (line 4, record 2)", "'翻车事故'"),
    ),
    # sizes and zips
    Case(
        "file_over_size_limit",
        oversized_csv,
        "accidents",
        2,
        ("大小 200.0 MB，超过导入上限 100.0 MB", "the file is 200.0 MB, over the import limit of 100.0 MB"),
        big=True,
    ),
    Case(
        "zip_bomb",
        zip_bomb,
        "villages",
        2,
        ("可能是压缩炸弹，未解压", "the zip member 'v.dbf' expands", "a zip bomb? nothing was extracted"),
        big=True,
    ),
    Case(
        "zip_declaring_huge_sizes",
        zip_declaring_huge_sizes,
        "villages",
        2,
        ("the zip declares 3840.0 MB uncompressed, over the limit of 400.0 MB", "nothing was extracted"),
        big=True,
    ),
    Case(
        "zip_with_lying_header",
        zip_with_lying_header,
        "villages",
        2,
        ("v.dbf", "does not match its declared size"),
        big=True,
    ),
    Case("encrypted_zip", encrypted_zip, "villages", 2, ("有密码保护", "is password-protected")),
    Case(
        "xlsx_bomb",
        xlsx_bomb,
        "accidents",
        2,
        ("可能是压缩炸弹", "'xl/worksheets/sheet1.xml' expands", "nothing was extracted"),
        big=True,
    ),
    # JSON nesting
    Case(
        "geojson_nested_10000_deep",
        deep_geojson,
        "accidents",
        2,
        ("JSON 嵌套超过 64 层", "nested more than 64 levels deep"),
        big=True,
    ),
    Case(
        "json_cell_nested_10000_deep",
        deep_json_cell,
        "risk_sources",
        1,
        ("第 2 行 (line 2, record 1): 危险物质 (substances)", "nested more than 64 levels deep"),
    ),
    # identifying codes
    Case(
        "village_codes_repeated_and_stored",
        Committed("villages_duplicate_codes.csv"),
        "villages",
        1,
        (
            "区划代码 (code) '150525107301' 在文件中重复：第 2、4 行",
            "duplicate code '150525107301' in the file: lines 2, 4",
            f"code '{STORED_VILLAGE_CODE}' is already stored in layer villages",
            "第 3 行 (line 3, record 2)",
        ),
    ),
    Case(
        "hazard_codes_repeated_and_stored",
        Committed("hazards_duplicate_codes.csv"),
        "hazards",
        1,
        (
            f"隐患编号 (code) '{STORED_HAZARD_CODE}' 已存在于图层 hazards",
            "duplicate code 'YLY-2024-101' in the file: lines 3, 4",
            "invalid rows): 3",
        ),
    ),
    # wrong types per column
    Case(
        "village_numbers_as_text",
        Committed("villages_wrong_types.csv"),
        "villages",
        1,
        (
            "户籍人口 (population): 应为整数",
            "填写值 (got) '八百'",
            "户数 (households): 应为整数",
            "'一百二十'",
            "区划代码 (code): 格式不对",
            "'15052510730'",
        ),
    ),
    Case(
        "hazard_bad_dates",
        Committed("hazards_bad_dates.csv"),
        "hazards",
        1,
        (
            "发现日期 (discovered_on): 日期格式不对",
            "'2024-13-45'",
            "整改时限 (deadline): 日期格式不对",
            "'下个月'",
            "挂牌督办 (supervised)",
            "'也许'",
        ),
    ),
]


def case(case_id: str) -> Case:
    """The case named `case_id`."""
    return next(c for c in CASES if c.id == case_id)


__all__ = ["BIG_RSS_LIMIT", "CASES", "FILES", "Case", "Committed", "case"]


def snapshot(location: str) -> dict[str, object]:
    """What an import could change: each layer's count and rows, and for a GeoPackage the file's bytes."""
    store = open_store(location)
    state: dict[str, object] = {}
    for layer in LAYERS.values():
        if layer.derived or not store.has(layer):
            continue
        frame = store.read(layer)
        state[layer.id] = (store.count(layer), hashlib.sha256(frame.to_wkb().to_csv().encode()).hexdigest())
    if not is_database_url(location):
        state["file"] = hashlib.sha256(Path(location).read_bytes()).hexdigest()
    return state
