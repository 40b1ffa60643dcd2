"""Every mart against the simulator's ground truth, after one real run of the warehouse job: counts equal
exactly; intervals and tests equal statsmodels and scipy computed on the true counts."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint, proportions_ztest

from pipelines.analysis.proportions import conversion_verdict
from pipelines.warehouse import Warehouse
from tests.reconciliation.world import PLANS, World, local_day

SERVICES = ("apple", "deezer", "spotify")
RELEASED = [plan.slug for plan in PLANS if plan.kind == "history"]


def mart(world: World, sql: str) -> pd.DataFrame:
    with Warehouse(world.settings.warehouse_path).reader() as connection:
        return connection.execute(sql).df()


def fans(world: World) -> pd.DataFrame:
    frame = world.truth.fans_frame()
    frame["chosen"] = frame["service"].fillna("(none)")
    frame["source_key"] = frame["source"].fillna("(direct)").str.strip().str.lower()
    frame["granted"] = frame["outcome"] == "granted"
    return frame


def granted(world: World) -> pd.DataFrame:
    frame = fans(world)
    frame = frame[frame["granted"]].copy()
    frame["day"] = [
        local_day(at, world.timezone[c]) for at, c in zip(frame.granted_at, frame.campaign, strict=True)
    ]
    frame["release_date"] = [local_day(world.release_at[c], world.timezone[c]) for c in frame.campaign]
    return frame


def release_date(world: World, slug: str) -> date:
    return local_day(world.release_at[slug], world.timezone[slug])


def first_stream_date(world: World, slug: str) -> date:
    """Release day in the exports' calendar (UTC dates): the first day the exports count its streams."""
    return local_day(world.release_at[slug], "UTC")


def spotify_follow_days(world: World, slug: str) -> pd.Series:
    """The UTC days (the follower series' calendar) on which the campaign's Spotify fans followed."""
    own = granted(world)
    own = own[(own.campaign == slug) & (own.service == "spotify")]
    return pd.Series([local_day(at, "UTC") for at in own.granted_at], dtype=object)


