"""Codes that identify a feature stay unique through an import, so a look-up by code never finds two features.

The catalogue finds a village by its 区划代码 and the ledger names a hazard by its 隐患编号 (see
api/catalog.py and ledger/). A file that repeats a code, or brings one the layer already holds, would make those
look-ups ambiguous: every such row is refused, naming the code and the rows, never one of them kept at random.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from typing import Any

from layers import Layer
from store.base import Store

#: Layer id → the field whose value identifies one feature of the layer.
IDENTIFYING_FIELDS = {"villages": "code", "hazards": "code"}


def identifying_field(layer: Layer) -> str | None:
    """The field identifying a feature of `layer`, or None when its features carry no such code."""
    return IDENTIFYING_FIELDS.get(layer.id)


def stored_codes(store: Store, layer: Layer) -> set[str]:
    """The identifying codes `layer` already holds in `store` (empty for a layer without one)."""
    field = identifying_field(layer)
    if field is None or not store.has(layer):
        return set()
    return {str(code) for code in store.read(layer)[field].dropna()}


def duplicate_problems(
    layer: Layer, codes: Sequence[Any], lines: Sequence[int] | None, stored: Collection[str]
) -> dict[int, str]:
    """0-based row index → why its code is refused, for rows repeating a code in the file or one already stored.

    `codes` holds each row's code (None for rows without a valid one); `lines` the spreadsheet line of each row,
    None for GIS features.
    """
    field = identifying_field(layer)
    if field is None:
        return {}
    title = layer.field_titles()[field]
    rows: dict[str, list[int]] = defaultdict(list)
    for index, code in enumerate(codes):
        if code is not None:
            rows[str(code)].append(index)
    out: dict[int, str] = {}
    for code, indexes in rows.items():
        if len(indexes) > 1:
            if lines is not None:
                numbers = [lines[i] for i in indexes]
                chinese, english = f"第 {'、'.join(map(str, numbers))} 行", f"lines {', '.join(map(str, numbers))}"
            else:
                numbers = [i + 1 for i in indexes]
                chinese = f"第 {'、'.join(map(str, numbers))} 个要素"
                english = f"features {', '.join(map(str, numbers))}"
            for index in indexes:
                out[index] = (
                    f"{title} ({field}) {code!r} 在文件中重复：{chinese} "
                    f"(duplicate {field} {code!r} in the file: {english})"
                )
        if code in stored:
            for index in indexes:
                text = (
                    f"{title} ({field}) {code!r} 已存在于图层 {layer.id}（{layer.title}）：修改已有要素请在系统中编辑 "
                    f"({field} {code!r} is already stored in layer {layer.id}: edit the stored feature instead)"
                )
                out[index] = f"{out[index]}; {text}" if index in out else text
    return out


__all__ = ["IDENTIFYING_FIELDS", "duplicate_problems", "identifying_field", "stored_codes"]
