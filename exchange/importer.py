"""Validate every row of a file against a layer and store it all-or-nothing, so a half-imported ledger never exists."""

from __future__ import annotations

import sys
from collections.abc import Collection
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from pydantic import ValidationError
from pyproj import CRS
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from exchange.columns import attributes, map_columns, nested_text_problem
from exchange.errors import CRSConflict, ImportRejected
from exchange.identity import duplicate_problems, identifying_field, stored_codes
from exchange.limits import DEFAULT_LIMITS, ImportLimits, vertex_problem
from exchange.readers import SourceTable, read_source, table_from_frame
from exchange.report import ImportReport, RowProblem
from geo.crs import WGS84, parse_crs, transform_geometries
from geo.errors import UnknownCRS
from geo.validate import BBox, geometry_problem, placement_problem, repair_geometry, validity_problem
from layers import Layer
from layers.frames import frame_from_properties
from onemap.settings import NAIMAN_REGION
from store.base import Store

#: Show a progress bar from this many rows on (when the terminal can show one).
PROGRESS_THRESHOLD = 5_000

#: Kinds of file that may omit their CRS and then mean lon/lat WGS 84 (RFC 7946 GeoJSON, spreadsheets).
LONLAT_BY_DEFAULT = frozenset({"csv", "xlsx", "geojson"})

#: Added to an invalid-geometry reason when no repair was asked for.
REPAIR_HINT = "；也可加 --repair 让系统修复 (or import with --repair to have it repaired)"

#: Chinese wording for the pydantic error types a township user meets most.
_ERROR_WORDS = {
    "missing": "必填",
    "enum": "不是可选值",
    "int_parsing": "应为整数",
    "int_from_float": "应为整数",
    "float_parsing": "应为数字",
    "bool_parsing": "应为 是/否",
    "greater_than_equal": "数值过小",
    "greater_than": "数值过小",
    "less_than_equal": "数值过大",
    "less_than": "数值过大",
    "string_too_short": "不能为空",
    "string_too_long": "文字过长",
    "string_pattern_mismatch": "格式不对",
    "string_type": "应为文字",
    "datetime_parsing": "日期时间格式不对，例如 2024-05-01 08:30",
    "datetime_from_date_parsing": "日期时间格式不对，例如 2024-05-01 08:30",
    "datetime_type": "日期时间格式不对，例如 2024-05-01 08:30",
    "date_parsing": "日期格式不对，例如 2024-05-01",
    "date_from_datetime_parsing": "日期格式不对，例如 2024-05-01",
    "date_from_datetime_inexact": "日期不应带时间",
    "date_type": "日期格式不对，例如 2024-05-01",
}


def import_file(
    store: Store,
    layer: Layer,
    path: str | Path,
    *,
    crs: str | int | CRS | None = None,
    skip_invalid: bool = False,
    region_bbox: BBox = NAIMAN_REGION,
    source_layer: str | None = None,
    progress: bool | None = None,
    repair: bool = False,
    limits: ImportLimits = DEFAULT_LIMITS,
) -> ImportReport:
    """Read `path`, check every row, and append the rows to `layer` in `store`.

    All-or-nothing unless `skip_invalid`: any bad row raises ImportRejected and nothing is written.
    `crs` names the file's CRS when it declares none (spreadsheets and plain GeoJSON default to EPSG:4326).
    `progress` None shows a bar for large files on a terminal. `repair` makes invalid geometries valid where
    that keeps their kind (geo.validate.repair_geometry), naming each repaired row in the report; without it
    they are refused. `limits` bounds the file's size, its zip and JSON content, and each feature's vertices.
    """
    table = read_source(path, source_layer=source_layer, limits=limits)
    return _import(
        store, layer, table, Path(path).name, crs, skip_invalid, region_bbox, progress, repair=repair, limits=limits
    )


def import_frame(
    store: Store,
    layer: Layer,
    frame: gpd.GeoDataFrame,
    *,
    crs: str | int | CRS | None = None,
    skip_invalid: bool = False,
    region_bbox: BBox = NAIMAN_REGION,
    source: str = "data",
    progress: bool | None = None,
    repair: bool = False,
    limits: ImportLimits = DEFAULT_LIMITS,
) -> ImportReport:
    """Check and append an in-memory GeoDataFrame, with the same rules as import_file (rows count from 1)."""
    table = table_from_frame(frame, "frame")
    return _import(store, layer, table, source, crs, skip_invalid, region_bbox, progress, repair=repair, limits=limits)


