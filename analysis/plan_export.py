"""The 千灯万带 budget plan as files people pass around: an XLSX for the office and GeoJSON for any map.

The workbook is laid out like the others (exchange/sheets.py): Chinese headers, one table per sheet, frozen header and
first column, widths that fit Chinese text. It holds the plan with a totals row, what the budget left out, every
candidate with its points per factor, and every parameter, unit cost and CMF with its source, so a reader can check
each number. The GeoJSON is lon/lat (RFC 7946) with English property keys; measures also come as Chinese labels.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import pandas as pd
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet

from analysis.budget import PER_LABELS, Plan, PlanItem
from analysis.priority import FACTOR_LABELS, Priority, PriorityRules, parameters
from exchange import sheets
from layers.vocab import AdminClass

PLAN_COLUMNS = {
    "rank": "排名",
    "fid": "路口编号",
    "name": "路口名称",
    "measures": "措施",
    "cost_yuan": "费用(元)",
    "expected_per_year": "现状期望伤亡事故(起/年)",
    "expected_source": "期望值来源",
    "crashes_avoided_per_year": "预期减少伤亡事故(起/年)",
    "benefit_per_10k_yuan": "每万元减少事故(起/年)",
    "score": "优先分",
    "warranted": "满足GB 14886 §5.1.3",
    "lon": "经度",
    "lat": "纬度",
    "explanation": "评分说明",
}
SOURCE_LABELS = {"observed": "统计期实际年均", "eb": "经验贝叶斯估计"}


def plan_table(items: Sequence[PlanItem]) -> pd.DataFrame:
    """The plan (or the left-out list) with Chinese headers, one row per intersection in rank order."""
    rows = [
        {
            "rank": i.rank,
            "fid": i.fid,
            "name": i.name,
            "measures": i.measures_zh,
            "cost_yuan": i.cost_yuan,
            "expected_per_year": _round(i.expected_per_year),
            "expected_source": SOURCE_LABELS.get(i.expected_source, i.expected_source),
            "crashes_avoided_per_year": _round(i.crashes_avoided_per_year),
            "benefit_per_10k_yuan": _round(i.benefit_per_10k_yuan),
            "score": i.score,
            "warranted": "是" if i.warranted else "否",
            "lon": i.lon,
            "lat": i.lat,
            "explanation": "；".join(i.explanations[k] for k in FACTOR_LABELS if k in i.explanations),
        }
        for i in items
    ]
    return pd.DataFrame(rows, columns=list(PLAN_COLUMNS)).rename(columns=PLAN_COLUMNS)


def candidate_table(priorities: Sequence[Priority], plan: Plan | None = None) -> pd.DataFrame:
    """Every scored candidate, highest score first, with its points per factor and whether the plan funds it."""
    funded = {i.fid for i in plan.items} if plan is not None else set()
    rows = []
    for order, p in enumerate(sorted(priorities, key=lambda p: (-p.score, p.fid)), start=1):
        rows.append(
            {
                "排序": order,
                "路口编号": p.fid,
                "路口名称": p.name,
                "主路等级": _class_label(p.major_class),
                "次路等级": _class_label(p.minor_class),
                "总分": p.score,
                **{f"{label}(分)": p.factors.get(key, 0.0) for key, label in FACTOR_LABELS.items()},
                "满足§5.1.3": "是" if p.warranted else "否",
                "达§5.1.3的80%": "是" if p.warrant_80pct else "否",
                "死亡事故": p.fatal,
                "伤人事故": p.injury,
                "财损事故": p.property_damage,
                "可避免事故": p.preventable,
                "计入事故编号": ",".join(str(f) for f in p.crash_ids),
                "列入计划": "是" if p.fid in funded else "否",
                "评分说明": p.summary_zh,
            }
        )
    return pd.DataFrame(rows)


def parameter_table(plan: Plan, priority_rules: PriorityRules | None = None) -> pd.DataFrame:
    """Every number behind the plan with its source: score rules (the defaults unless given), plan settings, unit
    costs and CMFs."""
    priority_rules = priority_rules if priority_rules is not None else PriorityRules()
    rows = [
        {"类别": "评分参数", "参数": r["name"], "说明": r["label"], "取值": _text(r["value"]), "来源": r["source"]}
        for r in parameters(priority_rules)
    ]
    rows += [
        {"类别": "计划参数", "参数": r["name"], "说明": r["label"], "取值": _text(r["value"]), "来源": r["source"]}
        for r in parameters(plan.rules)
    ]
    rows.append(
        {
            "类别": "计划参数",
            "参数": "budget_yuan",
            "说明": "预算(元)",
            "取值": _text(plan.budget_yuan),
            "来源": "规划人员输入",
        }
    )
    on_offer = {t.code for t in plan.rules.active()}
    for t in plan.rules.treatments:
        where = []
        if t.needs:
            where.append(f"仅当{t.needs}为是")
        if t.present_columns:
            where.append(f"{'/'.join(t.present_columns)}为是则跳过")
        if t.present_controls:
            where.append(f"控制方式为{'/'.join(t.present_controls)}则跳过")
        offered = "" if t.code in on_offer else "（本次未参与）"
        rows.append(
            {
                "类别": "措施单价",
                "参数": t.code,
                "说明": f"{t.label}{offered}，{PER_LABELS[t.per]}；{'；'.join(where) or '均可实施'}",
                "取值": _text(t.unit_cost_yuan),
                "来源": t.cost_source,
            }
        )
        rows.append(
            {"类别": "事故修正系数CMF", "参数": t.code, "说明": t.label, "取值": _text(t.cmf), "来源": t.cmf_source}
        )
    rows += [{"类别": "说明", "参数": "", "说明": note, "取值": "", "来源": ""} for note in plan.notes]
    return pd.DataFrame(rows, columns=["类别", "参数", "说明", "取值", "来源"])


def plan_workbook(plan: Plan, priorities: Sequence[Priority], priority_rules: PriorityRules | None = None) -> bytes:
    """投资计划 (with totals), 预算外候选, 全部候选路口 and 参数与来源 as one XLSX file."""
    tables = {
        "投资计划": plan_table(plan.items),
        "预算外候选": plan_table(plan.left_out),
        "全部候选路口": candidate_table(priorities, plan),
        "参数与来源": parameter_table(plan, priority_rules),
    }

    def finish(name: str, sheet: Worksheet) -> None:
        if name == "投资计划":
            _totals(sheet, plan, list(tables[name].columns))
        sheet.freeze_panes = "B2"  # the rank or category stays in view

    return sheets.workbook(tables, finish=finish)


def _totals(sheet: Worksheet, plan: Plan, headers: list[str]) -> None:
    """合计 row under the plan, then the budget and what is left of it."""
    total = dict.fromkeys(headers, None)
    total[PLAN_COLUMNS["rank"]] = "合计"
    total[PLAN_COLUMNS["name"]] = f"{len(plan.items)}处路口"
    total[PLAN_COLUMNS["cost_yuan"]] = plan.total_cost_yuan
    total[PLAN_COLUMNS["crashes_avoided_per_year"]] = _round(plan.total_crashes_avoided_per_year)
    total[PLAN_COLUMNS["benefit_per_10k_yuan"]] = _round(plan.benefit_per_10k_yuan)
    sheet.append(list(total.values()))
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)
    for label, value in (("预算(元)", plan.budget_yuan), ("结余(元)", plan.remaining_yuan)):
        row = dict.fromkeys(headers, None)
        row[PLAN_COLUMNS["rank"]] = label
        row[PLAN_COLUMNS["cost_yuan"]] = value
        sheet.append(list(row.values()))


def plan_geojson(plan: Plan) -> str:
    """The planned intersections as a GeoJSON FeatureCollection (lon/lat), in rank order, with the plan totals."""
    features = []
    for i in plan.items:
        has_point = i.lon is not None and i.lat is not None
        features.append(
            {
                "type": "Feature",
                "id": i.fid,
                "geometry": {"type": "Point", "coordinates": [round(i.lon, 7), round(i.lat, 7)]} if has_point else None,
                "properties": {
                    "rank": i.rank,
                    "fid": i.fid,
                    "name": i.name,
                    "measures": list(i.measures),
                    "quantities": list(i.quantities),
                    "measures_zh": list(i.measure_labels),
                    "measures_text_zh": i.measures_zh,
                    "cost_yuan": i.cost_yuan,
                    "expected_crashes_per_year": _round(i.expected_per_year),
                    "expected_source": i.expected_source,
                    "crashes_avoided_per_year": _round(i.crashes_avoided_per_year),
                    "benefit_per_10k_yuan": _round(i.benefit_per_10k_yuan),
                    "score": i.score,
                    "factors": i.factors,
                    "explanations_zh": i.explanations,
                    "warranted": i.warranted,
                },
            }
        )
    collection = {
        "type": "FeatureCollection",
        "features": features,
        # A foreign member (RFC 7946 §6.1): the totals travel with the features.
        "plan": {
            "budget_yuan": plan.budget_yuan,
            "total_cost_yuan": plan.total_cost_yuan,
            "remaining_yuan": plan.remaining_yuan,
            "total_crashes_avoided_per_year": _round(plan.total_crashes_avoided_per_year),
            "intersections": len(plan.items),
            "left_out_fids": [i.fid for i in plan.left_out],
        },
    }
    return json.dumps(collection, ensure_ascii=False, allow_nan=False)


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), digits)


def _class_label(code: str) -> str:
    try:
        return AdminClass(code).label
    except ValueError:
        return code


def _text(value: Any) -> str:
    """A parameter value as readable text: bands as "阈值:分" pairs, lists comma-separated, None as 无."""
    if value is None:
        return "无"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, tuple) and value and all(isinstance(v, tuple) and len(v) == 2 for v in value):
        return ", ".join(f"{a:g}:{b:g}" if isinstance(a, int | float) else f"{a}:{b:g}" for a, b in value)
    if isinstance(value, tuple):
        return ", ".join(str(v) for v in value) or "无"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
