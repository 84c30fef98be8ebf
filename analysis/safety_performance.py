"""Safety performance functions and the Empirical Bayes method: a second opinion beside the national norm.

The national norm (domain.md §2.1) grades spots and segments by counts alone. Counts alone favour busy roads and
are noisy at quiet ones, so where traffic volume is known this module adds the HSM's preferred ranking measure
(domain.md §2.3): the Empirical Bayes (EB) *excess* expected crash frequency, N_expected − N_predicted.

The predictions come from the US Highway Safety Manual (AASHTO HSM, 1st ed., 2010), Part C Chapter 10, rural
two-lane two-way roads: its base-condition SPFs for road segments and for three- and four-leg intersections with
stop control on the minor road. **These are US models.** They are scaled to the local data by a calibration factor
computed the HSM way (Σ observed / Σ predicted over the sites of one type, Part C Appendix A), so they only say how a
site compares with other local sites of its kind at its volume. The result is a second opinion for ranking; it is
not the national norm and grades nothing. Where no volume (AADT) is known, no prediction is possible: those sites are
reported and ranked by EPDO (equivalent property-damage-only crashes) instead, the HSM's fallback measure.

All counts are over the whole study period (`years` years): observed crashes, predicted = years × C × N_spf, and
the EB weight uses the predicted total over the period, as HSM Part C Appendix A Eq. A-5 does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Metres in a US mile: the HSM segment SPF and its overdispersion take length in miles.
METRES_PER_MILE = 1609.344


@dataclass(frozen=True)
class SegmentSpf:
    """A roadway-segment SPF of the HSM form N = AADT × L × 365 × 10⁻⁶ × e^a, with k = k₁ / L (L in miles)."""

    name: str
    intercept: float  # a
    overdispersion_per_mile: float  # k₁: k = k₁ / L
    max_aadt: float | None  # upper end of the AADT range the model was fitted on
    source: str

    def predict(self, aadt: np.ndarray, length_m: np.ndarray) -> np.ndarray:
        """Predicted crashes per year under base conditions (uncalibrated)."""
        miles = np.asarray(length_m, dtype=float) / METRES_PER_MILE
        return np.asarray(aadt, dtype=float) * miles * 365e-6 * math.exp(self.intercept)

    def overdispersion(self, length_m: np.ndarray) -> np.ndarray:
        """k for each segment: the HSM's segment overdispersion shrinks with length."""
        miles = np.asarray(length_m, dtype=float) / METRES_PER_MILE
        with np.errstate(divide="ignore"):
            return self.overdispersion_per_mile / miles


@dataclass(frozen=True)
class IntersectionSpf:
    """An intersection SPF of the HSM form N = exp(a + b·ln AADT_major + c·ln AADT_minor), with a fixed k."""

    name: str
    legs: int
    intercept: float  # a
    major_coefficient: float  # b
    minor_coefficient: float  # c
    overdispersion: float  # k
    source: str

    def predict(self, major_aadt: np.ndarray, minor_aadt: np.ndarray) -> np.ndarray:
        """Predicted intersection-related crashes per year under base conditions (uncalibrated)."""
        major = np.asarray(major_aadt, dtype=float)
        minor = np.asarray(minor_aadt, dtype=float)
        return np.exp(self.intercept + self.major_coefficient * np.log(major) + self.minor_coefficient * np.log(minor))


#: HSM (2010) Part C, Ch. 10 (rural two-lane two-way roads), Eq. 10-6: N_spf,rs = AADT × L × 365 × 10⁻⁶ × e^(−0.312),
#: and Eq. 10-7: k = 0.236 / L. AADT range of the model 0–17,800 veh/day (§10.6.1).
HSM_RURAL_TWO_LANE_SEGMENT = SegmentSpf(
    name="HSM rural two-lane segment",
    intercept=-0.312,
    overdispersion_per_mile=0.236,
    max_aadt=17_800,
    source="AASHTO HSM (2010) Part C Ch. 10, Eq. 10-6 (SPF) and Eq. 10-7 (k = 0.236/L, L in miles)",
)
#: HSM (2010) Ch. 10, Eq. 10-8: three-leg, stop control on the minor approach (3ST), k = 0.54.
HSM_RURAL_3ST = IntersectionSpf(
    name="HSM rural 3ST",
    legs=3,
    intercept=-9.86,
    major_coefficient=0.79,
    minor_coefficient=0.49,
    overdispersion=0.54,
    source="AASHTO HSM (2010) Part C Ch. 10, Eq. 10-8 (3ST), k = 0.54",
)
#: HSM (2010) Ch. 10, Eq. 10-9: four-leg, stop control on the minor approaches (4ST), k = 0.24.
HSM_RURAL_4ST = IntersectionSpf(
    name="HSM rural 4ST",
    legs=4,
    intercept=-8.56,
    major_coefficient=0.60,
    minor_coefficient=0.61,
    overdispersion=0.24,
    source="AASHTO HSM (2010) Part C Ch. 10, Eq. 10-9 (4ST), k = 0.24",
)


