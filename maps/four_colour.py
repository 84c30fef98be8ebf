"""安全风险四色分布图: each village in the colour of the worst risk source in it, each source in its graded colour.

安委办〔2016〕11号 asks for a 红橙黄蓝 map of safety risk where an area takes the colour of its highest level. A
source's level is the one `analysis.risk_grading.grade` gives from its survey (LEC, else LS); a source it cannot grade
(factors missing, or not one of the method's scores) keeps the level on record, so one bad survey value cannot blank
the map.
Grading a town takes milliseconds; the result is kept with the catalog until villages or risk sources change, so no
request runs an analysis.

At village level (`village_fid`) the map holds that village and its own sources only: the counts then are the
village's, and a neighbour's sources near the boundary do not count towards it on paper.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from html import escape
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from analysis.risk_grading import COLOUR_NAMES, InvalidScore, grade, validate_scores, village_summary
from api.catalog import Catalog
from geo.index import BBox
from layers.vocab import RiskLevel
from maps import viewport as plain
from maps.symbols import FOUR_COLOUR_SYMBOLS, Symbol

#: The view that draws this map (maps/views.py).
VIEW = "risk"
#: Levels from the highest down; a village with none of them is "none".
LEVELS = tuple(r.value for r in RiskLevel)
NONE = "none"
UNGRADED = "ungraded"
#: Survey factors grading reads; blanked for a source whose values grading refuses.
FACTORS = ("lec_l", "lec_e", "lec_c", "ls_l", "ls_s")

#: What a village does about its colour: control follows its highest level, as for a source (maps/advice.py).
AREA_ACTIONS = {
    "red": "红色区域：重点管控。列入镇级重点监管清单，责任单位主要负责人管控、每日巡查，落实专项管控方案和应急预案；"
    "严控周边新建人员密集场所",
    "orange": "橙色区域：严格管控。责任单位分管负责人管控、每周检查，落实监测预警和应急措施",
    "yellow": "黄色区域：一般管控。责任单位部门（车间）管控、每月检查",
    "blue": "蓝色区域：日常管控。岗位人员日常管控，村里结合日常巡查督促",
    NONE: "本村暂无登记风险源：继续排查，发现风险源及时登记、评估定级",
}


@dataclass(frozen=True)
class FourColour:
    """The graded town: each source's level and village, each village's counts per colour and its colour."""

    #: Source fid → level code (graded, else on record; "ungraded" when neither).
    levels: pd.Series
    #: Source fid → village fid (NA outside every village).
    village_of: pd.Series
    #: `village_summary` over the levels above: name, one column per level, ungraded, total; indexed by village fid.
    summary: pd.DataFrame
    #: Village fid → its colour: the highest level among its sources, or "none".
    areas: pd.Series

    @classmethod
    def build(cls, risk_sources: gpd.GeoDataFrame, villages: gpd.GeoDataFrame) -> FourColour:
        """Grade the sources, place them in villages and count each village's colours."""
        graded = grade(_gradable(risk_sources), villages)
        on_record = risk_sources["level"] if "level" in risk_sources.columns else pd.Series(None, graded.index)
        graded["level"] = graded["level"].fillna(on_record.astype("object")).astype("object")
        summary = village_summary(graded, villages)
        has = summary[list(LEVELS)].to_numpy() > 0
        top = np.where(has.any(axis=1), np.asarray(LEVELS, dtype=object)[has.argmax(axis=1)], NONE)
        return cls(
            levels=graded["level"].where(graded["level"].isin(LEVELS), UNGRADED),
            village_of=graded["village_id"],
            summary=summary,
            areas=pd.Series(top, index=summary.index, dtype=object),
        )

    def sources_in(self, village_fid: int) -> np.ndarray:
        """Fids of the sources lying in a village."""
        return self.village_of.index[self.village_of.eq(village_fid).fillna(False)].to_numpy()

    def counts(self, village_fid: int | None = None) -> dict[str, int]:
        """Sources per level (and ungraded) in the town, or in one village."""
        levels = self.levels if village_fid is None else self.levels.loc[self.sources_in(village_fid)]
        found = levels.value_counts()
        return {k: int(found.get(k, 0)) for k in (*LEVELS, UNGRADED)}

    def symbols(self, village_fid: int | None = None) -> dict[str, Symbol]:
        """The map's two symbols with their counts in the legend (of the town, or of one village)."""
        areas = self.areas if village_fid is None else self.areas.loc[[village_fid]]
        found = areas.value_counts()
        villages = FOUR_COLOUR_SYMBOLS["villages"]
        village_labels = {k: f"{label}：{int(found.get(k, 0))} 个村" for k, label in villages.labels.items()}
        sources = FOUR_COLOUR_SYMBOLS["risk_sources"]
        counts = self.counts(village_fid)
        colors, labels = dict(sources.colors), {k: f"{label}：{counts[k]} 处" for k, label in sources.labels.items()}
        if counts[UNGRADED]:
            colors[UNGRADED], labels[UNGRADED] = "#999999", f"未评级：{counts[UNGRADED]} 处"
        return {
            "villages": replace(villages, labels=village_labels),
            "risk_sources": replace(sources, colors=colors, labels=labels),
        }

    def village_popup(self, village_fid: int) -> str:
        """A village's popup: its colour, its sources per colour, and what to do about them."""
        row = self.summary.loc[village_fid]
        area = self.areas.loc[village_fid]
        colours = FOUR_COLOUR_SYMBOLS["villages"].colors
        name = row["name"] if "name" in row.index else f"#{village_fid}"
        parts = [
            '<div class="om-popup"><div class="om-popup-kind">安全风险四色分布 · 村（嘎查）</div>',
            f'<div class="om-popup-title">{escape(str(name))}</div>',
            f"<div>{escape(_highest_text(area))}</div>",
            '<div class="om-popup-section">风险源数量</div><table class="om-four-colour">',
        ]
        for level in LEVELS:
            label = f"{RiskLevel(level).label}（{COLOUR_NAMES[level]}）"
            swatch = f'<span class="om-swatch om-circle" style="background:{colours[level]}"></span>'
            parts.append(f'<tr data-level="{level}"><th>{swatch}{label}</th><td>{int(row[level])} 处</td></tr>')
        if row[UNGRADED]:
            parts.append(f'<tr data-level="{UNGRADED}"><th>未评级</th><td>{int(row[UNGRADED])} 处</td></tr>')
        parts.append(f"<tr><th>合计</th><td>{int(row['total'])} 处</td></tr></table>")
        parts.append('<div class="om-popup-section">处置建议</div>')
        parts.append(f'<ul class="om-advice"><li>{escape(AREA_ACTIONS[area])}</li></ul></div>')
        return "".join(parts)


