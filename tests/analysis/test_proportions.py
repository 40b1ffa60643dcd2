"""Wilson intervals, the pooled z-test, Newcombe's interval and Holm: by hand and against statsmodels."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint, proportions_ztest

from pipelines.analysis.proportions import (
    RateColumns,
    conversion_rates,
    conversion_verdict,
    holm_adjust,
    pairwise_conversion,
    two_proportion_test,
    wilson_bounds,
    wilson_interval,
)


@pytest.mark.parametrize(
    ("successes", "trials", "low", "high"),
    [
        (0, 10, 0.0, 0.27753),  # z²/2n / (1 + z²/n) on both sides of 0
        (5, 10, 0.23659, 0.76341),
        (10, 10, 0.72247, 1.0),
        (1, 1000, 0.00017653, 0.0056426),
    ],
)
def test_wilson_by_hand(successes: int, trials: int, low: float, high: float) -> None:
    interval = wilson_interval(successes, trials)
    assert interval.rate == successes / trials
    assert interval.low == pytest.approx(low, abs=5e-6)
    assert interval.high == pytest.approx(high, abs=5e-6)


@pytest.mark.parametrize("confidence", [0.8, 0.9, 0.95, 0.99])
@pytest.mark.parametrize(("successes", "trials"), [(0, 7), (3, 7), (41, 250), (812, 1040), (999, 1000)])
def test_wilson_matches_statsmodels(successes: int, trials: int, confidence: float) -> None:
    interval = wilson_interval(successes, trials, confidence)
    low, high = proportion_confint(successes, trials, alpha=1 - confidence, method="wilson")
    assert (interval.low, interval.high) == pytest.approx((low, high), abs=1e-12)


def test_wilson_bounds_are_vectorised_and_nan_without_trials() -> None:
    low, high = wilson_bounds([0, 5, 0], [10, 10, 0])
    assert low[:2] == pytest.approx([0.0, 0.23659], abs=5e-6)
    assert math.isnan(low[2])
    assert math.isnan(high[2])
    with pytest.raises(ValueError, match="between 0 and trials"):
        wilson_bounds([11], [10])


def test_two_proportion_test_by_hand() -> None:
    # p̄ = 75/200 = 0.375, se = √(0.375·0.625·(1/100 + 1/100)) = 0.0684653, z = 0.15 / se = 2.19089
    result = two_proportion_test(45, 100, 30, 100)
    assert result.difference == pytest.approx(0.15)
    assert result.z == pytest.approx(2.190890, abs=1e-6)
    assert result.p_value == pytest.approx(0.028459, abs=1e-6)
    assert result.low < 0.15 < result.high


@pytest.mark.parametrize(
    ("x1", "n1", "x2", "n2"),
    [(45, 100, 30, 100), (812, 1040, 240, 410), (3, 40, 0, 25), (56, 70, 48, 80), (10, 10, 0, 10)],
)
def test_two_proportion_test_matches_statsmodels(x1: int, n1: int, x2: int, n2: int) -> None:
    result = two_proportion_test(x1, n1, x2, n2)
    z, p_value = proportions_ztest([x1, x2], [n1, n2])
    assert result.z == pytest.approx(z, rel=1e-9)
    assert result.p_value == pytest.approx(p_value, rel=1e-9, abs=1e-300)
    low, high = confint_proportions_2indep(x1, n1, x2, n2, method="newcomb", compare="diff")
    assert (result.low, result.high) == pytest.approx((low, high), abs=1e-9)


def test_equal_extreme_rates_are_no_evidence_of_a_difference() -> None:
    result = two_proportion_test(0, 50, 0, 80)
    assert (result.difference, result.z, result.p_value) == (0.0, 0.0, 1.0)
    with pytest.raises(ValueError, match="at least one trial"):
        two_proportion_test(0, 0, 1, 2)


@pytest.mark.parametrize(
    ("p_values", "adjusted"),
    [([0.01, 0.04, 0.03], [0.03, 0.06, 0.06]), ([0.5], [0.5]), ([0.2, 0.6, 0.9], [0.6, 1.0, 1.0])],
)
def test_holm_by_hand_and_against_statsmodels(p_values: list[float], adjusted: list[float]) -> None:
    assert holm_adjust(p_values) == pytest.approx(adjusted)
    assert holm_adjust(p_values) == pytest.approx(multipletests(p_values, method="holm")[1].tolist())


@pytest.fixture
def visits() -> pd.DataFrame:
    """Landing-page visits and grants by service and traffic source (several rows per cell, as in a mart)."""
    return pd.DataFrame(
        {
            "source": ["instagram"] * 4 + ["tiktok"] * 4,
            "service": ["spotify", "spotify", "apple", "deezer", "spotify", "apple", "apple", "deezer"],
            "visits": [300, 200, 200, 80, 400, 150, 50, 30],
            "grants": [210, 120, 90, 20, 180, 60, 25, 3],
        }
    )


def test_conversion_rates_overall_and_per_source(visits: pd.DataFrame) -> None:
    overall = conversion_rates(visits).set_index("service")
    assert overall.loc["spotify", ["grants", "visits"]].tolist() == [510, 900]
    assert overall.loc["apple", "rate"] == pytest.approx(175 / 400)
    low, high = proportion_confint(23, 110, method="wilson")
    assert (overall.loc["deezer", "low"], overall.loc["deezer", "high"]) == pytest.approx((low, high))
    by_source = conversion_rates(visits, RateColumns(by="source")).set_index(["source", "service"])
    assert by_source.loc[("tiktok", "apple"), "rate"] == pytest.approx(85 / 200)
    assert by_source.loc[("instagram", "spotify"), "grants"] == 330


def test_pairwise_conversion(visits: pd.DataFrame) -> None:
    pairs = pairwise_conversion(visits)
    assert pairs[["group_1", "group_2"]].values.tolist() == [
        ["apple", "deezer"],
        ["apple", "spotify"],
        ["deezer", "spotify"],
    ]
    spotify_vs_apple = pairs.iloc[1]
    expected = two_proportion_test(175, 400, 510, 900)
    assert spotify_vs_apple["difference"] == pytest.approx(expected.difference)
    assert spotify_vs_apple["p_value"] == pytest.approx(expected.p_value)
    assert pairs["p_holm"].tolist() == pytest.approx(
        multipletests(pairs["p_value"], method="holm")[1].tolist()
    )
    per_source = pairwise_conversion(visits, RateColumns(by="source"))
    assert per_source["source"].tolist() == ["instagram"] * 3 + ["tiktok"] * 3
    tiktok = per_source[per_source["source"] == "tiktok"]
    adjusted = multipletests(tiktok["p_value"], method="holm")[1]
    assert np.allclose(tiktok["p_holm"], adjusted)


@pytest.mark.parametrize(
    ("pair", "difference", "interval", "p_adjusted", "comparisons", "verdict"),
    [
        (
            ("apple", "spotify"),
            -0.0521,
            (-0.1084, -0.0061),
            0.0709,
            3,
            "Apple Music converts 5.2 points lower than Spotify (95% CI −10.8 to −0.6); across the three "
            "comparisons, after Holm adjustment, the difference is not significant (p = 0.071).",
        ),
        (
            ("deezer", "spotify"),
            0.12,
            (0.05, 0.19),
            0.0004,
            3,
            "Deezer converts 12.0 points higher than Spotify (95% CI 5.0 to 19.0); across the three "
            "comparisons, after Holm adjustment, the difference is significant (p < 0.001).",
        ),
        (
            ("apple", "spotify"),
            -0.08,
            (-0.15, -0.01),
            0.03,
            1,
            "Apple Music converts 8.0 points lower than Spotify (95% CI −15.0 to −1.0); the difference is "
            "significant (p = 0.03).",
        ),
        (
            ("apple", "deezer"),
            0.0,
            (-0.2, 0.2),
            1.0,
            2,
            "Apple Music and Deezer convert at the same rate (95% CI −20.0 to 20.0); across the two "
            "comparisons, after Holm adjustment, the difference is not significant (p = 1).",
        ),
    ],
)
def test_the_verdict_states_direction_size_interval_and_adjusted_significance(
    pair, difference, interval, p_adjusted, comparisons, verdict
) -> None:
    assert conversion_verdict(*pair, difference, *interval, p_adjusted, comparisons) == verdict


def test_the_verdict_of_the_issue_counts_equals_statsmodels_in_words() -> None:
    """Apple 156/174 against Spotify 383/404, with Deezer 61/69 in the family of three comparisons."""
    counts = {"apple": (156, 174), "deezer": (61, 69), "spotify": (383, 404)}
    frame = pd.DataFrame([{"service": s, "grants": x, "visits": n} for s, (x, n) in counts.items()])
    pairs = pairwise_conversion(frame).set_index(["group_1", "group_2"])
    row = pairs.loc[("apple", "spotify")]
    low, high = confint_proportions_2indep(156, 174, 383, 404, method="newcomb", compare="diff")
    _, p_value = proportions_ztest([156, 383], [174, 404])
    raw = [
        proportions_ztest([counts[a][0], counts[b][0]], [counts[a][1], counts[b][1]])[1]
        for a, b in pairs.index
    ]
    adjusted = dict(zip(pairs.index, multipletests(raw, method="holm")[1], strict=True))
    assert (row.low, row.high, row.p_value) == pytest.approx((low, high, p_value))
    assert row.p_holm == pytest.approx(adjusted[("apple", "spotify")])
    verdict = conversion_verdict("apple", "spotify", row.difference, row.low, row.high, row.p_holm, 3)
    assert verdict == (
        f"Apple Music converts 5.1 points lower than Spotify (95% CI −{-low * 100:.1f} to −{-high * 100:.1f}); "
        f"across the three comparisons, after Holm adjustment, the difference is not significant "
        f"(p = {adjusted[('apple', 'spotify')]:.2g})."
    )
