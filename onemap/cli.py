"""The `onemap` command: serve the map service, rebuild the demo town, import and export layers."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from onemap.settings import DEMO_GPKG

app = typer.Typer(help="onemap 一张图: township safety risk maps — serve, import, export, demo.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)

DataOption = Annotated[
    Path | None,
    typer.Option("--data", "-d", help="GeoPackage to use (default: $ONEMAP_DATA, else the demo town)"),
]


def _data_path(data: Path | None) -> Path:
    if data is not None:
        return data
    return Path(os.environ.get("ONEMAP_DATA") or DEMO_GPKG)


@app.command()
def serve(
    data: DataOption = None,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
) -> None:
    """Serve the OGC API – Features and the domain endpoints over HTTP."""
    import uvicorn

    path = _data_path(data)
    if not path.exists():
        err.print(f"[red]数据文件不存在 / no such data file: {path}[/red]  (run `onemap demo` to build the demo town)")
        raise typer.Exit(2)
    os.environ["ONEMAP_DATA"] = str(path)
    console.print(f"onemap serving [bold]{path}[/bold] at http://{host}:{port}/  (API docs: /api.html)")
    uvicorn.run("api.main:create_app", factory=True, host=host, port=port, log_level="info")


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="where to write the GeoPackage")] = DEMO_GPKG,
    seed: Annotated[int, typer.Option(help="random seed; the same seed gives the same town")] = 20201,
) -> None:
    """Rebuild the synthetic demo town (deterministic for a given seed)."""
    from data.demo import build_demo

    summary = build_demo(out, seed=seed, progress=True)
    console.print(summary.table())


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="GeoPackage, zipped Shapefile, GeoJSON, CSV or XLSX file")],
    layer: Annotated[str, typer.Option("--layer", "-l", help="target layer id, e.g. accidents")],
    data: DataOption = None,
    crs: Annotated[str | None, typer.Option(help="CRS of the file when it declares none, e.g. 4490 or 4549")] = None,
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid", help="write the good rows, report the rest")] = False,
    source_layer: Annotated[str | None, typer.Option(help="layer inside a multi-layer file")] = None,
) -> None:
    """Validate a file against a layer's schema and add its features (all-or-nothing by default)."""
    from exchange.cli import run_import

    raise typer.Exit(
        run_import(file, layer, _data_path(data), crs=crs, skip_invalid=skip_invalid, source_layer=source_layer)
    )


@app.command()
def export(
    layer: Annotated[str, typer.Argument(help="layer id, e.g. hazards")],
    format: Annotated[str, typer.Option("--format", "-f", help="geojson, gpkg, xlsx or csv")] = "geojson",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="output file (default: LAYER.FORMAT)")] = None,
    data: DataOption = None,
) -> None:
    """Write a layer to GeoJSON, GeoPackage, XLSX (Chinese headers) or CSV."""
    from exchange.cli import run_export

    raise typer.Exit(run_export(layer, format, out, _data_path(data)))


@app.command("map")
def map_(
    view: Annotated[str, typer.Option("--view", "-v", help="town, planner, emergency or village")] = "town",
    village: Annotated[str | None, typer.Option("--village", help="village fid or 12-digit code")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="HTML file to write")] = Path("onemap.html"),
    data: DataOption = None,
) -> None:
    """Write a map view as one self-contained HTML file that opens offline (e.g. from a USB stick)."""
    from api.catalog import Catalog, UnknownVillage
    from maps.export import standalone_html
    from maps.views import VIEWS
    from store import open_store

    if view not in VIEWS:
        err.print(f"[red]未知视图 / unknown view {view!r}[/red]: use one of {', '.join(VIEWS)}")
        raise typer.Exit(2)
    path = _data_path(data)
    if not path.exists():
        err.print(f"[red]数据文件不存在 / no such data file: {path}[/red]")
        raise typer.Exit(2)
    with console.status("读取数据 reading the data…"):
        cat = Catalog.load(open_store(str(path)))
    try:
        with console.status("生成地图 building the page…"):
            html = standalone_html(cat, view, village)
    except (UnknownVillage, ValueError) as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    out.write_text(html, encoding="utf-8")
    console.print(f"wrote {out} ({len(html.encode()) / 2**20:.1f} MB): open it in a browser, no network needed")
