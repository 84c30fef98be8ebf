"""Which measures to buy at which intersections within a budget, so that the most crashes are avoided.

Each candidate intersection has options: the useful combinations of the 千灯万带 measures it does not have yet
(domain.md §1.3 checklist: 黄闪警示灯, 减速带/振动标线 on the minor approaches, 让行 signs and markings, 坡改平 where
the side road is steep, a clear sight triangle). An option's benefit is the intersection's expected injury-or-fatal
crash frequency times (1 − Π CMF): crash modification factors combine by multiplication, the HSM Part D default,
which assumes the measures act independently. Unit costs and CMFs are estimates [K] for the planner to replace.

The plan picks at most one option per intersection to maximise the crashes avoided per year within the budget: an
exact multiple-choice knapsack solved by dynamic programming over the cost in whole units (100 yuan by default),
O(options × budget units) per intersection with numpy. Among plans avoiding the same number of crashes the cheapest
wins; the rest of any tie is settled by a fixed order (score, then fid), so the same input gives the same plan.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from analysis.priority import Priority, rule

#: Benefits are summed as integers of this many units per crash a year, so equal plans compare equal exactly.
VALUE_SCALE = 1e9

_CMF_ESTIMATE = (
    "[K] estimate — replace with local evidence (the FHWA CMF Clearinghouse, cmfclearinghouse.fhwa.dot.gov, "
    "collects published studies of this kind of measure)"
)
_COST_ESTIMATE = "[K] local estimate incl. installation, yuan — replace with local quotations"

#: How a measure is counted: once per intersection, or once per minor (side-road) approach.
PER_LABELS = {"intersection": "每处路口", "minor_approach": "每条次路进口"}


@dataclass(frozen=True)
class Treatment:
    """A measure a planner can fund: its unit cost and CMF, each with its source, and where it applies."""

    code: str
    label: str
    per: str  # "intersection" or "minor_approach"
    unit_cost_yuan: float
    cost_source: str
    cmf: float  # crash modification factor for injury-or-fatal crashes at the intersection
    cmf_source: str
    needs: str | None = None  # a boolean intersection column that must be true for the measure to apply
    present_columns: tuple[str, ...] = ()  # boolean columns meaning it is already there
    present_controls: tuple[str, ...] = ()  # `control` values meaning it is already there

    def __post_init__(self) -> None:
        if self.per not in PER_LABELS:
            raise ValueError(f"treatment {self.code!r}: per must be one of {sorted(PER_LABELS)}, got {self.per!r}")
        if not (math.isfinite(self.unit_cost_yuan) and self.unit_cost_yuan >= 0):
            raise ValueError(f"treatment {self.code!r}: unit cost must be finite and ≥ 0, got {self.unit_cost_yuan}")
        if not (math.isfinite(self.cmf) and self.cmf > 0):
            raise ValueError(f"treatment {self.code!r}: CMF must be a finite number > 0, got {self.cmf}")


DEFAULT_TREATMENTS: tuple[Treatment, ...] = (
    Treatment(
        "flashing_light",
        "黄闪警示灯",
        "intersection",
        20_000.0,
        _COST_ESTIMATE + " (solar flashing beacons on the approaches, poles, foundations)",
        0.85,
        _CMF_ESTIMATE,
        present_columns=("flashing_light", "signal"),
        present_controls=("flashing", "signal"),
    ),
    Treatment(
        "speed_belts",
        "减速带/振动标线",
        "minor_approach",
        4_000.0,
        _COST_ESTIMATE + " (one approach: belts or rumble markings plus warning sign)",
        0.90,
        _CMF_ESTIMATE,
        present_columns=("speed_belts",),
    ),
    Treatment(
        "signs_markings",
        "让行标志标线",
        "intersection",
        6_000.0,
        _COST_ESTIMATE + " (让行/停车让行 signs and stop or give-way lines on the minor approaches)",
        0.90,
        _CMF_ESTIMATE,
        present_controls=("yield", "stop"),
    ),
    Treatment(
        "slope_fix",
        "坡改平",
        "intersection",
        60_000.0,
        _COST_ESTIMATE + " (regrading the last metres of the side road, domain.md §1.2)",
        0.85,
        _CMF_ESTIMATE,
        needs="slope_fix_needed",
    ),
    Treatment(
        "sight_clearing",
        "视距三角形清障",
        "intersection",
        8_000.0,
        _COST_ESTIMATE + " (clearing vegetation, stacks and signs from the sight triangle, GB 14886-2016 §5.1.1.3)",
        0.85,
        _CMF_ESTIMATE,
        needs="sight_obstructed",
    ),
)


@dataclass(frozen=True)
class BudgetRules:
    """The measures on offer and how the plan is computed, each setting with its source."""

    treatments: tuple[Treatment, ...] = DEFAULT_TREATMENTS
    measures: tuple[str, ...] | None = rule(None, "参与计划的措施", "planner's choice; None = every treatment")
    cost_unit_yuan: float = rule(
        100.0, "费用计算单位(元)", "[K] precision of the plan: exact when every cost is a whole number of units"
    )
    major_approaches: int = rule(
        2, "主路进口数", "[K] minor approaches = legs − 2 (T junction 1, crossroads 2); at least 1"
    )
    expected_column: str | None = rule(
        None,
        "期望事故频率列(EB)",
        "HSM Part C Appendix A (EB), domain.md §2.3: a column of expected injury-or-fatal crashes a year; "
        "None or a missing value = the observed 3-year average",
    )
    max_table_cells: int = rule(
        100_000_000, "动态规划表上限(格)", "memory guard: intersections × budget units; raise the cost unit beyond it"
    )

    def __post_init__(self) -> None:
        codes = [t.code for t in self.treatments]
        if len(set(codes)) != len(codes):
            raise ValueError(f"treatment codes must be unique, got {codes}")
        if self.measures is not None:
            unknown = sorted(set(self.measures) - set(codes))
            if unknown:
                raise ValueError(f"unknown measure(s) {unknown}; known: {codes}")
        if not (math.isfinite(self.cost_unit_yuan) and self.cost_unit_yuan > 0):
            raise ValueError(f"cost_unit_yuan must be a positive amount, got {self.cost_unit_yuan}")
        if self.major_approaches < 0:
            raise ValueError(f"major_approaches must be ≥ 0, got {self.major_approaches}")

    def active(self) -> tuple[Treatment, ...]:
        """The treatments on offer, in table order."""
        if self.measures is None:
            return self.treatments
        return tuple(t for t in self.treatments if t.code in self.measures)

    def treatment(self, code: str) -> Treatment:
        """The treatment with this code, or ValueError naming the known ones."""
        for t in self.treatments:
            if t.code == code:
                return t
        raise ValueError(f"unknown measure {code!r}; known: {[t.code for t in self.treatments]}")


def local_rules(
    costs: Mapping[str, float] | None = None,
    cmfs: Mapping[str, float] | None = None,
    measures: Sequence[str] | None = None,
    base: BudgetRules = BudgetRules(),
) -> BudgetRules:
    """The rules with the planner's own unit costs and CMFs (their source says so), and the measures on offer."""
    costs, cmfs = dict(costs or {}), dict(cmfs or {})
    known = {t.code for t in base.treatments}
    unknown = sorted((set(costs) | set(cmfs) | set(measures or ())) - known)
    if unknown:
        raise ValueError(f"unknown measure(s) {unknown}; known: {sorted(known)}")
    treatments = tuple(
        replace(
            t,
            unit_cost_yuan=float(costs.get(t.code, t.unit_cost_yuan)),
            cost_source="planner's local figure" if t.code in costs else t.cost_source,
            cmf=float(cmfs.get(t.code, t.cmf)),
            cmf_source="planner's local figure" if t.code in cmfs else t.cmf_source,
        )
        for t in base.treatments
    )
    return replace(base, treatments=treatments, measures=tuple(measures) if measures else base.measures)


