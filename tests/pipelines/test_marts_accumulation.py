"""Accumulation D-28 … D0 and the release-day forecast, by hand and against scipy's t distribution."""

from __future__ import annotations

import math
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from pipelines.marts.accumulation import presave_accumulation, presave_forecast
from pipelines.warehouse import Warehouse
from tests.pipelines.marts_fixtures import put

TODAY = date(2026, 11, 22)
RELEASES = {
    "a": date(2026, 1, 31),
    "b": date(2026, 3, 2),
    "d": date(2026, 4, 15),
    "c": TODAY + timedelta(days=5),
}
# Pre-saves per campaign as {relative day: count}; a's day -30 counts at D-28.
PRESAVES = {
    "a": {-30: 2, -10: 3, -3: 5, 0: 10},
    "b": {-20: 4, -7: 4, -1: 12},
    "d": {-15: 5, -4: 5, 0: 10},
    "c": {-20: 6, -6: 6},
}


def label(path: Path, releases: dict[str, date], presaves: dict[str, dict[int, int]]) -> Warehouse:
    """A warehouse of campaigns released (or releasing) on those days, with pre-saves per relative day."""
    warehouse = Warehouse(path / "warehouse.duckdb")
    put(
        warehouse,
        "campaign_releases",
        [
            {
                "campaign_slug": slug,
                "artist": "Nova Lane",
                "title": slug,
                "origin": "native",
                "release_at": pd.Timestamp(day, tz="UTC") + pd.Timedelta(hours=18),
                "release_date": day,
                "first_stream_date": day,
                "timezone": "UTC",
            }
            for slug, day in releases.items()
        ],
    )
    rows = []
    for slug, days in presaves.items():
        for day, count in days.items():
            on = releases[slug] + timedelta(days=day)
            rows.extend(
                {
                    "campaign_slug": slug,
                    "origin": "native",
                    "service": "spotify",
                    "fan_key": f"{slug}{day}{i}",
                    "presaved_at": pd.Timestamp(on, tz="UTC"),
                    "presaved_on": on,
                    "days_to_release": day,
                }
                for i in range(count)
            )
    put(warehouse, "presaves", rows)
    return warehouse


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    return label(tmp_path_factory.mktemp("warehouse"), RELEASES, PRESAVES)


def accumulation(warehouse: Warehouse) -> pd.DataFrame:
    with warehouse.writer() as connection:
        return presave_accumulation(connection, TODAY).set_index(["campaign_slug", "day"])


def forecast(warehouse: Warehouse) -> pd.DataFrame:
    with warehouse.writer() as connection:
        return presave_forecast(connection, TODAY).set_index(["campaign_slug", "as_of_day"])


def test_curves_accumulate_from_d_minus_28_to_release_day(warehouse: Warehouse) -> None:
    table = accumulation(warehouse)
    a = table.loc["a"]
    assert list(a.index) == list(range(-28, 1))
    assert a.loc[-28, "cumulative"] == 2
    assert a.loc[-28, "presaves"] == 2
    assert a.loc[-11, "cumulative"] == 2
    assert a.loc[-10, "cumulative"] == 5
    assert a.loc[-1, "cumulative"] == 10
    assert a.loc[0, "cumulative"] == 20
    assert a.loc[0, "presaves"] == 10
    assert a.loc[-10, "date"].date() == date(2026, 1, 21)
    assert a.loc[-7, "share_of_final"] == pytest.approx(5 / 20)


def test_the_last_seven_days_share_is_d_minus_6_to_d0_over_the_total(warehouse: Warehouse) -> None:
    table = accumulation(warehouse)
    assert table.loc[("a", 0), "last_week_share"] == pytest.approx((20 - 5) / 20)  # 5 by D-7
    assert table.loc[("b", 0), "last_week_share"] == pytest.approx((20 - 8) / 20)  # 8 by D-7


