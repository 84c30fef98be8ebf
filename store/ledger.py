"""The ledger's storage: hazard attributes and their append-only history, changed together in one transaction.

Every change to a hazard goes through `LedgerStore.apply`: inside one write transaction it reads the hazard and its
version (the number of events so far), refuses the change if the caller saw an older version (optimistic
concurrency: a stale write overwrites nothing), runs the workflow, updates only the changed columns and appends the
event. Either both land or neither does. The history table lives in the same GeoPackage, so a copy of the file is a
copy of the whole ledger.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime
from enum import Enum
from typing import Any

from layers.ledger import HazardProperties
from layers.vocab import HazardStatus, SupervisionLevel
from ledger.photos import KINDS, Photo
from ledger.workflow import Action, Event, apply, registration
from store.base import StoreError
from store.sql import Tables

TABLE = "hazards"
EVENTS = "hazard_events"
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {EVENTS} (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    hazard_fid INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    from_status TEXT NOT NULL,
    to_status TEXT NOT NULL,
    changes TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    UNIQUE (hazard_fid, seq)
);
CREATE TABLE IF NOT EXISTS hazard_photos (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    hazard_fid INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('before', 'after')),
    media_type TEXT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    uploaded_by TEXT NOT NULL,
    uploaded_at TEXT NOT NULL,
    data BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS hazard_photos_fid ON hazard_photos (hazard_fid);
"""


class HazardNotFound(StoreError, LookupError):
    """No hazard with that fid."""


class StaleVersion(StoreError):
    """The hazard changed since the caller read it: nothing was written."""

    def __init__(self, fid: int, expected: int, current: int) -> None:
        super().__init__(
            f"隐患 {fid} 已被他人修改（当前版本 {current}，提交的版本 {expected}），请刷新后重试 "
            f"(hazard {fid} is at version {current}, the change was based on version {expected}: reload and retry)"
        )
        self.fid, self.expected, self.current = fid, expected, current


