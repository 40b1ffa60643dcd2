"""First-week velocity, pre-save curves and the release-day forecast, by hand and against statsmodels."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from pipelines.analysis.accumulation import (
    forecast_release_day,
    last_week_share,
    normalised_curves,
    presave_curves,
    release_day_forecast,
)
from pipelines.analysis.velocity import first_week_velocity

RELEASE = pd.Timestamp("2026-12-04")
WEEK_ONE = [700, 300, 200, 100, 100, 50, 50]


def daily_rows(streams: dict[int, int], campaign: str = "midnight-drive") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "campaign": campaign,
            "date": [RELEASE + pd.Timedelta(days=day) for day in streams],
            "streams": list(streams.values()),
            "listeners": [value // 2 for value in streams.values()],
        }
    )


def release_rows(presavers: int | None = 300, campaign: str = "midnight-drive") -> pd.DataFrame:
    rows = {"campaign": [campaign], "release_date": [RELEASE]}
    if presavers is not None:
        rows["presavers"] = [presavers]
    return pd.DataFrame(rows)


def test_velocity_by_hand() -> None:
    days = {-1: 9, **dict(enumerate(WEEK_ONE)), **{day: 100 for day in range(7, 14)}, 14: 1}
    out = first_week_velocity(daily_rows(days), release_rows()).loc["midnight-drive"]
    assert [out[f"d{day}_streams"] for day in range(7)] == WEEK_ONE
    assert [out[f"d{day}_listeners"] for day in range(7)] == [value // 2 for value in WEEK_ONE]
    assert out["first_24h_streams"] == 700
    assert out["first_72h_streams"] == 1200
    assert out["week1_streams"] == 1500
    assert out["week2_streams"] == 700
    assert out["day1_share"] == pytest.approx(700 / 1500)
    assert out["streams_per_presaver"] == pytest.approx(5.0)
    assert out["retention"] == pytest.approx(700 / 1500)


@pytest.mark.parametrize(
    ("missing", "unknown", "known"),
    [
        (
            4,
            {"d4_streams", "week1_streams", "day1_share", "streams_per_presaver", "retention"},
            {"first_72h_streams"},
        ),
        (1, {"first_72h_streams", "week1_streams", "day1_share"}, {"first_24h_streams"}),
        (9, {"week2_streams", "retention"}, {"week1_streams", "day1_share"}),
    ],
)
def test_a_missing_day_is_unknown_not_zero(missing: int, unknown: set[str], known: set[str]) -> None:
    days = {**dict(enumerate(WEEK_ONE)), **{day: 100 for day in range(7, 14)}}
    del days[missing]
    out = first_week_velocity(daily_rows(days), release_rows()).loc["midnight-drive"]
    assert all(pd.isna(out[name]) for name in unknown)
    assert all(pd.notna(out[name]) for name in known)


def test_velocity_without_presavers_or_listeners_and_for_a_campaign_without_data() -> None:
    daily = daily_rows(dict(enumerate(WEEK_ONE))).drop(columns="listeners")
    releases = pd.concat([release_rows(None), release_rows(None, campaign="silent")])
    out = first_week_velocity(daily, releases)
    assert "streams_per_presaver" not in out.columns
    assert "d0_listeners" not in out.columns
    assert out.loc["midnight-drive", "week1_streams"] == 1500
    assert out.loc["silent"].isna().all()


def test_zero_presavers_gives_no_ratio() -> None:
    out = first_week_velocity(daily_rows(dict(enumerate(WEEK_ONE))), release_rows(0))
    assert pd.isna(out.loc["midnight-drive", "streams_per_presaver"])


def test_duplicate_days_are_refused() -> None:
    daily = pd.concat([daily_rows({0: 1}), daily_rows({0: 2})])
    with pytest.raises(ValueError, match="unique per campaign and date"):
        first_week_velocity(daily, release_rows())


def grants_at(days: list[int], campaign: str = "midnight-drive") -> pd.DataFrame:
    return pd.DataFrame(
        {"campaign": campaign, "granted_at": [RELEASE + pd.Timedelta(days=day, hours=13) for day in days]}
    )


def test_presave_curve_by_hand() -> None:
    grants = grants_at([-40, -10, -10, -3, 0, 0, 1])
    curves = presave_curves(grants, release_rows())
    curve = curves.loc["midnight-drive"]
    assert list(curves.columns) == list(range(-28, 1))
    assert curve[-28] == 1, "grants before D-28 are counted from D-28 on"
    assert curve[-11] == 1
    assert curve[-10] == 3
    assert curve[-4] == 3
    assert curve[-3] == 4
    assert curve[-1] == 4
    assert curve[0] == 6, "the grant after release day is not a pre-save"
    assert last_week_share(curves)["midnight-drive"] == pytest.approx((6 - 3) / 6)
    assert normalised_curves(curves).loc["midnight-drive", -10] == pytest.approx(0.5)


def test_campaign_without_grants_has_a_flat_zero_curve() -> None:
    releases = pd.concat([release_rows(), release_rows(campaign="quiet")])
    curves = presave_curves(grants_at([-2]), releases)
    assert (curves.loc["quiet"] == 0).all()
    assert math.isnan(last_week_share(curves)["quiet"])
    assert "quiet" not in normalised_curves(curves).index


def history_with_ratios(ratios: list[float], day: int = -7) -> pd.DataFrame:
    """Curves whose growth from `day` to D0 is exactly each of `ratios`."""
    columns = list(range(-28, 1))
    rows = []
    for ratio in ratios:
        at_day = 100
        rows.append([at_day if c <= day else round(at_day * ratio) for c in columns])
    return pd.DataFrame(rows, columns=columns, index=[f"c{i}" for i in range(len(ratios))])


def test_forecast_by_hand() -> None:
    # log ratios 0.5, 1.0, 1.5: mean 1, sd 0.5, k = 3; half-width t(2) · 0.5 · √(4/3) = 2.48414
    history = history_with_ratios([np.exp(0.5), np.exp(1.0), np.exp(1.5)])
    history[0] = [100 * np.exp(0.5), 100 * np.exp(1.0), 100 * np.exp(1.5)]
    forecast = forecast_release_day(200, -7, history)
    assert forecast.campaigns == 3
    assert forecast.point == pytest.approx(200 * np.e)
    half = stats.t.ppf(0.975, 2) * 0.5 * np.sqrt(4 / 3)
    assert half == pytest.approx(2.484138, abs=1e-6)
    assert forecast.high == pytest.approx(200 * np.exp(1 + half))
    assert forecast.low == 200, "a campaign cannot lose pre-saves: the lower bound is the count so far"
    assert (forecast.ratio_min, forecast.ratio_max) == pytest.approx((np.exp(0.5), np.exp(1.5)))


def test_forecast_interval_matches_statsmodels_prediction_interval() -> None:
    rng = np.random.default_rng(4)
    ratios = np.exp(rng.normal(0.7, 0.25, 12))
    history = history_with_ratios(list(ratios), day=-10)
    history[0] = 100 * ratios  # exact ratios, no rounding
    forecast = forecast_release_day(340, -10, history, confidence=0.9)
    logs = np.log(history[0] / history[-10])
    prediction = sm.OLS(logs.to_numpy(), np.ones((12, 1))).fit().get_prediction(np.ones((1, 1)))
    frame = prediction.summary_frame(alpha=0.1)
    assert forecast.point == pytest.approx(340 * np.exp(frame["mean"].iloc[0]))
    assert forecast.low == pytest.approx(max(340, 340 * np.exp(frame["obs_ci_lower"].iloc[0])))
    assert forecast.high == pytest.approx(340 * np.exp(frame["obs_ci_upper"].iloc[0]))


def test_forecast_skips_campaigns_without_presaves_by_that_day() -> None:
    history = history_with_ratios([2.0, 3.0, 4.0])
    history.loc["c0", -7] = 0
    assert forecast_release_day(50, -7, history).campaigns == 2


@pytest.mark.parametrize(
    ("ratios", "day", "message"),
    [
        ([2.0], -7, "at least two earlier campaigns"),
        ([2.0, 3.0], 3, "relative days"),
        ([2.0, 3.0], -40, "relative days"),
    ],
)
def test_forecast_refuses(ratios: list[float], day: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        forecast_release_day(10, day, history_with_ratios(ratios))


def _history(finals_and_counts: list[tuple[int, int]], day: int = -7) -> pd.DataFrame:
    """Earlier campaigns' curves: `count` pre-saves by `day`, `final` on D0."""
    days = list(range(-28, 1))
    rows = [[0 if d < day else count if d < 0 else final for d in days] for final, count in finals_and_counts]
    return pd.DataFrame(rows, columns=days)


