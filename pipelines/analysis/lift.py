"""Lift: how first-week streams scale with pre-saves across a roster, which campaigns beat the line, and
how a release did against the artist's own earlier releases.

The roster fit is ordinary least squares of log1p(first-week streams) on log1p(pre-saves). Logs, because
both counts span orders of magnitude and the relation is multiplicative (the slope is an elasticity: +1 %
pre-saves ≈ +slope % streams). log1p rather than log, because a campaign with zero pre-saves is a real
observation that log would have to drop; for the counts of interest (tens and more) log1p(x) ≈ log(x), so
the slope keeps its elasticity reading. A residual r means the campaign did exp(r) times the streams the
line expects for its pre-saves.

Uncertainty comes from a seeded pairs bootstrap (campaigns resampled with replacement, the line refitted),
vectorised over resamples. Resamples in which every campaign has the same pre-save count cannot fit a
slope and are discarded. Each campaign's residual interval is the spread of its residual against the
bootstrapped lines: the uncertainty of the line, not of the campaign's own streams.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

BOOTSTRAP_BLOCK = 256


@dataclass(frozen=True)
class LiftFit:
    """The roster line and its bootstrap interval; `campaigns` has one row per campaign."""

    intercept: float
    slope: float
    slope_low: float
    slope_high: float
    r_squared: float
    n: int
    resamples: int  # bootstrap resamples that could fit a line
    campaigns: (
        pd.DataFrame
    )  # campaign, presaves, first_week_streams, fitted, residual, residual_low, residual_high, ratio


def ols_line(x: npt.ArrayLike, y: npt.ArrayLike) -> tuple[float, float]:
    """Intercept and slope of the least-squares line of y on x."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if np.ptp(x) == 0:
        raise ValueError("x does not vary: no slope can be fitted")
    dx = x - x.mean()
    slope = float(dx @ (y - y.mean())) / float(dx @ dx)
    return float(y.mean() - slope * x.mean()), slope


