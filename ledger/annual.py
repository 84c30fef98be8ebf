"""The annual report (due every 10 December): per village and sector, what was found, rectified, overdue and still
open, and the supervision cases — as XLSX and as a printable HTML document with a map of each village.

Counts are taken at the report date from each hazard's own dates: found in the year (discovered_on), rectified in
the year (closed_on), open at the report date (found by then, not closed by then, not voided), overdue at the report
date (open, in rectification and past its deadline), supervised (挂牌督办) among those found in the year.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from html import escape
from io import BytesIO

import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from layers import LAYERS
from ledger.lists import LABELS
from store.base import Store

COLUMNS = ("发现", "整改销号", "逾期", "未销号", "挂牌督办")
STATUS_COLOURS = {"open": "#d73027", "overdue": "#67001f", "closed": "#1a9850"}


def report_date(year: int) -> date:
    """The annual report is due on 10 December."""
    return date(year, 12, 10)


def _day(value: object) -> date | None:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NaT:
        return None
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def classify(hazard: dict, year: int, on: date) -> dict[str, bool]:
    """Which annual columns one hazard counts in."""
    found, closed, deadline = _day(hazard["discovered_on"]), _day(hazard["closed_on"]), _day(hazard["deadline"])
    accepted = _day(hazard["accepted_on"])
    voided = hazard["status"] == "voided"
    open_now = found is not None and found <= on and not voided and (closed is None or closed > on)
    in_rectification = open_now and (accepted is None or accepted > on)
    return {
        "发现": found is not None and found.year == year,
        "整改销号": closed is not None and closed.year == year and closed <= on,
        "逾期": in_rectification and deadline is not None and deadline < on,
        "未销号": open_now,
        "挂牌督办": found is not None and found.year == year and bool(hazard["supervised"]),
    }


def annual_table(hazards: pd.DataFrame, villages: dict[str, str], year: int, on: date | None = None) -> pd.DataFrame:
    """One row per village and sector with the five counts, plus each village's total row."""
    on = on or report_date(year)
    rows = []
    for record in hazards.to_dict(orient="records"):
        counts = classify(record, year, on)
        if not any(counts.values()):
            continue
        rows.append(
            {
                "村": villages.get(record["village_code"], record["village_code"] or "—"),
                "行业领域": LABELS["sector"].get(record["sector"], record["sector"]),
                **{k: int(v) for k, v in counts.items()},
            }
        )
    if not rows:
        return pd.DataFrame(columns=["村", "行业领域", *COLUMNS])
    table = pd.DataFrame(rows).groupby(["村", "行业领域"], as_index=False)[list(COLUMNS)].sum()
    return table.sort_values(["村", "行业领域"]).reset_index(drop=True)


def village_totals(table: pd.DataFrame) -> pd.DataFrame:
    """The annual counts per village, with the town's total last."""
    totals = table.groupby("村", as_index=False)[list(COLUMNS)].sum()
    town = pd.DataFrame([{"村": "全镇合计", **{c: int(totals[c].sum()) for c in COLUMNS}}])
    return pd.concat([totals, town], ignore_index=True)


def workbook(table: pd.DataFrame, supervised: pd.DataFrame, year: int) -> bytes:
    """汇总, 分村分行业 and 督办案件 sheets."""
    buffer = BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        village_totals(table).to_excel(writer, sheet_name="分村汇总", index=False)
        table.to_excel(writer, sheet_name="分村分行业", index=False)
        supervised.to_excel(writer, sheet_name="挂牌督办案件", index=False)
        for sheet in writer.sheets.values():
            sheet.freeze_panes = "B2"
            sheet.column_dimensions["A"].width = 16
            sheet.column_dimensions["B"].width = 14
    return buffer.getvalue()


@dataclass(frozen=True)
class VillageMap:
    """What a village's small map shows: its outline, roads, and its hazards open and closed."""

    name: str
    outline: BaseGeometry
    roads: list[BaseGeometry]
    hazards: list[tuple[BaseGeometry, str]]


def svg_map(village: VillageMap, width: int = 320) -> str:
    """A static SVG of one village (north up, lon/lat scaled by cos(lat)), printable with no script."""
    minx, miny, maxx, maxy = village.outline.bounds
    kx = math.cos(math.radians((miny + maxy) / 2))
    w, h = (maxx - minx) * kx, maxy - miny
    height = int(width * h / w) if w else width
    scale = width / w if w else 1

    def xy(x: float, y: float) -> str:
        return f"{(x - minx) * kx * scale:.1f},{(maxy - y) * scale:.1f}"

    def path(geom: BaseGeometry) -> str:
        parts = []
        for line in shapely.get_parts(shapely.boundary(geom) if geom.geom_type.endswith("Polygon") else geom):
            coords = shapely.get_coordinates(line)
            parts.append("M" + " L".join(xy(x, y) for x, y in coords))
        return " ".join(parts)

    shapes = [f'<path d="{path(village.outline)}" fill="#f4f0e6" stroke="#888" stroke-width="1"/>']
    clip = village.outline
    for road in village.roads:
        inside = road.intersection(clip)
        if not inside.is_empty:
            shapes.append(f'<path d="{path(inside)}" fill="none" stroke="#999" stroke-width="0.8"/>')
    for point, state in village.hazards:
        px, py = xy(point.x, point.y).split(",")
        shapes.append(
            f'<circle cx="{px}" cy="{py}" r="3.5" fill="{STATUS_COLOURS[state]}" stroke="#fff" stroke-width="0.8"/>'
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(village.name)}">{"".join(shapes)}</svg>'
    )