@pytest.mark.parametrize(
    ("so_far", "day", "history", "reason"),
    [
        (10, 0, [(20, 10)] * 3, "release day reached: the count is final, nothing to forecast"),
        (0, -7, [(20, 10), (30, 10), (25, 10)], "no pre-saves by D-7: nothing to scale"),
        (10, -7, [(20, 10), (30, 10)], "needs 3 earlier campaigns with pre-saves by D-7; 2 found"),
        (
            10,
            -7,
            [(20, 10)] * 4,
            "the 4 earlier campaigns grew alike from D-7: no spread to judge the uncertainty",
        ),
        (
            10,
            -7,
            [(11, 10), (200, 10), (40, 10)],
            "too uncertain at D-7: the 3 earlier campaigns grew 1.1× to 20.0× from here, an interval spanning",
        ),
    ],
)
def test_no_forecast_is_made_where_it_could_not_be_defended(so_far, day, history, reason) -> None:
    made = release_day_forecast(so_far, day, _history(history))
    assert isinstance(made, str)
    assert made.startswith(reason)


def test_a_forecast_from_three_campaigns_is_the_t_prediction_interval_and_never_zero_width() -> None:
    made = release_day_forecast(10, -7, _history([(20, 10), (30, 10), (25, 10)]))
    logs = np.log([2.0, 3.0, 2.5])
    half = stats.t.ppf(0.975, 2) * logs.std(ddof=1) * np.sqrt(1 + 1 / 3)
    assert not isinstance(made, str)
    assert (made.point, made.high) == pytest.approx(
        (10 * np.exp(logs.mean()), 10 * np.exp(logs.mean() + half))
    )
    assert made.low == pytest.approx(max(10, 10 * np.exp(logs.mean() - half)))
    assert made.low < made.point < made.high
