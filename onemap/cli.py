"""The `onemap` command: serve the map service, rebuild the demo town, import and export layers."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from onemap.analyse import analyse_app
from onemap.common import DataOption, console, data_location, data_source, demo_copy, err, shown, working_copy
from onemap.database import db_app, migrate
from onemap.settings import DEMO_GPKG
from store.base import is_database_url

if TYPE_CHECKING:
    from store.users import UserStore

app = typer.Typer(help="onemap 一张图: township safety risk maps — serve, import, export, demo.", no_args_is_help=True)


@app.command()
def serve(
    data: DataOption = None,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
) -> None:
    """Serve the OGC API – Features and the domain endpoints over HTTP (logs on stderr, JSON lines unless
    ONEMAP_LOG_FORMAT=text; SIGTERM lets requests in flight finish for up to ONEMAP_SHUTDOWN_TIMEOUT seconds)."""
    import logging.config

    import uvicorn
    from pydantic import ValidationError

    from api.observability import logging_config
    from onemap.settings import Settings

    location = data_source(data)
    if is_database_url(location):
        os.environ["ONEMAP_DATABASE_URL"] = location
    else:
        os.environ.pop("ONEMAP_DATABASE_URL", None)  # --data FILE wins over a database in the environment
        os.environ["ONEMAP_DATA"] = location
    try:
        settings = Settings()
    except ValidationError as exc:
        err.print(f"[red]设置有误 (invalid setting)[/red]: {exc}")
        raise typer.Exit(2) from None
    log_config = logging_config(settings.log_format)
    logging.config.dictConfig(log_config)
    logging.getLogger("onemap").info(
        "onemap serving %s at http://%s:%s/ (API docs: /api.html)", shown(location), host, port
    )
    signal.signal(signal.SIGTERM, _stopped)
    uvicorn.run(
        "api.main:create_app",
        factory=True,
        host=host,
        port=port,
        log_config=log_config,
        log_level="info",
        access_log=False,  # api.observability.RequestLog writes one line per request, with its id
        timeout_graceful_shutdown=settings.shutdown_timeout,
    )


def _stopped(signum: int, frame: object) -> None:
    """SIGTERM is the way a service manager asks the server to stop: uvicorn, having finished the requests in flight,
    raises it again once it is done, and a stop that was asked for and carried out exits 0, not -15."""
    raise SystemExit(0)


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
    repair: Annotated[
        bool, typer.Option("--repair", help="repair invalid geometries (make_valid); the report names each row")
    ] = False,
) -> None:
    """Validate a file against a layer's schema and add its features (all-or-nothing by default)."""
    from exchange.cli import run_import

    raise typer.Exit(
        run_import(
            file,
            layer,
            _import_target(data),
            crs=crs,
            skip_invalid=skip_invalid,
            source_layer=source_layer,
            repair=repair,
        )
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

    raise typer.Exit(run_export(layer, format, out, data_source(data)))


def _import_target(data: str | None) -> str:
    """Where an import writes: the database, or the file (made if missing; the demo's working copy for the demo)."""
    location = data_location(data)
    return location if is_database_url(location) else str(working_copy(Path(location)))


@app.command("map")
def map_(
    view: Annotated[str, typer.Option("--view", "-v", help="town, planner, emergency, risk or village")] = "town",
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
    location = data_source(data)
    with console.status("读取数据 reading the data…"):
        cat = Catalog.load(open_store(location))
    try:
        with console.status("生成地图 building the page…"):
            html = standalone_html(cat, view, village)
    except (UnknownVillage, ValueError) as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    out.write_text(html, encoding="utf-8")
    console.print(f"wrote {out} ({len(html.encode()) / 2**20:.1f} MB): open it in a browser, no network needed")


user_app = typer.Typer(help="Accounts: who may read and change the ledger.", no_args_is_help=True)
app.add_typer(user_app, name="user")


@user_app.command("add")
def user_add(
    username: Annotated[str, typer.Argument(help="sign-in name")],
    role: Annotated[str, typer.Option(help="admin, village, unit, emergency or supervisor")],
    village: Annotated[str | None, typer.Option(help="12-digit village code (village accounts)")] = None,
    unit: Annotated[str | None, typer.Option(help="unit or enterprise name (unit accounts)")] = None,
    name: Annotated[str, typer.Option(help="display name shown in the history")] = "",
    level: Annotated[str | None, typer.Option(help="banner or city (supervisor accounts)")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="read the password from stdin")] = False,
    data: DataOption = None,
) -> None:
    """Create an account (the password is asked for, or read from stdin with --password-stdin)."""
    from ledger.roles import Role

    if role not in {r.value for r in Role}:
        err.print(f"[red]未知角色 unknown role {role!r}[/red]: use one of {', '.join(r.value for r in Role)}")
        raise typer.Exit(2)
    password = _password(password_stdin, "密码 password")
    with _users(data) as store:
        user = store.add(username, password, role, village_code=village, unit=unit, display_name=name, level=level)
    console.print(f"added {user.username} ({user.role.label}) to {shown(store.location)}")


@app.command()
def backup(
    out: Annotated[Path, typer.Argument(help="where to write the copy (a .gpkg file)")],
    data: DataOption = None,
) -> None:
    """Copy the data consistently into one GeoPackage, even while the service is writing to it (from a database:
    every layer and table, checked row by row as `onemap migrate` does)."""
    from store.gpkg_sql import backup as copy
    from store.transfer import migrate

    location = data_source(data)
    with console.status(f"备份 backing up {shown(location)}…"):
        if is_database_url(location):
            partial = out.with_name(f".{out.stem}.partial{out.suffix}")  # GDAL wants a .gpkg ending
            partial.unlink(missing_ok=True)
            migrate(location, str(partial))
            partial.replace(out)
        else:
            copy(location, out)
    console.print(f"wrote {out} ({out.stat().st_size / 2**20:.1f} MB), integrity check ok")


@app.command()
def restore(
    backup: Annotated[Path, typer.Argument(help="a GeoPackage written by `onemap backup`")],
    data: DataOption = None,
    force: Annotated[bool, typer.Option("--force", help="replace the data already there")] = False,
) -> None:
    """Put a backup back, after checking it (integrity, GeoPackage, onemap layers): a file is replaced whole by an
    atomic rename, a database through `onemap migrate`'s checked copy. Stop the service first; start it after."""
    from rich.table import Table

    from store.base import StoreError
    from store.restore import BadBackup, TargetHoldsData, TargetInUse
    from store.restore import restore as put_back

    location = data_location(data)
    if not is_database_url(location) and Path(location).resolve() == DEMO_GPKG.resolve():
        location = str(demo_copy())  # the shipped demo stays pristine: its working copy is what is served
    try:
        with console.status(f"恢复 restoring {backup} → {shown(location)}…") as status:
            rows = put_back(
                backup, location, force=force, progress=lambda line: status.update(f"恢复 restoring… {line}")
            )
    except (BadBackup, TargetHoldsData, TargetInUse) as exc:
        err.print(f"[red]{exc}[/red]\n目标未改动 (nothing was changed)")
        raise typer.Exit(2) from None
    except (StoreError, ValueError, OSError) as exc:
        err.print(f"[red]恢复失败 (restore failed): {exc}[/red]\n目标未改动 (nothing was changed)")
        raise typer.Exit(1) from None
    table = Table("图层/表 layer or table", "行数 rows", title=f"{backup} → {shown(location)}")
    for name, count in rows.items():
        table.add_row(name, f"{count:,}")
    console.print(table)
    console.print("已恢复 restored: start the service (again) to serve it")


report_app = typer.Typer(help="Reports: the annual hazard report.", no_args_is_help=True)
app.add_typer(report_app, name="report")


@report_app.command("annual")
def report_annual(
    year: Annotated[int, typer.Option(help="the year reported on (counted up to 10 December)")],
    out_dir: Annotated[Path, typer.Option("--out-dir", "-o", help="folder for the XLSX and HTML files")] = Path("."),
    pdf: Annotated[bool, typer.Option("--pdf", help="also print the HTML to PDF with Chromium")] = False,
    data: DataOption = None,
) -> None:
    """Per village and sector: found, rectified, overdue, still open, supervised — XLSX, printable HTML, PDF."""
    from ledger.annual import build
    from store import open_store

    store = open_store(data_source(data))
    town = store.info().title.removesuffix("（示例）") or "本镇"
    with console.status("生成年报 building the annual report…"):
        report = build(store, year, town)
    out_dir.mkdir(parents=True, exist_ok=True)
    xlsx, html = out_dir / f"隐患年报-{year}.xlsx", out_dir / f"隐患年报-{year}.html"
    xlsx.write_bytes(report.xlsx)
    html.write_text(report.html, encoding="utf-8")
    totals = report.table[["发现", "整改销号", "逾期", "未销号", "挂牌督办"]].sum()
    console.print(f"wrote {xlsx} and {html}: " + ", ".join(f"{k} {int(v)}" for k, v in totals.items()))
    if pdf:
        target = html.with_suffix(".pdf")
        _print_pdf(html, target)
        console.print(f"wrote {target}")
    else:
        console.print("PDF：加 --pdf，或用浏览器打开 HTML 打印为 PDF (add --pdf, or print the HTML from a browser)")


def _print_pdf(html: Path, target: Path) -> None:
    """Print an HTML file to PDF with headless Chromium (Debian's chromium package)."""
    import subprocess

    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        err.print("[red]没有找到 Chromium，无法生成 PDF (no Chromium found: apt-get install chromium)[/red]")
        raise typer.Exit(2)
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
               f"--print-to-pdf={target.resolve()}", html.resolve().as_uri()]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if result.returncode != 0 or not target.exists():
        err.print(f"[red]PDF 生成失败 (printing to PDF failed): {result.stderr[-500:]}[/red]")
        raise typer.Exit(1)


