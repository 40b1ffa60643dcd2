"""Did the campaign lift the release? Against the artist's own earlier releases, and across the roster.

Both compare one campaign's first week with what comparable campaigns predict for it, on the log scale,
with a t prediction interval (`pipelines/analysis/lift.py`, `judge_against_*`); with fewer than five
comparable campaigns the verdict is "cannot be judged yet" and there is no number.

- Within the artist: first-week streams per follower, against the geometric mean of the artist's strictly
  earlier releases measured in the same series. Followers: the Spotify for Artists count on the last day
  before release day, else the latest Spotify API snapshot up to release day, less the campaign's own
  delivered Spotify follows before release (`own_follows`): otherwise every campaign's own follows would
  raise its denominator and push its lift below 1.
- Across the roster: the log1p-log1p line of first-week streams on pre-saves fitted on the other
  campaigns of the series, the same service on both axes (Spotify streams against Spotify pre-saves,
  Apple plays against Apple pre-saves); `roster_expected` is what it predicts for this campaign. The line
  over every campaign (`roster_fitted`, slope with its pairs-bootstrap interval, R²) is drawn on the page.
Series are kept apart (artist-wide streams and one song's streams are different measures).

Follower gain, per service, against that service's own follower series: Spotify from the Spotify for
Artists timeline (else the Spotify API snapshots), Deezer from its API snapshots. Days are the series'
own (UTC dates), D0 the first streaming day (`first_stream_date`). Followers gained over the pre-save
window (the day before D-28, or before the campaign's first delivered follow if earlier, to D0) split
into the pre-save follows (the ledger's delivered `follow_artist` actions on that service done in the
window; nothing assumed where the ledger holds none) and the rest (organic); beside it the organic
gain the artist's previous 29 days' pace would predict. A window ends where its series ends: when the
series stops before D0 (a campaign still collecting, yesterday's export), both the gain and the
follows are counted up to its last day (`window_end`), and `note` says so.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from pipelines.analysis.lift import fit_lift, judge_against_earlier, judge_against_line
from pipelines.marts.mart import Mart, artist_key, frame
from pipelines.marts.velocity import SERIES_SERVICE
from pipelines.schema import TABLES

BOOTSTRAP_RESAMPLES = 2000
WINDOW_DAYS = 28

FOLLOWERS_AT_RELEASE = f"""
WITH r AS (
    SELECT campaign_slug, {artist_key("artist")} AS artist_key, spotify_artist_id,
           first_stream_date AS release_date
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

OWN_FOLLOWS = """
SELECT r.campaign_slug AS campaign, count(a.fan_key) AS own_follows
FROM campaign_releases r
LEFT JOIN owed_actions a
       ON a.campaign_slug = r.campaign_slug AND a.kind = 'follow_artist' AND a.service = 'spotify'
      AND a.outcome = 'delivered' AND a.done_at < r.release_at
GROUP BY ALL
"""


def campaign_lift(connection: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    velocity = frame(
        connection,
        "SELECT v.campaign_slug AS campaign, v.series, r.artist, r.title, r.release_date, v.week1_streams "
        "FROM first_week_velocity v JOIN campaign_releases r USING (campaign_slug) "
        "WHERE v.week1_streams IS NOT NULL",
    )
    presaves = frame(
        connection, "SELECT campaign_slug AS campaign, service, count(*) AS n FROM presaves GROUP BY ALL"
    )
    followers = frame(connection, FOLLOWERS_AT_RELEASE).set_index("campaign")["followers_at_release"]
    own = frame(connection, OWN_FOLLOWS).set_index("campaign")["own_follows"]
    parts = []
    for series, series_rows in velocity.groupby("series", sort=True):
        service = SERIES_SERVICE[str(series)]
        counts = presaves[presaves["service"] == service].set_index("campaign")["n"]
        gross = series_rows["campaign"].map(followers).astype("Float64")
        own_follows = series_rows["campaign"].map(own).fillna(0).astype("int64")
        rows = series_rows.assign(
            presaves=series_rows["campaign"].map(counts).fillna(0).astype("int64"),
            own_follows=own_follows,
            followers_at_release=(gross - own_follows).where(gross - own_follows > 0),
        )
        parts.append(
            _within_artist(rows).merge(_roster(rows), on="campaign", how="left").assign(series=series)
        )
    columns = list(TABLES["campaign_lift"].column_names)
    if not parts:
        return pd.DataFrame(columns=columns)
    result = pd.concat(parts, ignore_index=True).rename(columns={"campaign": "campaign_slug"})
    result["roster_campaigns"] = result["roster_campaigns"].fillna(0).astype("int64")
    return result.reindex(columns=columns)  # the roster's line needs three campaigns: else no line columns


def _within_artist(rows: pd.DataFrame) -> pd.DataFrame:
    """Each release's streams per follower against the artist's strictly earlier releases."""
    rows = rows.assign(
        artist_key=rows["artist"].str.lower(),
        streams_per_follower=(rows["week1_streams"].astype("Float64") / rows["followers_at_release"]),
    )
    judged: list[dict[str, object]] = []
    for row in rows.itertuples():
        earlier = rows[(rows["artist_key"] == row.artist_key) & (rows["release_date"] < row.release_date)]
        ratios = earlier["streams_per_follower"].dropna().astype(float).to_numpy()
        ratios = ratios[ratios > 0]
        value = row.streams_per_follower
        if pd.isna(value):
            verdict = "cannot be judged: no follower count before release"
            judged.append({"earlier": len(ratios), "verdict": verdict})
            continue
        made = judge_against_earlier(float(value), ratios)
        judged.append(
            {
                "baseline": float(np.exp(np.log(ratios).mean())) if len(ratios) else None,
                "earlier": len(ratios),
                "ratio": made.ratio,
                "low": made.low,
                "high": made.high,
                "verdict": made.verdict,
            }
        )
    table = pd.DataFrame(judged, columns=["baseline", "earlier", "ratio", "low", "high", "verdict"])
    return pd.DataFrame(
        {
            "campaign": rows["campaign"].to_numpy(),
            "artist": rows["artist"].to_numpy(),
            "title": rows["title"].to_numpy(),
            "release_date": rows["release_date"].to_numpy(),
            "presaves": rows["presaves"].to_numpy(),
            "first_week_streams": rows["week1_streams"].astype(float).to_numpy(),
            "own_follows": rows["own_follows"].to_numpy(),
            "followers_at_release": rows["followers_at_release"].to_numpy(),
            "streams_per_follower": rows["streams_per_follower"].to_numpy(),
            "baseline_per_follower": table["baseline"].astype("Float64").to_numpy(),
            "earlier_releases": table["earlier"].to_numpy(),
            "artist_lift": table["ratio"].astype("Float64").to_numpy(),
            "artist_lift_low": table["low"].astype("Float64").to_numpy(),
            "artist_lift_high": table["high"].astype("Float64").to_numpy(),
            "artist_lift_verdict": table["verdict"].to_numpy(),
        }
    )


def _roster(rows: pd.DataFrame) -> pd.DataFrame:
    """Each campaign against the line of the series' other campaigns; the whole roster's line beside."""
    saves = rows["presaves"].astype(float).to_numpy()
    streams = rows["week1_streams"].astype(float).to_numpy()
    judged = []
    for index in range(len(rows)):
        others = np.arange(len(rows)) != index
        made = judge_against_line(saves[index], streams[index], saves[others], streams[others])
        expected = (np.log1p(streams[index]) - np.log(made.ratio)) if made.ratio else None
        judged.append(
            {
                "campaign": rows["campaign"].iloc[index],
                "roster_campaigns": made.comparable,
                "roster_expected": np.expm1(expected) if expected is not None else None,
                "roster_residual": np.log(made.ratio) if made.ratio else None,
                "roster_residual_low": np.log(made.low) if made.low else None,
                "roster_residual_high": np.log(made.high) if made.high else None,
                "roster_ratio": made.ratio,
                "roster_ratio_low": made.low,
                "roster_ratio_high": made.high,
                "roster_verdict": made.verdict,
            }
        )
    table = pd.DataFrame(judged)
    if len(rows) < 3 or rows["presaves"].nunique() < 2:
        return table
    fit = fit_lift(saves, streams, list(rows["campaign"]), resamples=BOOTSTRAP_RESAMPLES)
    line = pd.DataFrame(
        {
            "campaign": fit.campaigns["campaign"],
            "roster_fitted": np.expm1(fit.campaigns["fitted"]),
            "roster_slope": fit.slope,
            "roster_slope_low": fit.slope_low,
            "roster_slope_high": fit.slope_high,
            "roster_r_squared": fit.r_squared,
        }
    )
    return table.merge(line, on="campaign", how="left")


FOLLOWER_GAIN = f"""
WITH first_follow AS (
    SELECT a.campaign_slug, min((a.done_at AT TIME ZONE 'UTC')::DATE) AS day
    FROM owed_actions a JOIN campaign_releases c USING (campaign_slug)
    WHERE a.kind = 'follow_artist' AND a.outcome = 'delivered'
      AND (a.done_at AT TIME ZONE 'UTC')::DATE <= c.first_stream_date
    GROUP BY ALL
),
r AS (
    SELECT c.campaign_slug, c.artist, {artist_key("c.artist")} AS artist_key, c.spotify_artist_id,
           c.deezer_artist_id, c.first_stream_date AS release_date,
           least(c.first_stream_date - {WINDOW_DAYS}, f.day) AS window_start
    FROM campaign_releases c LEFT JOIN first_follow f USING (campaign_slug)
),
daily AS (
    SELECT 'spotify' AS service, 's4a' AS followers_source, {artist_key("artist")} AS artist_key,
           NULL AS artist_id, date, followers
    FROM s4a_audience_timeline WHERE followers IS NOT NULL
    UNION ALL
    SELECT service, service || ' api', NULL, artist_id, snapshot_date, followers
    FROM artist_snapshots WHERE service IN ('spotify', 'deezer') AND followers IS NOT NULL
),
ends AS (
    SELECT r.campaign_slug, r.window_start, d.service, d.followers_source,
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
      OR (d.followers_source = 'deezer api' AND d.artist_id = r.deezer_artist_id)
    GROUP BY ALL
),
chosen AS (
    SELECT * FROM ends
    WHERE followers_start IS NOT NULL AND followers_end IS NOT NULL
      AND start_day >= window_start - 8 AND end_day >= window_start
    QUALIFY row_number() OVER (PARTITION BY campaign_slug, service ORDER BY followers_source = 's4a' DESC) = 1
),
ledger AS (  -- the follows on the series' own days: from the window's start to its last day counted
    SELECT c.campaign_slug, c.service, count(*) AS follows
    FROM chosen c JOIN owed_actions a ON a.campaign_slug = c.campaign_slug AND a.service = c.service
    WHERE a.kind = 'follow_artist' AND a.outcome = 'delivered'
      AND (a.done_at AT TIME ZONE 'UTC')::DATE BETWEEN c.window_start AND c.end_day
    GROUP BY ALL
)
SELECT r.campaign_slug, c.service, r.artist, r.window_start, r.release_date, c.followers_source,
       c.followers_start, c.followers_end, c.followers_end - c.followers_start AS total_gain,
       coalesce(l.follows, 0) AS presave_follows, 'ledger' AS follows_from,
       total_gain - presave_follows AS organic_gain,
       CASE WHEN c.followers_before IS NOT NULL AND c.start_day > c.before_day
            THEN (c.followers_start - c.followers_before) / (c.start_day - c.before_day) END
           AS baseline_daily_gain,
       baseline_daily_gain * (c.end_day - c.start_day) AS expected_organic_gain,
       CASE WHEN total_gain > 0 THEN presave_follows / total_gain END AS presave_share,
       c.end_day AS window_end,
       CASE WHEN c.end_day < r.release_date
            THEN 'followers known up to ' || strftime(c.end_day, '%Y-%m-%d') || ', before release day ('
                 || strftime(r.release_date, '%Y-%m-%d') || '): gain and pre-save follows counted up to that day'
       END AS note
FROM r JOIN chosen c USING (campaign_slug)
LEFT JOIN ledger l USING (campaign_slug, service)
"""

MARTS = (
    Mart(
        "campaign_lift",
        (
            "first_week_velocity",
            "campaign_releases",
            "presaves",
            "s4a_audience_timeline",
            "artist_snapshots",
            "owed_actions",
        ),
        campaign_lift,
        "Within the artist: first-week streams per follower (net of the campaign's own follows) ÷ the "
        "geometric mean of the artist's earlier releases; across the roster: first-week streams ÷ what "
        "the other campaigns' log-log line expects for this many pre-saves of the same service. Both with "
        "95% t prediction intervals, and 'cannot be judged yet' below five comparable campaigns.",
        expect_rows="SELECT EXISTS (SELECT 1 FROM first_week_velocity WHERE week1_streams IS NOT NULL)",
    ),
    Mart(
        "follower_gain",
        ("campaign_releases", "s4a_audience_timeline", "artist_snapshots", "owed_actions"),
        lambda _: FOLLOWER_GAIN,
        "Per service, followers gained over the pre-save window in that service's own follower series, "
        "split into pre-save follows (the ledger's delivered artist follows on that service; none "
        "assumed) and organic gain; the organic gain the artist's previous pace predicts beside it. The "
        "window opens at D-28 or at the campaign's first pre-save follow, and ends where the series ends "
        "(`window_end`, said in `note` when before release day). A service without a follower count a "
        "week or less before the window has no row.",
        expect_rows="SELECT EXISTS (SELECT 1 FROM campaign_releases r JOIN s4a_audience_timeline t "
        "ON t.date BETWEEN r.first_stream_date - 36 AND r.first_stream_date - 29 AND t.followers IS NOT NULL "
        "WHERE r.first_stream_date - 28 <= (SELECT max(date) FROM s4a_audience_timeline))",
    ),
)
