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


def within_artist_lift(releases: pd.DataFrame) -> pd.DataFrame:
    """Each release against the same artist's earlier releases, normalised by followers at release.

    Takes columns artist, release, released_on, first_week_streams, followers_at_release. Adds
    streams_per_follower; baseline_per_follower, the median of streams_per_follower over the artist's
    releases strictly before this one (median: one viral release must not set the bar); earlier_releases,
    how many had a usable ratio; and lift = streams_per_follower / baseline_per_follower (1 = as usual),
    NA for an artist's first release or without followers.
    """
    frame = releases.copy()
    followers = frame["followers_at_release"].astype("Float64")
    frame["streams_per_follower"] = (frame["first_week_streams"].astype("Float64") / followers).where(
        followers > 0
    )
    earlier = frame[["artist", "released_on", "streams_per_follower"]].dropna()
    pairs = frame[["artist", "release", "released_on"]].merge(earlier, on="artist", suffixes=("", "_earlier"))
    pairs = pairs[pairs["released_on_earlier"] < pairs["released_on"]]
    baseline = pairs.groupby("release")["streams_per_follower"].agg(["median", "size"])
    frame["baseline_per_follower"] = frame["release"].map(baseline["median"]).astype("Float64")
    frame["earlier_releases"] = frame["release"].map(baseline["size"]).fillna(0).astype("Int64")
    frame["lift"] = frame["streams_per_follower"] / frame["baseline_per_follower"]
    return frame


def within_artist_lift_bounds(
    releases: pd.DataFrame, *, resamples: int = 2000, confidence: float = 0.95, seed: int = 0
) -> pd.DataFrame:
    """Percentile bootstrap bounds for `within_artist_lift`'s lift: `lift_low`, `lift_high` added.

    For each release with a lift, the artist's strictly earlier streams-per-follower ratios are resampled
    with replacement and the median of each resample is the baseline: lift = this release's ratio /
    baseline. The interval reflects how much the baseline depends on which earlier releases there were;
    with a single earlier release it collapses to the lift itself (there is no spread to learn from).
    """
    frame = within_artist_lift(releases) if "lift" not in releases else releases.copy()
    rng = np.random.default_rng(seed)
    tail = (1 - confidence) / 2 * 100
    low = pd.Series(pd.NA, index=frame.index, dtype="Float64")
    high = pd.Series(pd.NA, index=frame.index, dtype="Float64")
    usable = frame.dropna(subset=["streams_per_follower"])
    for index, row in frame[frame["lift"].notna()].iterrows():
        earlier = usable[(usable["artist"] == row["artist"]) & (usable["released_on"] < row["released_on"])]
        ratios = earlier["streams_per_follower"].to_numpy(float)
        draws = ratios[rng.integers(0, len(ratios), size=(resamples, len(ratios)))]
        with np.errstate(divide="ignore"):
            lifts = float(row["streams_per_follower"]) / np.median(draws, axis=1)
        lifts = lifts[np.isfinite(lifts)]  # a resample whose baseline is 0 streams gives no ratio
        if len(lifts):
            low[index], high[index] = np.percentile(lifts, [tail, 100 - tail])
    return frame.assign(lift_low=low, lift_high=high)
