"""File import over HTTP (导入): the town office sends the Shapefile, spreadsheet or GeoJSON it has, and gets back the
same row-by-row report as `onemap import`, with the same checks and the same all-or-nothing rule.

The upload's size is limited before it is read (api/limits.py), the file's by the import itself. It is copied to
a private temporary folder outside any served path; the file's own name is never used as a path. One import runs at
a time per process, so two uploads cannot interleave their rows, and the new features are served the moment they
are stored.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api.access import TownOffice
from api.errors import ImportRefused, InvalidParameter
from api.params import SettingsDep
from api.routes.analysis import Served
from api.routes.ogc import CatalogDep
from exchange.errors import ExchangeError, ImportRejected
from exchange.importer import import_file
from exchange.limits import ImportLimits
from exchange.report import ImportReport
from layers import get_layer

router = APIRouter(prefix="/collections", tags=["import 导入"])

#: The kinds of file an import reads (a Shapefile comes zipped, with its .dbf, .shx, .prj and .cpg).
SUFFIXES = (".zip", ".geojson", ".json", ".csv", ".xlsx", ".gpkg")
CHUNK = 2**20
_one_at_a_time = threading.Lock()


@router.post(
    "/{collection_id}/import",
    status_code=201,
    summary="Import a file into a layer (导入): zipped Shapefile, GeoJSON, CSV, XLSX or GeoPackage",
)
async def import_upload(
    request: Request,
    cat: CatalogDep,
    settings: SettingsDep,
    user: TownOffice,
    collection_id: str,
    file: Annotated[UploadFile, File(description="zipped Shapefile, GeoJSON, CSV, XLSX or GeoPackage")],
    crs: Annotated[str | None, Query(description="the file's CRS when it names none, e.g. 4490 or 4549")] = None,
    skip_invalid: Annotated[bool, Query(description="store the good rows and report the bad ones")] = False,
    repair: Annotated[bool, Query(description="make invalid polygons valid where that keeps their kind")] = False,
    source_layer: Annotated[str | None, Query(description="which layer of a GeoPackage")] = None,
) -> JSONResponse:
    """201 with the report (rows written, their ids, notes on encoding and CRS, repaired rows); 400 naming every bad
    row when any is refused and nothing was written, or naming what is wrong with the file as a whole."""
    layer = get_layer(collection_id)
    if layer.derived:
        raise InvalidParameter(f"图层 {layer.id} 由分析生成，不能导入 (layer {layer.id} is computed, not imported)")
    if layer.id == "hazards":
        raise InvalidParameter("隐患请通过 POST /ledger/hazards 登记，以留下完整记录 (register hazards via the ledger)")
    folder = Path(tempfile.mkdtemp(prefix="onemap-import-"))
    try:
        path = await _save(file, folder)
        report = await run_in_threadpool(_import, cat, settings, layer, path, crs, skip_invalid, repair, source_layer)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return JSONResponse(_report_json(report), status_code=201)


async def _save(upload: UploadFile, folder: Path) -> Path:
    """Copy the upload under a name of our own, keeping only its kind (its size was bounded on the way in)."""
    suffix = Path(upload.filename or "").suffix.lower()
    if suffix not in SUFFIXES:
        raise InvalidParameter(
            f"不支持的文件类型 {_safe(suffix) or '(无扩展名)'}，可导入：{'、'.join(SUFFIXES)}；Shapefile 请打包成 .zip "
            f"(unsupported file type; send one of {', '.join(SUFFIXES)}, a Shapefile zipped with its parts)"
        )
    path = folder / f"upload{suffix}"
    with path.open("wb") as out:
        while chunk := await upload.read(CHUNK):
            out.write(chunk)
    return path


def _safe(text: str) -> str:
    return re.sub(r"[^\w.]", "", text)[:16]


def _import(cat, settings, layer, path, crs, skip_invalid, repair, source_layer) -> ImportReport:
    """Check and store under the import lock; Served reads what is stored from the served layers and serves the new
    rows at once, never having GDAL open a file the service holds (store/gpkg_rows.py)."""
    with _one_at_a_time:
        try:
            report = import_file(
                Served(cat, settings),
                layer,
                path,
                crs=crs,
                skip_invalid=skip_invalid,
                repair=repair,
                source_layer=source_layer,
                region_bbox=settings.region_bbox,
                limits=ImportLimits.from_settings(settings),
                progress=False,
            )
        except ImportRejected as exc:
            raise ImportRefused(exc.message, _refused_rows(exc.report)) from None
        except ExchangeError as exc:  # the file as a whole: unreadable, too large, columns or CRS that do not fit
            raise ImportRefused(exc.message) from None
        return report


def _refused_rows(report: ImportReport) -> dict[str, Any]:
    return {k: v for k, v in _report_json(report).items() if k in ("total", "problems", "repaired", "notes")}


def _report_json(report: ImportReport) -> dict[str, Any]:
    def rows(problems):
        return [{"row": p.row, "line": p.line, "where": p.where(), "reasons": list(p.reasons)} for p in problems]

    return {
        "layer": report.layer_id,
        "total": report.total,
        "written": report.written,
        "fids": report.fids,
        "problems": rows(report.problems),
        "repaired": rows(report.repaired),
        "notes": report.notes,
    }
