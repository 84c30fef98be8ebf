"""Read the files township offices actually have (GeoPackage, zipped Shapefile, GeoJSON, CSV, XLSX) into one shape.

Readers only read: they keep every row, note where each came from, and leave checking against a layer to the
importer. Whole-file problems (unreadable, malformed, ambiguous) raise UnreadableFile with a message to act on.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import math
import re
import struct
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import geopandas as gpd
import pyogrio
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry

from exchange.errors import UnreadableFile

#: Header names (normalised: NFKC, lower case, no spaces, unit in brackets dropped) taken as coordinates.
LON_NAMES = frozenset({"lon", "lng", "long", "longitude", "x", "经度", "东经", "x坐标"})
LAT_NAMES = frozenset({"lat", "latitude", "y", "纬度", "北纬", "y坐标"})
WKT_NAMES = frozenset({"wkt", "geometry", "geom", "几何", "几何wkt", "shape"})

VECTOR_SUFFIXES = {".gpkg": "gpkg", ".zip": "shapefile", ".shp": "shapefile", ".geojson": "geojson", ".json": "geojson"}
TABLE_SUFFIXES = {".csv": "csv", ".txt": "csv", ".xlsx": "xlsx", ".xlsm": "xlsx"}


@dataclass
class SourceTable:
    """Rows read from a file: raw attribute values by source column, a geometry per row, and where rows came from.

    `lines` holds each row's spreadsheet line for CSV/XLSX (None for GIS files, whose rows are features).
    `geometry_errors` maps a 0-based row index to why its coordinates could not be read.
    """

    kind: str
    columns: list[str]
    records: list[dict[str, Any]]
    geometries: list[BaseGeometry | None]
    crs: CRS | None = None
    lines: list[int] | None = None
    geometry_errors: dict[int, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    encoding: str | None = None

    def __len__(self) -> int:
        return len(self.records)


def read_source(path: str | Path, *, source_layer: str | None = None) -> SourceTable:
    """Read `path` by its extension; `source_layer` picks a layer (GeoPackage), .shp (zip) or sheet (XLSX)."""
    path = Path(path)
    if not path.exists():
        raise UnreadableFile(f"文件不存在 (no such file): {path}")
    if path.is_dir():
        raise UnreadableFile(f"这是一个文件夹，不是文件 (a folder, not a file): {path}")
    if path.stat().st_size == 0:
        raise UnreadableFile(f"文件为空 (the file is empty): {path.name}")
    suffix = path.suffix.lower()
    if suffix == ".xls":
        raise UnreadableFile(
            "不支持旧版 .xls 文件，请在 Excel 中另存为 .xlsx (old .xls is not supported: save as .xlsx)"
        )
    kind = VECTOR_SUFFIXES.get(suffix) or TABLE_SUFFIXES.get(suffix)
    if kind is None:
        raise UnreadableFile(
            f"不认识的文件类型 {suffix or '(无扩展名)'}："
            "支持 .gpkg、.zip (Shapefile)、.shp、.geojson/.json、.csv、.xlsx "
            f"(unsupported file type {suffix!r})"
        )
    reader = {
        "gpkg": _read_gpkg,
        "shapefile": _read_shapefile_zip if suffix == ".zip" else _read_shapefile,
        "geojson": _read_geojson,
        "csv": _read_csv,
        "xlsx": _read_xlsx,
    }[kind]
    table = reader(path, source_layer)
    if not table.records:
        raise UnreadableFile(f"文件中没有数据行或要素 (no rows or features in {path.name})")
    return table


def table_from_frame(frame: gpd.GeoDataFrame, kind: str, *, notes: list[str] | None = None) -> SourceTable:
    """A SourceTable of an in-memory GeoDataFrame (its CRS is what it declares)."""
    geometry_name = frame.geometry.name
    attributes = frame.drop(columns=[geometry_name])
    return SourceTable(
        kind=kind,
        columns=[str(c) for c in attributes.columns],
        records=attributes.to_dict("records"),
        geometries=list(frame.geometry.array),
        crs=frame.crs,
        notes=list(notes or []),
    )


# -- text encodings ----------------------------------------------------------------------------------------------


def decode_text(data: bytes, what: str) -> tuple[str, str]:
    """Text of a file that is UTF-8 (with or without BOM) or, failing that, GB18030 (a superset of GBK and GB2312)."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="strict"), "UTF-8 (BOM)"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise UnreadableFile(f"{what} 是 UTF-16 编码，请另存为 UTF-8 或 GBK (UTF-16 is not supported: save as UTF-8)")
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), "GB18030"
    except UnicodeDecodeError as exc:
        raise UnreadableFile(
            f"{what} 的编码无法识别（既不是 UTF-8 也不是 GBK/GB18030），第 {exc.start} 字节附近 "
            f"(unknown text encoding near byte {exc.start}: save the file as UTF-8)"
        ) from None


