"""The roster lift fit and the within-artist comparison: by hand, against statsmodels OLS and scipy."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats

from pipelines.analysis.lift import (
    bootstrap_lines,
    fit_lift,
    judge_against_earlier,
    judge_against_line,
    ols_line,
)


def test_exact_power_law_by_hand() -> None:
    # log1p(streams) = 1 + 0.8 · log1p(pre-saves) exactly: slope 0.8, intercept 1, no residual anywhere.
    presaves = np.array([9.0, 99.0, 999.0, 49.0])
    streams = np.expm1(1 + 0.8 * np.log1p(presaves))
    fit = fit_lift(presaves, streams, ["a", "b", "c", "d"], resamples=500)
    assert fit.slope == pytest.approx(0.8)
    assert fit.intercept == pytest.approx(1.0)
    assert fit.r_squared == pytest.approx(1.0)
    assert (fit.slope_low, fit.slope_high) == pytest.approx((0.8, 0.8))
    assert fit.campaigns["residual"].abs().max() < 1e-12
    assert fit.campaigns["ratio"].tolist() == pytest.approx([1.0] * 4)
    assert fit.campaigns["campaign"].tolist() == ["a", "b", "c", "d"]


def test_residual_reads_as_a_multiple_of_the_expected_streams() -> None:
    presaves = np.array([9.0, 99.0, 999.0, 9999.0, 99.0])
    streams = np.expm1(2 + 0.5 * np.log1p(presaves))
    streams[4] = np.expm1(2 + 0.5 * np.log1p(99.0) + np.log(3))  # three times what the line expects
    fit = fit_lift(presaves, streams)
    best = fit.campaigns.sort_values("residual").iloc[-1]
    assert best["campaign"] == 4
    assert best["residual_low"] <= best["residual"] <= best["residual_high"]


@pytest.fixture
def roster() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    presaves = np.round(np.exp(rng.uniform(2, 9, 300)))
    streams = np.round(np.expm1(1.5 + 0.9 * np.log1p(presaves) + rng.normal(0, 0.6, 300)))
    return presaves, streams


def test_fit_matches_statsmodels_ols(roster: tuple[np.ndarray, np.ndarray]) -> None:
    presaves, streams = roster
    fit = fit_lift(presaves, streams, resamples=200)
    x, y = np.log1p(presaves), np.log1p(streams)
    model = sm.OLS(y, sm.add_constant(x)).fit()
    assert (fit.intercept, fit.slope) == pytest.approx(tuple(model.params), rel=1e-10)
    assert fit.r_squared == pytest.approx(model.rsquared, rel=1e-10)
    assert fit.campaigns["residual"].to_numpy() == pytest.approx(model.resid, abs=1e-10)
    assert fit.campaigns["fitted"].to_numpy() == pytest.approx(model.fittedvalues, abs=1e-10)


def test_bootstrap_agrees_with_scipy_and_robust_standard_errors(
    roster: tuple[np.ndarray, np.ndarray],
) -> None:
    presaves, streams = roster
    x, y = np.log1p(presaves), np.log1p(streams)
    fit = fit_lift(presaves, streams, resamples=4000, seed=3)
    assert fit.resamples == 4000
    assert fit.slope_low < fit.slope < fit.slope_high

    def slope(xs: np.ndarray, ys: np.ndarray, axis: int = -1) -> np.ndarray:
        dx = xs - xs.mean(axis=axis, keepdims=True)
        return (dx * (ys - ys.mean(axis=axis, keepdims=True))).sum(axis) / (dx * dx).sum(axis)

    reference = stats.bootstrap(
        (x, y),
        slope,
        paired=True,
        vectorized=True,
        n_resamples=4000,
        method="percentile",
        rng=np.random.default_rng(11),
    ).confidence_interval
    # Two independent bootstraps of the same statistic: equal up to Monte-Carlo noise.
    assert fit.slope_low == pytest.approx(reference.low, abs=0.01)
    assert fit.slope_high == pytest.approx(reference.high, abs=0.01)
    _, slopes = bootstrap_lines(x, y, resamples=4000, seed=3)
    robust = sm.OLS(y, sm.add_constant(x)).fit(cov_type="HC0").bse[1]
    assert slopes.std(ddof=1) == pytest.approx(robust, rel=0.1)


def test_bootstrap_is_seeded() -> None:
    x, y = np.arange(10.0), np.arange(10.0) ** 1.5
    first = bootstrap_lines(x, y, resamples=300, seed=5)
    again = bootstrap_lines(x, y, resamples=300, seed=5)
    other = bootstrap_lines(x, y, resamples=300, seed=6)
    assert np.array_equal(first[1], again[1])
    assert not np.array_equal(first[1], other[1])


def test_degenerate_resamples_are_dropped() -> None:
    x, y = np.array([0.0, 0.0, 0.0, 1.0]), np.array([1.0, 2.0, 3.0, 4.0])
    intercepts, slopes = bootstrap_lines(x, y, resamples=1000, seed=1)
    # P(no resample of the one x = 1 point) = (3/4)^4 ≈ 0.32 of the resamples cannot fit a slope.
    assert 600 < len(slopes) < 760
    assert len(intercepts) == len(slopes)
    assert np.all(np.isfinite(slopes))


@pytest.mark.parametrize(
    ("presaves", "streams", "message"),
    [
        ([1, 2], [3, 4], "at least 3 campaigns"),
        ([1, 2, 3], [3, 4], "equally long"),
        ([1, -2, 3], [3, 4, 5], "non-negative"),
        ([5, 5, 5], [3, 4, 5], "does not vary"),
    ],
)
def test_fit_refuses_bad_input(presaves: list[int], streams: list[int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        fit_lift(presaves, streams)


def test_ols_line_by_hand() -> None:
    assert ols_line([0, 1, 2], [1, 3, 5]) == pytest.approx((1.0, 2.0))


ROSTER_SAVES = np.array([40, 90, 150, 300, 520, 800, 1200])
ROSTER_STREAMS = np.array([900, 1500, 4100, 5200, 12000, 15000, 31000])


def test_a_campaign_against_the_other_campaigns_line_is_statsmodels_prediction_interval() -> None:
    x = sm.add_constant(np.log1p(ROSTER_SAVES[1:]))
    fit = sm.OLS(np.log1p(ROSTER_STREAMS[1:]), x).fit()
    frame = fit.get_prediction(np.array([[1.0, np.log1p(ROSTER_SAVES[0])]])).summary_frame(alpha=0.05)
    made = judge_against_line(ROSTER_SAVES[0], ROSTER_STREAMS[0], ROSTER_SAVES[1:], ROSTER_STREAMS[1:])
    y = np.log1p(ROSTER_STREAMS[0])
    assert made.comparable == 6
    assert made.ratio == pytest.approx(np.exp(y - frame["mean"].iloc[0]))
    assert made.low == pytest.approx(np.exp(y - frame["obs_ci_upper"].iloc[0]))
    assert made.high == pytest.approx(np.exp(y - frame["obs_ci_lower"].iloc[0]))
    assert made.verdict.startswith(
        ("within the roster's line", "above the roster's line", "below the roster's")
    )


def test_a_release_against_the_artists_earlier_ones_is_the_t_prediction_interval_on_logs() -> None:
    earlier = np.array([1.2, 0.8, 1.5, 1.1, 0.9])
    made = judge_against_earlier(3.0, earlier)
    logs = np.log(earlier)
    half = stats.t.ppf(0.975, 4) * logs.std(ddof=1) * np.sqrt(1 + 1 / 5)
    ratio = 3.0 / np.exp(logs.mean())
    assert (made.ratio, made.low, made.high) == pytest.approx(
        (ratio, ratio / np.exp(half), ratio * np.exp(half))
    )
    assert made.verdict == (
        f"above the artist's usual: {ratio:.2f}× (95% prediction interval {made.low:.2f}–{made.high:.2f})"
    )


@pytest.mark.parametrize(
    ("judge", "verdict"),
    [
        (
            lambda: judge_against_earlier(2.0, [1.0, 1.1, 0.9, 1.2]),
            "cannot be judged yet: 4 earlier releases measured the same way, 5 needed",
        ),
        (
            lambda: judge_against_line(100, 2000, ROSTER_SAVES[:4], ROSTER_STREAMS[:4]),
            "cannot be judged yet: 4 other campaigns measured the same way, 5 needed",
        ),
        (
            lambda: judge_against_earlier(2.0, [1.0]),
            "cannot be judged yet: 1 earlier release measured the same way, 5 needed",
        ),
        (
            lambda: judge_against_line(100, 2000, [50] * 5, ROSTER_STREAMS[:5]),
            "cannot be judged: the other campaigns' pre-saves do not vary",
        ),
    ],
)
def test_with_too_few_comparable_campaigns_lift_cannot_be_judged_yet(judge, verdict) -> None:
    made = judge()
    assert (made.ratio, made.low, made.high, made.verdict) == (None, None, None, verdict)
