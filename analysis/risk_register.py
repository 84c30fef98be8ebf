"""The graded risk register as one workbook: 重大危险源清单 (GB 18218) and the four-colour grading of every source."""

from __future__ import annotations

import io
import json
from typing import Any

import pandas as pd
from openpyxl import Workbook

from analysis.major_hazard import assess
from analysis.risk_grading import grade


def register_workbook(sources: pd.DataFrame, buildings: pd.DataFrame, villages: pd.DataFrame) -> bytes:
    """重大危险源清单 with grades, calculations and responsible units, and the four-colour register."""
    hazards = assess(sources, buildings).join(sources[["responsible_unit", "responsible_person", "phone"]])
    graded = grade(sources, villages).join(sources[["responsible_unit", "responsible_person"]])
    book = Workbook()
    book.remove(book.active)
    for title, frame, columns in (
        ("重大危险源清单", hazards[hazards["major"]], _MAJOR),
        ("安全风险分级", graded, _GRADED),
    ):
        sheet = book.create_sheet(title)
        sheet.append([label for _, label in columns])
        for fid, row in frame.iterrows():
            sheet.append([fid if name == "fid" else _cell(row[name]) for name, _ in columns])
        sheet.freeze_panes = "A2"
        for letter, width in zip("ABCDEFGHIJKL", (8, 24, 14, 10, 12, 8, 10, 10, 20, 12, 60, 14), strict=False):
            sheet.column_dimensions[letter].width = width
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


_MAJOR = (
    ("fid", "编号"), ("name", "名称"), ("kind", "类型"), ("S", "S=Σq/Q"), ("exposed_people", "500 m内人数"),
    ("alpha", "α"), ("R", "R"), ("grade", "级别"), ("responsible_unit", "责任单位"), ("responsible_person", "责任人"),
    ("explanation", "计算过程"), ("phone", "联系电话"),
)  # fmt: skip
_GRADED = (
    ("fid", "编号"), ("name", "名称"), ("method", "方法"), ("score", "分值"), ("level_label", "风险等级"),
    ("band", "区间"), ("rule", "判定"), ("surveyed_level", "登记等级"), ("agrees", "一致"),
    ("village_name", "所属村"), ("responsible_unit", "责任单位"), ("responsible_person", "责任人"),
)  # fmt: skip


def _cell(value: Any) -> Any:
    if isinstance(value, list | tuple | dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value if isinstance(value, str | int | float | bool) else str(value)
