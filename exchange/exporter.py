"""Write a layer for people outside onemap: GeoJSON and GeoPackage for GIS, XLSX and CSV for the township office.

Spreadsheets carry Chinese headers (field titles) and Chinese labels for coded values, so they read like the
office's own ledgers, and they import back unchanged.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from shapely.geometry import mapping

from exchange.errors import ExportFailed
from exchange.sheets import display_width, sheet_title
from layers import Layer
from layers.base import _strip_optional, is_temporal
from layers.frames import plain, properties_of
from store.base import Store
from store.geopackage import GeoPackageStore

FORMATS = ("geojson", "gpkg", "xlsx", "csv")

#: Header of the feature-id column in spreadsheets; the importer ignores it.
FID_HEADER = "要素编号"
LON_HEADER, LAT_HEADER, WKT_HEADER = "经度", "纬度", "几何(WKT)"

#: Excel refuses longer cells; bigger geometries belong in GeoJSON or GeoPackage.
EXCEL_CELL_LIMIT = 32_767


@dataclass
class ExportReport:
    """How many features went out, and anything the reader of the file should know."""

    layer_id: str
    path: Path
    fmt: str
    count: int = 0
    warnings: list[str] = field(default_factory=list)


def export_layer(store: Store, layer: Layer, out: str | Path, fmt: str) -> ExportReport:
    """Write every feature of `layer` to `out` in `fmt` (geojson, gpkg, xlsx or csv), replacing the file."""
    fmt = fmt.lower().lstrip(".")
    if fmt == "json":
        fmt = "geojson"
    if fmt not in FORMATS:
        raise ExportFailed(f"不支持的导出格式 {fmt!r}，可选 {', '.join(FORMATS)} (unsupported format)")
    if Path(out).resolve() == Path(store.location).resolve():
        raise ExportFailed(f"不能导出到数据文件自身 (refusing to overwrite the data file itself): {out}")
    frame = store.read(layer)
    report = ExportReport(layer_id=layer.id, path=Path(out), fmt=fmt, count=len(frame))
    writer: Callable[[Layer, gpd.GeoDataFrame, Path, ExportReport, Any], None] = {
        "geojson": _write_geojson,
        "gpkg": _write_gpkg,
        "xlsx": _write_xlsx,
        "csv": _write_csv,
    }[fmt]
    info = store.info()
    notice = info.notice if info.synthetic else ""
    with _atomic(Path(out)) as tmp:
        writer(layer, frame, tmp, report, notice)
    return report


@contextmanager
def _atomic(out: Path) -> Iterator[Path]:
    """A temporary path beside `out` that replaces it only when writing succeeded."""
    if not out.parent.exists():
        raise ExportFailed(f"目录不存在 (no such folder): {out.parent}")
    handle, name = tempfile.mkstemp(prefix=f".{out.stem}-", suffix=out.suffix or ".tmp", dir=out.parent)
    os.close(handle)
    tmp = Path(name)
    tmp.unlink()  # writers create the file themselves (GDAL refuses to open an empty GeoPackage)
    try:
        yield tmp
        os.replace(tmp, out)
    except ExportFailed:
        raise
    except Exception as exc:
        raise ExportFailed(f"写入 {out} 失败 (writing failed): {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)


def _rows(frame: gpd.GeoDataFrame) -> Iterator[tuple[int, dict[str, Any], Any]]:
    for fid, row, geom in zip(
        frame.index, frame.drop(columns=frame.geometry.name).to_dict("records"), frame.geometry.array, strict=True
    ):
        yield int(fid), row, geom


# -- GIS formats -------------------------------------------------------------------------------------------------


def _write_geojson(layer: Layer, frame: gpd.GeoDataFrame, path: Path, report: ExportReport, notice: str) -> None:
    """RFC 7946: lon/lat WGS 84 (CRS84) without a crs member, UTF-8, Chinese kept readable."""
    features = [
        {
            "type": "Feature",
            "id": fid,
            "properties": properties_of(layer, row),
            "geometry": mapping(geom) if geom is not None and not geom.is_empty else None,
        }
        for fid, row, geom in _rows(frame)
    ]
    collection: dict[str, Any] = {"type": "FeatureCollection", "name": layer.id, "title": layer.title}
    if notice:
        collection["notice"] = notice
    collection["features"] = features
    with path.open("w", encoding="utf-8") as handle:
        json.dump(collection, handle, ensure_ascii=False, allow_nan=False)


def _write_gpkg(layer: Layer, frame: gpd.GeoDataFrame, path: Path, report: ExportReport, notice: str) -> None:
    """The same table onemap keeps (fids, types, Chinese identifier), readable by QGIS and importable again."""
    GeoPackageStore(path).replace(layer, frame, description=f"{layer.description} {notice}".strip())


# -- spreadsheets ------------------------------------------------------------------------------------------------


def _point_layer(layer: Layer) -> bool:
    return layer.geometry_types == ("Point",)


def sheet_headers(layer: Layer) -> list[str]:
    """Spreadsheet headers: feature id, the Chinese field titles, then 经度/纬度 (points) or 几何(WKT)."""
    titles = list(layer.field_titles().values())
    return [FID_HEADER, *titles, *((LON_HEADER, LAT_HEADER) if _point_layer(layer) else (WKT_HEADER,))]


def sheet_rows(layer: Layer, frame: gpd.GeoDataFrame, report: ExportReport) -> Iterator[list[Any]]:
    """One row of cell values per feature: labels for codes, 是/否 for booleans, JSON text for lists."""
    coded = {name: enum.labels() for name, enum in layer.coded_fields().items()}
    for fid, row, geom in _rows(frame):
        cells: list[Any] = [fid]
        for name in layer.fields:
            value = _value(row.get(name))
            if value is not None and name in coded:
                value = coded[name].get(value, value)
            elif isinstance(value, bool):
                value = "是" if value else "否"
            cells.append(value)
        if _point_layer(layer):
            if geom is None or geom.is_empty:
                cells += [None, None]
            else:
                cells += [round(geom.x, 7), round(geom.y, 7)]
        else:
            text = shapely.to_wkt(geom, rounding_precision=7) if geom is not None else None
            if text is not None and len(text) > EXCEL_CELL_LIMIT:
                report.warnings.append(
                    f"要素 {fid} 的几何超过 Excel 单元格上限，未写入表格；请导出 GeoJSON 或 GPKG "
                    f"(feature {fid}: geometry too large for a spreadsheet cell, left out)"
                )
                text = None
            cells.append(text)
        yield cells


def _value(raw: Any) -> Any:
    """A stored cell as a Python value, keeping dates and times as such (spreadsheets format them)."""
    if isinstance(raw, pd.Timestamp):
        return raw.to_pydatetime()
    if isinstance(raw, datetime | date):
        return raw
    return plain(raw)


def _write_xlsx(layer: Layer, frame: gpd.GeoDataFrame, path: Path, report: ExportReport, notice: str) -> None:
    """One sheet named after the layer: bold frozen header, filters, widths that fit Chinese text."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = sheet_title(layer.title)
    headers = sheet_headers(layer)
    sheet.append(headers)
    widths = [display_width(h) for h in headers]
    temporal = {i + 1: _is_date_only(layer, name) for i, name in enumerate(layer.fields) if _temporal(layer, name)}
    for cells in sheet_rows(layer, frame, report):
        cells = [_naive(c) for c in cells]
        sheet.append(cells)
        for i, value in enumerate(cells):
            widths[i] = max(widths[i], min(display_width(value), 60))
    for column, date_only in temporal.items():
        for (cell,) in sheet.iter_rows(min_row=2, min_col=column + 1, max_col=column + 1):
            cell.number_format = "yyyy-mm-dd" if date_only else "yyyy-mm-dd hh:mm"
        widths[column] = max(widths[column], 11 if date_only else 17)
    bold, fill = Font(bold=True), PatternFill("solid", fgColor="DDEBF7")
    for cell in sheet[1]:
        cell.font, cell.fill = bold, fill
        cell.alignment = Alignment(vertical="center", wrap_text=False)
    for i, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = max(8, width + 2)
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions
    workbook.properties.title = layer.title
    if notice:
        workbook.properties.description = notice
        about = workbook.create_sheet("说明")
        about.append(["说明"])
        about.append([notice])
        about["A1"].font = bold
        about.column_dimensions["A"].width = 80
    workbook.save(path)


def _write_csv(layer: Layer, frame: gpd.GeoDataFrame, path: Path, report: ExportReport, notice: str) -> None:
    """The XLSX columns as UTF-8 with BOM, which Excel on Chinese Windows opens without garbling."""
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(sheet_headers(layer))
        for cells in sheet_rows(layer, frame, report):
            writer.writerow([_text(c) for c in cells])


def _text(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return "" if value is None else value


def _naive(value: Any) -> Any:
    """Excel has no time zones: aware datetimes are written as their wall-clock time."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None)
    return value


def _temporal(layer: Layer, name: str) -> bool:
    return is_temporal(layer.properties.model_fields[name].annotation)


def _is_date_only(layer: Layer, name: str) -> bool:
    return _strip_optional(layer.properties.model_fields[name].annotation) is date


__all__ = ["FORMATS", "ExportReport", "export_layer", "sheet_headers", "sheet_rows"]
