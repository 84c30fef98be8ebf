"""What every `onemap` command shares: the console, and which data file a command works on."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from onemap.settings import DEMO_GPKG

console = Console()
err = Console(stderr=True)

DataOption = Annotated[
    Path | None,
    typer.Option("--data", "-d", help="GeoPackage to use (default: $ONEMAP_DATA, else the demo town)"),
]


def data_path(data: Path | None) -> Path:
    """The file named by --data, else $ONEMAP_DATA, else the shipped demo town."""
    if data is not None:
        return data
    return Path(os.environ.get("ONEMAP_DATA") or DEMO_GPKG)


def data_file(data: Path | None) -> Path:
    """The file a command works on: --data, else $ONEMAP_DATA, else the demo's working copy; exit 2 when missing."""
    path = data_path(data)
    if not path.exists():
        err.print(f"[red]数据文件不存在 / no such data file: {path}[/red]  (run `onemap demo` to build the demo town)")
        raise typer.Exit(2)
    return working_copy(path)


def working_copy(path: Path) -> Path:
    """The shipped demo stays pristine: the service works on a copy of it in the user's data folder."""
    if path.resolve() != DEMO_GPKG.resolve():
        return path
    home = Path(
        os.environ.get("ONEMAP_HOME") or Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local/share")) / "onemap"
    )
    copy = home / DEMO_GPKG.name
    if not copy.exists():
        home.mkdir(parents=True, exist_ok=True)
        shutil.copy(DEMO_GPKG, copy)
        console.print(f"示例镇工作副本 working copy of the demo town: {copy}  (delete it to start afresh)")
    return copy
