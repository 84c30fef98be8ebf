"""One way to speak SQL to either backend, for the tables beside the layers (ledger, accounts, reports).

The stores write their SQL once, with `?` placeholders; a `Database` runs it on SQLite (the GeoPackage file) or on
PostgreSQL (the dataset's schema). Where the two differ, it says how: a write transaction that keeps other writers
out until it ends, the id a new row was given, a point for the hazards' geometry column, a flag's value, and
whether an error means "that key is taken".
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from store.base import StoreError, is_database_url
from store.gpkg_sql import connect, point_blob

_PLACEHOLDER = re.compile(r"\?")


class SqliteDatabase:
    """The GeoPackage file through sqlite3, in autocommit mode with explicit transactions."""

    dialect = "sqlite"

    def __init__(self, path: str | Path, *, read_only: bool = False) -> None:
        # Read-only opens the file as it is: connect() would switch it to WAL, a write to someone else's file.
        self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True) if read_only else connect(path)
        self.path = Path(path)
        self._opened = _identity(self.path)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run one statement; the cursor (fetchone, fetchall, rowcount)."""
        return self.conn.execute(sql, params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """One statement for each row of parameters (bulk copies)."""
        self.conn.executemany(sql, rows)

    def executescript(self, script: str) -> None:
        """Several statements at once (schema creation)."""
        self.conn.executescript(script)

    def begin_write(self) -> None:
        """A transaction that holds the write lock from its first statement, so reads in it stay current."""
        self.conn.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        """End the transaction, keeping its writes."""
        self.conn.execute("COMMIT")

    def rollback(self) -> None:
        """End the transaction, dropping its writes."""
        self.conn.execute("ROLLBACK")

    def insert(self, sql: str, params: Sequence[Any], key: str) -> int:
        """Run an INSERT and give back the new row's `key`."""
        return int(self.conn.execute(sql, params).lastrowid)

    def point(self, lon: float, lat: float) -> tuple[str, tuple]:
        """SQL and parameters for a lon/lat point in a layer's geometry column."""
        return "?", (point_blob(lon, lat),)

    def flag(self, value: bool) -> int:
        """A boolean column's value (GeoPackage booleans are integers)."""
        return int(value)

    def is_duplicate(self, exc: BaseException) -> bool:
        """Whether an error means a unique key is already taken."""
        return isinstance(exc, sqlite3.IntegrityError) and "UNIQUE" in str(exc)

    def columns(self, table: str) -> set[str]:
        """The table's column names (empty when there is no such table)."""
        return {row[1] for row in self.conn.execute(f"PRAGMA table_info({table})")}

    def integrity(self) -> str:
        """SQLite's own check of the file: 'ok' when sound."""
        return str(self.conn.execute("PRAGMA integrity_check").fetchone()[0])

    def ping(self) -> None:
        """A trivial read, and the file at the path is still the one opened: one deleted or replaced since (a restore
        under a running service, say) would take every later write to a file nobody will read (StoreError)."""
        self.conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        if _identity(self.path) != self._opened:
            raise StoreError(f"{self.path} was removed or replaced after it was opened")

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()


class PostgresDatabase:
    """The dataset's schema in PostgreSQL through psycopg, autocommit with explicit transactions."""

    dialect = "postgresql"

    def __init__(self, url: str) -> None:
        import psycopg

        from store.postgis_sql import split_url

        conninfo, self.schema = split_url(url)
        try:
            self.conn = psycopg.connect(conninfo, autocommit=True, options=f"-c search_path={self.schema},public")
        except psycopg.OperationalError as exc:
            raise StoreError(f"cannot connect to the database: {str(exc).strip()}") from None

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run one statement (`?` placeholders become psycopg's); the cursor."""
        return self.conn.execute(_PLACEHOLDER.sub("%s", sql), tuple(params))

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """One statement for each row of parameters, pipelined by psycopg (bulk copies)."""
        with self.conn.cursor() as cur:
            cur.executemany(_PLACEHOLDER.sub("%s", sql), [tuple(r) for r in rows])

    def executescript(self, script: str) -> None:
        """Schema comes from the migrations (`onemap db init|upgrade`), not from the stores."""

    def begin_write(self) -> None:
        """A transaction that keeps other ledger writers out until it ends (as SQLite's BEGIN IMMEDIATE does)."""
        self.conn.execute("BEGIN")
        self.conn.execute("LOCK TABLE hazard_events IN SHARE ROW EXCLUSIVE MODE")

    def commit(self) -> None:
        """End the transaction, keeping its writes."""
        self.conn.execute("COMMIT")

    def rollback(self) -> None:
        """End the transaction, dropping its writes."""
        self.conn.execute("ROLLBACK")

    def insert(self, sql: str, params: Sequence[Any], key: str) -> int:
        """Run an INSERT and give back the new row's `key`."""
        return int(self.execute(f"{sql} RETURNING {key}", params).fetchone()[0])

    def point(self, lon: float, lat: float) -> tuple[str, tuple]:
        """SQL and parameters for a lon/lat point in a layer's geometry column."""
        return "ST_SetSRID(ST_MakePoint(?, ?), 4326)", (float(lon), float(lat))

    def flag(self, value: bool) -> bool:
        """A boolean column's value."""
        return bool(value)

    def is_duplicate(self, exc: BaseException) -> bool:
        """Whether an error means a unique key is already taken."""
        import psycopg

        return isinstance(exc, psycopg.errors.UniqueViolation)

    def columns(self, table: str) -> set[str]:
        """The table's column names in the dataset's schema (empty when there is no such table)."""
        rows = self.conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
            (self.schema, table),
        )
        return {r[0] for r in rows}

    def integrity(self) -> str:
        """PostgreSQL keeps its own consistency; 'ok' when the connection answers."""
        return "ok" if self.conn.execute("SELECT 1").fetchone()[0] == 1 else "no answer"

    def ping(self) -> None:
        """SELECT 1 on this connection (the driver's error when the server or database has gone)."""
        self.conn.execute("SELECT 1").fetchone()

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()


def _identity(path: Path) -> tuple[int, int] | None:
    """Device and inode of a file (None when it is gone): a file renamed over it has another inode."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def open_database(location: str | Path, *, read_only: bool = False) -> SqliteDatabase | PostgresDatabase:
    """The database at `location`: a postgresql:// URL, or a GeoPackage path (left untouched when `read_only`)."""
    if is_database_url(location):
        return PostgresDatabase(str(location))
    return SqliteDatabase(location, read_only=read_only)


class Tables:
    """Tables of onemap's own beside the layers: one connection shared by the service's worker threads (hence the
    lock). In a GeoPackage the schema is created when missing and columns added to files made by older versions;
    in PostgreSQL the migrations make them (`onemap db init|upgrade`), and a missing table is an error that says so.
    """

    SCHEMA = ""
    #: table → {column: SQL type} added to existing files that lack them.
    ADDED_COLUMNS: dict[str, dict[str, str]] = {}

    def __init__(self, location: str | Path) -> None:
        self.location = str(location)
        if not is_database_url(location):
            self.path = Path(location)
            if not self.path.exists():
                raise StoreError(f"{self.path} does not exist")
        self._db = open_database(location)
        if self._db.dialect == "sqlite":
            self._db.executescript(self.SCHEMA)
            for table, columns in self.ADDED_COLUMNS.items():
                present = self._db.columns(table)
                for name, kind in columns.items():
                    if name not in present:
                        self._db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
        else:
            tables = re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", self.SCHEMA)
            missing = [t for t in tables if not self._db.columns(t)]
            if missing:
                self._db.close()
                raise StoreError(f"the database lacks the tables {missing}: run `onemap db upgrade` first")
        self._lock = threading.RLock()

    def ping(self, wait: float = 5.0) -> None:
        """Whether the store can still serve: a trivial query through its own connection, waiting at most `wait`
        seconds for a write in progress to let go of it; raises (StoreError or the driver's error) when not."""
        if not self._lock.acquire(timeout=wait):
            raise StoreError(f"the connection was busy for more than {wait:g} s")
        try:
            self._db.ping()
        finally:
            self._lock.release()

    def close(self) -> None:
        """Close the connection."""
        self._db.close()
