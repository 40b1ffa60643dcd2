"""Did the campaign lift the release? Against the artist's own earlier releases, and across the roster.

- Within the artist: first-week streams per follower at release, against the median of the artist's
  strictly earlier releases (campaigns, native or imported, measured in the same series); the interval
  is a bootstrap over those earlier releases. Followers at release: the Spotify for Artists count on the
  last day before release day, else the latest Spotify API snapshot up to release day.
- Across the roster: OLS of log1p(first-week streams) on log1p(pre-saves on the series' service) over
  every campaign of the series (at least three), each campaign's residual and ratio exp(residual) =
  how many times the streams the line expects; pairs-bootstrap intervals (seeded, 2,000 resamples).
Series are kept apart (artist-wide streams and one song's streams are different measures).

Follower gain: followers gained over the pre-save window (the day before D-28 to D0) split into the
pre-save follows (delivered `follow_artist` actions done in the window; for a campaign without any in
the ledger, e.g. an imported one, its Spotify pre-saves, which follow the artist) and the rest
(organic); beside it the organic gain the artist's previous 29 days' pace would predict.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from pipelines.analysis.lift import fit_lift, within_artist_lift_bounds
from pipelines.marts.mart import Mart, artist_key, frame
from pipelines.marts.velocity import SERIES_SERVICE
from pipelines.schema import TABLES

BOOTSTRAP_RESAMPLES = 2000
WINDOW_DAYS = 28

FOLLOWERS_AT_RELEASE = f"""
WITH r AS (
    SELECT campaign_slug, {artist_key("artist")} AS artist_key, spotify_artist_id, release_date
    FROM campaign_releases
),
s4a AS (
    SELECT r.campaign_slug, arg_max(t.followers, t.date) AS followers
    FROM r JOIN s4a_audience_timeline t
      ON {artist_key("t.artist")} = r.artist_key AND t.date < r.release_date AND t.followers IS NOT NULL
    GROUP BY ALL
),
api AS (
    SELECT r.campaign_slug, arg_max(a.followers, a.snapshot_date) AS followers
    FROM r JOIN artist_snapshots a
      ON a.service = 'spotify' AND a.artist_id = r.spotify_artist_id AND a.snapshot_date <= r.release_date
     AND a.followers IS NOT NULL
    GROUP BY ALL
)
SELECT r.campaign_slug AS campaign, coalesce(s4a.followers, api.followers) AS followers_at_release
FROM r LEFT JOIN s4a USING (campaign_slug) LEFT JOIN api USING (campaign_slug)
"""


def campaign_lift(connection: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    velocity = frame(
        connection,
        "SELECT v.campaign_slug AS campaign, v.series, r.artist, r.release_date, v.week1_streams "
        "FROM first_week_velocity v JOIN campaign_releases r USING (campaign_slug) "
        "WHERE v.week1_streams IS NOT NULL",
    )
    presaves = frame(
        connection, "SELECT campaign_slug AS campaign, service, count(*) AS n FROM presaves GROUP BY ALL"
    )
    followers = frame(connection, FOLLOWERS_AT_RELEASE).set_index("campaign")["followers_at_release"]
    parts = []
    for series, rows in velocity.groupby("series", sort=True):
        service = SERIES_SERVICE[str(series)]
        counts = presaves[presaves["service"] == service].set_index("campaign")["n"]
        rows = rows.assign(
            presaves=rows["campaign"].map(counts).fillna(0).astype("int64"),
            followers_at_release=rows["campaign"].map(followers).astype("Float64"),
        )
        parts.append(
            _within_artist(rows).merge(_roster(rows), on="campaign", how="left").assign(series=series)
        )
    columns = list(TABLES["campaign_lift"].column_names)
    if not parts:
        return pd.DataFrame(columns=columns)
    result = pd.concat(parts, ignore_index=True).rename(columns={"campaign": "campaign_slug"})
    result["roster_campaigns"] = result["roster_campaigns"].fillna(0).astype("int64")
    return result[columns]


def _within_artist(rows: pd.DataFrame) -> pd.DataFrame:
    releases = pd.DataFrame(
        {
            "artist": rows["artist"].str.lower(),
            "release": rows["campaign"],
            "released_on": pd.to_datetime(rows["release_date"]),
            "first_week_streams": rows["week1_streams"],
            "followers_at_release": rows["followers_at_release"],
        }
    )
    lifted = within_artist_lift_bounds(releases, resamples=BOOTSTRAP_RESAMPLES)
    return pd.DataFrame(
        {
            "campaign": rows["campaign"].to_numpy(),
            "artist": rows["artist"].to_numpy(),
            "release_date": rows["release_date"].to_numpy(),
            "presaves": rows["presaves"].to_numpy(),
            "first_week_streams": rows["week1_streams"].astype(float).to_numpy(),
            "followers_at_release": rows["followers_at_release"].to_numpy(),
            "streams_per_follower": lifted["streams_per_follower"].to_numpy(),
            "baseline_per_follower": lifted["baseline_per_follower"].to_numpy(),
            "earlier_releases": lifted["earlier_releases"].to_numpy(),
            "artist_lift": lifted["lift"].to_numpy(),
            "artist_lift_low": lifted["lift_low"].to_numpy(),
            "artist_lift_high": lifted["lift_high"].to_numpy(),
        }
    )


def _roster(rows: pd.DataFrame) -> pd.DataFrame:
    if len(rows) < 3 or rows["presaves"].nunique() < 2:
        return pd.DataFrame({"campaign": rows["campaign"], "roster_campaigns": len(rows)})
    fit = fit_lift(
        rows["presaves"],
        rows["week1_streams"].astype(float),
        list(rows["campaign"]),
        resamples=BOOTSTRAP_RESAMPLES,
    )
    table = fit.campaigns
    return pd.DataFrame(
        {
            "campaign": table["campaign"],
            "roster_fitted": np.expm1(table["fitted"]),
            "roster_residual": table["residual"],
            "roster_residual_low": table["residual_low"],
            "roster_residual_high": table["residual_high"],
            "roster_ratio": table["ratio"],
            "roster_ratio_low": np.exp(table["residual_low"]),
            "roster_ratio_high": np.exp(table["residual_high"]),
            "roster_slope": fit.slope,
            "roster_slope_low": fit.slope_low,
            "roster_slope_high": fit.slope_high,
            "roster_r_squared": fit.r_squared,
            "roster_campaigns": fit.n,
        }
    )


FOLLOWER_GAIN = f"""
WITH r AS (
    SELECT campaign_slug, artist, {artist_key("artist")} AS artist_key, spotify_artist_id, release_date,
           release_date - {WINDOW_DAYS} AS window_start, timezone
    FROM campaign_releases
),
daily AS (
    SELECT 's4a' AS followers_source, {artist_key("artist")} AS artist_key, NULL AS artist_id, date, followers
    FROM s4a_audience_timeline WHERE followers IS NOT NULL
    UNION ALL
    SELECT 'spotify api', NULL, artist_id, snapshot_date, followers
    FROM artist_snapshots WHERE service = 'spotify' AND followers IS NOT NULL
),
ends AS (
    SELECT r.campaign_slug, r.window_start, d.followers_source,
           arg_max(d.followers, d.date) FILTER (WHERE d.date <= r.window_start - 1) AS followers_start,
           max(d.date) FILTER (WHERE d.date <= r.window_start - 1) AS start_day,
           arg_max(d.followers, d.date) FILTER (WHERE d.date <= r.release_date) AS followers_end,
           max(d.date) FILTER (WHERE d.date <= r.release_date) AS end_day,
           arg_max(d.followers, d.date) FILTER (WHERE d.date <= r.window_start - 1 - {WINDOW_DAYS + 1})
               AS followers_before,
           max(d.date) FILTER (WHERE d.date <= r.window_start - 1 - {WINDOW_DAYS + 1}) AS before_day
    FROM r JOIN daily d
      ON (d.followers_source = 's4a' AND d.artist_key = r.artist_key)
      OR (d.followers_source = 'spotify api' AND d.artist_id = r.spotify_artist_id)
    GROUP BY ALL
),
chosen AS (
    SELECT * FROM ends
    WHERE followers_start IS NOT NULL AND followers_end IS NOT NULL
      AND start_day >= window_start - 8
    QUALIFY row_number() OVER (PARTITION BY campaign_slug ORDER BY followers_source = 's4a' DESC) = 1
),
ledger AS (
    SELECT a.campaign_slug,
           count(*) AS any_follow_actions,
           count(*) FILTER (WHERE a.outcome = 'delivered'
               AND (a.done_at AT TIME ZONE r.timezone)::DATE BETWEEN r.window_start AND r.release_date) AS follows
    FROM owed_actions a JOIN r USING (campaign_slug)
    WHERE a.kind = 'follow_artist'
    GROUP BY ALL
),
spotify_presaves AS (
    SELECT p.campaign_slug, count(*) AS follows FROM presaves p JOIN r USING (campaign_slug)
    WHERE p.service = 'spotify' AND p.presaved_on >= r.window_start
    GROUP BY ALL
)
SELECT r.campaign_slug, 'spotify' AS service, r.artist, r.window_start, r.release_date, c.followers_source,
       c.followers_start, c.followers_end, c.followers_end - c.followers_start AS total_gain,
       CASE WHEN l.any_follow_actions > 0 THEN l.follows ELSE coalesce(s.follows, 0) END AS presave_follows,
       CASE WHEN l.any_follow_actions > 0 THEN 'ledger' ELSE 'spotify pre-saves' END AS follows_from,
       total_gain - presave_follows AS organic_gain,
       CASE WHEN c.followers_before IS NOT NULL AND c.start_day > c.before_day
            THEN (c.followers_start - c.followers_before) / (c.start_day - c.before_day) END
           AS baseline_daily_gain,
       baseline_daily_gain * (c.end_day - c.start_day) AS expected_organic_gain,
       CASE WHEN total_gain > 0 THEN presave_follows / total_gain END AS presave_share
