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
from glob import escape as glob_escape
from pathlib import Path, PurePosixPath
from typing import Any

import geopandas as gpd
import pyogrio
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry

from exchange.archives import check_members, extract, open_zip
from exchange.errors import UnreadableFile
from exchange.limits import (
    DEFAULT_LIMITS,
    ImportLimits,
    check_file_size,
    json_too_deep,
    nesting_problem,
    vertex_problem,
)

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


def read_source(
    path: str | Path, *, source_layer: str | None = None, limits: ImportLimits = DEFAULT_LIMITS
) -> SourceTable:
    """Read `path` by its extension; `source_layer` picks a layer (GeoPackage), .shp (zip) or sheet (XLSX).

    A file over `limits.max_bytes` is refused before it is opened; zips and JSON are held to `limits` as read.
    """
    path = Path(path)
    if not path.exists():
        raise UnreadableFile(f"文件不存在 (no such file): {path}")
    if path.is_dir():
        raise UnreadableFile(f"这是一个文件夹，不是文件 (a folder, not a file): {path}")
    size = path.stat().st_size
    if size == 0:
        raise UnreadableFile(f"文件为空 (the file is empty): {path.name}")
    suffix = path.suffix.lower()
    if suffix == ".shp":  # its .dbf and .shx are read with it
        size = sum(part.stat().st_size for part in path.parent.glob(f"{glob_escape(path.stem)}.*") if part.is_file())
    check_file_size(path.name, size, limits)
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
    table = reader(path, source_layer, limits)
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


#: Bytes of UTF-8 multi-byte characters (four Chinese characters' worth) read before the first byte that is not
#: UTF-8, from which a file is taken as UTF-8 with a stretch in another encoding; GBK text never has that many.
MIXED_AFTER_BYTES = 8


def decode_text(data: bytes, what: str) -> tuple[str, str]:
    """Text of a file that is UTF-8 (with or without BOM) or, failing that, GB18030 (a superset of GBK and GB2312).

    A file that starts as UTF-8 (a BOM, or Chinese text in UTF-8) and later is not (two files joined, rows pasted
    from a GBK file) is refused with the line where it changes: read as GB18030, its UTF-8 part would silently
    turn to nonsense characters.
    """
    bom = data.startswith(codecs.BOM_UTF8)
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise UnreadableFile(f"{what} 是 UTF-16 编码，请另存为 UTF-8 或 GBK (UTF-16 is not supported: save as UTF-8)")
    body = data[len(codecs.BOM_UTF8) :] if bom else data
    try:
        return body.decode("utf-8"), "UTF-8 (BOM)" if bom else "UTF-8"
    except UnicodeDecodeError as exc:
        before = body[: exc.start]
    line = before.count(b"\n") + 1
    if bom:
        raise UnreadableFile(
            f"{what} 开头有 UTF-8 标记 (BOM)，但第 {line} 行起不是 UTF-8：可能混入了 GBK 文本，请整个另存为 UTF-8 "
            f"(the file starts with a UTF-8 byte-order mark but is not UTF-8 from line {line}: mixed encodings? "
            "save the whole file as UTF-8)"
        )
    if len(before) - len(before.decode("utf-8")) >= MIXED_AFTER_BYTES:
        raise UnreadableFile(
            f"{what} 前面是 UTF-8，第 {line} 行起却不是 UTF-8：可能是两种编码混在一起（例如粘贴或合并了 GBK 文件的"
            f"内容），请整个另存为 UTF-8 (the file is UTF-8 up to line {line} and then is not: mixed encodings, "
            "e.g. rows pasted from a GBK file; save the whole file as UTF-8)"
        )
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


def _read_gpkg(path: Path, source_layer: str | None, limits: ImportLimits) -> SourceTable:
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


#: The parts of a Shapefile that are read; others (.sbn, .qix, .shp.xml) are left in the zip.
SHAPEFILE_PARTS = ("shp", "shx", "dbf", "prj", "cpg")


