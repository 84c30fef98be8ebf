"""The graded risk register as one workbook: 重大危险源清单 (GB 18218) and the four-colour grading of every source."""

from __future__ import annotations

import pandas as pd

from analysis.major_hazard import assess
from analysis.risk_grading import grade
from exchange import sheets


def register_workbook(sources: pd.DataFrame, buildings: pd.DataFrame, villages: pd.DataFrame) -> bytes:
    """重大危险源清单 with grades, calculations and responsible units, and the four-colour register."""
    hazards = assess(sources, buildings).join(sources[["responsible_unit", "responsible_person", "phone"]])
    graded = grade(sources, villages).join(sources[["responsible_unit", "responsible_person"]])
    return sheets.workbook(
        {
            "重大危险源清单": _table(hazards[hazards["major"]], _MAJOR),
            "安全风险分级": _table(graded, _GRADED),
        }
    )


def _table(frame: pd.DataFrame, columns: tuple[tuple[str, str], ...]) -> pd.DataFrame:
    """The chosen columns under their Chinese labels, the source's fid (the index) as 编号."""
    return pd.DataFrame(
        {label: frame.index.to_numpy() if name == "fid" else frame[name].to_numpy() for name, label in columns}
    )


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
