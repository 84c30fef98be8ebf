"""The `onemap import` and `onemap export` commands: run them, print a report a township user can act on, exit 0/1/2.

Exit codes: 0 done; 1 the data was refused (bad rows or columns that do not fit the layer; nothing written in
all-or-nothing mode); 2 the request could not be carried out (unknown layer, unreadable file, CRS conflict,
storage failure).
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape

from exchange.errors import ColumnMismatch, ExchangeError, ImportRejected
from exchange.exporter import FORMATS, export_layer
from exchange.importer import import_file
from exchange.limits import ImportLimits
from exchange.report import ImportReport
from layers import Layer, UnknownLayer, get_layer
from onemap.settings import get_settings
from store import StoreError, open_store
from store.base import is_database_url

OK, REJECTED, USAGE = 0, 1, 2

#: Bad rows printed in full; the rest are counted (fix these first, then run again).
MAX_ROWS_SHOWN = 200


def run_import(
    file: Path,
    layer_id: str,
    location: str,
    *,
    crs: str | None = None,
    skip_invalid: bool = False,
    source_layer: str | None = None,
    repair: bool = False,
) -> int:
    """Import `file` into layer `layer_id` of the data at `location` (a GeoPackage, made if missing, or a database
    URL); print the report; return the exit code. `repair` repairs invalid geometries (named in the report)."""
    out = Console(soft_wrap=True, highlight=False)
    layer = _layer(layer_id, out)
    if layer is None:
        return USAGE
    if layer.derived:
        out.print(
            f"[red]图层 {layer.id}（{escape(layer.title)}）由分析生成，不能导入 "
            "(derived layer: it is computed, not imported)[/red]"
        )
        return USAGE
    created = not is_database_url(location) and not Path(location).exists()
    try:
        store = open_store(location)
    except StoreError as exc:
        out.print(f"[bold red]✗ 无法打开数据 (cannot open the data): {escape(str(exc))}[/bold red]")
        return USAGE
    settings = get_settings()
    try:
        report = import_file(
            store,
            layer,
            file,
            crs=crs,
            skip_invalid=skip_invalid,
            source_layer=source_layer,
            region_bbox=settings.region_bbox,
            repair=repair,
            limits=ImportLimits.from_settings(settings),
        )
    except ImportRejected as exc:
        _print_report(out, exc.report)
        out.print(f"[bold red]✗ {escape(exc.message)}[/bold red]")
        out.print(
            "请修正以上各行后重新导入，或加 --skip-invalid 只导入正确的行 (fix the rows above, or use --skip-invalid)"
        )
        return REJECTED
    except ColumnMismatch as exc:
        out.print(f"[bold red]✗ 未写入任何数据 (nothing was written): {escape(exc.message)}[/bold red]")
        return REJECTED
    except ExchangeError as exc:
        out.print(f"[bold red]✗ 无法导入 (cannot import): {escape(exc.message)}[/bold red]")
        return USAGE
    except StoreError as exc:
        out.print(
            f"[bold red]✗ 写入数据文件失败，未写入任何数据 (storage failed, nothing written): "
            f"{escape(str(exc))}[/bold red]"
        )
        return USAGE
    _print_report(out, report)
    if report.written == 0:
        out.print("[bold red]✗ 没有可写入的行，未写入任何数据 (no valid rows: nothing was written)[/bold red]")
        return REJECTED
    if created:
        out.print(f"新建了数据文件 (created data file) {escape(location)}")
    skipped = (
        f"，跳过 {len(report.problems)} 条有问题的行 (skipped {len(report.problems)} invalid)"
        if report.problems
        else ""
    )
    out.print(
        f"[bold green]✓ 已写入 {report.written} 条到图层 {layer.id}（{escape(layer.title)}）{skipped} "
        f"(wrote {report.written} features)[/bold green]"
    )
    return OK


def run_export(layer_id: str, fmt: str, out_path: Path | None, location: str) -> int:
    """Export layer `layer_id` from the data at `location` (GeoPackage or database URL) to `out_path` (default
    LAYER.FORMAT)."""
    out = Console(soft_wrap=True, highlight=False)
    layer = _layer(layer_id, out)
    if layer is None:
        return USAGE
    fmt = fmt.lower().lstrip(".")
    if fmt not in (*FORMATS, "json"):
        out.print(f"[red]不支持的导出格式 {escape(fmt)!r}，可选 (supported formats): {', '.join(FORMATS)}[/red]")
        return USAGE
    if not is_database_url(location) and not Path(location).exists():
        out.print(f"[red]数据文件不存在 (no such data file): {escape(location)}[/red]")
        return USAGE
    target = out_path or Path(f"{layer.id}.{'geojson' if fmt == 'json' else fmt}")
    try:
        report = export_layer(open_store(location), layer, target, fmt)
    except (ExchangeError, StoreError) as exc:
        out.print(f"[bold red]✗ 导出失败 (export failed): {escape(str(exc))}[/bold red]")
        return USAGE
    for warning in report.warnings:
        out.print(f"[yellow]! {escape(warning)}[/yellow]")
    if report.count == 0:
        out.print(f"[yellow]! 图层 {layer.id} 没有要素，导出了空文件 (the layer is empty)[/yellow]")
    out.print(
        f"[green]✓ 已导出 {report.count} 条 {layer.id}（{escape(layer.title)}）到 {escape(str(target))} "
        f"(exported {report.count} features as {report.fmt})[/green]"
    )
    return OK


def _layer(layer_id: str, out: Console) -> Layer | None:
    try:
        return get_layer(layer_id)
    except UnknownLayer as exc:
        out.print(f"[red]未知图层 (unknown layer): {escape(str(exc))}[/red]")
        return None


def _print_report(out: Console, report: ImportReport) -> None:
    out.print(f"[bold]{escape(report.source)} → {report.layer_id}[/bold]: 共 {report.total} 条 ({report.total} rows)")
    for note in report.notes:
        out.print(f"  [dim]· {escape(note)}[/dim]")
    for repaired in report.repaired[:MAX_ROWS_SHOWN]:
        out.print(f"  [cyan]{escape(repaired.where())}[/cyan]: {escape('; '.join(repaired.reasons))}")
    if not report.problems:
        return
    out.print(f"[yellow]有问题的行 (invalid rows): {len(report.problems)}[/yellow]")
    for problem in report.problems[:MAX_ROWS_SHOWN]:
        out.print(f"  [yellow]{escape(problem.where())}[/yellow]: {escape('; '.join(problem.reasons))}")
    hidden = len(report.problems) - MAX_ROWS_SHOWN
    if hidden > 0:
        out.print(f"  … 另有 {hidden} 行有问题未列出 ({hidden} more invalid rows not shown)")


__all__ = ["run_export", "run_import"]
