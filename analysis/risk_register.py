"""The graded risk register as one workbook: 重大危险源清单 (GB 18218) and the four-colour grading of every source."""

from __future__ import annotations

import pandas as pd

from analysis.major_hazard import assess
from analysis.risk_grading import grade
from analysis.risk_surface import COMPONENTS, SurfaceRules
from exchange import sheets


def register_workbook(
    sources: pd.DataFrame,
    buildings: pd.DataFrame,
    villages: pd.DataFrame,
    *,
    ranking: pd.DataFrame | None = None,
    rules: SurfaceRules | None = None,
) -> bytes:
    """重大危险源清单 with grades, calculations and responsible units, and the four-colour register; with the
    composite surface's village `ranking` (`risk_surface`), that ranking and the `rules` it was scored with."""
    hazards = assess(sources, buildings).join(sources[["responsible_unit", "responsible_person", "phone"]])
    graded = grade(sources, villages).join(sources[["responsible_unit", "responsible_person"]])
    book = {
        "重大危险源清单": _table(hazards[hazards["major"]], _MAJOR),
        "安全风险分级": _table(graded, _GRADED),
    }
    if ranking is not None:
        columns = [("rank", "排序"), ("name", "村（嘎查）"), ("code", "区划代码"), ("score", "综合风险指数")]
        for c, label in COMPONENTS.items():
            columns += [(c, label), (f"{c}_points", f"{label}(分)")]
        columns += [("top_cell_score", "最高格指数"), ("cells", "格网数")]
        book["村综合风险排序"] = pd.DataFrame({label: ranking[name].to_numpy() for name, label in columns})
    if rules is not None:
        book["综合风险权重"] = pd.DataFrame(
            {
                "构成": list(COMPONENTS.values()),
                "字段": list(COMPONENTS),
                "权重": [rules.weight(c) for c in COMPONENTS],
            }
        )
    return sheets.workbook(book)


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
