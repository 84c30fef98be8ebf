"""Tables as sheets of one XLSX file, every workbook alike: bold frozen header, widths that fit Chinese text.

The ledger lists, the budget plan, the fire runs and the risk register all hand over pandas frames and get the same
layout, so an office reading several of them finds each laid out alike.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from datetime import date, datetime, time
from io import BytesIO
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from openpyxl.worksheet.worksheet import Worksheet

MAX_WIDTH = 60


def display_width(value: Any) -> int:
    """Columns as wide as the text looks: CJK characters take two columns."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return 0
    if isinstance(value, datetime):
        text = value.strftime("%Y-%m-%d %H:%M:%S")
    elif isinstance(value, date):
        text = value.isoformat()
    else:
        text = str(value)
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)


def sheet_title(title: str) -> str:
    """Excel sheet names: at most 31 characters, none of []:*?/\\."""
    for bad in "[]:*?/\\":
        title = title.replace(bad, "、")
    return title[:31]


def cell(value: Any) -> Any:
    """A frame value as something openpyxl writes: containers as JSON text, missing as empty, dates as dates."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, set | frozenset):
        value = sorted(value, key=str)
    if isinstance(value, list | tuple | dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, np.datetime64 | np.timedelta64):
        value = pd.Timestamp(value) if isinstance(value, np.datetime64) else pd.Timedelta(value)
    elif isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, datetime | time) and value.tzinfo is not None:
        return value.replace(tzinfo=None)  # Excel has no time zones: the wall-clock time
    if isinstance(value, float) and math.isinf(value):
        return str(value)  # openpyxl would write a number Excel cannot open
    if isinstance(value, str | int | float | date | time):
        return value
    return str(value)


def workbook(sheets: Mapping[str, pd.DataFrame], *, finish: Callable[[str, Worksheet], None] | None = None) -> bytes:
    """Each frame as one sheet, in order; `finish(name, sheet)` adds what a sheet needs beyond its table."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    book.remove(book.active)
    bold = Font(bold=True)
    for name, frame in sheets.items():
        sheet = book.create_sheet(sheet_title(name))
        headers = [cell(c) for c in frame.columns]
        sheet.append(headers)
        widths = [display_width(h) for h in headers]
        for row in frame.itertuples(index=False, name=None):
            cells = [cell(v) for v in row]
            sheet.append(cells)
            for i, value in enumerate(cells):
                widths[i] = max(widths[i], min(display_width(value), MAX_WIDTH))
        for header in sheet[1]:
            header.font = bold
        for i, width in enumerate(widths, start=1):
            sheet.column_dimensions[get_column_letter(i)].width = max(8, min(MAX_WIDTH, width + 2))
        sheet.freeze_panes = "A2"
        if finish is not None:
            finish(name, sheet)
    out = BytesIO()
    book.save(out)
    return out.getvalue()


__all__ = ["cell", "display_width", "sheet_title", "workbook"]
