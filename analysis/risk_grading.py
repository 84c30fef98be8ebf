"""Four-colour grading of risk sources by LEC (D = L×E×C) or the LS matrix (R = L×S), with every rule shown.

domain.md §4: the four levels are 重大 red, 较大 orange, 一般 yellow, 低 blue (安委办〔2016〕11号; blue, never green).
A site is graded by LEC when all three of L, E, C are surveyed, else by LS when L and S are, else not at all. Each
graded site carries its score, its level code (as `layers.vocab.RiskLevel`), its colour, the rule applied in Chinese
and whether it agrees with the surveyed level, so a reviewer can see at once why a site is red and whether the
survey says so too.

Documents differ on whether a band's lower bound belongs to it (D ≥ 320 or D > 320), so every band table carries its
`convention` ("ge": lower bound inclusive; "gt": lower bound exclusive) and the result shows it on every row. The
tables live in frozen dataclasses with their sources; a county may pass its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers.risk import RISK_SOURCES
from layers.vocab import RiskLevel

Convention = Literal["ge", "gt"]

#: Chinese colour names for the rule text and tables (domain.md §4.1: low risk is blue, 蓝).
COLOUR_NAMES: dict[str, str] = {"red": "红", "orange": "橙", "yellow": "黄", "blue": "蓝"}

#: Map colours of the levels, the same as the risk-source layer draws them.
COLOURS: dict[str, str] = dict(RISK_SOURCES.style.colors)

#: Result columns, in order (village columns follow when villages are given).
RESULT_COLUMNS = (
    "method",
    "score",
    "level",
    "level_label",
    "colour",
    "band",
    "convention",
    "rule",
    "lec_class",
    "surveyed_level",
    "agrees",
)


class InvalidScore(ValueError):
    """A surveyed LEC or LS factor that is not one of the method's scores: grading it would invent a level."""


@dataclass(frozen=True)
class BandTable:
    """Ordered bands of a score: `cuts` are the lower bounds from the top band down; below the last is the floor.

    `names[i]` is band i's Chinese name and `levels[i]` its four-colour code (None for a reading that is not a
    colour, as the classic Graham–Kinney classes). With convention "ge" a score equal to a cut is in the band above
    the cut; with "gt" it is in the band below.
    """

    cuts: tuple[float, ...]
    names: tuple[str, ...]
    levels: tuple[str | None, ...]
    convention: Convention = "ge"
    symbol: str = "D"
    source: str = ""

    def __post_init__(self) -> None:
        if self.convention not in ("ge", "gt"):
            raise ValueError(
                f"convention must be 'ge' (lower bound inclusive) or 'gt' (exclusive), got {self.convention!r}"
            )
        if list(self.cuts) != sorted(self.cuts, reverse=True) or len(set(self.cuts)) != len(self.cuts):
            raise ValueError(f"band cuts must be strictly descending, got {self.cuts}")
        if not len(self.names) == len(self.levels) == len(self.cuts) + 1:
            raise ValueError(
                f"{len(self.cuts)} cuts need {len(self.cuts) + 1} names and levels, "
                f"got {len(self.names)} names and {len(self.levels)} levels"
            )
        unknown = {lv for lv in self.levels if lv is not None} - {r.value for r in RiskLevel}
        if unknown:
            raise ValueError(f"unknown level codes {sorted(unknown)}; known: {[r.value for r in RiskLevel]}")

    def with_convention(self, convention: Convention) -> BandTable:
        """The same bands read with the other boundary convention (documents differ on > vs ≥)."""
        return replace(self, convention=convention)

    def classify(self, scores: np.ndarray) -> np.ndarray:
        """Band index of each score (0 = top band); NaN scores get -1."""
        scores = np.asarray(scores, dtype=float)
        cuts = np.asarray(self.cuts, dtype=float)
        below = scores[:, None] < cuts[None, :] if self.convention == "ge" else scores[:, None] <= cuts[None, :]
        index = below.sum(axis=1)
        index[np.isnan(scores)] = -1
        return index

    def describe(self, band: int, value: str | None = None) -> str:
        """Band `band` as an inequality in the table's symbol, e.g. "70 ≤ D < 160"; `value` replaces the symbol."""
        s = value if value is not None else self.symbol
        lo_op, hi_op = ("≤", "<") if self.convention == "ge" else ("<", "≤")
        top = ("≥", "<") if self.convention == "ge" else (">", "≤")
        if band == 0:
            return f"{s} {top[0]} {_num(self.cuts[0])}"
        if band == len(self.cuts):
            return f"{s} {top[1]} {_num(self.cuts[-1])}"
        return f"{_num(self.cuts[band])} {lo_op} {s} {hi_op} {_num(self.cuts[band - 1])}"


