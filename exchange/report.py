"""What an import did, row by row, so a user can find and fix each bad row in the file they sent."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class RowProblem:
    """Why one source row was refused: `row` counts data rows or features from 1; `line` is the spreadsheet line."""

    row: int
    reasons: tuple[str, ...]
    line: int | None = None

    def where(self) -> str:
        """Where to look in the source file, in the words a spreadsheet or GIS user sees."""
        if self.line is not None:
            return f"第 {self.line} 行 (line {self.line}, record {self.row})"
        return f"第 {self.row} 个要素 (feature {self.row})"

    def __str__(self) -> str:
        return f"{self.where()}: {'; '.join(self.reasons)}"


@dataclass
class ImportReport:
    """Counts, the refused rows with reasons, and notes on how the file was read (encoding, CRS, ignored columns)."""

    layer_id: str
    source: str
    total: int = 0
    written: int = 0
    fids: list[int] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: Rows whose invalid geometry was repaired on request (import with repair): what was wrong, and the result.
    repaired: list[RowProblem] = field(default_factory=list)

    @property
    def valid(self) -> int:
        """Rows that passed every check (written unless the import was all-or-nothing and some row failed)."""
        return self.total - len(self.problems)

    def bad_rows(self) -> list[int]:
        """1-based row numbers of the refused rows."""
        return [p.row for p in self.problems]

    def summary(self) -> str:
        """One line for logs and exception messages."""
        return (
            f"{self.source} → {self.layer_id}: "
            f"共 {self.total} 条, 写入 {self.written} 条, 有问题 {len(self.problems)} 条 "
            f"({self.total} rows, {self.written} written, {len(self.problems)} invalid)"
        )


__all__ = ["ImportReport", "RowProblem"]