def _password(from_stdin: bool, prompt: str) -> str:
    """A password from one line of stdin (for scripts), or typed twice at a hidden prompt."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return typer.prompt(prompt, hide_input=True, confirmation_prompt=True)


@contextlib.contextmanager
def _users(data: str | None) -> Iterator[UserStore]:
    """The account store of the data file; a refused change (UserError) is printed and exits 2."""
    from store.users import UserError, UserStore

    store = UserStore(data_source(data))
    try:
        yield store
    except UserError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    finally:
        store.close()


@user_app.command("list")
def user_list(data: DataOption = None) -> None:
    """Every account: role, remit, whether it is active."""
    from rich.table import Table

    table = Table("用户 user", "角色 role", "村/单位/级别 remit", "姓名 name", "状态 active", "创建 created")
    with _users(data) as store:
        accounts = store.all()
    for user, active, created in accounts:
        remit = user.village_code or user.unit or (user.level.label if user.level else "")
        table.add_row(user.username, user.role.label, remit, user.display_name, "启用" if active else "停用", created)
    console.print(table)


@user_app.command("disable")
def user_disable(username: str, data: DataOption = None) -> None:
    """Switch an account off: its sign-ins and tokens stop working at once."""
    _set_active(username, False, data)


@user_app.command("enable")
def user_enable(username: str, data: DataOption = None) -> None:
    """Switch an account back on."""
    _set_active(username, True, data)


def _set_active(username: str, active: bool, data: str | None) -> None:
    with _users(data) as store:
        store.set_active(username, active)
    console.print(f"{username}: {'启用 enabled' if active else '停用 disabled'}")


@user_app.command("passwd")
def user_passwd(
    username: str,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="read the password from stdin")] = False,
    data: DataOption = None,
) -> None:
    """Set a new password for an account."""
    password = _password(password_stdin, "新密码 new password")
    with _users(data) as store:
        store.set_password(username, password)
    console.print(f"{username}: 密码已更新 password changed")


app.add_typer(analyse_app, name="analyse")
app.add_typer(db_app, name="db")
app.command("migrate")(migrate)
