"""First-week velocity, lift (within the artist and across the roster) and follower gain, by hand and
against statsmodels' OLS."""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from pipelines.warehouse import Warehouse
from tests.pipelines.marts_fixtures import build, put, table

RELEASES = {
    "first-light": ("Nova Lane", date(2026, 3, 1)),
    "glass-harbour": ("Nova Lane", date(2026, 5, 1)),
    "midnight-drive": ("Nova Lane", date(2026, 7, 1)),
    "tidewater": ("Mara Ellis", date(2026, 6, 1)),
}
SPOTIFY_PRESAVES = {"first-light": 10, "glass-harbour": 20, "midnight-drive": 50, "tidewater": 80}
# Daily Spotify streams D0 … D13 of the artist's timeline.
MIDNIGHT_DRIVE = [700, 500, 400, 300, 250, 200, 150] + [100] * 7
STREAMS = {
    "first-light": [100] * 14,
    "glass-harbour": [200] * 14,
    "midnight-drive": MIDNIGHT_DRIVE,
    "tidewater": [300] * 14,
}
WINDOW_START = date(2026, 6, 3)  # midnight-drive's D-28


def nova_followers(day: date) -> int:
    """3 a day since New Year, and 4 more a day from pre-save follows in midnight-drive's window."""
    followers = 1000 + 3 * (day - date(2026, 1, 1)).days
    if WINDOW_START <= day <= date(2026, 7, 1):
        followers += 4 * (day - (WINDOW_START - timedelta(days=1))).days
    elif day > date(2026, 7, 1):
        followers += 4 * 29
    return followers