@dataclass(frozen=True)
class EbRules:
    """Parameters of the EB second opinion, each with where it comes from."""

    # HSM: crashes within 250 ft (76.2 m) of an intersection are intersection-related (domain.md §2.3 [K]); the rest
    # belong to the road segment. Not the norm's 250 m: the SPFs were fitted on the HSM's split.
    intersection_radius_m: float = 76.2
    segment_spf: SegmentSpf = HSM_RURAL_TWO_LANE_SEGMENT
    three_leg_spf: IntersectionSpf = HSM_RURAL_3ST
    four_leg_spf: IntersectionSpf = HSM_RURAL_4ST
    # HSM Ch. 10 covers rural two-lane two-way highways: in China's grades that is 二级, 三级, 四级 and 等外 roads, not
    # 高速 or 一级 (multilane) and not town streets (urban, HSM Ch. 12).
    segment_tech_classes: tuple[str, ...] = ("class2", "class3", "class4", "substandard")
    # HSM 3ST/4ST are minor-road stop control. Rural junctions without control, with yield signs or a flashing amber
    # are nearest to that; signals and roundabouts have other models and are left to EPDO.
    stop_controls: tuple[str, ...] = ("none", "yield", "stop", "flashing")
    # None: calibrate from the local data, C = Σ observed / Σ predicted over the sites of the type (HSM Part C App. A).
    # A number: use it as given (e.g. a province's published factor).
    calibration_segment: float | None = None
    calibration_3st: float | None = None
    calibration_4st: float | None = None
    # HSM Part C App. A asks for 30–50 sites (and ≥ 100 crashes a year) per calibration [K]; fewer is flagged.
    min_calibration_sites: int = 30
    # EPDO weights from the HSM's crash costs (Ch. 4, Table 4-7: fatal $4,008,900, injury $82,600, PDO $7,400 → 542,
    # 11, 1) [K]. The norm counts only casualty crashes, so only these two weights are used. Chinese cost figures were
    # not sourced: configurable.
    epdo_fatal: float = 542.0
    epdo_injury: float = 11.0


