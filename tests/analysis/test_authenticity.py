"""Authenticity signs on simulated campaigns: real fans raise none, each kind of fake raises its own."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from pipelines.analysis.authenticity import (
    AuthenticityReport,
    Sign,
    audience_excess_sign,
    authenticity_report,
    burst_windows,
    foreign_country_sign,
    no_time_on_page_sign,
    score_campaigns,
)

START = pd.Timestamp("2026-11-06")
DEVICES = ["ios-safari", "android-chrome", "desktop-chrome", "desktop-safari"]
DEVICE_SHARES = [0.45, 0.35, 0.15, 0.05]


def organic(n: int = 400, seed: int = 0, days: int = 28) -> pd.DataFrame:
    """Real fans: spread over the campaign, one IP each (a few households share), the usual device mix."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "granted_at": START + pd.to_timedelta(np.sort(rng.uniform(0, days * 86400, n)), unit="s"),
            "ip_hash": [f"ip{int(i)}" for i in rng.integers(0, n * 5, n)],
            "device_class": rng.choice(DEVICES, n, p=DEVICE_SHARES),
            "seconds_on_page": rng.gamma(3, 8, n) + 2,
            "country": rng.choice(["FR", "BE", "CH", "CA"], n, p=[0.7, 0.15, 0.1, 0.05]),
        }
    )


def crowd(n: int, at: pd.Timestamp, minutes: float, seed: int, **columns: object) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = organic(n, seed=seed).drop(columns="granted_at")
    frame.insert(0, "granted_at", at + pd.to_timedelta(np.sort(rng.uniform(0, minutes * 60, n)), unit="s"))
    for name, value in columns.items():
        frame[name] = value
    return frame


AUDIENCE = {"FR": 7000, "BE": 1500, "CH": 1000, "CA": 500}


def test_real_fans_raise_no_sign() -> None:
    report = authenticity_report(organic(), audience_countries=AUDIENCE, audience_size=20000)
    assert report.signs == ()
    assert report.score == 1.0
    assert report.reasons == ()


def test_a_launch_spike_of_real_fans_is_not_a_burst() -> None:
    spike = crowd(150, START + pd.Timedelta(days=3), minutes=8, seed=9)
    report = authenticity_report(pd.concat([organic(), spike], ignore_index=True))
    assert report.signs == ()


def test_a_household_sharing_an_ip_is_not_a_burst() -> None:
    household = crowd(3, START + pd.Timedelta(days=5), minutes=2, seed=2, ip_hash="ip-home")
    report = authenticity_report(pd.concat([organic(), household], ignore_index=True))
    assert report.signs == ()


def test_one_ip_filling_a_window_is_a_burst() -> None:
    bot = crowd(30, START + pd.Timedelta(days=10), minutes=5, seed=3, ip_hash="ip-bot")
    report = authenticity_report(pd.concat([organic(), bot], ignore_index=True))
    assert [sign.name for sign in report.signs] == ["IP hash burst"]
    sign = report.signs[0]
    assert sign.implicated == 30
    assert sign.grants == 430
    assert (
        "30 of 430 grants came in bursts from 1 IP hash(s); worst: ip-bot with 30 grants in 10 min"
        in sign.reason
    )
    assert report.score == pytest.approx(1 - 30 / 430)


def test_one_device_class_filling_a_window_is_a_burst() -> None:
    headless = crowd(40, START + pd.Timedelta(days=12), minutes=8, seed=4, device_class="headless-chrome")
    sprinkled = crowd(6, START, minutes=60 * 24 * 20, seed=5, device_class="headless-chrome")
    report = authenticity_report(pd.concat([organic(), headless, sprinkled], ignore_index=True))
    assert [sign.name for sign in report.signs] == ["device class burst"]
    assert report.signs[0].implicated >= 40
    assert "headless-chr" in report.signs[0].reason


def test_hard_cap_catches_a_campaign_taken_over_by_one_ip() -> None:
    # 90 % of all grants from one IP, evenly: its share is the baseline, so only the hard cap can see it.
    rng = np.random.default_rng(8)
    times = START + pd.to_timedelta(np.sort(rng.uniform(0, 3600, 200)), unit="s")
    grants = pd.DataFrame({"granted_at": times, "ip_hash": ["ip-farm"] * 180 + [f"ip{i}" for i in range(20)]})
    grants["ip_hash"] = rng.permutation(grants["ip_hash"].to_numpy())
    assert authenticity_report(grants, ip_hard_cap=None).signs == ()
    report = authenticity_report(grants, ip_hard_cap=15)
    assert [sign.name for sign in report.signs] == ["IP hash burst"]
    assert report.signs[0].implicated >= 170


