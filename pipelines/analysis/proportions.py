"""Conversion rates with their uncertainty: Wilson intervals, the pooled two-proportion z-test, Newcombe's
interval for a difference, Holm's adjustment, and the service-by-service comparison built from them."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats


@dataclass(frozen=True)
class Proportion:
    """`successes` of `trials`, the rate and its Wilson interval (NaN when there were no trials)."""

    successes: int
    trials: int
    rate: float
    low: float
    high: float


@dataclass(frozen=True)
class ProportionComparison:
    """Rate 1 minus rate 2, its Newcombe interval, and the pooled z-test of equal rates (two-sided)."""

    rate_1: float
    rate_2: float
    difference: float
    low: float
    high: float
    z: float
    p_value: float


def _z(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise ValueError("confidence must be between 0 and 1")
    return float(stats.norm.ppf(0.5 + confidence / 2))


def wilson_bounds(
    successes: npt.ArrayLike, trials: npt.ArrayLike, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval bounds, element-wise; NaN where trials is 0.

    Method: invert the score test, (p̂ + z²/2n ± z·√(p̂(1−p̂)/n + z²/4n²)) / (1 + z²/n). Unlike the Wald
    interval it stays inside [0, 1] and keeps its coverage for small counts and rates near 0 or 1.
    """
    x = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    if np.any(x < 0) or np.any(x > n):
        raise ValueError("successes must lie between 0 and trials")
    z = _z(confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = x / n
        denominator = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denominator
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denominator
    return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> Proportion:
    """One proportion with its Wilson interval (see `wilson_bounds`)."""
    low, high = wilson_bounds(successes, trials, confidence)
    rate = successes / trials if trials else float("nan")
    return Proportion(successes, trials, rate, float(low), float(high))


def two_proportion_test(
    successes_1: int, trials_1: int, successes_2: int, trials_2: int, confidence: float = 0.95
) -> ProportionComparison:
    """Compare two independent proportions.

    The test uses the pooled rate p̄ under the null hypothesis of equal rates:
    z = (p̂₁ − p̂₂) / √(p̄(1−p̄)(1/n₁ + 1/n₂)), two-sided p-value. The interval for the difference is
    Newcombe's hybrid score interval (his method 10), built from the two Wilson intervals, which keeps its
    coverage where the Wald interval fails (small samples, rates near 0). When both rates are 0 (or both
    1) there is no evidence of a difference: z = 0, p = 1.
    """
    if min(trials_1, trials_2) <= 0:
        raise ValueError("both groups need at least one trial")
    one = wilson_interval(successes_1, trials_1, confidence)
    two = wilson_interval(successes_2, trials_2, confidence)
    difference = one.rate - two.rate
    pooled = (successes_1 + successes_2) / (trials_1 + trials_2)
    se = np.sqrt(pooled * (1 - pooled) * (1 / trials_1 + 1 / trials_2))
    z = difference / se if se > 0 else 0.0
    p_value = float(2 * stats.norm.sf(abs(z)))
    low = difference - np.hypot(one.rate - one.low, two.high - two.rate)
    high = difference + np.hypot(one.high - one.rate, two.rate - two.low)
    return ProportionComparison(one.rate, two.rate, difference, float(low), float(high), float(z), p_value)


def holm_adjust(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment: controls the family-wise error rate over several comparisons."""
    p = np.asarray(p_values, dtype=float)
    order = np.argsort(p)
    m = len(p)
    stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted.tolist()


@dataclass(frozen=True)
class RateColumns:
    """Where a frame's counts are: the `group` compared (a service), its `successes` and `trials` (summed
    over the group's rows), and optionally `by`, a column each comparison is made within (a source)."""

    group: str = "service"
    successes: str = "grants"
    trials: str = "visits"
    by: str | None = None


PRESAVES_OF_VISITS = RateColumns()


def conversion_rates(
    frame: pd.DataFrame, columns: RateColumns = PRESAVES_OF_VISITS, confidence: float = 0.95
) -> pd.DataFrame:
    """Rate and Wilson interval per group (and per `by`, e.g. traffic source), summing the rows given.

    Returns columns [by,] group, successes, trials, rate, low, high.
    """
    successes, trials = columns.successes, columns.trials
    keys = [columns.by, columns.group] if columns.by else [columns.group]
    totals = frame.groupby(keys, as_index=False, observed=True)[[successes, trials]].sum()
    low, high = wilson_bounds(totals[successes], totals[trials], confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = totals[successes].to_numpy(float) / totals[trials].to_numpy(float)
    return totals.assign(rate=rate, low=low, high=high)


# a comparison of two groups: the rates, their difference and its interval; then the test's figures
PAIR_COLUMNS = ("group_1", "group_2", "rate_1", "rate_2", "difference", "low", "high")
TEST_COLUMNS = ("z", "p_value", "p_holm")


def pairwise_conversion(
    frame: pd.DataFrame, columns: RateColumns = PRESAVES_OF_VISITS, confidence: float = 0.95
) -> pd.DataFrame:
    """Every pair of groups compared (e.g. Spotify vs Apple Music vs Deezer), overall or within each `by`.

    Returns one row per pair: [by,] group_1, group_2, rate_1, rate_2, difference, low, high, z, p_value,
    p_holm (Holm-adjusted within each `by` level, the family of comparisons a reader looks at together).
    Groups without trials are left out.
    """
    group, successes, trials, by = columns.group, columns.successes, columns.trials, columns.by
    rates = conversion_rates(frame, columns, confidence)
    rates = rates[rates[trials] > 0]
    rows = []
    for level, part in rates.groupby(by, sort=True) if by else [(None, rates)]:
        family = []
        for (_, a), (_, b) in itertools.combinations(part.sort_values(group).iterrows(), 2):
            test = two_proportion_test(
                int(a[successes]), int(a[trials]), int(b[successes]), int(b[trials]), confidence
            )
            family.append({"group_1": a[group], "group_2": b[group], **test.__dict__})
        for row, adjusted in zip(family, holm_adjust([r["p_value"] for r in family]), strict=True):
            rows.append(({by: level} if by else {}) | row | {"p_holm": adjusted})
    return pd.DataFrame(rows, columns=[*([by] if by else []), *PAIR_COLUMNS, *TEST_COLUMNS])


SERVICE_NAMES = {"spotify": "Spotify", "apple": "Apple Music", "deezer": "Deezer"}
_COUNT_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def _points(value: float) -> str:
    """A difference in percentage points, with a true minus sign."""
    return f"{value * 100:.1f}".replace("-", "−")


def _p(value: float) -> str:
    return "p < 0.001" if value < 0.001 else f"p = {value:.2g}"


def conversion_verdict(
    service_1: str,
    service_2: str,
    difference: float,
    low: float,
    high: float,
    p_adjusted: float,
    comparisons: int,
    *,
    confidence: float = 0.95,
    alpha: float = 0.05,
) -> str:
    """The comparison of two services' conversion in words, as the conversion page states it.

    `difference` = rate of `service_1` − rate of `service_2` with its interval; `p_adjusted` is the
    Holm-adjusted p-value over the `comparisons` made together (the raw p-value when there is one).
    """
    first = SERVICE_NAMES.get(service_1, service_1)
    second = SERVICE_NAMES.get(service_2, service_2)
    if any(np.isnan(v) for v in (difference, low, high, p_adjusted)):
        return f"{first} and {second} cannot be compared: one of them has no visitors."
    interval = f"({confidence:.0%} CI {_points(low)} to {_points(high)})"
    points = round(abs(difference) * 100, 1)
    if points == 0:
        head = f"{first} and {second} convert at the same rate {interval}"
    else:
        direction = "higher" if difference > 0 else "lower"
        head = f"{first} converts {points:.1f} points {direction} than {second} {interval}"
    significant = "significant" if p_adjusted < alpha else "not significant"
    if comparisons > 1:
        count = _COUNT_WORDS[comparisons] if comparisons < len(_COUNT_WORDS) else str(comparisons)
        tail = f"across the {count} comparisons, after Holm adjustment, the difference is {significant}"
    else:
        tail = f"the difference is {significant}"
    return f"{head}; {tail} ({_p(p_adjusted)})."