def empirical_bayes(
    observed: np.ndarray, predicted: np.ndarray, overdispersion: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The EB weight, expected and excess crashes (HSM Part C App. A Eq. A-5), all over the same period.

    `predicted` is the SPF's calibrated prediction summed over the period's years and `observed` the crashes seen
    in it: w = 1 / (1 + k·ΣN_predicted), N_expected = w·N_predicted + (1 − w)·N_observed, excess = N_expected −
    N_predicted. A site the model knows well (small k, large prediction) leans on the prediction; a noisy one on its
    own count.
    """
    observed = np.asarray(observed, dtype=float)
    predicted = np.asarray(predicted, dtype=float)
    weight = 1.0 / (1.0 + np.asarray(overdispersion, dtype=float) * predicted)
    expected = weight * predicted + (1.0 - weight) * observed
    return weight, expected, expected - predicted


def calibration_factor(observed: np.ndarray, predicted: np.ndarray) -> float | None:
    """C = Σ observed / Σ predicted over a set of sites (HSM Part C App. A); None when nothing is predicted."""
    total = float(np.sum(predicted))
    if not total > 0:
        return None
    return float(np.sum(observed)) / total


def epdo(fatal: np.ndarray, injury: np.ndarray, rules: EbRules = EbRules()) -> np.ndarray:
    """Equivalent property-damage-only score: the fallback ranking measure where no volume is known."""
    return rules.epdo_fatal * np.asarray(fatal, dtype=float) + rules.epdo_injury * np.asarray(injury, dtype=float)


def _positive(values: pd.Series) -> np.ndarray:
    """Volumes as floats, NaN where unknown or not positive (an SPF needs traffic to predict anything)."""
    out = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, copy=True)
    out[~(out > 0)] = np.nan
    return out


def rank_sites(sites: pd.DataFrame, years: int, rules: EbRules = EbRules()) -> tuple[pd.DataFrame, list[str]]:
    """Each site's SPF prediction, EB expected and excess, and its rank; sites without a model ranked by EPDO.

    `sites` has one row per road segment or intersection: `kind` ("segment" or "intersection"), `observed` and
    `fatal` (counted crashes over the period), and for segments `tech_class`, `aadt`, `length_m`, for intersections
    `legs`, `control`, `major_aadt`, `minor_aadt`. Returned: the same rows with `spf`, `predicted`, `weight`,
    `expected`, `excess`, `epdo`, `method` ("eb" or "epdo"), `rank` (1 = first, within its method) and `reason`
    (why a site has no EB figure), ordered by method and rank with the index kept, and notes for people on the
    calibration and on what had no volume.
    """
    out = sites.copy()
    n = len(out)
    kind = out["kind"].to_numpy()
    observed = out["observed"].to_numpy(dtype=float)
    fatal = out["fatal"].to_numpy(dtype=float)
    out["epdo"] = epdo(fatal, observed - fatal, rules)
    spf = np.full(n, None, dtype=object)
    reason = np.full(n, None, dtype=object)
    per_year = np.full(n, np.nan)
    k = np.full(n, np.nan)

    seg = kind == "segment"
    if seg.any():
        aadt = _positive(out["aadt"])
        length = out["length_m"].to_numpy(dtype=float)
        tech = out["tech_class"].astype(object).to_numpy()
        covered = out["tech_class"].isin(rules.segment_tech_classes).to_numpy()
        reason[seg & ~covered] = [f"no SPF for tech class {t}" for t in tech[seg & ~covered]]
        reason[seg & covered & np.isnan(aadt)] = "no AADT"
        model = seg & covered & ~np.isnan(aadt) & (length > 0)
        spf[model] = "segment"
        per_year[model] = rules.segment_spf.predict(aadt[model], length[model])
        k[model] = rules.segment_spf.overdispersion(length[model])

    node = kind == "intersection"
    if node.any():
        major, minor = _positive(out["major_aadt"]), _positive(out["minor_aadt"])
        legs = pd.to_numeric(out["legs"], errors="coerce").to_numpy(dtype=float)
        control = out["control"].astype(object).to_numpy()
        stop = out["control"].isin(rules.stop_controls).to_numpy()
        reason[node & ~stop] = [f"no SPF for {c} control" for c in control[node & ~stop]]
        other_legs = node & stop & ~np.isin(legs, (3, 4))
        reason[other_legs] = [f"no SPF for {legs_:g} legs" for legs_ in legs[other_legs]]
        no_volume = node & stop & np.isin(legs, (3, 4)) & (np.isnan(major) | np.isnan(minor))
        reason[no_volume] = "no major/minor AADT"
        for model_spf, label in ((rules.three_leg_spf, "3ST"), (rules.four_leg_spf, "4ST")):
            model = node & stop & (legs == model_spf.legs) & ~np.isnan(major) & ~np.isnan(minor)
            spf[model] = label
            per_year[model] = model_spf.predict(major[model], minor[model])
            k[model] = model_spf.overdispersion

    notes: list[str] = []
    calibration = {
        "segment": rules.calibration_segment,
        "3ST": rules.calibration_3st,
        "4ST": rules.calibration_4st,
    }
    predicted = np.full(n, np.nan)
    for label, given in calibration.items():
        members = spf == label
        if not members.any():
            continue
        raw = years * per_year[members]
        factor = given if given is not None else calibration_factor(observed[members], raw)
        if not factor:  # None (nothing predicted) or 0 (no crash at any such site): every prediction would be 0
            spf[members] = None
            reason[members] = f"{label}: cannot calibrate (no crash at any of its sites, or nothing predicted)"
            notes.append(f"calibration {label}: impossible over {int(members.sum())} sites (no crash or no prediction)")
            continue
        predicted[members] = factor * raw
        how = "given" if given is not None else "Σobserved/Σpredicted"
        notes.append(f"calibration {label}: C = {factor:.4g} ({how}, {int(members.sum())} sites)")
        if given is None and members.sum() < rules.min_calibration_sites:
            notes.append(
                f"calibration {label} rests on {int(members.sum())} sites; the HSM asks for at least "
                f"{rules.min_calibration_sites}: treat its ranking with care"
            )
    weight, expected, excess = empirical_bayes(observed, predicted, k)
    eb = ~np.isnan(predicted)
    out["spf"] = spf
    out["predicted"] = predicted
    out["weight"] = np.where(eb, weight, np.nan)
    out["expected"] = np.where(eb, expected, np.nan)
    out["excess"] = np.where(eb, excess, np.nan)
    out["method"] = np.where(eb, "eb", "epdo")
    out["reason"] = reason
    # Deterministic order: EB sites first by excess (then expected), the rest by EPDO (then count); kind and fid
    # break ties. Ranks count from 1 within each method.
    order = np.lexsort(
        (
            out["fid"].to_numpy(),
            kind != "intersection",
            -np.where(eb, np.nan_to_num(expected), observed),
            -np.where(eb, np.nan_to_num(excess), out["epdo"].to_numpy()),
            ~eb,
        )
    )
    first_epdo = int(eb.sum())
    rank = np.empty(n, dtype=int)
    rank[order] = np.concatenate([np.arange(1, first_epdo + 1), np.arange(1, n - first_epdo + 1)])
    out["rank"] = rank
    for label, mask in (("road segments", seg), ("intersections", node)):
        missing = int((mask & ~eb).sum())
        if missing:
            notes.append(
                f"{missing} of {int(mask.sum())} {label} have no EB figure (no volume or no model): "
                "they are ranked by EPDO instead"
            )
    if not eb.any():
        notes.append("no traffic volume anywhere: EB is not possible, the ranking is by EPDO (counts) only")
    return out.iloc[order], notes