def html_document(
    title: str, table: pd.DataFrame, supervised: pd.DataFrame, maps: list[VillageMap], year: int, notice: str
) -> str:
    """The printable report: summary, per-village table with its map, and the supervision cases; every value from the
    data is escaped, names and descriptions being typed in by users."""
    totals = village_totals(table)
    parts = [
        "<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'>",
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f"<p class='meta'>统计截至 {report_date(year):%Y 年 %m 月 %d 日}。{escape(notice)}</p>",
        "<h2>一、全镇汇总</h2>",
        totals.to_html(index=False, classes="grid", border=0, escape=True),
        "<h2>二、分村情况</h2>",
    ]
    for village in maps:
        rows = table[table["村"] == village.name]
        parts.append(f"<section class='village'><h3>{escape(village.name)}</h3><div class='pair'>")
        parts.append(svg_map(village))
        body = (
            rows.drop(columns="村").to_html(index=False, classes="grid", border=0, escape=True)
            if len(rows)
            else "<p>本年度无隐患记录。</p>"
        )
        parts.append(f"<div>{body}{_LEGEND}</div>")
        parts.append("</div></section>")
    parts.append("<h2>三、挂牌督办案件</h2>")
    parts.append(
        supervised.to_html(index=False, classes="grid", border=0, escape=True) if len(supervised) else "<p>无。</p>"
    )
    parts.append("</body></html>")
    return "".join(parts)


_LEGEND = (
    "<p class='legend'><span style='color:#d73027'>●</span> 未销号 "
    "<span style='color:#67001f'>●</span> 逾期 <span style='color:#1a9850'>●</span> 已销号</p>"
)
_CSS = """
body { font-family: "Microsoft YaHei", "PingFang SC", "Noto Sans CJK SC", "WenQuanYi Micro Hei", sans-serif;
  margin: 24px; color: #222; }
h1 { font-size: 22px; text-align: center; } h2 { font-size: 17px; border-bottom: 2px solid #7a0c0c; }
h3 { font-size: 15px; margin: 8px 0; } .meta { text-align: center; color: #555; }
table.grid { border-collapse: collapse; font-size: 12px; }
.grid th, .grid td { border: 1px solid #bbb; padding: 2px 6px; }
.grid td { text-align: right; } .grid td:first-child { text-align: left; }
.pair { display: flex; gap: 16px; align-items: flex-start; } .legend { font-size: 11px; color: #555; }
section.village { break-inside: avoid; }
@media print { @page { size: A4; margin: 12mm; } body { margin: 0; } }
"""


@dataclass(frozen=True)
class AnnualReport:
    """The report's table and its two renderings."""

    year: int
    table: pd.DataFrame
    xlsx: bytes
    html: str


def build(store: Store, year: int, town: str) -> AnnualReport:
    """The annual report of the data in `store` for `year`."""
    on = report_date(year)
    villages = store.read(LAYERS["villages"])
    hazards = store.read(LAYERS["hazards"])
    roads = store.read(LAYERS["roads"])
    names = dict(zip(villages["code"], villages["name"], strict=True))
    attributes = pd.DataFrame(hazards.drop(columns=hazards.geometry.name))
    table = annual_table(attributes, names, year, on)
    supervised = _supervision_cases(attributes, names, year)
    road_tree = shapely.STRtree(roads.geometry.values)
    maps = []
    for _, village in villages.sort_values("name").iterrows():
        mine = hazards[hazards["village_code"] == village["code"]]
        points = []
        for point, record in zip(mine.geometry, attributes.loc[mine.index].to_dict(orient="records"), strict=True):
            counts = classify(record, year, on)
            if counts["逾期"]:
                points.append((point, "overdue"))
            elif counts["未销号"]:
                points.append((point, "open"))
            elif counts["整改销号"]:
                points.append((point, "closed"))
        nearby = [roads.geometry.values[i] for i in road_tree.query(village.geometry)]
        maps.append(VillageMap(str(village["name"]), village.geometry, nearby, points))
    title = f"{town} {year} 年度隐患排查治理情况报告"
    html = html_document(title, table, supervised, maps, year, store.info().notice)
    return AnnualReport(year, table, workbook(table, supervised, year), html)


def _supervision_cases(hazards: pd.DataFrame, villages: dict[str, str], year: int) -> pd.DataFrame:
    found = pd.to_datetime(hazards["discovered_on"]).dt.year == year
    cases = hazards[found & hazards["supervised"].fillna(False).astype(bool)].sort_values("code")
    return pd.DataFrame(
        {
            "隐患编号": cases["code"],
            "所属村": cases["village_code"].map(villages),
            "行业领域": cases["sector"].map(LABELS["sector"]),
            "隐患描述": cases["description"],
            "督办级别": cases["supervision_level"].map(LABELS["supervision_level"]),
            "状态": cases["status"].map(LABELS["status"]),
            "整改时限": cases["deadline"],
            "销号日期": cases["closed_on"],
        }
    )