def timeline(artist: str, followers) -> list[dict]:
    days = {}
    day = date(2026, 1, 1)
    while day <= date(2026, 7, 31):
        days[day] = 10
        day += timedelta(days=1)
    for slug, (owner, release) in RELEASES.items():
        if owner.lower() == artist.lower():
            for offset, streams in enumerate(STREAMS[slug]):
                days[release + timedelta(days=offset)] = streams
    return [
        {"artist": artist, "date": d, "streams": s, "listeners": s // 2, "followers": followers(d)}
        for d, s in days.items()
    ]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    tmp_path = tmp_path_factory.mktemp("warehouse")
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    put(
        warehouse,
        "campaign_releases",
        [
            {
                "campaign_slug": slug,
                "artist": artist,
                "title": slug.replace("-", " ").title(),
                "origin": "native",
                "release_at": pd.Timestamp(day, tz="UTC"),
                "release_date": day,
                "first_stream_date": day,
                "timezone": "UTC",
            }
            for slug, (artist, day) in RELEASES.items()
        ],
    )
    presaves = [
        {
            "campaign_slug": slug,
            "origin": "native",
            "service": "spotify",
            "fan_key": f"{slug}-{i}",
            "presaved_at": pd.Timestamp(day, tz="UTC") - pd.Timedelta(days=1),
            "presaved_on": day - timedelta(days=1),
            "days_to_release": -1,
        }
        for slug, (_, day) in RELEASES.items()
        for i in range(SPOTIFY_PRESAVES[slug])
    ]
    presaves += [
        {
            "campaign_slug": "midnight-drive",
            "origin": "native",
            "service": "apple",
            "fan_key": f"a{i}",
            "presaved_at": pd.Timestamp("2026-06-30", tz="UTC"),
            "presaved_on": date(2026, 6, 30),
            "days_to_release": -1,
        }
        for i in range(5)
    ]
    put(warehouse, "presaves", presaves)
    put(
        warehouse,
        "s4a_audience_timeline",
        timeline("Nova Lane", nova_followers) + timeline("MARA ELLIS", lambda _: None),
    )
    put(
        warehouse,
        "s4a_song_timeline",
        [
            {
                "artist": None,
                "song": "Midnight Drive",
                "date": date(2026, 7, 1) + timedelta(days=d),
                "streams": s // 2,
            }
            for d, s in enumerate(MIDNIGHT_DRIVE)
        ],
    )
    put(
        warehouse,
        "amfa_daily_plays",
        [
            {
                "artist": None,
                "date": date(2026, 7, 1) + timedelta(days=d),
                "song": "Midnight Drive",
                "album": None,
                "plays": p,
            }
            for d, p in enumerate([70, 50, 40, 30, 20, 10])
        ],  # D6 missing
    )
    june = pd.Timestamp("2026-06-15 12:00", tz="UTC")
    actions = [("delivered", june)] * 100 + [("delivered", pd.Timestamp("2026-05-20", tz="UTC"))] * 5
    actions += [("failed", june)] * 3
    put(
        warehouse,
        "owed_actions",
        [
            {
                "action_id": i,
                "campaign_slug": "midnight-drive",
                "fan_key": f"midnight-drive-{i % 50}",
                "service": "spotify",
                "kind": "follow_artist",
                "target": "spotify:artist:x",
                "due_at": done,
                "outcome": outcome,
                "attempts": 1,
                "done_at": done if outcome == "delivered" else None,
            }
            for i, (outcome, done) in enumerate(actions)
        ],
    )
    build(warehouse, "first_week", "first_week_velocity", "campaign_lift", "follower_gain")
    return warehouse


def velocity(warehouse: Warehouse) -> pd.DataFrame:
    return table(warehouse, "SELECT * FROM first_week_velocity").set_index(["campaign_slug", "series"])


def test_first_week_velocity_by_hand(warehouse: Warehouse) -> None:
    row = velocity(warehouse).loc[("midnight-drive", "spotify_artist")]
    assert [row[f"d{d}_streams"] for d in range(7)] == MIDNIGHT_DRIVE[:7]
    assert [row[f"d{d}_listeners"] for d in range(7)] == [s // 2 for s in MIDNIGHT_DRIVE[:7]]
    assert row["first_24h_streams"] == 700
    assert row["first_72h_streams"] == 700 + 500 + 400
    assert row["week1_streams"] == 2500
    assert row["week2_streams"] == 700
    assert row["day1_share"] == pytest.approx(700 / 2500)
    assert row["presavers"] == 50
    assert row["streams_per_presaver"] == pytest.approx(2500 / 50)
    assert row["retention"] == pytest.approx(700 / 2500)


def test_each_stream_series_is_kept_apart_and_a_missing_day_is_unknown(warehouse: Warehouse) -> None:
    table_ = velocity(warehouse)
    song = table_.loc[("midnight-drive", "spotify_song")]
    assert song["week1_streams"] == sum(s // 2 for s in MIDNIGHT_DRIVE[:7])
    apple = table_.loc[("midnight-drive", "apple_song")]
    assert apple["presavers"] == 5  # Apple Music pre-saves for the Apple series
    assert apple["d0_streams"] == 70
    assert apple["first_72h_streams"] == 160
    assert pd.isna(apple["d6_streams"])
    assert pd.isna(apple["week1_streams"])
    assert pd.isna(apple["streams_per_presaver"])
    assert pd.isna(apple["day1_share"])
    assert ("first-light", "spotify_song") not in table_.index


def test_first_week_rows_are_days_zero_to_six_of_the_artist_timeline(warehouse: Warehouse) -> None:
    rows = table(
        warehouse,
        "SELECT day, streams, presaves FROM first_week WHERE campaign_slug = 'midnight-drive' ORDER BY day",
    )
    assert list(rows["streams"]) == MIDNIGHT_DRIVE[:7]
    assert set(rows["presaves"]) == {55}  # every service's pre-saves


def lift(warehouse: Warehouse) -> pd.DataFrame:
    return table(warehouse, "SELECT * FROM campaign_lift WHERE series = 'spotify_artist'").set_index(
        "campaign_slug"
    )


def test_within_the_artist_followers_exclude_the_campaigns_own_follows_and_two_releases_judge_nothing(
    warehouse: Warehouse,
) -> None:
    table_ = lift(warehouse)
    gross = {
        slug: nova_followers(RELEASES[slug][1] - timedelta(days=1))
        for slug in ("first-light", "glass-harbour", "midnight-drive")
    }
    assert gross == {"first-light": 1174, "glass-harbour": 1357, "midnight-drive": 1652}
    row = table_.loc["midnight-drive"]
    assert row["own_follows"] == 105  # delivered before release, in the window or not; failed ones not
    assert row["followers_at_release"] == 1652 - 105
    assert row["streams_per_follower"] == pytest.approx(2500 / 1547)
    earlier = [sum(STREAMS[s][:7]) / gross[s] for s in ("first-light", "glass-harbour")]
    assert row["baseline_per_follower"] == pytest.approx(math.sqrt(earlier[0] * earlier[1]))
    assert row["earlier_releases"] == 2
    assert pd.isna(row["artist_lift"])
    assert pd.isna(row["artist_lift_low"])
    assert (
        row["artist_lift_verdict"]
        == "cannot be judged yet: 2 earlier releases measured the same way, 5 needed"
    )
    assert (
        table_.loc["tidewater", "artist_lift_verdict"] == "cannot be judged: no follower count before release"
    )
    assert pd.isna(table_.loc["tidewater", "followers_at_release"])  # no follower count for that artist


def test_the_roster_line_matches_statsmodels_and_four_campaigns_judge_nothing(warehouse: Warehouse) -> None:
    table_ = lift(warehouse).loc[list(RELEASES)]
    x = np.log1p([SPOTIFY_PRESAVES[s] for s in RELEASES])
    y = np.log1p([sum(STREAMS[s][:7]) for s in RELEASES])
    fit = sm.OLS(y, sm.add_constant(x)).fit()
    assert table_["roster_slope"].iloc[0] == pytest.approx(fit.params[1])
    assert table_["roster_r_squared"].iloc[0] == pytest.approx(fit.rsquared)
    assert np.allclose(table_["roster_fitted"], np.expm1(fit.fittedvalues))
    assert (table_["roster_campaigns"] == 3).all()  # the other campaigns of the series
    assert table_["roster_ratio"].isna().all()
    assert (
        table_["roster_verdict"] == "cannot be judged yet: 3 other campaigns measured the same way, 5 needed"
    ).all()


def test_follower_gain_splits_pre_save_follows_from_organic_gain(warehouse: Warehouse) -> None:
    """Five follows came before D-28: the window opens on their day instead of leaving them out."""
    row = table(warehouse, "SELECT * FROM follower_gain WHERE campaign_slug = 'midnight-drive'").iloc[0]
    first_follow = date(2026, 5, 20)
    start = nova_followers(first_follow - timedelta(days=1))  # the day before the window opens
    end = nova_followers(date(2026, 7, 1))
    before = nova_followers(first_follow - timedelta(days=30))  # 29 days earlier still
    assert (row["followers_source"], row["window_start"].date()) == ("s4a", first_follow)
    assert first_follow < WINDOW_START
    assert (row["followers_start"], row["followers_end"]) == (start, end)
    assert row["total_gain"] == end - start
    assert (row["presave_follows"], row["follows_from"]) == (105, "ledger")  # every delivered follow
    assert row["organic_gain"] == end - start - 105
    assert row["baseline_daily_gain"] == pytest.approx((start - before) / 29)
    assert row["expected_organic_gain"] == pytest.approx(
        (start - before) / 29 * (date(2026, 7, 1) - first_follow).days + (start - before) / 29
    )
    assert row["presave_share"] == pytest.approx(105 / (end - start))
    assert row["window_end"].date() == date(2026, 7, 1)
    assert pd.isna(row["note"])
    assert row["service"] == "spotify"
    other = table(warehouse, "SELECT * FROM follower_gain WHERE campaign_slug = 'glass-harbour'").iloc[0]
    assert other["presave_follows"] == 0  # no follow in its ledger: none assumed
    assert other["organic_gain"] == other["total_gain"]


def test_follower_gain_counts_each_services_follows_against_its_own_followers(tmp_path) -> None:
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    release = date(2026, 7, 1)
    put(
        warehouse,
        "campaign_releases",
        [
            {
                "campaign_slug": "midnight-drive",
                "artist": "Nova Lane",
                "title": "Midnight Drive",
                "origin": "native",
                "release_at": pd.Timestamp(release, tz="UTC"),
                "release_date": release,
                "first_stream_date": release,
                "timezone": "UTC",
                "spotify_artist_id": "sp1",
                "deezer_artist_id": "dz1",
            }
        ],
    )
    snapshots = [
        {
            "service": service,
            "artist_id": artist_id,
            "snapshot_date": day,
            "followers": followers,
            "popularity": None,
            "followers_status": "ok",
            "popularity_status": "ok",
            "fetched_at": pd.Timestamp(day, tz="UTC"),
        }
        for service, artist_id, counts in (("spotify", "sp1", (1000, 1300)), ("deezer", "dz1", (200, 230)))
        for day, followers in ((release - timedelta(days=29), counts[0]), (release, counts[1]))
    ]
    put(warehouse, "artist_snapshots", snapshots)
    follows = [("deezer", 12), ("spotify", 70)]
    put(
        warehouse,
        "owed_actions",
        [
            {
                "action_id": n * 100 + i,
                "campaign_slug": "midnight-drive",
                "fan_key": f"{service}-{i}",
                "service": service,
                "kind": "follow_artist",
                "target": "artist",
                "due_at": pd.Timestamp("2026-06-20", tz="UTC"),
                "outcome": "delivered",
                "attempts": 1,
                "done_at": pd.Timestamp("2026-06-20", tz="UTC"),
            }
            for n, (service, count) in enumerate(follows)
            for i in range(count)
        ],
    )
    build(warehouse, "follower_gain")
    rows = table(warehouse, "SELECT * FROM follower_gain ORDER BY service").set_index("service")
    assert list(rows.index) == ["deezer", "spotify"]
    assert rows.loc[
        "deezer", ["followers_source", "total_gain", "presave_follows", "organic_gain"]
    ].tolist() == [
        "deezer api",
        30,
        12,
        18,
    ]
    assert rows.loc[
        "spotify", ["followers_source", "total_gain", "presave_follows", "organic_gain"]
    ].tolist() == [
        "spotify api",
        300,
        70,
        230,
    ]
