"""Popup contents in Chinese: what the feature is, its key attributes, the open ledger entries there, and what to do."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from html import escape
from typing import Any, get_args

import numpy as np
import pandas as pd

from api.catalog import Catalog
from layers import LAYERS
from layers.frames import properties_of
from layers.vocab import OPEN_HAZARD_STATUSES, Labeled
from maps.advice import advice

#: Hazards within this distance of a feature count as "at that place" (besides those linked to it by id).
NEARBY_M = 30.0
OPEN_STATUSES = OPEN_HAZARD_STATUSES
#: Fields not worth a line in a popup (codes people do not read, or shown elsewhere).
HIDDEN = {"road_ids", "linked_layer", "linked_fid", "village_code", "lane_id", "road_id", "factors", "parameters"}


def readable_value(layer_id: str, name: str, value: Any) -> str:
    """A stored value as a person reads it: code → Chinese label, yes/no, substances as a list."""
    layer = LAYERS[layer_id]
    coded = layer.coded_fields().get(name)
    if coded is not None and value is not None:
        try:
            return coded(value).label
        except ValueError:
            return str(value)
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, list) and value:
        (item,) = get_args(layer.properties.model_fields[name].annotation) or (None,)
        if isinstance(item, type) and issubclass(item, Labeled):
            return "、".join(item(v).label for v in value)
    if name == "substances":
        return "；".join(f"{s.get('name')} {s.get('quantity_t'):g} t" for s in value) or "—"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def attribute_rows(layer_id: str, props: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(Chinese title, readable value) for every filled-in attribute worth showing."""
    titles = LAYERS[layer_id].field_titles()
    rows = []
    for name, title in titles.items():
        value = props.get(name)
        if name in HIDDEN or value is None or (isinstance(value, str | list) and not value):
            continue
        rows.append((title, readable_value(layer_id, name, value)))
    return rows


def open_hazards(cat: Catalog, layer_id: str, fid: int) -> list[Mapping[str, Any]]:
    """Open ledger entries linked to the feature or lying within NEARBY_M of it, newest first."""
    hazards = cat["hazards"]
    if hazards.frame.empty:
        return []
    frame = hazards.frame
    linked = frame.index[(frame["linked_layer"] == layer_id) & (frame["linked_fid"] == fid)]
    if layer_id == "hazards":
        near = np.array([], dtype=int)
    else:
        near = hazards.index.within_distance(cat[layer_id].index.geometry(fid), NEARBY_M)
    ids = np.union1d(np.asarray(linked, dtype=int), near)
    rows = frame.loc[ids]
    rows = rows[rows["status"].isin(OPEN_STATUSES)].sort_values("discovered_on", ascending=False)
    records = rows.drop(columns=rows.geometry.name).to_dict(orient="records")
    layer = LAYERS["hazards"]
    return [{"fid": int(fid), **properties_of(layer, r)} for fid, r in zip(rows.index, records, strict=True)]


def open_hazards_by_feature(cat: Catalog, layer_id: str) -> dict[int, list[Mapping[str, Any]]]:
    """Open hazards at every feature of a layer at once: one index query per open hazard, not one per feature."""
    hazards = cat["hazards"]
    frame = hazards.frame
    if frame.empty or layer_id == "hazards":
        return {}
    open_rows = frame[frame["status"].isin(OPEN_STATUSES)].sort_values("discovered_on", ascending=False)
    target = cat[layer_id].index
    found: dict[int, list[Mapping[str, Any]]] = {}
    for hazard_fid, row in open_rows.iterrows():
        fids = set(target.within_distance(row.geometry, NEARBY_M).tolist())
        if row["linked_layer"] == layer_id and pd.notna(row["linked_fid"]) and int(row["linked_fid"]) in target:
            fids.add(int(row["linked_fid"]))
        attributes = properties_of(LAYERS["hazards"], row.drop(labels=[frame.geometry.name]).to_dict())
        record = {"fid": int(hazard_fid), **attributes}
        for fid in sorted(fids):
            found.setdefault(fid, []).append(record)
    return found