def _sql_value(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _column_value(db: Any, value: Any) -> Any:
    """A value for a column of the hazards table: as for the history, but a flag as the backend stores flags."""
    return db.flag(value) if isinstance(value, bool) else _sql_value(value)


class LedgerStore(Tables):
    """Transactional reads and writes of the hazards table and its history in one GeoPackage."""

    SCHEMA = SCHEMA
    _columns = list(HazardProperties.model_fields)

    @contextmanager
    def _write(self) -> Iterator[Any]:
        """One write transaction, taken before anything is read so no other writer can slip in between."""
        with self._lock:
            self._db.begin_write()
            try:
                yield self._db
            except BaseException:
                self._db.rollback()
                raise
            self._db.commit()

    def _read(self, db: Any, fid: int) -> tuple[HazardProperties, int]:
        names = ", ".join(f'"{c}"' for c in self._columns)
        row = db.execute(f'SELECT {names} FROM "{TABLE}" WHERE fid = ?', (fid,)).fetchone()
        if row is None:
            raise HazardNotFound(f"no hazard with id {fid}")
        version = db.execute(f"SELECT coalesce(max(seq), 0) FROM {EVENTS} WHERE hazard_fid = ?", (fid,)).fetchone()[0]
        values = {k: v for k, v in zip(self._columns, row, strict=True) if v is not None}
        return HazardProperties.model_validate(values), int(version)

    def hazard(self, fid: int) -> tuple[HazardProperties, int]:
        """A hazard's attributes and its version (the number of recorded events)."""
        with self._lock:
            return self._read(self._db, fid)

    def apply(
        self,
        fid: int,
        version: int,
        action: Action | str,
        request: Mapping[str, Any],
        *,
        actor: str,
        at: datetime | None = None,
        signed_off_by: SupervisionLevel | None = None,
    ) -> tuple[HazardProperties, int, Event]:
        """Take a workflow step on hazard `fid` as seen at `version`; the new attributes, version and event.

        Raises StaleVersion (nothing written) when the hazard has moved on, TransitionError when the step is not
        allowed, HazardNotFound for an unknown fid.
        """
        at = at or datetime.now().astimezone().replace(microsecond=0)
        with self._write() as db:
            current, now = self._read(db, fid)
            if version != now:
                raise StaleVersion(fid, version, now)
            new, event = apply(current, action, request, actor=actor, at=at, signed_off_by=signed_off_by)
            if event.changes:
                assignments = ", ".join(f'"{name}" = ?' for name in event.changes)
                values = [_column_value(db, getattr(new, name)) for name in event.changes]
                db.execute(f'UPDATE "{TABLE}" SET {assignments} WHERE fid = ?', (*values, fid))
            self._insert_event(db, fid, now + 1, event)
        return new, now + 1, event

    def register(
        self,
        hazard: HazardProperties,
        lon: float,
        lat: float,
        *,
        actor: str,
        at: datetime | None = None,
        within: Callable[[Any, int], None] | None = None,
    ) -> tuple[int, Event]:
        """Store a new hazard at (lon, lat) with its registration event, in one transaction; its fid and event.

        `within(connection, fid)` runs inside the same transaction (marking the report it came from, say); if it
        raises, nothing is stored.
        """
        if hazard.status != HazardStatus.REGISTERED:
            raise StoreError("a new hazard starts as registered (登记); later states come from workflow steps")
        at = at or datetime.now().astimezone().replace(microsecond=0)
        event = registration(hazard, actor=actor, at=at)
        values = hazard.model_dump()
        names = ", ".join(f'"{c}"' for c in self._columns)
        marks = ", ".join("?" for _ in self._columns)
        with self._write() as db:
            point, where = db.point(lon, lat)
            fid = db.insert(
                f'INSERT INTO "{TABLE}" (geom, {names}) VALUES ({point}, {marks})',
                (*where, *(_column_value(db, values[c]) for c in self._columns)),
                "fid",
            )
            self._insert_event(db, fid, 1, event)
            if within is not None:
                within(db, fid)
        return fid, event

    def _insert_event(self, db: Any, fid: int, seq: int, event: Event) -> None:
        changes = {k: [_sql_value(a), _sql_value(b)] for k, (a, b) in event.changes.items()}
        db.execute(
            f"INSERT INTO {EVENTS} (hazard_fid, seq, at, actor, action, from_status, to_status, changes, note)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (fid, seq, event.at.isoformat(), event.actor, event.action.value, event.from_status.value,
             event.to_status.value, json.dumps(changes, ensure_ascii=False), event.note),
        )  # fmt: skip

    def attach(
        self, fid: int, kind: str, photo: Photo, data: bytes, *, actor: str, at: datetime | None = None
    ) -> tuple[int, int]:
        """Keep a checked photo of the hazard and record it in the history, together; the photo id and new version."""
        at = at or datetime.now().astimezone().replace(microsecond=0)
        with self._write() as db:
            current, now = self._read(db, fid)
            photo_id = db.insert(
                "INSERT INTO hazard_photos (hazard_fid, kind, media_type, width, height, size, sha256, uploaded_by,"
                " uploaded_at, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (fid, kind, photo.media_type, photo.width, photo.height, len(data), hashlib.sha256(data).hexdigest(),
                 actor, at.isoformat(), data),
                "id",
            )  # fmt: skip
            note = f"{KINDS[kind]}照片 #{photo_id}（{photo.width}×{photo.height}）"
            event = Event(Action.ATTACH, actor, at, current.status, current.status, {}, note)
            self._insert_event(db, fid, now + 1, event)
        return photo_id, now + 1

    def photos(self, fid: int) -> list[dict[str, Any]]:
        """The photos of a hazard (without their bytes), oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, kind, media_type, width, height, size, sha256, uploaded_by, uploaded_at"
                " FROM hazard_photos WHERE hazard_fid = ? ORDER BY id",
                (fid,),
            ).fetchall()
        keys = ("id", "kind", "media_type", "width", "height", "size", "sha256", "uploaded_by", "uploaded_at")
        return [dict(zip(keys, row, strict=True)) | {"kind_label": KINDS[row[1]]} for row in rows]

    def photo(self, photo_id: int) -> tuple[int, str, bytes]:
        """(hazard fid, media type, bytes) of one photo; HazardNotFound when there is no such photo."""
        with self._lock:
            row = self._db.execute(
                "SELECT hazard_fid, media_type, data FROM hazard_photos WHERE id = ?", (photo_id,)
            ).fetchone()
        if row is None:
            raise HazardNotFound(f"no photo with id {photo_id}")
        return int(row[0]), str(row[1]), bytes(row[2])

    def history(self, fid: int) -> list[dict[str, Any]]:
        """Every event of a hazard, oldest first (an empty list for a hazard never changed since it was loaded)."""
        with self._lock:
            self._read(self._db, fid)  # HazardNotFound for an unknown fid
            rows = self._db.execute(
                f"SELECT seq, at, actor, action, from_status, to_status, changes, note FROM {EVENTS}"
                " WHERE hazard_fid = ? ORDER BY seq",
                (fid,),
            ).fetchall()
        return [
            {
                "seq": seq,
                "at": at,
                "actor": actor,
                "action": action,
                "action_label": Action(action).label,
                "from_status": from_status,
                "to_status": to_status,
                "to_label": HazardStatus(to_status).label,
                "changes": json.loads(changes),
                "note": note,
            }
            for seq, at, actor, action, from_status, to_status, changes, note in rows
        ]

    def integrity(self) -> str:
        """SQLite's own integrity check of the whole file ("ok" when sound)."""
        with self._lock:
            return self._db.integrity()