def test_the_real_job_succeeds_and_every_asset_check_passes(world: World) -> None:
    assert world.result.success
    evaluations = [
        event.event_specific_data
        for event in world.result.all_events
        if event.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    failed = {e.check_name: e.metadata for e in evaluations if not e.passed}  # type: ignore[union-attr]
    assert failed == {}


def test_no_two_simulated_fans_share_a_visitor(world: World) -> None:
    truth = fans(world)
    assert truth["visitor_id"].notna().all()
    assert not truth["visitor_id"].duplicated().any(), "two simulated fans share one visitor cookie"
    seen = mart(
        world,
        "SELECT campaign_slug AS campaign, count(DISTINCT visitor_key) AS visitors FROM landing_events "
        "WHERE kind = 'visit' GROUP BY ALL",
    ).set_index("campaign")["visitors"]
    assert seen.sort_index().to_dict() == truth.groupby("campaign").size().sort_index().to_dict()


def _wilson(successes: pd.Series, trials: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    return proportion_confint(successes.to_numpy(), trials.to_numpy(), alpha=0.05, method="wilson")


def _true_conversion(truth: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    chose = truth[truth["chosen"] != "(none)"]
    per_service = chose.groupby([*by, "chosen"]).agg(visitors=("granted", "size"), grants=("granted", "sum"))
    per_service.index = per_service.index.set_names([*by, "service"])
    overall = truth.groupby(by).agg(visitors=("granted", "size"), grants=("granted", "sum"))
    overall = overall.assign(service="any").set_index("service", append=True)
    return pd.concat([per_service, overall]).sort_index()


@pytest.mark.parametrize("scope", ["per campaign", "per campaign and source", "all campaigns"])
def test_conversion_counts_distinct_visitors_and_its_wilson_interval_is_statsmodels(
    world: World, scope: str
) -> None:
    truth = fans(world)
    table = mart(world, "SELECT * FROM service_conversion")
    if scope == "per campaign":
        expected = _true_conversion(truth, ["campaign"])
        got = table[(table.source == "(all)") & (table.campaign_slug != "(all)")]
        got = got.set_index(["campaign_slug", "service"])
    elif scope == "per campaign and source":
        expected = _true_conversion(truth, ["campaign", "source_key"])
        got = table[(table.source != "(all)") & (table.campaign_slug != "(all)")]
        got = got.set_index(["campaign_slug", "source", "service"])
    else:
        expected = _true_conversion(truth.assign(scope="(all)"), ["scope"])
        got = table[(table.source == "(all)") & (table.campaign_slug == "(all)")]
        got = got.set_index(["campaign_slug", "service"])
    got = got.sort_index()
    assert (
        got[["visitors", "grants"]].to_numpy().tolist()
        == expected[["visitors", "grants"]].to_numpy().tolist()
    )
    low, high = _wilson(expected["grants"], expected["visitors"])
    assert np.allclose(got["low"], low)
    assert np.allclose(got["high"], high)
    assert np.allclose(got["rate"], expected["grants"] / expected["visitors"])


def test_the_any_row_is_every_visitor_and_whether_they_granted_some_service(world: World) -> None:
    truth = fans(world)
    table = mart(world, "SELECT * FROM service_conversion WHERE service = 'any' AND source = '(all)'")
    got = table.set_index("campaign_slug")[["visitors", "grants"]]
    expected = truth.groupby("campaign").agg(visitors=("granted", "size"), grants=("granted", "sum"))
    assert got.drop(index="(all)").sort_index().to_numpy().tolist() == expected.to_numpy().tolist()
    assert got.loc["(all)"].tolist() == [len(truth), int(truth["granted"].sum())]


def test_service_comparisons_and_their_verdicts_equal_statsmodels_on_the_true_counts(world: World) -> None:
    truth = fans(world)
    table = mart(
        world, "SELECT * FROM service_comparison WHERE source = '(all)' AND campaign_slug <> '(all)'"
    )
    counts = _true_conversion(truth, ["campaign"])
    compared = 0
    for campaign, pairs in table.groupby("campaign_slug"):
        raw = []
        for row in pairs.itertuples():
            x1, n1 = counts.loc[(campaign, row.service_1), ["grants", "visitors"]]
            x2, n2 = counts.loc[(campaign, row.service_2), ["grants", "visitors"]]
            low, high = confint_proportions_2indep(x1, n1, x2, n2, method="newcomb", compare="diff")
            _, p_value = proportions_ztest([x1, x2], [n1, n2])
            raw.append(p_value if np.isfinite(p_value) else 1.0)
            assert (row.difference, row.low, row.high) == pytest.approx((x1 / n1 - x2 / n2, low, high))
            assert row.p_value == pytest.approx(raw[-1])
        adjusted = multipletests(raw, method="holm")[1]
        assert np.allclose(pairs["p_holm"], adjusted)
        for row, p_holm in zip(pairs.itertuples(), adjusted, strict=True):
            assert row.verdict == conversion_verdict(
                row.service_1, row.service_2, row.difference, row.low, row.high, p_holm, len(pairs)
            )
            compared += 1
    assert compared == 3 * len(PLANS)


def test_the_funnel_counts_each_fans_visit_choice_denial_and_grant(world: World) -> None:
    truth = fans(world)
    funnel = mart(
        world,
        "SELECT campaign_slug AS campaign, service AS chosen, source AS source_key, "
        "sum(visits) AS visits, sum(grants) AS grants, sum(denials) AS denials "
        "FROM funnel_daily GROUP BY ALL",
    ).set_index(["campaign", "chosen", "source_key"])
    expected = truth.groupby(["campaign", "chosen", "source_key"]).agg(
        visits=("granted", "size"),
        grants=("granted", "sum"),
        denials=("outcome", lambda o: int((o == "declined").sum())),
    )
    assert funnel.sort_index().to_dict("index") == expected.sort_index().to_dict("index")


def test_presaves_per_local_day_and_by_country_are_the_fans_grants(world: World) -> None:
    truth = granted(world)
    daily = mart(world, "SELECT campaign_slug, date, service, presaves FROM presaves_daily")
    got = {(r.campaign_slug, r.date.date(), r.service): r.presaves for r in daily.itertuples()}
    expected = truth.groupby(["campaign", "day", "service"]).size().to_dict()
    assert got == expected
    countries = mart(
        world, "SELECT campaign_slug, country, service, presaves, share FROM presaves_by_country"
    )
    got = {(r.campaign_slug, r.country, r.service): r.presaves for r in countries.itertuples()}
    assert got == truth.groupby(["campaign", "country", "service"]).size().to_dict()
    totals = truth.groupby("campaign").size()
    assert np.allclose(countries["share"], countries["presaves"] / countries["campaign_slug"].map(totals))


def test_the_per_day_d_minus_28_bucket_holds_every_earlier_day(world: World) -> None:
    """The per-day chart groups by `days_to_release` and says D-28 includes every earlier day."""
    truth = granted(world)
    truth = truth.assign(rel=[(d - r).days for d, r in zip(truth["day"], truth["release_date"], strict=True)])
    daily = mart(
        world, "SELECT campaign_slug, days_to_release, sum(presaves) AS n FROM presaves_daily GROUP BY ALL"
    )
    assert daily["days_to_release"].min() >= -28
    got = daily[daily.days_to_release == -28].set_index("campaign_slug")["n"].to_dict()
    expected = truth[truth.rel <= -28].groupby("campaign").size().to_dict()
    assert got == expected
    assert any(n > 0 for n in truth[truth.rel < -28].groupby("campaign").size())  # the world has some


def test_accumulation_is_the_running_count_of_true_grants_from_d_minus_28(world: World) -> None:
    truth = granted(world)
    table = mart(world, "SELECT campaign_slug, day, cumulative FROM presave_accumulation")
    for campaign, rows in table.groupby("campaign_slug"):
        days = (truth[truth.campaign == campaign]["day"] - release_date(world, campaign)).map(
            lambda d: d.days
        )
        expected = [int((days <= day).sum()) for day in rows["day"]]
        assert rows["cumulative"].tolist() == expected, campaign


def _streams(world: World, slug: str, series: str) -> list[int | None]:
    """D0 … D6 of a campaign's series, from what the exports say (the truth of the written files)."""
    title = next(plan.title for plan in PLANS if plan.slug == slug)
    first = first_stream_date(world, slug)  # the exports' day 0, whatever the campaign's time zone
    days = [first + timedelta(days=d) for d in range(7)]
    if series == "spotify_artist":
        audience = world.truth.audience_frame()
        audience = audience[audience.service == "spotify"].set_index("day")["streams"]
        return [audience.get(day) for day in days]
    streams = world.truth.streams_frame()
    service = "spotify" if series == "spotify_song" else "apple"
    streams = streams[streams.service == service]
    streams = streams[streams.song == title]  # the focus song (the exports' song titled like the campaign)
    per_day = streams.groupby("day")["streams"].sum()
    return [per_day.get(day) for day in days]


@pytest.mark.parametrize("series", ["spotify_song", "spotify_artist", "apple_song"])
def test_first_week_streams_are_the_exports_own_totals(world: World, series: str) -> None:
    table = mart(world, f"SELECT * FROM first_week_velocity WHERE series = '{series}'").set_index(
        "campaign_slug"
    )
    truth = granted(world)
    service = "spotify" if series.startswith("spotify") else "apple"
    checked = 0
    for slug in RELEASED:
        days = _streams(world, slug, series)
        assert None not in days, f"{slug}: the exports miss a day of week one"
        row = table.loc[slug]
        assert [row[f"d{d}_streams"] for d in range(7)] == days
        assert row["week1_streams"] == sum(days)
        presavers = int(((truth.campaign == slug) & (truth.service == service)).sum())
        assert row["presavers"] == presavers
        assert row["streams_per_presaver"] == pytest.approx(sum(days) / presavers)
        checked += 1
    assert checked == len(RELEASED)


def test_the_overview_shows_the_same_first_week_and_pre_saves_as_the_truth(world: World) -> None:
    truth = granted(world)
    overview = mart(world, "SELECT * FROM campaign_overview").set_index("campaign_slug")
    for plan in PLANS:
        own = truth[truth.campaign == plan.slug]
        row = overview.loc[plan.slug]
        assert row["presaves"] == len(own)
        assert [row[f"{s}_presaves"] for s in SERVICES] == [int((own.service == s).sum()) for s in SERVICES]
        if plan.slug in RELEASED:
            assert row["first_week_streams"] == sum(_streams(world, plan.slug, "spotify_song"))
            assert row["artist_first_week_streams"] == sum(_streams(world, plan.slug, "spotify_artist"))


def _spotify_followers(world: World) -> pd.Series:
    audience = world.truth.audience_frame()
    return audience[audience.service == "spotify"].set_index("day")["followers"]


def test_follower_gain_is_the_exports_followers_and_the_ledgers_follows_per_service(world: World) -> None:
    followers = _spotify_followers(world)
    gain = mart(world, "SELECT * FROM follower_gain").set_index(["campaign_slug", "service"])
    assert set(gain.index.get_level_values("service")) == {"spotify"}  # no Deezer follower series here
    for slug in RELEASED:
        row = gain.loc[(slug, "spotify")]
        first = first_stream_date(world, slug)
        follow_days = spotify_follow_days(world, slug)
        start = min(first - timedelta(days=28), follow_days.min())
        assert row["window_start"].date() == start
        assert row["followers_start"] == followers[start - timedelta(days=1)]
        assert row["followers_end"] == followers[first]
        assert (
            row["presave_follows"]
            == len(follow_days)
            == int(((follow_days >= start) & (follow_days <= first)).sum())
        )
        assert row["organic_gain"] == row["total_gain"] - row["presave_follows"]
        assert pd.isna(row["note"])


@pytest.mark.parametrize("kind", ["upcoming", "live"])
def test_a_follower_window_ends_where_the_follower_series_ends_and_says_so(world: World, kind: str) -> None:
    """Still collecting: the exports end yesterday, so today's follows are not set against them, and
    follows made before D-28 open the window earlier instead of being left out."""
    slug = next(plan.slug for plan in PLANS if plan.kind == kind)
    as_of = world.truth.as_of
    assert as_of is not None
    followers = _spotify_followers(world)
    row = mart(world, f"SELECT * FROM follower_gain WHERE campaign_slug = '{slug}'").iloc[0]
    follow_days = spotify_follow_days(world, slug)
    start = min(first_stream_date(world, slug) - timedelta(days=28), follow_days.min())
    assert row["window_start"].date() == start
    assert row["window_end"].date() == as_of
    assert row["followers_end"] == followers[as_of]
    assert row["presave_follows"] == int((follow_days <= as_of).sum())
    assert 0 <= row["presave_share"] <= 1 or pd.isna(row["presave_share"])
    assert row["note"].startswith(f"followers known up to {as_of.isoformat()}")


def test_the_upcoming_campaigns_follows_before_d_minus_28_are_in_its_window(world: World) -> None:
    slug = next(plan.slug for plan in PLANS if plan.kind == "upcoming")
    follow_days = spotify_follow_days(world, slug)
    assert follow_days.min() < first_stream_date(world, slug) - timedelta(days=28)  # the world has some
    row = mart(world, f"SELECT * FROM follower_gain WHERE campaign_slug = '{slug}'").iloc[0]
    assert row["presave_follows"] == int((follow_days <= world.truth.as_of).sum())


def test_release_outcomes_plan_one_save_per_true_grant_and_account_for_each(world: World) -> None:
    truth = granted(world)
    outcomes = mart(world, "SELECT * FROM release_outcomes").set_index(["campaign_slug", "service", "kind"])
    for slug in RELEASED:
        own = truth[truth.campaign == slug]
        for service in SERVICES:
            row = outcomes.loc[(slug, service, "save_release")]
            assert row["planned"] == int((own.service == service).sum())
            assert row["delivered"] + row["undeliverable"] == row["planned"]
        follows = outcomes.loc[(slug, "spotify", "follow_artist")]
        assert follows["planned"] == follows["delivered"] == int((own.service == "spotify").sum())


def test_the_upcoming_campaigns_forecast_is_the_t_prediction_interval_of_the_true_curves(
    world: World,
) -> None:
    truth = granted(world)
    upcoming = next(plan.slug for plan in PLANS if plan.kind == "upcoming")
    latest = mart(
        world, f"SELECT * FROM presave_forecast WHERE campaign_slug = '{upcoming}' AND is_latest"
    ).iloc[0]
    day = int(latest["as_of_day"])
    relative = truth.assign(
        rel=[(d - r).days for d, r in zip(truth["day"], truth["release_date"], strict=True)]
    )
    so_far = int(((relative.campaign == upcoming) & (relative.rel <= day)).sum())
    assert latest["so_far"] == so_far
    earlier = relative[relative.campaign.isin(RELEASED)]
    ratios = [
        (part.rel <= 0).sum() / (part.rel.clip(lower=-28) <= day).sum()
        for _, part in earlier.groupby("campaign")
    ]
    logs = np.log(ratios)
    half = stats.t.ppf(0.975, len(logs) - 1) * logs.std(ddof=1) * np.sqrt(1 + 1 / len(logs))
    if np.exp(2 * half) > 20:
        assert pd.isna(latest["point"])
        assert latest["note"].startswith(f"too uncertain at D{day}")
        return
    assert latest["earlier_campaigns"] == len(RELEASED)
    assert latest["point"] == pytest.approx(so_far * np.exp(logs.mean()))
    assert latest["high"] == pytest.approx(so_far * np.exp(logs.mean() + half))
    assert latest["low"] == pytest.approx(max(so_far, so_far * np.exp(logs.mean() - half)))