def popup_html(
    cat: Catalog,
    layer_id: str,
    fid: int,
    props: Mapping[str, Any],
    *,
    today: date | None = None,
    hazards: list[Mapping[str, Any]] | None = None,
    history: list[Mapping[str, Any]] | None = None,
) -> str:
    """The popup of one feature as an HTML fragment (every value escaped); `hazards` when already looked up."""
    layer = LAYERS[layer_id]
    name = props.get("name") or props.get("code") or props.get("description") or f"#{fid}"
    parts = [f'<div class="om-popup"><div class="om-popup-kind">{escape(layer.title)}</div>']
    parts.append(f'<div class="om-popup-title">{escape(str(name))}</div><table>')
    for title, value in attribute_rows(layer_id, props):
        parts.append(f"<tr><th>{escape(title)}</th><td>{escape(value)}</td></tr>")
    parts.append("</table>")
    parts += _factor_rows(props.get("factors"))
    if layer_id == "risk_sources" and fid in cat["risk_sources"].index:
        parts += _risk_rows(cat, fid)
    if props.get("parameters"):
        parts.append('<div class="om-popup-note">分析结果：所用参数随图层保存（“分析参数”字段）</div>')
    actions = advice(layer_id, props, today=today)
    if actions:
        items = "".join(f"<li>{escape(a)}</li>" for a in actions)
        parts.append(f'<div class="om-popup-section">处置建议</div><ul class="om-advice">{items}</ul>')
    if layer_id != "hazards":
        if hazards is None:
            hazards = open_hazards(cat, layer_id, fid)
        if hazards:
            parts.append(f'<div class="om-popup-section">未销号隐患（{len(hazards)}）</div><ul class="om-hazards">')
            for h in hazards:
                status = readable_value("hazards", "status", h["status"])
                deadline = readable_value("hazards", "deadline", h["deadline"]) if h.get("deadline") else "未定"
                parts.append(
                    f"<li><b>{escape(str(h['code']))}</b> {escape(str(h['description']))}"
                    f"<br><span>{escape(status)} · 时限 {escape(deadline)}</span></li>"
                )
            parts.append("</ul>")
    if history:
        parts.append('<div class="om-popup-section">处理记录</div><ol class="om-history">')
        for event in history:
            parts.append(
                f"<li>{escape(str(event['at'])[:10])} {escape(str(event['action_label']))}"
                f" → {escape(str(event['to_label']))}</li>"
            )
        parts.append("</ol>")
    parts.append("</div>")
    return "".join(parts)


def _factor_rows(factors: Any) -> list[str]:
    """A score's factors as a table: what each adds and why, so a planner can check the ranking."""
    if not factors:
        return []
    try:
        items = json.loads(factors) if isinstance(factors, str) else factors
    except ValueError:
        return []
    rows = ['<div class="om-popup-section">评分构成</div><table class="om-factors">']
    for item in items:
        points = float(item.get("points") or 0)
        rows.append(
            f"<tr><th>{escape(str(item.get('label', item.get('factor', ''))))}</th>"
            f"<td>{points:+g}</td><td>{escape(str(item.get('reason', '')))}</td></tr>"
        )
    rows.append("</table>")
    return rows


def _risk_rows(cat: Catalog, fid: int) -> list[str]:
    """How the site is graded, step by step: the four-colour rule, and GB 18218 where it holds dangerous goods."""
    from analysis.major_hazard import DEFAULT_RULES, assess
    from analysis.risk_grading import grade

    site = cat["risk_sources"].frame.loc[[fid]]
    rows = ['<div class="om-popup-section">分级依据</div><ul class="om-advice">']
    rule = grade(site)["rule"].iloc[0]
    if isinstance(rule, str) and rule:
        rows.append(f"<li>{escape(rule)}</li>")
    # Only the buildings that can count, found through the served index: the engine need not index the whole town.
    reach = DEFAULT_RULES.site_radius_m + DEFAULT_RULES.exposure_radius_m + 1.0
    near = cat["buildings"].index.within_distance(cat["risk_sources"].index.geometry(fid), reach)
    found = assess(site, cat["buildings"].frame.loc[near]).iloc[0]
    if found["substances"]:
        rows.append(f"<li>{escape(str(found['explanation']))}</li>")
    rows.append("</ul>")
    return rows if len(rows) > 2 else []