def check_table(
    layer: Layer,
    table: SourceTable,
    *,
    crs: str | int | CRS | None = None,
    region_bbox: BBox = NAIMAN_REGION,
    progress: bool | None = None,
    source: str = "data",
    repair: bool = False,
    limits: ImportLimits = DEFAULT_LIMITS,
    existing_codes: Collection[str] = (),
) -> tuple[ImportReport, list[Any], list[Any]]:
    """Validate without writing: the report, and the valid rows' Properties and lon/lat geometries in source order.

    `existing_codes` are the identifying codes the layer already holds (exchange.identity): rows bringing one,
    like rows repeating a code within the file, are refused.
    """
    report = ImportReport(layer_id=layer.id, source=source, total=len(table), notes=list(table.notes))
    source_crs = resolve_crs(table.crs, crs, table.kind, report)
    column_map = map_columns(layer, table.columns, truncated=table.kind == "shapefile")
    if column_map.ignored:
        report.notes.append(f"忽略内部列 (ignored internal columns): {', '.join(column_map.ignored)}")
    errors = dict(table.geometry_errors)
    geometries = _to_lonlat(_bounded(table.geometries, limits, errors), source_crs, report)
    field = identifying_field(layer)
    all_reasons: list[list[str]] = []
    all_props: list[Any] = []
    codes: list[Any] = []  # each row's identifying code as given, valid or not, so every clash shows at once
    repairs: dict[int, str] = {}
    with _progress_bar(len(table), progress) as advance:
        for index, record in enumerate(table.records):
            reasons = []
            if index in errors:
                reasons.append(errors[index])
            else:
                problem = placement_problem(geometries[index], layer.geometry_types, region_bbox)
                invalid = validity_problem(geometries[index]) if problem is None else None
                if invalid and repair:
                    fixed, what = repair_geometry(geometries[index], layer.geometry_types)
                    problem = (
                        f"{invalid}；{what}"
                        if fixed is None
                        else geometry_problem(fixed, layer.geometry_types, region_bbox)
                    )
                    if problem is None:
                        geometries[index] = fixed
                        repairs[index] = what
                elif invalid:
                    problem = invalid + REPAIR_HINT
                if problem:
                    reasons.append(problem)
            props = None
            nested = nested_text_problem(layer, column_map, record, limits.max_json_depth)
            values = {} if nested else attributes(layer, column_map, record)
            if nested:
                reasons.append(nested)
            else:
                try:
                    props = layer.properties.model_validate(values)
                except ValidationError as exc:
                    reasons.extend(describe_errors(layer, exc))
            code = values.get(field) if field is not None else None
            codes.append(str(code).strip() if code is not None else None)
            all_reasons.append(reasons)
            all_props.append(props)
            advance()
    if field is not None:
        for index, reason in duplicate_problems(layer, codes, table.lines, existing_codes).items():
            all_reasons[index].append(reason)
    good_props: list[Any] = []
    good_geoms: list[Any] = []
    for index, reasons in enumerate(all_reasons):
        line = table.lines[index] if table.lines is not None else None
        if reasons:
            report.problems.append(RowProblem(row=index + 1, reasons=tuple(reasons), line=line))
            continue
        good_props.append(all_props[index])
        good_geoms.append(geometries[index])
        if index in repairs:
            report.repaired.append(RowProblem(row=index + 1, reasons=(repairs[index],), line=line))
    if report.repaired:
        report.notes.append(
            f"已按要求修复 {len(report.repaired)} 个无效几何 (repaired {len(report.repaired)} invalid geometries "
            "on request)"
        )
    return report, good_props, good_geoms


def _bounded(geometries: list[Any], limits: ImportLimits, errors: dict[int, str]) -> list[Any]:
    """The geometries with any over `limits.max_vertices` replaced by None and its reason put in `errors`.

    Counting vertices is cheap; validity checks, repair and reprojection grow with them, so this comes first.
    """
    counts = shapely.get_num_coordinates(np.asarray(geometries, dtype=object))
    over = np.flatnonzero(counts > limits.max_vertices)
    if not len(over):
        return geometries
    bounded = list(geometries)
    for index in over.tolist():
        errors.setdefault(index, vertex_problem(int(counts[index]), limits))
        bounded[index] = None
    return bounded


def _import(
    store: Store,
    layer: Layer,
    table: SourceTable,
    source: str,
    crs: Any,
    skip_invalid: bool,
    region_bbox: BBox,
    progress: bool | None,
    *,
    repair: bool,
    limits: ImportLimits,
) -> ImportReport:
    report, props, geoms = check_table(
        layer,
        table,
        crs=crs,
        region_bbox=region_bbox,
        progress=progress,
        source=source,
        repair=repair,
        limits=limits,
        existing_codes=stored_codes(store, layer),
    )
    if report.problems and not skip_invalid:
        raise ImportRejected(
            f"{len(report.problems)} 条数据有问题，未写入任何数据 "
            f"({len(report.problems)} of {report.total} rows are invalid; nothing was written)",
            report,
        )
    if props:
        report.fids = store.append(layer, frame_from_properties(layer, props, geoms))
        report.written = len(report.fids)
    return report


