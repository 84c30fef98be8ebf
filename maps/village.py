"""The village view's side panel: the village, how much of each layer lies in it, and its hazards with deadlines."""

from __future__ import annotations

from datetime import date
from html import escape
from typing import Any

import numpy as np
import pandas as pd

from api.catalog import Catalog
from layers import LAYERS
from maps.popups import OPEN_STATUSES, readable_value

#: Layers counted in the summary table, in the order a village official reads them.
COUNTED = (
    "hazards",
    "risk_sources",
    "intersections",
    "accidents",
    "fire_lanes",
    "obstructions",
    "old_settlements",
    "buildings",
    "emergency_resources",
)


def village_panel(cat: Catalog, fid: int, *, hazards: Any = None, today: date | None = None) -> str:
    """An HTML panel beside the map (and on the printed page): facts, counts, and the hazard list — of the hazards
    in `hazards` (the ids the viewer may see); None (not signed in) shows a sign-in hint instead."""
    today = today or date.today()
    villages = cat["villages"]
    row = villages.frame.loc[fid]
    polygon = villages.index.geometry(fid)
    kind = readable_value("villages", "kind", row["kind"])
    parts = [
        '<aside class="om-village-panel" id="om-village-panel">',
        f"<h1>{escape(str(row['name']))}</h1>",
        f"<div>{escape(kind)} · 区划代码 {escape(str(row['code']))}</div>",
        f"<div>户籍人口 {int(row['population'])} 人，{int(row['households'])} 户</div>",
        f"<div>包村干部 {escape(str(row['official']))}"
        + (f"，电话 {escape(str(row['phone']))}" if row.get("phone") else "")
        + "</div>",
        "<h2>本村要素统计</h2><table><tr><th>图层</th><th>数量</th></tr>",
    ]
    for layer_id in COUNTED:
        found = cat[layer_id].index.query(polygon)
        if layer_id == "hazards":
            if hazards is None:
                continue
            found = np.intersect1d(found, hazards)
        count = len(found)
        parts.append(f'<tr><td>{escape(LAYERS[layer_id].title)}</td><td class="num">{count}</td></tr>')
    parts.append("</table>")
    if hazards is None:
        parts.append("<h2>本村隐患</h2><div>登录后查看本村隐患及整改时限（地图左上角“登录”）。</div></aside>")
        return "".join(parts)
    ledger = cat["hazards"]
    rows = ledger.frame.loc[np.intersect1d(ledger.index.query(polygon), hazards)]
    open_rows = rows[rows["status"].isin(OPEN_STATUSES)].sort_values("deadline", na_position="last")
    parts.append(f"<h2>未销号隐患（{len(open_rows)}）</h2>")
    if len(open_rows):
        parts.append("<table><tr><th>编号</th><th>隐患</th><th>状态</th><th>整改时限</th></tr>")
        for _, r in open_rows.iterrows():
            when = "未定" if pd.isna(r["deadline"]) else str(r["deadline"])[:10]
            overdue = when != "未定" and when < today.isoformat()
            mark = ' class="om-overdue"' if overdue else ""
            parts.append(
                f"<tr><td>{escape(str(r['code']))}</td><td>{escape(str(r['description']))}</td>"
                f"<td>{escape(readable_value('hazards', 'status', r['status']))}</td>"
                f"<td{mark}>{escape(when)}{'（逾期）' if overdue else ''}</td></tr>"
            )
        parts.append("</table>")
    else:
        parts.append("<div>无</div>")
    closed = int((rows["status"] == "closed").sum())
    parts.append(f"<div>已销号 {closed} 项。打印：浏览器“打印”即可输出 A4 横版。</div></aside>")
    return "".join(parts)