def test_burst_p_values_match_scipy_binomtest() -> None:
    bot = crowd(12, START + pd.Timedelta(days=10), minutes=3, seed=3, ip_hash="ip-bot")
    grants = pd.concat([organic(200), bot], ignore_index=True)
    windows = burst_windows(grants["granted_at"], grants["ip_hash"])
    last_bot = windows[windows["key"] == "ip-bot"].sort_values("window_end").iloc[-1]
    assert last_bot["key_count"] == 12
    expected = stats.binomtest(12, int(last_bot["campaign_count"]), 12 / 212, alternative="greater").pvalue
    assert last_bot["p_value"] == pytest.approx(expected, rel=1e-9)
    assert last_bot["burst"]
    assert windows.loc[windows["key"] == "ip-bot", "in_burst"].all()
    assert not windows.loc[windows["key"] != "ip-bot", "in_burst"].any()


def test_burst_windows_count_within_the_key_only() -> None:
    at = pd.to_datetime(["2026-11-06 10:00", "2026-11-06 10:01", "2026-11-06 10:02", "2026-11-06 10:30"])
    keys = pd.Series(["a", "b", "a", None])
    windows = burst_windows(pd.Series(at), keys, min_count=1)
    assert windows["key_count"].tolist() == [1, 1, 2, 0]
    assert windows["campaign_count"].tolist() == [1, 2, 3, 1]
    assert not windows["burst"].iloc[3], "grants without a key are never bursts"


@pytest.mark.parametrize(
    ("seconds", "implicated"),
    [([0.2, 0.5, 30.0, None, 12.0], 2), ([5.0, 8.0], 0), ([None, None], 0), ([1.0, 1.01], 1)],
)
def test_no_time_on_page(seconds: list[float | None], implicated: int) -> None:
    sign = no_time_on_page_sign(pd.Series(seconds, dtype="Float64"))
    if implicated == 0:
        assert sign is None
    else:
        assert sign is not None
        assert (sign.implicated, sign.grants) == (implicated, len(seconds))
        assert sign.reason.startswith(f"{implicated} of {len(seconds)} grants spent ≤ 1 s on the page")


def test_countries_outside_the_audience() -> None:
    countries = pd.Series(["FR", "be", "VN", "VN", None, "ID"])
    sign = foreign_country_sign(countries, {"FR": 900, "BE": 100, "ID": 0.5})
    assert sign is not None
    assert (sign.implicated, sign.grants) == (3, 6)
    assert sign.reason.endswith("under 0.1% of its audience: VN (2), ID (1)")
    assert foreign_country_sign(pd.Series(["FR", "BE"]), {"FR": 900, "BE": 100}) is None


@pytest.mark.parametrize(
    ("presaves", "audience", "ratio", "implicated"),
    [(800, 1000, 0.5, 300), (400, 1000, 0.5, None), (300, 1000, 0.2, 100), (0, 0, 0.5, None)],
)
def test_presaves_beyond_the_audience(
    presaves: int, audience: int, ratio: float, implicated: int | None
) -> None:
    sign = audience_excess_sign(presaves, audience, ratio)
    if implicated is None:
        assert sign is None
    else:
        assert sign is not None
        assert sign.implicated == pytest.approx(implicated)
        assert sign.share == pytest.approx(implicated / presaves)


def test_score_multiplies_what_each_sign_leaves_unquestioned() -> None:
    report = AuthenticityReport(
        1000, (Sign("a", 100, 1000, "first"), Sign("b", 375, 1000, "second"), Sign("c", 5000, 1000, "all"))
    )
    assert report.signs[2].share == 1.0
    assert report.score == pytest.approx(0.0)
    two = AuthenticityReport(1000, report.signs[:2])
    assert two.score == pytest.approx(0.9 * 0.625)
    assert two.reasons == ("first", "second")


def test_every_sign_together_and_per_campaign_scores() -> None:
    clean = organic(seed=1).assign(campaign="clean")
    bot = crowd(30, START + pd.Timedelta(days=10), minutes=5, seed=3, ip_hash="ip-bot", seconds_on_page=0.3)
    bot["country"] = "VN"
    dirty = pd.concat([organic(seed=2), bot], ignore_index=True).assign(campaign="dirty")
    audiences = pd.DataFrame({"audience_size": [20000, 500]}, index=["clean", "dirty"])
    scores = score_campaigns(
        pd.concat([clean, dirty], ignore_index=True), audiences, {"clean": AUDIENCE, "dirty": AUDIENCE}
    ).set_index("campaign")
    assert scores.loc["clean", "score"] == 1.0
    assert scores.loc["clean", "reasons"] == ""
    dirty_reasons = scores.loc["dirty", "reasons"].split("\n")
    assert len(dirty_reasons) == 4
    assert dirty_reasons[0].startswith("30 of 430 grants came in bursts")
    assert dirty_reasons[1].startswith("30 of 430 grants spent ≤ 1 s on the page")
    assert dirty_reasons[2].startswith("30 of 430 grants came from countries where the artist has under 0.1%")
    assert dirty_reasons[3].startswith("430 pre-saves against an audience of 500")
    excess = (430 - 250) / 430
    assert scores.loc["dirty", "score"] == pytest.approx((1 - 30 / 430) ** 3 * (1 - excess))
    assert 0 <= scores.loc["dirty", "score"] < 0.5