def resolve_crs(declared: CRS | None, named: Any, kind: str, report: ImportReport) -> CRS:
    """The CRS the rows are in: the file's own, else the named one, else lon/lat for spreadsheets and GeoJSON."""
    try:
        named_crs = parse_crs(named) if named is not None else None
    except UnknownCRS as exc:
        raise CRSConflict(f"坐标系无法识别 (unknown CRS): {exc}") from None
    if declared is not None and named_crs is not None and not _same_crs(declared, named_crs):
        raise CRSConflict(
            f"文件自带坐标系 {_crs_name(declared)}，与 --crs 指定的 {_crs_name(named_crs)} 不一致；"
            f"文件声明了坐标系时无需 --crs (the file declares {_crs_name(declared)} but --crs names "
            f"{_crs_name(named_crs)}: drop --crs, or fix the file's .prj)"
        )
    if declared is not None:
        report.notes.append(f"文件坐标系 (file CRS): {_crs_name(declared)}")
        return declared
    if named_crs is not None:
        report.notes.append(f"按 --crs 使用坐标系 (CRS from --crs): {_crs_name(named_crs)}")
        return named_crs
    if kind in LONLAT_BY_DEFAULT or kind == "frame":
        report.notes.append("未声明坐标系，按经纬度 WGS 84 (EPSG:4326) 读取 (no CRS declared: read as lon/lat WGS 84)")
        return CRS.from_epsg(4326)
    raise CRSConflict(
        "文件没有声明坐标系（例如 Shapefile 缺少 .prj），请用 --crs 指明，例如 --crs 4490 (CGCS2000 经纬度) 或 "
        "--crs 4549 (CGCS2000 高斯-克吕格 120°E) (the file declares no CRS: name it with --crs)"
    )


def _same_crs(a: CRS, b: CRS) -> bool:
    if a.equals(b, ignore_axis_order=True):
        return True
    return a.to_epsg() is not None and a.to_epsg() == b.to_epsg()


def _crs_name(crs: CRS) -> str:
    epsg = crs.to_epsg()
    return f"EPSG:{epsg} {crs.name}" if epsg else crs.name


def _to_lonlat(geometries: list[Any], crs: CRS, report: ImportReport) -> list[Any]:
    """Geometries in lon/lat WGS 84, without Z (layers are 2D)."""
    array = shapely.force_2d(list(geometries))
    if not crs.equals(CRS.from_epsg(4326), ignore_axis_order=True):
        epsg = crs.to_epsg()
        source = f"EPSG:{epsg}" if epsg else crs.to_wkt()
        array = transform_geometries(array, source, WGS84)
        report.notes.append(f"已从 {_crs_name(crs)} 转换为 EPSG:4326 (reprojected to lon/lat)")
    return list(array)


def describe_errors(layer: Layer, exc: ValidationError) -> list[str]:
    """pydantic errors as "标题 (field): 中文要点, English detail; 填写值 got 'x'" lines."""
    titles = layer.field_titles()
    coded = layer.coded_fields()
    out = []
    for error in exc.errors(include_url=False):
        message = error["msg"].removeprefix("Value error, ")
        kind = error["type"]
        if not error["loc"]:
            out.append(message)
            continue
        name = str(error["loc"][0])
        text = f"{titles.get(name, name)} ({name}): "
        if kind in _ERROR_WORDS:
            text += f"{_ERROR_WORDS[kind]}, "
        text += message
        if kind == "enum" and name in coded:
            text += f"; 可填 (allowed): {'、'.join(coded[name].labels().values())}"
        if kind != "missing":
            text += f"; 填写值 (got) {error['input']!r}"
        out.append(text)
    return out


class _progress_bar:
    """A context manager yielding an advance() callable: a rich bar for big files, a no-op otherwise."""

    def __init__(self, total: int, enabled: bool | None) -> None:
        console = Console(stderr=True)
        if enabled is None:
            enabled = total >= PROGRESS_THRESHOLD and sys.stderr.isatty()
        self._progress = (
            Progress(
                TextColumn("校验 (checking)"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=console,
                transient=True,
            )
            if enabled
            else None
        )
        self._total = total

    def __enter__(self) -> Any:
        if self._progress is None:
            return lambda: None
        self._progress.start()
        task = self._progress.add_task("rows", total=self._total)
        return lambda: self._progress.advance(task)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()


__all__ = ["PROGRESS_THRESHOLD", "check_table", "describe_errors", "import_file", "import_frame", "resolve_crs"]
