"""Pre-save accumulation before release day, and a forecast of the release-day total.

Curves count grants by day relative to release day (D−28 … D0), cumulatively; grants before D−28 are in
D−28's count, grants after D0 are not pre-saves. The forecast scales the count so far by how much earlier
campaigns still grew from the same relative day to D0.

Forecast method: for each earlier campaign j with a count at day d, the growth ratio rⱼ = final / so-far.
Growth is multiplicative and right-skewed, so we work with log rⱼ, which is close to symmetric. The point
forecast is so_far · exp(mean log r); the interval is a t prediction interval for a new campaign's log
ratio, mean ± t(k−1) · sd · √(1 + 1/k) — it accounts for both the spread between campaigns and the
few campaigns a label has (k is small). Empirical quantiles of the ratios would need about 40 campaigns
before a 95 % interval means anything. A campaign cannot lose pre-saves, so the lower bound is at
least the count so far.

One campaign unlike the others must not decide the interval: a campaign whose log ratio lies more than
3.5 robust standard deviations (modified z-score: 0.6745 · |x − median| / MAD, Iglewicz and Hoaglin) from
the median of the others' is left out and named (an imported campaign whose other tool counted days
differently grew 4.75× where the label's own grew 1.40–1.51×: kept, it turned 306 (289–326) into 345
(210–838)), as long as three campaigns remain. When the lower bound is raised to the count so far, the
forecast says so (`clamped`).

When not to forecast (`release_day_forecast` then gives the reason instead of a number): on or after
release day (the count is final), with nothing pre-saved yet (nothing to scale), with fewer than three
earlier campaigns having pre-saves by that day (two give a t interval with one degree of freedom, whose
bounds reach absurd heights), when those campaigns all grew alike (no spread, so no honest interval),
and when the interval would span more than twenty-fold (early days, campaigns that grew very unalike).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

DAYS_BEFORE = 28
MIN_EARLIER_CAMPAIGNS = 3
MAX_SPREAD = 20.0  # high ÷ low of the log-scale interval beyond which a forecast tells nothing
OUTLIER_Z = 3.5  # modified z-score beyond which an earlier campaign's growth is left out


def presave_curves(
    grants: pd.DataFrame, releases: pd.DataFrame, days_before: int = DAYS_BEFORE
) -> pd.DataFrame:
    """Cumulative pre-saves per campaign (rows) and relative day −days_before … 0 (columns).

    `grants`: campaign, granted_at (one row per grant). `releases`: campaign, release_date.
    Days are calendar days of the timestamps given (pass local dates for local-midnight releases).
    """
    days = range(-days_before, 1)
    merged = grants.merge(releases[["campaign", "release_date"]], on="campaign", how="inner")
    relative = (
        pd.to_datetime(merged["granted_at"]).dt.normalize()
        - pd.to_datetime(merged["release_date"]).dt.normalize()
    ).dt.days
    merged = merged.assign(day=relative.clip(lower=-days_before))[relative <= 0]
    daily = merged.groupby(["campaign", "day"]).size().unstack("day")
    daily = daily.reindex(index=pd.Index(releases["campaign"].unique(), name="campaign"), columns=days)
    return daily.fillna(0).cumsum(axis=1).astype("int64")


def last_week_share(curves: pd.DataFrame) -> pd.Series:
    """Share of the release-day total that came in the last seven days (D−6 … D0); NaN without pre-saves."""
    final = curves[0].astype(float)
    return (final - curves[-7]) / final.where(final > 0)


def normalised_curves(curves: pd.DataFrame) -> pd.DataFrame:
    """Each curve as a fraction of its release-day total (campaigns without pre-saves dropped)."""
    final = curves[0]
    return curves[final > 0].div(final[final > 0], axis=0)


@dataclass(frozen=True)
class Forecast:
    """Forecast release-day pre-saves with a prediction interval, from `campaigns` earlier campaigns."""

    so_far: int
    day: int
    point: float
    low: float
    high: float
    campaigns: int
    ratio_min: float
    ratio_max: float
    left_out: tuple[str, ...] = ()  # earlier campaigns whose growth was unlike all the others'
    clamped: bool = False  # the interval reached below the count so far: its lower bound is that count


def unlike_the_others(log_ratios: pd.Series, keep_at_least: int = MIN_EARLIER_CAMPAIGNS) -> list[str]:
    """The campaigns whose log growth ratio lies beyond `OUTLIER_Z` modified z-scores of the median;
    none when the spread is nil (MAD 0) or fewer than `keep_at_least` would remain."""
    median = float(log_ratios.median())
    mad = float((log_ratios - median).abs().median())
    if mad == 0:
        return []
    outliers = log_ratios[0.6745 * (log_ratios - median).abs() / mad > OUTLIER_Z]
    if len(log_ratios) - len(outliers) < keep_at_least:
        return []
    return [str(name) for name in outliers.index]


def forecast_release_day(so_far: int, day: int, history: pd.DataFrame, confidence: float = 0.95) -> Forecast:
    """Forecast D0's count from `so_far` at relative `day` (−28 … 0) and earlier campaigns' `history` curves.

    Needs at least two earlier campaigns with pre-saves by that day; see the module notes for the method.
    """
    if day > 0 or day not in history.columns:
        raise ValueError(f"day must be one of the curves' relative days (≤ 0), not {day}")
    if so_far < 0:
        raise ValueError("so_far cannot be negative")
    at_day = history[day].astype(float)
    usable = at_day > 0
    ratios = history.loc[usable, 0].astype(float) / at_day[usable]
    if len(ratios) < 2:
        raise ValueError("a forecast needs at least two earlier campaigns with pre-saves by that day")
    left_out = unlike_the_others(np.log(ratios))
    ratios = ratios.drop(left_out)
    k = len(ratios)
    logs = np.log(ratios.to_numpy())
    mean, sd = logs.mean(), logs.std(ddof=1)
    half = stats.t.ppf(0.5 + confidence / 2, k - 1) * sd * np.sqrt(1 + 1 / k)
    low = so_far * float(np.exp(mean - half))
    return Forecast(
        so_far=so_far,
        day=day,
        point=so_far * float(np.exp(mean)),
        low=max(float(so_far), low),
        high=so_far * float(np.exp(mean + half)),
        campaigns=k,
        ratio_min=float(ratios.min()),
        ratio_max=float(ratios.max()),
        left_out=tuple(left_out),
        clamped=low < so_far,
    )


def release_day_forecast(
    so_far: int,
    day: int,
    history: pd.DataFrame,
    *,
    min_campaigns: int = MIN_EARLIER_CAMPAIGNS,
    max_spread: float = MAX_SPREAD,
    confidence: float = 0.95,
) -> Forecast | str:
    """The forecast of D0's count made at relative `day`, or the reason none is made (see module notes)."""
    if day >= 0:
        return "release day reached: the count is final, nothing to forecast"
    if so_far <= 0:
        return f"no pre-saves by D{day}: nothing to scale"
    usable = int((history[day] > 0).sum()) if len(history) else 0
    if usable < min_campaigns:
        return f"needs {min_campaigns} earlier campaigns with pre-saves by D{day}; {usable} found"
    made = forecast_release_day(so_far, day, history, confidence)
    if made.ratio_min == made.ratio_max:
        return f"the {usable} earlier campaigns grew alike from D{day}: no spread to judge the uncertainty"
    spread = (made.high / made.point) ** 2  # the log-scale interval is symmetric around the point
    if spread > max_spread:
        return (
            f"too uncertain at D{day}: the {usable} earlier campaigns grew {made.ratio_min:.1f}× to "
            f"{made.ratio_max:.1f}× from here, an interval spanning {spread:.0f}-fold"
        )
    return made
