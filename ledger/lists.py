"""The ledger as the township office reads it: the two lists (两个清单), due and overdue lists, and statistics.

- 问题隐患清单 (problem-hazard list): one row per hazard with the 五到位 columns and where it stands.
- 制度措施清单 (measures list): per responsible unit, each hazard's measures, funds, deadline and plan, with a
  summary per unit.
All tables have Chinese column headers and Chinese labels for coded values, ready for XLSX.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

import pandas as pd

from exchange import sheets
from layers.ledger import HazardProperties
from layers.vocab import Channel, HazardLevel, HazardStatus, Sector, SupervisionLevel

OPEN = ("registered", "assessed", "rectifying", "verification_requested", "accepted")
LABELS: dict[str, Mapping[str, str]] = {
    "sector": Sector.labels(),
    "level": HazardLevel.labels(),
    "status": HazardStatus.labels(),
    "channel": Channel.labels(),
    "supervision_level": SupervisionLevel.labels(),
}
PROBLEM_COLUMNS = {
    "code": "隐患编号",
    "village": "所属村",
    "unit": "所属单位",
    "sector": "行业领域",
    "level": "隐患等级",
    "description": "隐患描述",
    "basis": "依据条款",
    "discovered_on": "发现日期",
    "channel": "发现方式",
    "responsible_unit": "责任单位",
    "responsible_person": "责任人",
    "measures": "整改措施",
    "funds_yuan": "整改资金(元)",
    "deadline": "整改时限",
    "contingency_plan": "应急预案",
    "status": "状态",
    "overdue": "是否逾期",
    "supervised": "挂牌督办",
    "supervision_level": "督办级别",
    "acceptor": "验收人",
    "accepted_on": "验收日期",
    "closed_on": "销号日期",
}
MEASURE_COLUMNS = {
    "responsible_unit": "责任单位",
    "code": "隐患编号",
    "description": "隐患描述",
    "measures": "整改措施",
    "funds_yuan": "整改资金(元)",
    "deadline": "整改时限",
    "contingency_plan": "应急预案",
    "responsible_person": "责任人",
    "status": "状态",
}


def hazard_table(frame: pd.DataFrame, villages: Mapping[str, str], today: date) -> pd.DataFrame:
    """Hazards (fid-indexed, as stored) with their village name and an overdue flag, in code order."""
    table = pd.DataFrame(frame[[c for c in HazardProperties.model_fields if c in frame.columns]]).copy()
    table["village"] = table["village_code"].map(villages).fillna(table["village_code"])
    deadline = pd.to_datetime(table["deadline"], errors="coerce")
    table["overdue"] = table["status"].isin(["assessed", "rectifying"]) & (deadline < pd.Timestamp(today))
    return table.sort_values("code")


def _readable(table: pd.DataFrame, columns: Mapping[str, str]) -> pd.DataFrame:
    out = table[list(columns)].copy()
    for name, labels in LABELS.items():
        if name in out:
            out[name] = out[name].map(lambda v, labels=labels: labels.get(v, v) if isinstance(v, str) else v)
    for name in ("overdue", "supervised"):
        if name in out:
            out[name] = out[name].map(lambda v: "是" if v is True else "否" if v is False else "")
    out = out.rename(columns=columns)
    out.insert(0, "序号", range(1, len(out) + 1))
    return out


def problem_list(table: pd.DataFrame) -> pd.DataFrame:
    """问题隐患清单."""
    return _readable(table, PROBLEM_COLUMNS)


def measures_list(table: pd.DataFrame) -> pd.DataFrame:
    """制度措施清单: hazards grouped by responsible unit."""
    ordered = table.sort_values(["responsible_unit", "deadline", "code"], na_position="last")
    return _readable(ordered, MEASURE_COLUMNS)


def unit_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per responsible unit: hazards, still open, overdue, funds."""
    grouped = table.groupby("responsible_unit", sort=True)
    out = pd.DataFrame(
        {
            "隐患数": grouped.size(),
            "未销号": grouped["status"].apply(lambda s: int(s.isin(OPEN).sum())),
            "逾期": grouped["overdue"].sum().astype(int),
            "整改资金合计(元)": grouped["funds_yuan"].sum(min_count=1).fillna(0),
        }
    )
    out.index.name = "责任单位"
    return out.reset_index()


def due_within(table: pd.DataFrame, today: date, days: int) -> pd.DataFrame:
    """Open hazards in rectification whose deadline falls within the next `days` days (today included)."""
    deadline = pd.to_datetime(table["deadline"], errors="coerce")
    soon = (deadline >= pd.Timestamp(today)) & (deadline <= pd.Timestamp(today + timedelta(days=days)))
    return table[soon & table["status"].isin(["assessed", "rectifying"])]


def statistics(table: pd.DataFrame, by: str) -> pd.DataFrame:
    """Found, closed, open, overdue and major hazards per village, sector, level or month of discovery."""
    keys = {
        "village": table["village"],
        "sector": table["sector"].map(LABELS["sector"]),
        "level": table["level"].map(LABELS["level"]),
        "month": pd.to_datetime(table["discovered_on"]).dt.strftime("%Y-%m"),
    }
    if by not in keys:
        raise ValueError(f"statistics by village, sector, level or month, not {by!r}")
    grouped = table.groupby(keys[by], sort=True)
    out = pd.DataFrame(
        {
            "发现": grouped.size(),
            "已销号": grouped["status"].apply(lambda s: int((s == "closed").sum())),
            "未销号": grouped["status"].apply(lambda s: int(s.isin(OPEN).sum())),
            "逾期": grouped["overdue"].sum().astype(int),
            "重大隐患": grouped["level"].apply(lambda s: int((s == "major").sum())),
            "挂牌督办": grouped["supervised"].apply(lambda s: int(s.fillna(False).astype(bool).sum())),
        }
    )
    out.index.name = {"village": "村", "sector": "行业领域", "level": "隐患等级", "month": "发现月份"}[by]
    return out.reset_index()


def workbook(table: pd.DataFrame, today: date) -> bytes:
    """The two lists, the unit summary and the due and overdue lists as one XLSX file."""
    tables = {
        "问题隐患清单": problem_list(table),
        "制度措施清单": measures_list(table),
        "责任单位汇总": unit_summary(table),
        "逾期隐患": problem_list(table[table["overdue"]]),
        "7日内到期": problem_list(due_within(table, today, 7)),
    }
    return sheets.workbook(tables)
