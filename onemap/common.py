"""What every `onemap` command shares: the console, and which data (a file or a database) a command works on."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from onemap.settings import DEMO_GPKG
from store.base import is_database_url

console = Console()
err = Console(stderr=True)

DataOption = Annotated[
    str | None,
    typer.Option(
        "--data",
        "-d",
        help="GeoPackage file or postgresql://…[?schema=name] URL "
        "(default: $ONEMAP_DATABASE_URL, else $ONEMAP_DATA, else the demo town)",
    ),
]


def data_location(data: str | None) -> str:
    """What --data names, else $ONEMAP_DATABASE_URL, else $ONEMAP_DATA, else the shipped demo town (a URL is
    taken as it is; a file is not checked here)."""
    if data:
        return data
    return os.environ.get("ONEMAP_DATABASE_URL") or os.environ.get("ONEMAP_DATA") or str(DEMO_GPKG)


def data_source(data: str | None) -> str:
    """The data a command works on: a database URL, or an existing file (the demo's working copy for the shipped
    demo town); exit 2 when the file is missing."""
    location = data_location(data)
    if is_database_url(location):
        return location
    path = Path(location)
    if not path.exists():
        err.print(f"[red]数据文件不存在 / no such data file: {path}[/red]  (run `onemap demo` to build the demo town)")
        raise typer.Exit(2)
    return str(working_copy(path))


def shown(location: str) -> str:
    """A location fit for the console: a URL without its user and password."""
    return location.split("@")[-1] if is_database_url(location) else location


def demo_copy() -> Path:
    """Where the working copy of the shipped demo town lives (made or not)."""
    home = Path(
        os.environ.get("ONEMAP_HOME") or Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local/share")) / "onemap"
    )
    return home / DEMO_GPKG.name


def working_copy(path: Path) -> Path:
    """The shipped demo stays pristine: the service works on a copy of it in the user's data folder."""
    if path.resolve() != DEMO_GPKG.resolve():
        return path
    copy = demo_copy()
    home = copy.parent
    if not copy.exists():
        home.mkdir(parents=True, exist_ok=True)
        shutil.copy(DEMO_GPKG, copy)
        console.print(f"示例镇工作副本 working copy of the demo town: {copy}  (delete it to start afresh)")
    return copy
