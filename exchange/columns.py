"""Match a file's columns to a layer's fields and turn its cells into values the layer's schema accepts.

People send files with English field names, the Chinese titles the exports use ("名称"), or a mix, and fill
coded columns with Chinese labels ("死亡事故") or codes ("fatal"). Both are accepted; anything else is named.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from exchange.errors import ColumnMismatch
from exchange.limits import json_too_deep, nesting_problem
from exchange.readers import header_key
from layers.base import Layer, _strip_optional, is_temporal
from layers.frames import plain

#: Columns that GIS and spreadsheet tools add on their own (feature ids, ArcGIS shape measures, row numbers).
#: They carry nothing a layer stores, so they are ignored, and named in the import notes.
INTERNAL_COLUMNS = frozenset(
    header_key(n)
    for n in (
        "fid", "ogc_fid", "objectid", "objectid_1", "oid", "gid", "id",
        "shape_length", "shape_leng", "shape_area", "序号", "要素编号",
    )
)  # fmt: skip

TRUE_WORDS = frozenset({"是", "有", "对", "√", "✓", "y", "yes", "true", "t", "1"})
FALSE_WORDS = frozenset({"否", "无", "没有", "不是", "×", "✗", "n", "no", "false", "f", "0"})

_DATE_TIME = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:[\sT]+(\d{1,2})\s*[:：时]\s*(\d{1,2})(?:\s*[:：分]\s*(\d{1,2}))?\s*秒?)?$"
)


@dataclass(frozen=True)
class ColumnMap:
    """Which source column feeds which field, and which source columns were ignored as internal."""

    fields: dict[str, str]
    ignored: tuple[str, ...]


def map_columns(layer: Layer, columns: list[str], *, truncated: bool = False) -> ColumnMap:
    """Map source columns to layer fields by English name or Chinese title (case, width and spaces ignored).

    `truncated` also accepts a unique prefix, for Shapefiles whose .dbf cuts names to 10 bytes.
    Raises ColumnMismatch naming unknown columns, two columns for one field, and missing required fields.
    """
    keys: dict[str, str] = {}
    for name, title in layer.field_titles().items():
        keys.setdefault(header_key(name), name)
        keys.setdefault(header_key(title), name)
    mapped: dict[str, str] = {}
    ignored: list[str] = []
    unknown: list[str] = []
    for column in columns:
        key = header_key(column)
        field = keys.get(key)
        if field is None and truncated and len(key.encode()) >= 6:
            candidates = {f for k, f in keys.items() if k.startswith(key)}
            field = candidates.pop() if len(candidates) == 1 else None
        if field is not None:
            mapped[column] = field
        elif key in INTERNAL_COLUMNS:
            ignored.append(column)
        else:
            unknown.append(column)
    titles = layer.field_titles()
    problems = []
    if unknown:
        known = ", ".join(f"{titles[f]}/{f}" for f in layer.fields)
        problems.append(
            f"图层 {layer.id}（{layer.title}）没有这些列 (unknown columns): {', '.join(unknown)}；"
            f"可用的列 (known columns): {known}"
        )
    doubled = sorted({f for f in mapped.values() if list(mapped.values()).count(f) > 1})
    for field in doubled:
        sources = [c for c, f in mapped.items() if f == field]
        problems.append(f"{titles[field]} ({field}) 出现了多列 (given by several columns): {', '.join(sources)}")
    required = [f for f, info in layer.properties.model_fields.items() if info.is_required()]
    missing = [f for f in required if f not in mapped.values()]
    if missing:
        problems.append(f"缺少必填列 (missing required columns): {', '.join(f'{titles[f]}/{f}' for f in missing)}")
    if problems:
        raise ColumnMismatch("；".join(problems))
    return ColumnMap(fields={c: mapped[c] for c in columns if c in mapped}, ignored=tuple(ignored))


def attributes(layer: Layer, column_map: ColumnMap, record: dict[str, Any]) -> dict[str, Any]:
    """A source row as input for the layer's Properties model; empty cells are left out so defaults apply."""
    out: dict[str, Any] = {}
    infos = layer.properties.model_fields
    coded = layer.coded_fields()
    for column, field in column_map.fields.items():
        value = cell(record.get(column))
        if value is None:
            continue
        annotation = infos[field].annotation
        if field in coded:
            value = _code(coded[field], value)
        else:
            value = _typed(annotation, value)
        out[field] = value
    return out


def nested_text_problem(layer: Layer, column_map: ColumnMap, record: dict[str, Any], limit: int) -> str | None:
    """Why a cell of JSON text (a list field such as 危险物质) is refused as nested too deep, or None.

    The layer's schema parses such text with Python's recursive parser, so depth is checked first here.
    """
    nested = set(layer.json_fields())
    titles = layer.field_titles()
    for column, field in column_map.fields.items():
        value = record.get(column)
        if field in nested and isinstance(value, str) and json_too_deep(value, limit):
            return f"{titles[field]} ({field}): {nesting_problem('', limit)}"
    return None


def cell(value: Any) -> Any:
    """A cell as a plain Python value, with empty text, NaN, NA and NaT all read as None."""
    if isinstance(value, list | dict):
        return value
    value = plain(value)
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _code(enum: type, value: Any) -> Any:
    """A Chinese label or a code (any case) as the code; other values are left for the schema to refuse."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    key = header_key(value)
    for code, label in enum.labels().items():
        if key in (header_key(code), header_key(label)):
            return code
    return value


def _typed(annotation: Any, value: Any) -> Any:
    base = _strip_optional(annotation)
    if base is str and isinstance(value, int | float) and not isinstance(value, bool):
        return str(int(value)) if float(value).is_integer() else str(value)
    if base is bool and isinstance(value, str):
        key = header_key(value)
        if key in TRUE_WORDS:
            return True
        if key in FALSE_WORDS:
            return False
    if base is int and isinstance(value, str) and re.fullmatch(r"[+-]?\d+\.0*", value):
        return int(float(value))
    if is_temporal(annotation) and isinstance(value, str):
        return _iso_date_time(value, date_only=base is date)
    if base is date and isinstance(value, datetime) and value.time() == datetime.min.time():
        return value.date()
    return value


def _iso_date_time(text: str, *, date_only: bool) -> str:
    """Dates as people type them in China (2024/5/1 8:30, 2024年5月1日) in ISO form; other text unchanged."""
    match = _DATE_TIME.match(unicodedata.normalize("NFKC", text))
    if not match:
        return text
    y, mo, d, h, mi, s = match.groups()
    day = f"{int(y):04d}-{int(mo):02d}-{int(d):02d}"
    if h is None or date_only:
        return day if h is None or int(h) == int(mi) == int(s or 0) == 0 else text
    return f"{day}T{int(h):02d}:{int(mi):02d}:{int(s or 0):02d}"


__all__ = ["INTERNAL_COLUMNS", "ColumnMap", "attributes", "cell", "map_columns", "nested_text_problem"]