_FOUR = ("red", "orange", "yellow", "blue")

#: LEC four colours: D ≥ 320 重大, 160 ≤ D < 320 较大, 70 ≤ D < 160 一般, D < 70 低 — the mapping most used in
#: 双重预防 systems (domain.md §4.2: qieqiesitan/digital-emergency-plan-generator design doc, a Vue dashboard).
LEC_FOUR_COLOUR = BandTable(
    cuts=(320, 160, 70),
    names=tuple(RiskLevel(c).label for c in _FOUR),
    levels=_FOUR,
    symbol="D",
    source="domain.md §4.2 (双重预防 systems' LEC→four-colour mapping)",
)

#: The classic five Graham–Kinney classes of D (domain.md §4.2, https://m.zixin.com.cn/doc/3134728.html).
LEC_GRAHAM_KINNEY = BandTable(
    cuts=(320, 160, 70, 20),
    names=(
        "极其危险，不能继续作业",
        "高度危险，要立即整改",
        "显著危险，需要整改",
        "一般危险，需要注意",
        "稍有危险，可以接受",
    ),
    levels=(None, None, None, None, None),
    symbol="D",
    source="domain.md §4.2 (Graham–Kinney classic bands)",
)

#: LS common bands: R 20–25 重大, 15–16 较大, 9–12 一般, 1–8 低 (domain.md §4.3, the design doc's
#: "R≥20→重大, 15-16→较大, 9-12→一般, <9→低"). R takes only the products of 1..5, so these cover every case.
LS_COMMON = BandTable(
    cuts=(20, 15, 9),
    names=tuple(RiskLevel(c).label for c in _FOUR),
    levels=_FOUR,
    symbol="R",
    source="domain.md §4.3 (common LS bands)",
)

#: LS template variant: 20–25 重大, 9–16 较大, 4–8 一般, 1–3 轻微 (domain.md §4.3, http://zgmkw.com/doc-30900.html);
#: its lowest class 轻微 is drawn as the fourth colour, blue.
LS_TEMPLATE_VARIANT = BandTable(
    cuts=(20, 9, 4),
    names=("重大风险", "较大风险", "一般风险", "轻微风险"),
    levels=_FOUR,
    symbol="R",
    source="domain.md §4.3 (template variant, zgmkw.com doc-30900)",
)

#: LS coal-mine variant: 20–25, 15–19, 10–14, 1–9 (domain.md §4.3, the same repository's risk_method_engine.py).
LS_COAL_MINE = BandTable(
    cuts=(20, 15, 10),
    names=tuple(RiskLevel(c).label for c in _FOUR),
    levels=_FOUR,
    symbol="R",
    source="domain.md §4.3 (coal-mine LS variant)",
)