FROM r JOIN chosen c USING (campaign_slug)
LEFT JOIN ledger l USING (campaign_slug)
LEFT JOIN spotify_presaves s USING (campaign_slug)
"""

MARTS = (
    Mart(
        "campaign_lift",
        ("first_week_velocity", "campaign_releases", "presaves", "s4a_audience_timeline", "artist_snapshots"),
        campaign_lift,
        "Within the artist: first-week streams per follower at release ÷ the median of the artist's "
        "earlier releases (bootstrap 95% interval over those releases). Across the roster: log-log OLS of "
        "first-week streams on pre-saves, residual and ratio with pairs-bootstrap 95% intervals.",
        expect_rows="SELECT EXISTS (SELECT 1 FROM first_week_velocity WHERE week1_streams IS NOT NULL)",
    ),
    Mart(
        "follower_gain",
        ("campaign_releases", "s4a_audience_timeline", "artist_snapshots", "owed_actions", "presaves"),
        lambda _: FOLLOWER_GAIN,
        "Followers gained over the pre-save window split into pre-save follows (the ledger's delivered "
        "artist follows, else Spotify pre-saves) and organic gain; the organic gain the artist's previous "
        "pace predicts beside it. Campaigns without a follower count a week or less before the window "
        "have no row.",
        expect_rows="SELECT EXISTS (SELECT 1 FROM campaign_releases r JOIN s4a_audience_timeline t "
        "ON t.date BETWEEN r.release_date - 36 AND r.release_date - 29 AND t.followers IS NOT NULL)",
    ),
)
