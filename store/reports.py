"""Public reports (群众举报), kept in the data file until staff accept them into the ledger or reject them.

A reporter gets a tracking code to follow the report; their name and phone are stored for staff only. Accepting a
report registers a hazard and records which one, in the same transaction, so a report is never accepted twice.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from layers.ledger import HazardProperties
from ledger.photos import Photo, check_photo
from store.base import StoreError
from store.ledger import LedgerStore
from store.sql import Tables

SCHEMA = """
CREATE TABLE IF NOT EXISTS onemap_reports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    code TEXT NOT NULL UNIQUE,
    lon REAL NOT NULL,
    lat REAL NOT NULL,
    village_code TEXT,
    description TEXT NOT NULL,
    reporter TEXT,
    phone TEXT,
    submitted_at TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    decided_by TEXT,
    decided_at TEXT,
    reason TEXT,
    hazard_fid INTEGER,
    photo BLOB,
    photo_type TEXT
)
"""
_FIELDS = (
    "id, code, lon, lat, village_code, description, reporter, phone, submitted_at, status, decided_by, decided_at,"
    " reason, hazard_fid"
)
STATUS_LABELS = {"pending": "待处理", "accepted": "已受理并登记为隐患", "rejected": "不予受理"}
#: Tracking codes avoid letters and digits people confuse (0/O, 1/I/L).
_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


class ReportNotFound(StoreError, LookupError):
    """No report with that id or tracking code."""


class ReportDecided(StoreError):
    """The report was already accepted or rejected."""


@dataclass(frozen=True)
class Report:
    """One public report, with the reporter's contact (shown to staff only)."""

    id: int
    code: str
    lon: float
    lat: float
    village_code: str | None
    description: str
    reporter: str | None
    phone: str | None
    submitted_at: str
    status: str
    decided_by: str | None
    decided_at: str | None
    reason: str | None
    hazard_fid: int | None
    has_photo: bool = False

    def public(self) -> dict[str, Any]:
        """What the reporter (or anyone with the code) may see: no contact details, no staff names."""
        return {
            "code": self.code,
            "status": self.status,
            "status_label": STATUS_LABELS[self.status],
            "submitted_at": self.submitted_at,
            "decided_at": self.decided_at,
            "reason": self.reason if self.status == "rejected" else None,
            "has_photo": self.has_photo,
        }


class ReportStore(Tables):
    """Reports in the data file, with the ledger they feed."""

    SCHEMA = SCHEMA
    ADDED_COLUMNS = {"onemap_reports": {"photo": "BLOB", "photo_type": "TEXT"}}  # files from before report photos

    def __init__(self, path: str | Path, ledger: LedgerStore) -> None:
        super().__init__(path)
        self._ledger = ledger

    def submit(
        self,
        lon: float,
        lat: float,
        village_code: str | None,
        description: str,
        reporter: str | None,
        phone: str | None,
    ) -> Report:
        """Store a new report and give it a tracking code."""
        now = datetime.now().astimezone().isoformat(timespec="seconds")
        with self._lock:
            for _ in range(10):
                code = "JB" + "".join(secrets.choice(_ALPHABET) for _ in range(8))
                try:
                    report_id = self._db.insert(
                        "INSERT INTO onemap_reports (code, lon, lat, village_code, description, reporter, phone,"
                        " submitted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (code, lon, lat, village_code, description, reporter, phone, now),
                        "id",
                    )
                except Exception as exc:  # a clash of random codes: draw again
                    if not self._db.is_duplicate(exc):
                        raise
                    continue
                return self.get(report_id)
        raise StoreError("could not draw a free tracking code")

    def get(self, report_id: int) -> Report:
        """A report by id."""
        return self._one("id = ?", report_id)

    def by_code(self, code: str) -> Report:
        """A report by its tracking code."""
        return self._one("code = ?", code.strip().upper())

    def _one(self, where: str, value: Any) -> Report:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_FIELDS}, photo IS NOT NULL FROM onemap_reports WHERE {where}", (value,)
            ).fetchone()
        if row is None:
            raise ReportNotFound(f"没有这个举报 (no report {value!r})")
        return Report(*row)

    def add_photo(self, code: str, photo: Photo, data: bytes) -> Report:
        """Attach the reporter's one photo to a pending report."""
        report = self.by_code(code)
        with self._lock:
            cursor = self._db.execute(
                "UPDATE onemap_reports SET photo = ?, photo_type = ?"
                " WHERE id = ? AND status = 'pending' AND photo IS NULL",
                (data, photo.media_type, report.id),
            )
        if cursor.rowcount != 1:
            raise ReportDecided("这个举报已有照片或已处理 (the report already has a photo or was decided)")
        return self.get(report.id)

    def photo(self, report_id: int) -> tuple[str, bytes]:
        """(media type, bytes) of a report's photo; ReportNotFound when it has none."""
        with self._lock:
            row = self._db.execute("SELECT photo_type, photo FROM onemap_reports WHERE id = ?", (report_id,)).fetchone()
        if row is None or row[1] is None:
            raise ReportNotFound(f"举报 {report_id} 没有照片 (no photo)")
        return str(row[0]), bytes(row[1])

    def pending(self) -> list[Report]:
        """Reports waiting for a decision, oldest first."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_FIELDS}, photo IS NOT NULL FROM onemap_reports WHERE status = 'pending' ORDER BY id"
            ).fetchall()
        return [Report(*row) for row in rows]

    def reject(self, report_id: int, reason: str, *, by: str) -> Report:
        """Refuse a report with a reason the reporter will see."""
        now = datetime.now().astimezone().isoformat(timespec="seconds")
        with self._lock:
            cursor = self._db.execute(
                "UPDATE onemap_reports SET status = 'rejected', decided_by = ?, decided_at = ?, reason = ?"
                " WHERE id = ? AND status = 'pending'",
                (by, now, reason, report_id),
            )
            if cursor.rowcount == 0:
                self.get(report_id)  # ReportNotFound for an unknown id
                raise ReportDecided(f"举报 {report_id} 已处理 (report already decided)")
        return self.get(report_id)

    def accept(self, report_id: int, hazard: HazardProperties, *, by: str) -> tuple[Report, int]:
        """Register the report as a hazard and mark it accepted, in one transaction; the report and hazard fid."""
        report = self.get(report_id)
        now = datetime.now().astimezone().isoformat(timespec="seconds")
        photo = None
        if report.has_photo:
            _, data = self.photo(report_id)
            photo = (check_photo(data, max_bytes=len(data)), data)

        def mark(db: Any, fid: int) -> None:
            cursor = db.execute(
                "UPDATE onemap_reports SET status = 'accepted', decided_by = ?, decided_at = ?, hazard_fid = ?"
                " WHERE id = ? AND status = 'pending'",
                (by, now, fid, report_id),
            )
            if cursor.rowcount != 1:
                raise ReportDecided(f"举报 {report_id} 已处理 (report already decided)")
            if photo is not None:  # the reporter's photo becomes the hazard's first "before" photo
                checked, data = photo
                db.execute(
                    "INSERT INTO hazard_photos (hazard_fid, kind, media_type, width, height, size, sha256,"
                    " uploaded_by, uploaded_at, data) VALUES (?, 'before', ?, ?, ?, ?, ?, '举报人', ?, ?)",
                    (fid, checked.media_type, checked.width, checked.height, len(data),
                     hashlib.sha256(data).hexdigest(), report.submitted_at, data),
                )  # fmt: skip

        fid, _ = self._ledger.register(hazard, report.lon, report.lat, actor=by, within=mark)
        return self.get(report_id), fid
