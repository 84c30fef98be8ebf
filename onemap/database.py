"""`onemap db init|upgrade|current` for the PostgreSQL backend, and `onemap migrate` between backends."""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.table import Table

from onemap.common import console, err

db_app = typer.Typer(help="PostgreSQL + PostGIS: set up and upgrade a database for onemap.", no_args_is_help=True)

UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url",
        help="postgresql://user@host:port/database[?schema=name] (default: ONEMAP_DATABASE_URL; schema onemap)",
    ),
]


def _url(url: str | None) -> str:
    url = url or os.environ.get("ONEMAP_DATABASE_URL")
    if not url:
        err.print("[red]no database given[/red]: pass --url postgresql://… or set ONEMAP_DATABASE_URL")
        raise typer.Exit(2)
    return url


def _run(step, *args):
    from store.base import StoreError

    try:
        return step(*args)
    except (StoreError, ValueError) as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None


@db_app.command("init")
def init(url: UrlOption = None) -> None:
    """Create PostGIS and the dataset's schema if missing, then run every migration."""
    from store import db

    changes = _run(db.init, _url(url))
    console.print("\n".join(changes) or "nothing to do: the database is up to date")


@db_app.command("upgrade")
def upgrade(url: UrlOption = None) -> None:
    """Run the migrations not yet applied and add the columns layers have gained."""
    from store import db

    changes = _run(db.upgrade, _url(url))
    console.print("\n".join(changes) or "nothing to do: the database is up to date")


@db_app.command("current")
def current(url: UrlOption = None) -> None:
    """The migration the database is at, and the newest this version knows."""
    from store import db

    console.print(f"at {_run(db.current, _url(url)) or '(not initialised)'}; newest {db.head()}")


def migrate(
    source: Annotated[str, typer.Option("--from", help="GeoPackage file or postgresql:// URL to copy from")],
    target: Annotated[str, typer.Option("--to", help="new GeoPackage file or empty postgresql:// schema to copy to")],
) -> None:
    """Move a town between backends: metadata, every layer, the ledger's history and photos, accounts, reports.
    The target must be empty; everything is read back and compared before the command says it is done."""
    from store.transfer import migrate as move

    with console.status("迁移 migrating…") as status:
        moved = _run(lambda: move(source, target, progress=lambda line: status.update(f"迁移 migrating… {line}")))
    table = Table("图层/表 layer or table", "类型 kind", "行数 rows", title=f"{source} → {target}")
    for item in moved:
        table.add_row(item.name, item.kind, f"{item.rows:,}")
    console.print(table)
    console.print("已核对 verified: every feature, geometry, attribute and history row is the same in the target")
