"""Import and export failures carrying a message a township user can act on, so the CLI never shows a traceback."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from exchange.report import ImportReport


class ExchangeError(Exception):
    """Base of every failure raised on purpose by the exchange package; str(exc) is the user-facing message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ImportFailed(ExchangeError):
    """The file cannot be imported at all (unreadable, malformed, empty, wrong CRS); nothing was written."""


class UnreadableFile(ImportFailed):
    """The file is missing, empty, of an unknown kind, or not what its extension claims."""


class CRSConflict(ImportFailed):
    """The file declares one CRS and the user named another, or neither names one where it is needed."""


class ColumnMismatch(ImportFailed):
    """The file's columns do not fit the layer: unknown, duplicated, or a required one missing."""


class ImportRejected(ImportFailed):
    """Some rows are invalid; in all-or-nothing mode nothing was written. `report` names each bad row."""

    def __init__(self, message: str, report: ImportReport) -> None:
        super().__init__(message)
        self.report = report


class ExportFailed(ExchangeError):
    """A layer could not be written in the requested format."""


__all__ = [
    "CRSConflict",
    "ColumnMismatch",
    "ExchangeError",
    "ExportFailed",
    "ImportFailed",
    "ImportRejected",
    "UnreadableFile",
]