@dataclass(frozen=True)
class GradingRules:
    """The band tables and allowed factor scores of LEC and LS; replace any of them to follow a local standard."""

    # Four-colour LEC bands; domain.md §4.2.
    lec: BandTable = LEC_FOUR_COLOUR
    # Classic five-class reading of D, shown beside the colour; domain.md §4.2.
    lec_classic: BandTable = LEC_GRAHAM_KINNEY
    # Four-colour LS bands; domain.md §4.3.
    ls: BandTable = LS_COMMON
    # LEC L scores, 10 完全可以预料 … 0.1 实际不可能; domain.md §4.2 (m.zixin.com.cn/doc/3134728.html).
    lec_l_scores: tuple[float, ...] = (10, 6, 3, 1, 0.5, 0.2, 0.1)
    # LEC E scores, 10 连续暴露 … 0.5 非常罕见; domain.md §4.2 (same source).
    lec_e_scores: tuple[float, ...] = (10, 6, 3, 2, 1, 0.5)
    # LEC C scores, 100 大灾难 … 1 引人注目; domain.md §4.2 (same source).
    lec_c_scores: tuple[float, ...] = (100, 40, 15, 7, 3, 1)
    # LS L and S, whole numbers 1..5; domain.md §4.3 (usbmi.com criteria).
    ls_scores: tuple[float, ...] = (1, 2, 3, 4, 5)

    def with_lec_convention(self, convention: Convention) -> GradingRules:
        """Both LEC readings (four colours and classic) under one boundary convention."""
        return replace(
            self, lec=self.lec.with_convention(convention), lec_classic=self.lec_classic.with_convention(convention)
        )


DEFAULT_RULES = GradingRules()

#: Column of each factor, its name in messages, and the rules attribute holding its allowed scores.
_FACTORS = (
    ("lec_l", "LEC L", "lec_l_scores"),
    ("lec_e", "LEC E", "lec_e_scores"),
    ("lec_c", "LEC C", "lec_c_scores"),
    ("ls_l", "LS L", "ls_scores"),
    ("ls_s", "LS S", "ls_scores"),
)

#: Scores are compared with this slack, since they arrive as floats from GeoPackage REAL columns.
_SCORE_TOLERANCE = 1e-9


def _num(x: float) -> str:
    """A score as people write it: 6 not 6.0, 0.5 as is."""
    return f"{float(x):g}"


def _column(frame: pd.DataFrame, name: str) -> np.ndarray:
    """A numeric column as float with NaN for missing; an absent column is all missing."""
    if name not in frame.columns:
        return np.full(len(frame), np.nan)
    try:
        numbers = pd.to_numeric(frame[name], errors="raise")
    except (TypeError, ValueError) as exc:
        raise InvalidScore(f"column {name} must hold numbers or blanks: {exc}") from None
    return numbers.astype("Float64").to_numpy(dtype=float, na_value=np.nan)


def validate_scores(risk_sources: pd.DataFrame, rules: GradingRules = DEFAULT_RULES) -> dict[str, np.ndarray]:
    """The factor columns as floats, or InvalidScore naming every row, factor and value that is not allowed."""
    values: dict[str, np.ndarray] = {}
    problems: list[str] = []
    for column, label, attr in _FACTORS:
        allowed = np.asarray(getattr(rules, attr), dtype=float)
        v = _column(risk_sources, column)
        values[column] = v
        ok = np.isnan(v) | np.isclose(v[:, None], allowed[None, :], rtol=0, atol=_SCORE_TOLERANCE).any(axis=1)
        for pos in np.flatnonzero(~ok):
            problems.append(
                f"{risk_sources.index[pos]!r}: {label} = {_num(v[pos])} is not one of "
                f"{', '.join(_num(a) for a in allowed)}"
            )
    if problems:
        shown = "; ".join(problems[:10]) + (f"; … and {len(problems) - 10} more" if len(problems) > 10 else "")
        raise InvalidScore(f"{len(problems)} invalid factor score(s) in risk sources (row id: problem): {shown}")
    return values