def four_colour(cat: Catalog) -> FourColour:
    """The town's four-colour grading, built once and again after villages or risk sources are replaced."""
    return cat.derived(
        "four_colour",
        ("villages", "risk_sources"),
        lambda: FourColour.build(cat["risk_sources"].frame, cat["villages"].frame),
    )


def viewport(
    cat: Catalog,
    layer_id: str,
    bbox: BBox,
    zoom: float,
    *,
    village_fid: int | None = None,
    only: np.ndarray | None = None,
    popups: bool = False,
    **options: Any,
) -> dict[str, Any]:
    """`maps.viewport.viewport` with the four-colour keys (and each village's popup) on villages and risk sources;
    other layers as everywhere else. With `village_fid`, only that village and its own sources."""
    if layer_id not in FOUR_COLOUR_SYMBOLS:
        return plain.viewport(cat, layer_id, bbox, zoom, only=only, popups=popups, **options)
    colours = four_colour(cat)
    if village_fid is not None:
        mine = np.array([village_fid]) if layer_id == "villages" else colours.sources_in(village_fid)
        only = mine if only is None else np.intersect1d(only, mine)
    villages = layer_id == "villages"
    body = plain.viewport(cat, layer_id, bbox, zoom, only=only, popups=popups and not villages, **options)
    weights = plain.HEAT_WEIGHTS["risk_sources"]
    for feature in body["features"]:
        props = feature["properties"]
        if "fid" not in props:  # a grid cell of many points
            continue
        if villages:
            props["k"] = colours.areas.loc[props["fid"]]
            props["popup"] = colours.village_popup(props["fid"])
        else:
            props["k"] = colours.levels.loc[props["fid"]]
            props["w"] = weights.get(props["k"], 0.3)
    return body


def _highest_text(area: str) -> str:
    """E.g. "红色区域：本村风险源最高为重大风险"."""
    if area == NONE:
        return "本村暂无登记风险源"
    return f"{FOUR_COLOUR_SYMBOLS['villages'].labels[area]}：本村风险源最高为{RiskLevel(area).label}"


def _gradable(risk_sources: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The sources with the factors blanked where grading would refuse them, so those keep their level on record."""
    try:
        validate_scores(risk_sources)
        return risk_sources
    except InvalidScore:
        pass
    refused = []
    for fid in risk_sources.index:
        try:
            validate_scores(risk_sources.loc[[fid]])
        except InvalidScore:
            refused.append(fid)
    out = risk_sources.copy()
    out.loc[refused, [c for c in FACTORS if c in out.columns]] = np.nan
    return out