def bootstrap_lines(
    x: npt.ArrayLike, y: npt.ArrayLike, *, resamples: int = 2000, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Intercepts and slopes refitted on `resamples` pairs-bootstrap samples (degenerate ones dropped).

    Vectorised: each block of resamples is one (block × n) index matrix; memory stays bounded for big rosters.
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    rng = np.random.default_rng(seed)
    intercepts, slopes = [], []
    for start in range(0, resamples, BOOTSTRAP_BLOCK):
        size = min(BOOTSTRAP_BLOCK, resamples - start)
        index = rng.integers(0, len(x), size=(size, len(x)))
        xs, ys = x[index], y[index]
        dx = xs - xs.mean(axis=1, keepdims=True)
        sxx = np.einsum("ij,ij->i", dx, dx)
        sxy = np.einsum("ij,ij->i", dx, ys - ys.mean(axis=1, keepdims=True))
        fit = np.ptp(xs, axis=1) > 0
        slope = sxy[fit] / sxx[fit]
        slopes.append(slope)
        intercepts.append(ys.mean(axis=1)[fit] - slope * xs.mean(axis=1)[fit])
    return np.concatenate(intercepts), np.concatenate(slopes)


def fit_lift(
    presaves: npt.ArrayLike,
    first_week_streams: npt.ArrayLike,
    campaigns: Sequence[str] | None = None,
    *,
    resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> LiftFit:
    """Fit log1p(first-week streams) on log1p(pre-saves) over a roster (at least 3 campaigns)."""
    saves = np.asarray(presaves, float)
    streams = np.asarray(first_week_streams, float)
    if saves.shape != streams.shape or saves.ndim != 1:
        raise ValueError("presaves and first_week_streams must be two equally long lists")
    if len(saves) < 3:
        raise ValueError("a lift fit needs at least 3 campaigns")
    if np.any(saves < 0) or np.any(streams < 0) or not np.all(np.isfinite(saves + streams)):
        raise ValueError("pre-saves and streams must be finite and non-negative")
    x, y = np.log1p(saves), np.log1p(streams)
    intercept, slope = ols_line(x, y)
    fitted = intercept + slope * x
    residual = y - fitted
    total = float(((y - y.mean()) ** 2).sum())
    r_squared = 1 - float((residual**2).sum()) / total if total > 0 else 1.0
    boot_intercepts, boot_slopes = bootstrap_lines(x, y, resamples=resamples, seed=seed)
    tail = (1 - confidence) / 2 * 100
    boot_residuals = y[None, :] - (boot_intercepts[:, None] + boot_slopes[:, None] * x[None, :])
    residual_low, residual_high = np.percentile(boot_residuals, [tail, 100 - tail], axis=0)
    slope_low, slope_high = np.percentile(boot_slopes, [tail, 100 - tail])
    table = pd.DataFrame(
        {
            "campaign": list(campaigns) if campaigns is not None else range(len(x)),
            "presaves": saves,
            "first_week_streams": streams,
            "fitted": fitted,
            "residual": residual,
            "residual_low": residual_low,
            "residual_high": residual_high,
            "ratio": np.exp(residual),
        }
    )
    return LiftFit(
        intercept, slope, float(slope_low), float(slope_high), r_squared, len(x), len(boot_slopes), table
    )


# Judging one campaign: t prediction intervals, and no verdict before there are enough comparisons.
#
# A campaign's lift is exp(y − ŷ) on the log scale, ŷ being what comparable campaigns predict for it. The
# honest interval for a single new campaign is the t prediction interval: it holds the spread between
# campaigns (not only the uncertainty of their mean) and widens for the handful a label has. A bootstrap
# over four campaigns understates that spread and looks significant where it is not. Below
# MIN_COMPARABLE comparable campaigns the interval is too wide to say anything: the verdict says so.

MIN_COMPARABLE = 5


@dataclass(frozen=True)
class Judgement:
    """A campaign's ratio to what comparable campaigns predict, its t prediction interval and verdict."""

    ratio: float | None
    low: float | None
    high: float | None
    comparable: int
    verdict: str


def _verdict(ratio: float, low: float, high: float, against: str, confidence: float) -> str:
    interval = f"{ratio:.2f}× ({confidence:.0%} prediction interval {low:.2f}–{high:.2f})"
    if low > 1:
        return f"above {against}: {interval}"
    if high < 1:
        return f"below {against}: {interval}"
    return f"within {against}: {interval}"


def _too_few(comparable: int, what: str) -> Judgement:
    """`what` names the campaigns in the plural ("earlier releases …"); one is named in the singular."""
    if comparable == 1:
        what = what.replace("releases", "release", 1).replace("campaigns", "campaign", 1)
    return Judgement(
        None,
        None,
        None,
        comparable,
        f"cannot be judged yet: {comparable} {what}, {MIN_COMPARABLE} needed",
    )


def judge_against_earlier(
    value: float, earlier: npt.ArrayLike, *, confidence: float = 0.95, min_comparable: int = MIN_COMPARABLE
) -> Judgement:
    """`value` (e.g. streams per follower) against the same measure of earlier releases, on the log scale.

    ratio = value ÷ geometric mean of `earlier`; interval: exp(log ratio ± t(k−1)·s·√(1 + 1/k)).
    """
    logs = np.log(np.asarray(earlier, float))
    logs = logs[np.isfinite(logs)]
    k = len(logs)
    if k < min_comparable:
        return _too_few(k, "earlier releases measured the same way")
    if not value > 0:
        return Judgement(None, None, None, k, "cannot be judged: no streams measured")
    residual = float(np.log(value) - logs.mean())
    half = float(stats.t.ppf(0.5 + confidence / 2, k - 1) * logs.std(ddof=1) * np.sqrt(1 + 1 / k))
    ratio, low, high = np.exp(residual), np.exp(residual - half), np.exp(residual + half)
    return Judgement(ratio, low, high, k, _verdict(ratio, low, high, "the artist's usual", confidence))


def judge_against_line(
    presaves: float,
    streams: float,
    other_presaves: npt.ArrayLike,
    other_streams: npt.ArrayLike,
    *,
    confidence: float = 0.95,
    min_comparable: int = MIN_COMPARABLE,
) -> Judgement:
    """A campaign against the log1p-log1p line fitted on the other campaigns (it is not in its own fit).

    ratio = exp(y − ŷ); interval: exp(y − ŷ ± t(m−2)·s·√(1 + 1/m + (x − x̄)²/Sxx)), OLS's prediction
    interval for a new observation (statsmodels' `obs_ci`).
    """
    x, y = np.log1p(np.asarray(other_presaves, float)), np.log1p(np.asarray(other_streams, float))
    m = len(x)
    if m < min_comparable:
        return _too_few(m, "other campaigns measured the same way")
    if np.ptp(x) == 0:
        return Judgement(None, None, None, m, "cannot be judged: the other campaigns' pre-saves do not vary")
    intercept, slope = ols_line(x, y)
    x0 = float(np.log1p(presaves))
    residuals = y - (intercept + slope * x)
    s = float(np.sqrt(residuals @ residuals / (m - 2)))
    sxx = float(((x - x.mean()) ** 2).sum())
    se = s * np.sqrt(1 + 1 / m + (x0 - x.mean()) ** 2 / sxx)
    half = float(stats.t.ppf(0.5 + confidence / 2, m - 2) * se)
    residual = float(np.log1p(streams) - (intercept + slope * x0))
    ratio, low, high = np.exp(residual), np.exp(residual - half), np.exp(residual + half)
    return Judgement(ratio, low, high, m, _verdict(ratio, low, high, "the roster's line", confidence))