def _rule_text(table: BandTable, band: int, formula: str, score: float, level: str) -> str:
    """E.g. "D = 6×6×15 = 540 ≥ 320 → 重大风险（红）" or "D = 1×6×15 = 90，70 ≤ 90 < 160 → 一般风险（黄）"."""
    value = _num(score)
    head = f"{table.symbol} = {formula} = {value}"
    if band == 0 or band == len(table.cuts):
        # "D = … = 540 ≥ 320": the inequality reads on from the value itself.
        condition = f"{head}{table.describe(band, value).removeprefix(value)}"
    else:
        condition = f"{head}，{table.describe(band, value)}"
    return f"{condition} → {table.names[band]}（{COLOUR_NAMES[level]}）"


def grade(
    risk_sources: pd.DataFrame, villages: gpd.GeoDataFrame | None = None, rules: GradingRules = DEFAULT_RULES
) -> pd.DataFrame:
    """Grade every risk source by LEC, else LS, showing score, level, colour, rule and agreement with the survey.

    `risk_sources` has the risk_sources layer's columns (lec_l, lec_e, lec_c, ls_l, ls_s, level; absent factor
    columns count as not surveyed). The result keeps its index. With `villages` (polygons, same or convertible CRS)
    each source also gets the village it lies in (`village_id`, `village_name`), found through an STRtree.
    Raises InvalidScore when a surveyed factor is not one of its method's scores.
    """
    v = validate_scores(risk_sources, rules)
    n = len(risk_sources)
    has_lec = ~(np.isnan(v["lec_l"]) | np.isnan(v["lec_e"]) | np.isnan(v["lec_c"]))
    has_ls = ~has_lec & ~(np.isnan(v["ls_l"]) | np.isnan(v["ls_s"]))

    # Rounded so that float products of the scores land exactly on the band cuts (e.g. 0.2×10×40 = 80).
    d = np.round(v["lec_l"] * v["lec_e"] * v["lec_c"], 6)
    r = np.round(v["ls_l"] * v["ls_s"], 6)
    score = np.where(has_lec, d, np.where(has_ls, r, np.nan))
    lec_band = rules.lec.classify(np.where(has_lec, d, np.nan))
    classic_band = rules.lec_classic.classify(np.where(has_lec, d, np.nan))
    ls_band = rules.ls.classify(np.where(has_ls, r, np.nan))

    method: list[str] = []
    level: list[str | None] = []
    label: list[str | None] = []
    band_text: list[str | None] = []
    convention: list[str | None] = []
    rule_text: list[str] = []
    lec_class: list[str | None] = []
    for i in range(n):
        if has_lec[i]:
            table, b = rules.lec, int(lec_band[i])
            formula = "×".join(_num(v[c][i]) for c in ("lec_l", "lec_e", "lec_c"))
            method.append("LEC")
            lec_class.append(rules.lec_classic.names[int(classic_band[i])])
        elif has_ls[i]:
            table, b = rules.ls, int(ls_band[i])
            formula = "×".join(_num(v[c][i]) for c in ("ls_l", "ls_s"))
            method.append("LS")
            lec_class.append(None)
        else:
            method.append("none")
            level.append(None)
            label.append(None)
            band_text.append(None)
            convention.append(None)
            lec_class.append(None)
            rule_text.append("LEC（L、E、C）与LS（L、S）因子均不全，未评级")
            continue
        code = table.levels[b]
        level.append(code)
        label.append(table.names[b])
        band_text.append(table.describe(b))
        convention.append(table.convention)
        rule_text.append(_rule_text(table, b, formula, float(score[i]), code))

    surveyed = (
        risk_sources["level"].astype("string").to_numpy(dtype=object, na_value=None)
        if "level" in risk_sources.columns
        else np.full(n, None, dtype=object)
    )
    agrees = pd.array(
        [None if lv is None or sv is None else lv == sv for lv, sv in zip(level, surveyed, strict=True)],
        dtype="boolean",
    )
    out = pd.DataFrame(
        {
            "method": method,
            "score": score,
            "level": level,
            "level_label": label,
            "colour": [COLOURS.get(lv) if lv else None for lv in level],
            "band": band_text,
            "convention": convention,
            "rule": rule_text,
            "lec_class": lec_class,
            "surveyed_level": surveyed,
            "agrees": agrees,
        },
        index=risk_sources.index,
    )
    if "name" in risk_sources.columns:
        out.insert(0, "name", risk_sources["name"].to_numpy())
    if villages is not None:
        if not isinstance(risk_sources, gpd.GeoDataFrame):
            raise TypeError("grading by village needs risk_sources as a GeoDataFrame with geometry")
        pos = village_of(risk_sources.geometry, villages)
        found = pos >= 0
        ids = villages.index.take(np.where(found, pos, 0))
        if pd.api.types.is_integer_dtype(ids):
            out["village_id"] = pd.array(np.where(found, ids, 0), dtype="Int64")
            out.loc[~found, "village_id"] = pd.NA
        else:
            out["village_id"] = pd.Series(ids, index=out.index, dtype=object).where(found, None)
        names = villages["name"].to_numpy(dtype=object) if "name" in villages.columns else None
        out["village_name"] = [names[p] if ok and names is not None else None for p, ok in zip(pos, found, strict=True)]
    return out