def test_a_campaign_still_collecting_has_days_up_to_today_and_its_share_of_the_last_week_so_far(
    warehouse: Warehouse,
) -> None:
    c = accumulation(warehouse).loc["c"]
    assert c.index.max() == -5  # released in five days
    assert c.loc[-5, "cumulative"] == 12
    assert c["share_of_final"].isna().all()
    assert list(c["last_week_share"].unique()) == [pytest.approx((12 - 6) / 12)]  # D-11 … D-5: D-6 six


def test_the_forecast_scales_the_count_so_far_by_earlier_campaigns_growth(warehouse: Warehouse) -> None:
    made = forecast(warehouse).loc[("c", -5)]
    # At D-5 campaign a had 5 of its 20, b 8 of its 20, d 5 of its 20: growth ratios 4, 2.5 and 4.
    logs = np.log([4.0, 2.5, 4.0])
    half = stats.t.ppf(0.975, 2) * logs.std(ddof=1) * math.sqrt(1 + 1 / 3)
    assert made["so_far"] == 12
    assert made["point"] == pytest.approx(12 * math.exp(logs.mean()))  # the geometric mean growth
    assert made["low"] == pytest.approx(max(12, 12 * math.exp(logs.mean() - half)))
    assert made["high"] == pytest.approx(12 * math.exp(logs.mean() + half))
    assert made["high"] > made["low"]
    assert made["earlier_campaigns"] == 3
    assert made["is_latest"]
    assert pd.isna(made["actual"])
    clamped = 12 * math.exp(logs.mean() - half) < 12
    assert (
        made["caveat"] == "lower bound raised to the 12 pre-saves so far (the interval reached below)"
    ) is clamped


def test_one_campaign_unlike_the_others_is_left_out_of_the_forecast_and_named(tmp_path: Path) -> None:
    """Four campaigns grew 1.40×–1.50× from D-10, one imported grew 4.75×: kept, it would blow the interval."""
    alike = {"a": 40, "b": 45, "d": 50, "e": 42}  # 100 pre-saves by D-10, then these more
    releases = {slug: date(2026, 3, 1) + timedelta(days=30 * n) for n, slug in enumerate((*alike, "odd"))}
    presaves = {slug: {-20: 100, -1: more} for slug, more in alike.items()}
    presaves["odd"] = {-20: 20, -1: 75}  # 4.75×
    releases["now"] = TODAY + timedelta(days=10)
    presaves["now"] = {-20: 210}
    made = forecast(label(tmp_path, releases, presaves)).loc[("now", -10)]
    logs = np.log([1.40, 1.45, 1.50, 1.42])
    half = stats.t.ppf(0.975, 3) * logs.std(ddof=1) * math.sqrt(1 + 1 / 4)
    assert made["earlier_campaigns"] == 4
    assert made["point"] == pytest.approx(210 * math.exp(logs.mean()))
    assert made["low"] == pytest.approx(210 * math.exp(logs.mean() - half))
    assert made["high"] == pytest.approx(210 * math.exp(logs.mean() + half))
    assert made["caveat"] == "left out odd: grew unlike the 4 others (1.40× to 1.50× from D-10)"


def test_no_forecast_without_three_earlier_campaigns_or_pre_saves_or_once_released(
    warehouse: Warehouse,
) -> None:
    table = forecast(warehouse)
    assert table.loc[("a", -10), "earlier_campaigns"] == 0
    assert table.loc[("a", -10), "note"] == "needs 3 earlier campaigns with pre-saves by D-10; 0 found"
    assert table.loc[("c", -28), "note"] == "no pre-saves by D-28: nothing to scale"
    assert table.loc[("b", 0), "note"] == "released: the count is final"
    assert table.loc[("b", 0), "actual"] == 20
    assert table.loc[("b", 0), "is_latest"]
    assert not table.loc[("b", -1), "is_latest"]
    assert table.loc[["a", "b", "d"], "point"].isna().all()  # none had three earlier campaigns
    assert set(table.loc["c"].index) == set(range(-28, -4))