def _utf8_compatible(raw: bytes) -> bool:
    """Whether DBF field bytes read as UTF-8, allowing a multi-byte character cut off at the field's end."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.reason == "unexpected end of data" and exc.end == len(raw)
    return True


def dbf_encoding(dbf: bytes) -> str:
    """UTF-8 when every text byte of the .dbf (field names and character fields) decodes as UTF-8, else GB18030.

    Shapefiles from Chinese desktop GIS are very often GBK without a .cpg; GBK text almost never happens to be
    valid UTF-8, so this check tells the two apart.
    """
    if len(dbf) < 32:
        raise UnreadableFile(".dbf 文件太短，已损坏 (the .dbf is truncated)")
    n_records, header_len, record_len = struct.unpack("<IHH", dbf[4:12])
    chunks: list[bytes] = []
    text_fields: list[tuple[int, int]] = []
    offset = 1  # each record starts with its deletion flag
    pos = 32
    while pos + 32 <= header_len and dbf[pos] != 0x0D:
        descriptor = dbf[pos : pos + 32]
        chunks.append(descriptor[:11].split(b"\x00", 1)[0])
        kind, length = chr(descriptor[11]), descriptor[16]
        if kind in "CM":
            text_fields.append((offset, length))
        offset += length
        pos += 32
    for i in range(n_records):
        start = header_len + i * record_len
        record = dbf[start : start + record_len]
        for field_offset, length in text_fields:
            chunks.append(record[field_offset : field_offset + length].rstrip(b" \x00"))
    return "UTF-8" if all(_utf8_compatible(c) for c in chunks) else "GB18030"


def _cpg_encoding(text: str) -> str | None:
    """The Python codec named by a .cpg (e.g. "UTF-8", "GBK", "936"); GBK-family names read as GB18030."""
    name = text.strip().upper().replace("ANSI ", "")
    if name in {"UTF-8", "UTF8", "65001"}:
        return "UTF-8"
    if name in {"GBK", "GB2312", "GB18030", "936", "CP936", "54936"}:
        return "GB18030"
    try:
        return codecs.lookup(name.lower()).name
    except LookupError:
        return None


# -- GIS files ---------------------------------------------------------------------------------------------------


def _read_vector(path: Path, kind: str, *, layer: str | None = None, encoding: str | None = None) -> SourceTable:
    try:
        frame = pyogrio.read_dataframe(path, layer=layer, encoding=encoding)
    except Exception as exc:  # pyogrio raises several error types; the user needs one message
        raise UnreadableFile(f"无法读取 {path.name} (cannot read {path.name}): {exc}") from None
    if not isinstance(frame, gpd.GeoDataFrame):
        raise UnreadableFile(f"{path.name} 中的表没有几何列 (the table has no geometry column)")
    return table_from_frame(frame, kind)


def _read_gpkg(path: Path, source_layer: str | None) -> SourceTable:
    try:
        listed = pyogrio.list_layers(path)
    except Exception as exc:
        raise UnreadableFile(f"{path.name} 不是可读的 GeoPackage (not a readable GeoPackage): {exc}") from None
    spatial = [str(name) for name, geometry_type in listed if geometry_type is not None]
    names = spatial or [str(name) for name, _ in listed]
    if source_layer is not None:
        if source_layer not in names:
            raise UnreadableFile(
                f"{path.name} 中没有图层 {source_layer!r}，可选: {', '.join(names)} "
                f"(no layer {source_layer!r}; layers: {', '.join(names)})"
            )
        chosen = source_layer
    elif len(spatial) == 1:
        chosen = spatial[0]
    elif not spatial:
        raise UnreadableFile(f"{path.name} 中没有带几何的图层 (no spatial layer in the GeoPackage)")
    else:
        raise UnreadableFile(
            f"{path.name} 有多个图层，请用 --source-layer 指定其一: {', '.join(spatial)} "
            f"(several layers, name one with --source-layer)"
        )
    table = _read_vector(path, "gpkg", layer=chosen)
    table.notes.append(f"读取图层 {chosen} (read layer {chosen!r})")
    return table


def _zip_name(info: zipfile.ZipInfo) -> str:
    """A member name as its author saw it: zips from Chinese Windows store GBK names without the UTF-8 flag."""
    if info.flag_bits & 0x800:
        return info.filename
    try:
        return info.filename.encode("cp437").decode("gb18030")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return info.filename


def _read_shapefile_zip(path: Path, source_layer: str | None) -> SourceTable:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise UnreadableFile(f"{path.name} 不是有效的 zip 压缩包 (not a valid zip file): {exc}") from None
    with archive, tempfile.TemporaryDirectory(prefix="onemap-shp-") as tmp:
        members = [m for m in archive.infolist() if not m.is_dir() and not m.filename.startswith("__MACOSX/")]
        shps = {_zip_name(m)[: -len(".shp")]: m for m in members if m.filename.lower().endswith(".shp")}
        if not shps:
            listing = ", ".join(_zip_name(m) for m in members[:20]) or "(空)"
            raise UnreadableFile(f"压缩包中没有 .shp 文件 (no .shp in the zip); 内容 contents: {listing}")
        if source_layer is not None:
            matches = [s for s in shps if s == source_layer or PurePosixPath(s).name == source_layer]
            if len(matches) != 1:
                raise UnreadableFile(
                    f"压缩包中没有 Shapefile {source_layer!r}，可选 (no such shapefile; choose one of): "
                    f"{', '.join(PurePosixPath(s).name for s in shps)}"
                )
            stem = matches[0]
        elif len(shps) == 1:
            stem = next(iter(shps))
        else:
            raise UnreadableFile(
                "压缩包中有多个 Shapefile，请用 --source-layer 指定其一 "
                f"(several shapefiles, name one with --source-layer): "
                f"{', '.join(PurePosixPath(s).name for s in shps)}"
            )
        parts: dict[str, zipfile.ZipInfo] = {}
        for member in members:
            name = _zip_name(member)
            if name.lower().startswith(stem.lower() + ".") and name.count(".") == stem.count(".") + 1:
                parts[name.rsplit(".", 1)[1].lower()] = member
        missing = [ext for ext in ("shp", "shx", "dbf") if ext not in parts]
        if missing:
            raise UnreadableFile(
                f"Shapefile {PurePosixPath(stem).name} 缺少 {', '.join('.' + m for m in missing)} 文件 "
                f"(the shapefile lacks {', '.join('.' + m for m in missing)}; zip all its parts together)"
            )
        target = Path(tmp) / "source"
        for ext, member in parts.items():
            (target.parent / f"source.{ext}").write_bytes(archive.read(member))
        table = _read_shapefile(target.with_suffix(".shp"), None)
        table.notes.insert(0, f"读取 {PurePosixPath(stem).name}.shp (read {PurePosixPath(stem).name}.shp from the zip)")
        return table


def _read_shapefile(path: Path, source_layer: str | None) -> SourceTable:
    dbf = path.with_suffix(".dbf")
    if not dbf.exists():
        raise UnreadableFile(f"缺少 {dbf.name} (the shapefile has no .dbf)")
    cpg = path.with_suffix(".cpg")
    encoding = None
    if cpg.exists():
        encoding = _cpg_encoding(cpg.read_text(encoding="ascii", errors="replace"))
        note = f"按 .cpg 使用编码 {encoding} (encoding {encoding} from the .cpg)" if encoding else None
    dbf_bytes = dbf.read_bytes()
    if encoding is None:
        encoding = dbf_encoding(dbf_bytes)
        note = f"属性编码识别为 {encoding} (attribute encoding detected as {encoding}; no usable .cpg)"
    repaired = _trim_cut_names(dbf_bytes) if encoding == "UTF-8" else dbf_bytes
    if repaired is dbf_bytes:
        table = _read_vector(path, "shapefile", encoding=encoding)
    else:
        with tempfile.TemporaryDirectory(prefix="onemap-dbf-") as tmp:
            copy = Path(tmp) / "source.shp"
            for part in path.parent.glob(f"{path.stem}.*"):
                (copy.parent / f"source{part.suffix.lower()}").write_bytes(part.read_bytes())
            copy.with_suffix(".dbf").write_bytes(repaired)
            table = _read_vector(copy, "shapefile", encoding=encoding)
    table.encoding = encoding
    table.notes.append(note)
    if table.crs is None:
        table.notes.append("没有 .prj 文件，坐标系未声明 (no .prj: the CRS is not declared)")
    return table


def _trim_cut_names(dbf: bytes) -> bytes:
    """The .dbf with UTF-8 field names that were cut mid-character (names hold 10 bytes) trimmed to whole ones.

    GDAL writes "户籍人口" (12 bytes) as its first 10 bytes, which no reader can decode; "户籍人" still matches
    the field by prefix. Returns the same object when nothing needed trimming.
    """
    header_len = struct.unpack("<H", dbf[8:10])[0]
    out = bytearray(dbf)
    pos = 32
    while pos + 32 <= header_len and dbf[pos] != 0x0D:
        raw = dbf[pos : pos + 11].split(b"\x00", 1)[0]
        name = raw.decode("utf-8", errors="ignore").encode("utf-8")
        if name != raw:
            out[pos : pos + 11] = name.ljust(11, b"\x00")
        pos += 32
    return dbf if out == dbf else bytes(out)


def _read_geojson(path: Path, source_layer: str | None) -> SourceTable:
    text, encoding = decode_text(path.read_bytes(), path.name)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UnreadableFile(
            f"{path.name} 不是有效的 JSON：第 {exc.lineno} 行第 {exc.colno} 列 {exc.msg} "
            f"(not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    if isinstance(data, list):
        raise UnreadableFile(
            f"{path.name} 是一个 JSON 数组，不是 GeoJSON FeatureCollection（常见于 DataV 等网站导出的数据）；"
            f'请改成 {{"type": "FeatureCollection", "features": [...]}} 后再导入 '
            f"(a bare JSON array of features is not a GeoJSON FeatureCollection: wrap it as one)"
        )
    if not isinstance(data, dict) or "type" not in data:
        raise UnreadableFile(f"{path.name} 不是 GeoJSON：缺少 type 成员 (not GeoJSON: no 'type' member)")
    if data["type"] == "Feature":
        features = [data]
    elif data["type"] == "FeatureCollection":
        features = data.get("features")
        if not isinstance(features, list):
            raise UnreadableFile(f"{path.name}: FeatureCollection 的 features 不是数组 ('features' is not an array)")
    else:
        raise UnreadableFile(
            f"{path.name} 是 GeoJSON {data['type']}，没有属性；请提供 FeatureCollection "
            f"(a bare {data['type']} carries no attributes: give a FeatureCollection)"
        )
    table = SourceTable(kind="geojson", columns=[], records=[], geometries=[], encoding=encoding)
    table.crs = _geojson_crs(data.get("crs"), path.name)
    seen: dict[str, None] = {}
    for i, feature in enumerate(features):
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            table.records.append({})
            table.geometries.append(None)
            table.geometry_errors[i] = "不是 GeoJSON Feature 对象 (not a GeoJSON Feature)"
            continue
        props = feature.get("properties") or {}
        if not isinstance(props, dict):
            props = {}
            table.geometry_errors[i] = "properties 不是对象 ('properties' is not an object)"
        seen.update(dict.fromkeys(props))
        table.records.append(props)
        geometry = feature.get("geometry")
        try:
            table.geometries.append(shape(geometry) if geometry is not None else None)
        except Exception as exc:  # shapely raises KeyError, ValueError, TypeError or GEOSException on bad input
            table.geometries.append(None)
            table.geometry_errors.setdefault(i, f"几何无法解析 (cannot read geometry: {type(exc).__name__} {exc})")
    table.columns = list(seen)
    return table


def _geojson_crs(member: Any, name: str) -> CRS | None:
    """The CRS of a legacy (2008) GeoJSON "crs" member; RFC 7946 files have none and are lon/lat WGS 84."""
    if member is None:
        return None
    try:
        return CRS.from_user_input(member["properties"]["name"])
    except (KeyError, TypeError, CRSError):
        raise UnreadableFile(f"{name}: 无法识别 GeoJSON 的 crs 成员 (unrecognised 'crs' member): {member!r}") from None


# -- spreadsheets ------------------------------------------------------------------------------------------------


def header_key(name: Any) -> str:
    """A header as compared: NFKC (full-width to ASCII), lower case, no spaces or required-field stars."""
    text = unicodedata.normalize("NFKC", str(name)).casefold()
    return re.sub(r"[\s*]+", "", text)


def _coordinate_key(name: Any) -> str:
    return re.sub(r"\(.*\)$", "", header_key(name))


def _tabular(kind: str, headers: list[Any], rows: list[tuple[int, list[Any]]], what: str) -> SourceTable:
    """Turn a header and (line, cells) rows into a SourceTable, finding the lon/lat or WKT columns."""
    names: list[str] = []
    keep: list[int] = []
    for i, header in enumerate(headers):
        text = "" if header is None else str(header).strip()
        if not text:
            if any(i < len(cells) and not _blank(cells[i]) for _, cells in rows):
                raise UnreadableFile(f"{what} 第 {i + 1} 列有数据但没有表头 (column {i + 1} has data but no header)")
            continue
        names.append(text)
        keep.append(i)
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise UnreadableFile(f"{what} 表头重复 (duplicate headers): {', '.join(duplicates)}")
    keys = [_coordinate_key(n) for n in names]
    lon = [n for n, k in zip(names, keys, strict=True) if k in LON_NAMES]
    lat = [n for n, k in zip(names, keys, strict=True) if k in LAT_NAMES]
    wkt = [n for n, k in zip(names, keys, strict=True) if k in WKT_NAMES]
    if len(lon) > 1 or len(lat) > 1 or len(wkt) > 1 or (wkt and (lon or lat)):
        raise UnreadableFile(
            f"{what} 有多个坐标列，无法确定用哪一个 (ambiguous coordinate columns): {', '.join(lon + lat + wkt)}"
        )
    if not wkt and not (lon and lat):
        raise UnreadableFile(
            f"{what} 找不到经纬度列：需要 经度/纬度 (或 lon/lat、lng、longitude/latitude、x/y) 两列，或一列 WKT "
            f"(no coordinate columns: need lon/lat columns or a WKT column); 表头 headers: {', '.join(names)}"
        )
    geometry_columns = set(wkt or [lon[0], lat[0]])
    table = SourceTable(kind=kind, columns=[n for n in names if n not in geometry_columns], records=[], geometries=[])
    table.lines = []
    for index, (line, cells) in enumerate(rows):
        extra = [c for c in cells[len(headers) :] if not _blank(c)]
        record = {name: (cells[i] if i < len(cells) else None) for name, i in zip(names, keep, strict=True)}
        if extra:
            table.geometry_errors[index] = (
                f"单元格数 {len(cells)} 多于表头列数 {len(headers)}（可能有未加引号的逗号）"
                f"(more cells than headers: an unquoted comma?)"
            )
        if wkt:
            geometry, problem = _wkt_geometry(record.pop(wkt[0]))
        else:
            geometry, problem = _point(record.pop(lon[0]), record.pop(lat[0]), lon[0], lat[0])
        if problem:
            table.geometry_errors.setdefault(index, problem)
        table.records.append(record)
        table.geometries.append(geometry)
        table.lines.append(line)
    return table


def _blank(value: Any) -> bool:
    return (
        value is None
        or (isinstance(value, str) and not value.strip())
        or (isinstance(value, float) and math.isnan(value))
    )


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    text = unicodedata.normalize("NFKC", str(value)).strip().rstrip("°")
    try:
        return float(text)
    except ValueError:
        return None


def _point(x: Any, y: Any, x_name: str, y_name: str) -> tuple[Point | None, str | None]:
    if _blank(x) and _blank(y):
        return None, None  # reported as missing geometry by the validator
    if _blank(x) or _blank(y):
        return None, f"缺少{x_name if _blank(x) else y_name} (missing {'x/lon' if _blank(x) else 'y/lat'})"
    lon, lat = _number(x), _number(y)
    if lon is None or lat is None:
        name, value = (x_name, x) if lon is None else (y_name, y)
        return None, f"{name} 不是数字 (not a number): {str(value)!r}"
    return Point(lon, lat), None


def _wkt_geometry(value: Any) -> tuple[BaseGeometry | None, str | None]:
    if _blank(value):
        return None, None
    try:
        return shapely.from_wkt(str(value).strip()), None
    except shapely.errors.GEOSException as exc:
        return None, f"WKT 无法解析 (cannot read WKT): {exc}"


def _read_csv(path: Path, source_layer: str | None) -> SourceTable:
    text, encoding = decode_text(path.read_bytes(), path.name)
    if not text.strip():
        raise UnreadableFile(f"文件为空 (the file is empty): {path.name}")
    first_line = next(line for line in text.splitlines() if line.strip())
    delimiter = max([",", "\t", ";"], key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    headers: list[str] | None = None
    rows: list[tuple[int, list[Any]]] = []
    last = 0
    try:
        for cells in reader:
            line, last = last + 1, reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if headers is None:
                headers = cells
            else:
                rows.append((line, cells))
    except csv.Error as exc:
        raise UnreadableFile(
            f"{path.name} 第 {reader.line_num} 行无法解析 (CSV error at line {reader.line_num}): {exc}"
        ) from None
    table = _tabular("csv", headers or [], rows, path.name)
    table.encoding = encoding
    table.notes.append(f"文本编码 {encoding} (text encoding {encoding})")
    return table


def _read_xlsx(path: Path, source_layer: str | None) -> SourceTable:
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # zipfile, KeyError and XML errors for files that are not really XLSX
        raise UnreadableFile(f"{path.name} 不是有效的 Excel .xlsx 文件 (not a valid .xlsx file): {exc}") from None
    try:
        names = workbook.sheetnames
        if source_layer is not None:
            if source_layer not in names:
                raise UnreadableFile(
                    f"{path.name} 中没有工作表 {source_layer!r}，可选: {', '.join(names)} (no sheet {source_layer!r})"
                )
            sheet_name = source_layer
        else:
            sheet_name = names[0]
        sheet = workbook[sheet_name]
        headers: list[Any] | None = None
        rows: list[tuple[int, list[Any]]] = []
        for line, values in enumerate(sheet.iter_rows(min_row=1, values_only=True), start=1):
            cells = list(values)
            if all(_blank(c) for c in cells):
                continue
            if headers is None:
                headers = cells
            else:
                rows.append((line, cells))
    finally:
        workbook.close()
    table = _tabular("xlsx", headers or [], rows, f"{path.name} [{sheet_name}]")
    table.notes.append(f"读取工作表 {sheet_name} (read sheet {sheet_name!r})")
    if source_layer is None and len(names) > 1:
        table.notes.append(f"其他工作表未读取 (other sheets not read): {', '.join(names[1:])}")
    return table


__all__ = ["SourceTable", "dbf_encoding", "decode_text", "header_key", "read_source", "table_from_frame"]