def _read_shapefile_zip(path: Path, source_layer: str | None, limits: ImportLimits) -> SourceTable:
    archive = open_zip(path)
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
        wanted = {member: target.with_suffix(f".{ext}") for ext, member in parts.items() if ext in SHAPEFILE_PARTS}
        extract(archive, wanted, limits, path.name)
        table = _read_shapefile(target.with_suffix(".shp"), None, limits)
        table.notes.insert(0, f"读取 {PurePosixPath(stem).name}.shp (read {PurePosixPath(stem).name}.shp from the zip)")
        return table


def _read_shapefile(path: Path, source_layer: str | None, limits: ImportLimits) -> SourceTable:
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
            for part in path.parent.glob(f"{glob_escape(path.stem)}.*"):
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


def _load_json(path: Path, limits: ImportLimits) -> tuple[Any, str]:
    """The parsed JSON of `path` and its encoding; the text is dropped on return, before geometries are built."""
    text, encoding = decode_text(path.read_bytes(), path.name)
    if json_too_deep(text, limits.max_json_depth):
        raise UnreadableFile(nesting_problem(path.name, limits.max_json_depth))
    try:
        return json.loads(text), encoding
    except json.JSONDecodeError as exc:
        raise UnreadableFile(
            f"{path.name} 不是有效的 JSON：第 {exc.lineno} 行第 {exc.colno} 列 {exc.msg} "
            f"(not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None


def _positions(geometry: Any) -> int:
    """How many positions a GeoJSON geometry object lists, counted per ring or line, not per position."""
    if not isinstance(geometry, dict):
        return 0
    if geometry.get("type") == "GeometryCollection":
        parts = geometry.get("geometries")
        return sum(_positions(g) for g in parts) if isinstance(parts, list) else 0
    return _count_positions(geometry.get("coordinates"))


def _count_positions(coords: Any) -> int:
    if not isinstance(coords, list) or not coords:
        return 0
    first = coords[0]
    if not isinstance(first, list):
        return 1  # a single position
    if first and not isinstance(first[0], list):
        return len(coords)  # a ring or line: a list of positions
    return sum(_count_positions(part) for part in coords)


def _read_geojson(path: Path, source_layer: str | None, limits: ImportLimits) -> SourceTable:
    data, encoding = _load_json(path, limits)
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
        too_many = vertex_problem(_positions(geometry), limits)
        if too_many:  # before shapely copies the coordinates, which for a million vertices costs 100 MB
            table.geometries.append(None)
            table.geometry_errors.setdefault(i, too_many)
            continue
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


#: Leading rows with a single filled cell (a ledger's title, often merged across the table) skipped at most.
MAX_TITLE_ROWS = 3


def _split_header(lines: list[tuple[int, list[Any]]]) -> tuple[list[str], int, list[Any], list[tuple[int, list[Any]]]]:
    """Notes on skipped title rows, the header's line, the header, and the data rows of a sheet's non-blank lines.

    Township ledgers open with a title such as "义隆永镇交通事故台账" in one cell merged across the table. A row
    with one filled cell cannot be a header (every layer needs two columns or more), so up to MAX_TITLE_ROWS of
    them are skipped, and named in the notes, when a fuller row follows.
    """
    notes = []
    start = 0
    while (
        start < min(MAX_TITLE_ROWS, len(lines) - 1)
        and _filled(lines[start][1]) == 1
        and _filled(lines[start + 1][1]) > 1
    ):
        line, cells = lines[start]
        title = next(str(c).strip() for c in cells if not _blank(c))
        notes.append(f"跳过第 {line} 行的标题 {title!r} (skipped the title on line {line})")
        start += 1
    if start >= len(lines):
        return notes, 0, [], []
    header_line, headers = lines[start]
    return notes, header_line, headers, lines[start + 1 :]


def _filled(cells: list[Any]) -> int:
    return sum(not _blank(c) for c in cells)


def _unnamed_columns(headers: list[Any], header_line: int, rows: list[tuple[int, list[Any]]], what: str) -> None:
    """Refuse columns that hold data under a blank header: the mark of a merged, two-row header.

    A merged top cell ("坐标" over 经度 and 纬度) leaves blank header cells, and the names sit a row lower. Which
    row names which column cannot be known for sure, so the sheet is refused with how to fix it rather than read
    with guessed names; a merged title row above a single header row is read (see _split_header).
    """
    unnamed = [
        i
        for i, header in enumerate(headers)
        if _blank(header) and any(i < len(cells) and not _blank(cells[i]) for _, cells in rows)
    ]
    if not unnamed:
        return
    first_line, first = rows[0]
    if all(i < len(first) and isinstance(first[i], str) and _number(first[i]) is None for i in unnamed):
        raise UnreadableFile(
            f"{what} 第 {header_line}–{first_line} 行是两行表头（有合并单元格）：请取消合并，只保留一行表头，"
            f"每列写一个列名 (lines {header_line}–{first_line} are a two-row header with merged cells: "
            "unmerge it and keep a single header row, one name per column)"
        )
    columns = "、".join(str(i + 1) for i in unnamed)
    raise UnreadableFile(
        f"{what} 第 {columns} 列有数据但没有表头；如果表头有合并单元格，请取消合并，每列写一个列名 "
        f"(column {columns} has data but no header: if the header has merged cells, unmerge them and name every "
        "column)"
    )


def _tabular(kind: str, lines: list[tuple[int, list[Any]]], what: str) -> SourceTable:
    """Turn a sheet's non-blank (line, cells) into a SourceTable, finding the header and lon/lat or WKT columns."""
    notes, header_line, headers, rows = _split_header(lines)
    _unnamed_columns(headers, header_line, rows, what)
    names: list[str] = []
    keep: list[int] = []
    for i, header in enumerate(headers):
        text = "" if header is None else str(header).strip()
        if not text:
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
    table = SourceTable(
        kind=kind, columns=[n for n in names if n not in geometry_columns], records=[], geometries=[], notes=notes
    )
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


def _read_csv(path: Path, source_layer: str | None, limits: ImportLimits) -> SourceTable:
    text, encoding = decode_text(path.read_bytes(), path.name)
    if not text.strip():
        raise UnreadableFile(f"文件为空 (the file is empty): {path.name}")
    first_line = next(line for line in text.splitlines() if line.strip())
    delimiter = max([",", "\t", ";"], key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    lines: list[tuple[int, list[Any]]] = []
    last = 0
    try:
        for cells in reader:
            line, last = last + 1, reader.line_num
            if any(c.strip() for c in cells):
                lines.append((line, cells))
    except csv.Error as exc:
        raise UnreadableFile(
            f"{path.name} 第 {reader.line_num} 行无法解析 (CSV error at line {reader.line_num}): {exc}"
        ) from None
    table = _tabular("csv", lines, path.name)
    table.encoding = encoding
    table.notes.append(f"文本编码 {encoding} (text encoding {encoding})")
    return table


def _read_xlsx(path: Path, source_layer: str | None, limits: ImportLimits) -> SourceTable:
    import openpyxl

    if zipfile.is_zipfile(path):  # an XLSX is a zip of XML: held to the zip limits before openpyxl inflates it
        with open_zip(path) as archive:
            check_members(archive.infolist(), limits, path.name)
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
        lines: list[tuple[int, list[Any]]] = []
        for line, values in enumerate(sheet.iter_rows(min_row=1, values_only=True), start=1):
            cells = list(values)
            if not all(_blank(c) for c in cells):
                lines.append((line, cells))
    finally:
        workbook.close()
    table = _tabular("xlsx", lines, f"{path.name} [{sheet_name}]")
    table.notes.append(f"读取工作表 {sheet_name} (read sheet {sheet_name!r})")
    if source_layer is None and len(names) > 1:
        table.notes.append(f"其他工作表未读取 (other sheets not read): {', '.join(names[1:])}")
    return table


__all__ = ["SourceTable", "dbf_encoding", "decode_text", "header_key", "read_source", "table_from_frame"]