def village_of(sources: gpd.GeoSeries, villages: gpd.GeoDataFrame) -> np.ndarray:
    """Position in `villages` of the polygon holding each source, or -1 where none does.

    A polygon source is placed by a point on its surface. A point on a shared boundary goes to the first village
    in frame order, so every source counts once.
    """
    if sources.crs is None or villages.crs is None:
        raise ValueError("risk sources and villages both need a CRS to be matched")
    polys = villages.geometry if villages.crs == sources.crs else villages.geometry.to_crs(sources.crs)
    points = shapely.point_on_surface(np.asarray(sources.values, dtype=object))
    result = np.full(len(sources), -1, dtype=np.int64)
    if len(polys) == 0 or len(points) == 0:
        return result
    tree = shapely.STRtree(np.asarray(polys.values, dtype=object))
    src, vil = tree.query(points, predicate="intersects")
    if len(src):
        # The first village per source: sort by (source, village) and keep each source's first pair.
        order = np.lexsort((vil, src))
        src, vil = src[order], vil[order]
        first = np.r_[True, src[1:] != src[:-1]]
        result[src[first]] = vil[first]
    return result


def village_summary(graded: pd.DataFrame, villages: gpd.GeoDataFrame) -> pd.DataFrame:
    """Risk sources per village and colour (every village listed, zeros included), from `grade(..., villages)`."""
    if "village_id" not in graded.columns:
        raise ValueError("graded has no village_id: call grade(risk_sources, villages) first")
    levels: Sequence[str] = [r.value for r in RiskLevel]
    inside = graded[graded["village_id"].notna()]
    counts = pd.crosstab(inside["village_id"], inside["level"].fillna("ungraded"))
    counts = counts.reindex(index=villages.index, columns=[*levels, "ungraded"], fill_value=0).astype("int64")
    counts.index.name = villages.index.name
    counts.columns.name = None
    counts["total"] = counts.sum(axis=1)
    if "name" in villages.columns:
        counts.insert(0, "name", villages["name"].to_numpy())
    return counts


def disagreements(graded: pd.DataFrame) -> int:
    """How many graded sources the survey puts at another level: the rows a reviewer should look at first."""
    # NA (not graded, or no surveyed level) is no disagreement.
    return int(graded["agrees"].eq(False).sum(skipna=True))


__all__ = [
    "COLOURS",
    "COLOUR_NAMES",
    "DEFAULT_RULES",
    "LEC_FOUR_COLOUR",
    "LEC_GRAHAM_KINNEY",
    "LS_COAL_MINE",
    "LS_COMMON",
    "LS_TEMPLATE_VARIANT",
    "RESULT_COLUMNS",
    "BandTable",
    "GradingRules",
    "InvalidScore",
    "disagreements",
    "grade",
    "validate_scores",
    "village_of",
    "village_summary",
]