def parse_settings(items: Sequence[str], what: str) -> dict[str, float]:
    """`code=value` pairs as typed on a command line or in a query (`flashing_light=18000`) into a dict."""
    out = {}
    for item in items:
        code, sep, value = item.partition("=")
        try:
            out[code.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not code.strip():
            raise ValueError(f"{what} {item!r}: write measure=number, e.g. flashing_light=18000")
    return out


@dataclass(frozen=True)
class Option:
    """One combination of measures at one intersection: how many of each, what it costs, its combined CMF."""

    measures: tuple[str, ...]
    quantities: tuple[int, ...]
    cost_yuan: float
    cmf: float


def minor_approaches(legs: int | None, rules: BudgetRules = BudgetRules()) -> int:
    """Side-road approaches that get belts: legs minus the major road's two, at least one (unknown legs: one)."""
    if legs is None:
        return 1
    return max(int(legs) - rules.major_approaches, 1)


def options_for(intersection: pd.Series, rules: BudgetRules = BudgetRules()) -> list[Option]:
    """Every non-empty combination of the measures that apply here and are not there yet, in a fixed order."""
    applicable = [t for t in rules.active() if _applies(t, intersection)]
    approaches = minor_approaches(_get(intersection, "legs"), rules)
    out = []
    for size in range(1, len(applicable) + 1):
        for combo in itertools.combinations(applicable, size):
            quantities = tuple(approaches if t.per == "minor_approach" else 1 for t in combo)
            cost = sum(t.unit_cost_yuan * q for t, q in zip(combo, quantities, strict=True))
            cmf = math.prod(t.cmf for t in combo)
            out.append(Option(tuple(t.code for t in combo), quantities, float(cost), float(cmf)))
    return out


def _applies(t: Treatment, row: pd.Series) -> bool:
    if t.needs is not None and not bool(_get(row, t.needs)):
        return False
    if any(bool(_get(row, c)) for c in t.present_columns):
        return False
    return _get(row, "control") not in t.present_controls


def _get(row: pd.Series, column: str):
    value = row.get(column)
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return value


def solve(costs: Sequence[Sequence[int]], values: Sequence[Sequence[float]], capacity: int) -> list[int]:
    """Exact multiple-choice knapsack: at most one option per group, total cost ≤ `capacity`, most value.

    `costs[g][j]` are whole cost units ≥ 0 and `values[g][j]` the value of option j of group g. Returns, per group,
    the chosen option's index or -1. Of the plans with the most value (summed in steps of 1/VALUE_SCALE) the
    cheapest is returned; any tie left is settled by the fixed order of groups and options. Options another option
    of the group beats on both cost and value are dropped first (they can never be needed). Works in
    O(Σ options × capacity) time with one small-integer choice table of groups × (capacity + 1).
    """
    if capacity < 0:
        raise ValueError(f"capacity must be ≥ 0 cost units, got {capacity}")
    if len(costs) != len(values):
        raise ValueError(f"{len(costs)} cost groups but {len(values)} value groups")
    cost_arrays = [np.asarray(c, dtype=np.int64).reshape(-1) for c in costs]
    value_arrays = [np.rint(np.asarray(v, dtype=float).reshape(-1) * VALUE_SCALE).astype(np.int64) for v in values]
    for g, (c, v) in enumerate(zip(cost_arrays, value_arrays, strict=True)):
        if len(c) != len(v):
            raise ValueError(f"group {g}: {len(c)} costs but {len(v)} values")
        if (c < 0).any():
            raise ValueError(f"group {g}: costs must be ≥ 0 units, got {c.tolist()}")
    if sum(int(np.abs(v).max(initial=0)) for v in value_arrays) >= 2**60:
        raise ValueError("values too large to sum exactly; scale them down")
    frontiers = [_frontier(c, v) for c, v in zip(cost_arrays, value_arrays, strict=True)]
    # Capacity beyond the dearest possible plan changes nothing.
    capacity = min(capacity, sum(int(c[keep].max(initial=0)) for c, keep in zip(cost_arrays, frontiers, strict=True)))
    unreachable = np.int64(-(2**62))
    # best[b]: most value of a selection costing exactly b units so far (exact cost lets ties go to the cheaper).
    best = np.full(capacity + 1, unreachable, dtype=np.int64)
    best[0] = 0
    picks: list[np.ndarray] = []
    for c, v, keep in zip(cost_arrays, value_arrays, frontiers, strict=True):
        new = best.copy()  # taking nothing from this group
        pick = np.zeros(capacity + 1, dtype=np.int8 if len(c) < 127 else np.int32)
        for j in keep:
            cj = int(c[j])
            if cj > capacity:
                continue
            source = best[: capacity + 1 - cj]
            candidate = np.where(source > unreachable, source + v[j], unreachable)
            better = candidate > new[cj:]
            new[cj:][better] = candidate[better]
            pick[cj:][better] = j + 1
        picks.append(pick)
        best = new
    b = int(np.flatnonzero(best == best.max())[0])  # the cheapest of the best
    chosen = [-1] * len(cost_arrays)
    for g in range(len(cost_arrays) - 1, -1, -1):
        j = int(picks[g][b]) - 1
        if j >= 0:
            chosen[g] = j
            b -= int(cost_arrays[g][j])
    return chosen


def _frontier(costs: np.ndarray, values: np.ndarray) -> list[int]:
    """Indices of the options worth considering: each cheaper-or-equal option (and taking none) is worth less."""
    order = sorted(range(len(costs)), key=lambda j: (costs[j], -values[j], j))
    keep, top = [], 0  # taking none costs 0 and is worth 0
    for j in order:
        if values[j] > top:
            keep.append(j)
            top = values[j]
    return sorted(keep)


@dataclass(frozen=True)
class PlanItem:
    """One intersection in the plan (or left out of it): the measures, their cost and the crashes they avoid."""

    rank: int
    fid: int
    name: str
    lon: float | None
    lat: float | None
    measures: tuple[str, ...]
    measure_labels: tuple[str, ...]
    quantities: tuple[int, ...]
    cost_yuan: float
    expected_per_year: float  # expected injury-or-fatal crashes a year without the measures
    expected_source: str  # "observed" (3-year average) or "eb" (the caller's column)
    crashes_avoided_per_year: float
    benefit_per_10k_yuan: float | None  # None when the option costs nothing
    score: float
    factors: dict[str, float]
    explanations: dict[str, str]
    warranted: bool

    @property
    def measures_zh(self) -> str:
        """The measures as one Chinese phrase, e.g. "黄闪警示灯、减速带/振动标线×2"."""
        return "、".join(
            label + (f"×{q}" if q > 1 else "") for label, q in zip(self.measure_labels, self.quantities, strict=True)
        )


@dataclass(frozen=True)
class Plan:
    """The chosen measures ranked by crashes avoided per yuan, the totals, and what the budget left out."""

    budget_yuan: float
    items: tuple[PlanItem, ...]
    left_out: tuple[PlanItem, ...]  # each with its most cost-effective option, best first
    no_benefit: tuple[int, ...]  # candidates with no expected crashes or no measure left to add (fids)
    rules: BudgetRules = field(default_factory=BudgetRules)
    notes: tuple[str, ...] = ()

    @property
    def total_cost_yuan(self) -> float:
        """What the plan spends."""
        return float(sum(i.cost_yuan for i in self.items))

    @property
    def total_crashes_avoided_per_year(self) -> float:
        """Injury-or-fatal crashes a year the plan is expected to avoid."""
        return float(sum(i.crashes_avoided_per_year for i in self.items))

    @property
    def remaining_yuan(self) -> float:
        """Budget not spent."""
        return self.budget_yuan - self.total_cost_yuan

    @property
    def benefit_per_10k_yuan(self) -> float | None:
        """Crashes avoided a year per 10,000 yuan over the whole plan."""
        cost = self.total_cost_yuan
        return self.total_crashes_avoided_per_year / cost * 10_000 if cost > 0 else None


def plan(
    intersections: pd.DataFrame,
    priorities: Sequence[Priority],
    budget_yuan: float,
    rules: BudgetRules = BudgetRules(),
) -> Plan:
    """The budget plan over the scored candidates (`priorities` from analysis.priority.score).

    `intersections` is the fid-indexed intersection layer; it says which measures each candidate already has, how
    many legs it has, and, with `rules.expected_column`, an EB estimate of its expected crashes a year.
    """
    if isinstance(budget_yuan, bool) or not isinstance(budget_yuan, numbers.Real) or not math.isfinite(budget_yuan):
        raise ValueError(f"budget must be a finite amount of yuan, got {budget_yuan!r}")
    if budget_yuan < 0:
        raise ValueError(f"budget must be ≥ 0 yuan, got {budget_yuan}")
    if rules.expected_column is not None and rules.expected_column not in intersections.columns:
        raise ValueError(f"expected_column {rules.expected_column!r} is not a column of the intersections")
    missing = sorted({p.fid for p in priorities} - set(intersections.index))
    if missing:
        raise ValueError(f"scored intersections {missing[:10]} are not in the intersection layer")
    unit = rules.cost_unit_yuan
    notes = [
        "预期减少事故 = 期望伤亡事故频率 × (1 − ΠCMF)；期望频率取统计期内伤亡事故年均值，调用方提供EB估计列时用EB值",
        "CMF按乘法组合（HSM Part D 默认做法，假定各措施效果相互独立）",
        "相邻路口的事故统计范围重叠时，同一起事故计入每个路口，效益可能重复计算",
    ]
    groups: list[tuple[Priority, float, str, list[Option], np.ndarray]] = []
    no_benefit = []
    inexact = False
    for p in sorted(priorities, key=lambda p: (-p.score, p.fid)):
        row = intersections.loc[p.fid]
        expected, source = _expected(row, p, rules)
        options = [o for o in options_for(row, rules) if expected * (1 - o.cmf) > 0]
        if not options:
            no_benefit.append(p.fid)
            continue
        benefits = np.array([expected * (1 - o.cmf) for o in options])
        groups.append((p, expected, source, options, benefits))
        inexact |= any(abs(o.cost_yuan / unit - round(o.cost_yuan / unit)) > 1e-9 for o in options)
    warranted = sorted(p.fid for p in priorities if p.warranted)
    if warranted:
        notes.append(f"路口{warranted}满足GB 14886-2016 §5.1.3事故条件，按规范应设信号灯，本计划措施不能替代")
    if inexact:
        notes.append(f"部分费用不是{unit:g}元的整数倍，已向上取整计算，计划偏保守")
    costs = [[_units_up(o.cost_yuan, unit) for o in options] for _, _, _, options, _ in groups]
    capacity = math.floor(budget_yuan / unit + 1e-9)
    reach = min(capacity, sum(max(c) for c in costs)) if costs else 0
    if len(groups) * (reach + 1) > rules.max_table_cells:
        raise ValueError(
            f"{len(groups)} intersections × {reach + 1} budget units of {unit:g} yuan exceed the table limit of "
            f"{rules.max_table_cells} cells; raise cost_unit_yuan (e.g. to {unit * 10:g})"
        )
    chosen = solve(costs, [g[4] for g in groups], capacity)
    items, left = [], []
    for (p, expected, source, options, benefits), j in zip(groups, chosen, strict=True):
        if j >= 0:
            items.append(_item(p, expected, source, options[j], float(benefits[j]), rules))
        else:
            k = _most_cost_effective(options, benefits)
            left.append(_item(p, expected, source, options[k], float(benefits[k]), rules))
    return Plan(
        budget_yuan=float(budget_yuan),
        items=_ranked(items),
        left_out=_ranked(left),
        no_benefit=tuple(no_benefit),
        rules=rules,
        notes=tuple(notes),
    )


def _expected(row: pd.Series, p: Priority, rules: BudgetRules) -> tuple[float, str]:
    if rules.expected_column is not None:
        value = _get(row, rules.expected_column)
        if value is not None:
            if not (math.isfinite(float(value)) and float(value) >= 0):
                raise ValueError(f"intersection {p.fid}: {rules.expected_column} must be ≥ 0, got {value}")
            return float(value), "eb"
    return p.observed_per_year, "observed"


def _units_up(cost_yuan: float, unit: float) -> int:
    """Whole cost units, rounded up so a plan never spends more than the budget."""
    return math.ceil(cost_yuan / unit - 1e-9)


def _most_cost_effective(options: list[Option], benefits: np.ndarray) -> int:
    """Index of the option with the most benefit per yuan (free options first), ties to the greater benefit."""
    ratio = [(b / o.cost_yuan if o.cost_yuan > 0 else math.inf, b) for o, b in zip(options, benefits, strict=True)]
    return max(range(len(options)), key=lambda k: (ratio[k], -k))


def _item(p: Priority, expected: float, source: str, option: Option, benefit: float, rules: BudgetRules) -> PlanItem:
    return PlanItem(
        rank=0,
        fid=p.fid,
        name=p.name,
        lon=p.lon,
        lat=p.lat,
        measures=option.measures,
        measure_labels=tuple(rules.treatment(code).label for code in option.measures),
        quantities=option.quantities,
        cost_yuan=option.cost_yuan,
        expected_per_year=expected,
        expected_source=source,
        crashes_avoided_per_year=benefit,
        benefit_per_10k_yuan=benefit / option.cost_yuan * 10_000 if option.cost_yuan > 0 else None,
        score=p.score,
        factors=dict(p.factors),
        explanations=dict(p.explanations),
        warranted=p.warranted,
    )


def _ranked(items: list[PlanItem]) -> tuple[PlanItem, ...]:
    """Most crashes avoided per yuan first, then higher score, then lower fid; ranks from 1."""

    def key(i: PlanItem) -> tuple[float, float, float, int]:
        # Rounded so that ratios equal but for float noise tie, and the tie goes to the score and fid.
        ratio = math.inf if i.benefit_per_10k_yuan is None else round(i.benefit_per_10k_yuan, 9)
        return (-ratio, -round(i.crashes_avoided_per_year, 9), -i.score, i.fid)

    ordered = sorted(items, key=key)
    return tuple(_with_rank(i, r) for r, i in enumerate(ordered, start=1))


def _with_rank(item: PlanItem, rank: int) -> PlanItem:
    return dataclasses.replace(item, rank=rank)
