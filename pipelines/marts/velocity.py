"""First-week velocity per campaign, in each stream series the exports give for it.

Series:
- `spotify_artist`: the artist's whole Spotify audience timeline (every song; what every artist can
  export), matched on the artist's name;
- `spotify_song`: the Spotify for Artists per-song timeline of the song titled like the campaign;
- `apple_song`: Apple Music daily plays of the song (or album) titled like the campaign.
Pre-savers are the campaign's pre-saves on that series' service. Day numbers count the exports' days
(UTC dates) from the first streaming day (D0: `first_stream_date`, the UTC date of the release moment;
a release at local midnight east of UTC streams first on the UTC date before its local release date). See `pipelines/analysis/velocity.py` for the figures.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from pipelines.analysis.velocity import first_week_velocity
from pipelines.marts.mart import Mart, artist_key, frame, slug

SERIES_SERVICE = {"spotify_artist": "spotify", "spotify_song": "spotify", "apple_song": "apple"}

DAILY_STREAMS = f"""
WITH r AS (
    SELECT campaign_slug, {artist_key("artist")} AS artist_key, {slug("title")} AS title_key,
           first_stream_date AS release_date
    FROM campaign_releases
)
SELECT r.campaign_slug AS campaign, 'spotify_artist' AS series, t.date, t.streams, t.listeners
FROM r JOIN s4a_audience_timeline t ON {artist_key("t.artist")} = r.artist_key
WHERE t.date BETWEEN r.release_date AND r.release_date + 13
UNION ALL
SELECT r.campaign_slug, 'spotify_song', t.date, sum(t.streams), NULL
FROM r JOIN s4a_song_timeline t
  ON {slug("t.song")} = r.title_key AND (t.artist IS NULL OR {artist_key("t.artist")} = r.artist_key)
WHERE t.date BETWEEN r.release_date AND r.release_date + 13
GROUP BY ALL
UNION ALL
SELECT r.campaign_slug, 'apple_song', p.date, sum(p.plays), NULL
FROM r JOIN amfa_daily_plays p
  ON (coalesce({slug("p.album")}, '') = r.title_key OR {slug("p.song")} = r.title_key)
 AND (p.artist IS NULL OR {artist_key("p.artist")} = r.artist_key)
WHERE p.date BETWEEN r.release_date AND r.release_date + 13
GROUP BY ALL
"""

PRESAVERS = """
SELECT r.campaign_slug AS campaign, r.first_stream_date AS release_date, s.service,
       count(p.campaign_slug) AS presavers
FROM campaign_releases r
CROSS JOIN (SELECT unnest(['spotify', 'apple', 'deezer']) AS service) s
LEFT JOIN presaves p ON p.campaign_slug = r.campaign_slug AND p.service = s.service
GROUP BY ALL
"""

FIRST_WEEK = f"""
WITH r AS (
    SELECT campaign_slug, artist, {artist_key("artist")} AS artist_key, first_stream_date AS release_date
    FROM campaign_releases
),
timeline AS (
    SELECT {artist_key("artist")} AS artist_key, date, streams, listeners FROM s4a_audience_timeline
),
presavers AS (SELECT campaign_slug, count(*) AS presaves FROM presaves GROUP BY ALL),
days AS (SELECT r.*, d.day::INTEGER AS day, r.release_date + d.day::INTEGER AS date FROM r, range(7) AS d(day))
SELECT d.campaign_slug, d.artist, d.release_date, d.day, d.date, t.streams, t.listeners,
       coalesce(p.presaves, 0) AS presaves
FROM days d
LEFT JOIN timeline t ON t.artist_key = d.artist_key AND t.date = d.date
LEFT JOIN presavers p USING (campaign_slug)
WHERE EXISTS (
    SELECT 1 FROM timeline x WHERE x.artist_key = d.artist_key AND x.date BETWEEN d.release_date AND d.release_date + 6
)
"""


def daily_streams(connection: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Daily streams (and listeners, artist series) per campaign and series, D0 … D13."""
    return frame(connection, DAILY_STREAMS)


def first_week_velocity_mart(connection: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    daily = daily_streams(connection)
    presavers = frame(connection, PRESAVERS)
    parts = []
    for series, rows in daily.groupby("series", sort=True):
        service = SERIES_SERVICE[str(series)]
        releases = presavers[presavers["service"] == service]
        releases = releases[releases["campaign"].isin(rows["campaign"])]
        columns = ["campaign", "date", "streams"] + (["listeners"] if series == "spotify_artist" else [])
        velocity = first_week_velocity(rows[columns], releases[["campaign", "release_date", "presavers"]])
        velocity = velocity.join(releases.set_index("campaign")[["release_date", "presavers"]])
        parts.append(velocity.reset_index().assign(series=series))
    if not parts:
        return pd.DataFrame(columns=["campaign_slug", "series", "release_date", "presavers"])
    result = pd.concat(parts, ignore_index=True).rename(columns={"campaign": "campaign_slug"})
    has_week_one = result[[f"d{d}_streams" for d in range(7)]].notna().any(axis=1)
    return result[has_week_one]


MARTS = (
    Mart(
        "first_week",
        ("campaign_releases", "presaves", "s4a_audience_timeline"),
        lambda _: FIRST_WEEK,
        "The artist's Spotify for Artists streams (all songs) and listeners on each day D0 … D6 beside "
        "the campaign's pre-saves; campaigns without export days in their first week have no rows. The "
        "per-pre-saver figure is the glossary's `streams_per_presaver`, in `first_week_velocity`.",
        expect_rows="SELECT EXISTS (SELECT 1 FROM campaign_releases r JOIN s4a_audience_timeline t "
        "ON t.date BETWEEN r.first_stream_date AND r.first_stream_date + 6)",
    ),
    Mart(
        "first_week_velocity",
        ("campaign_releases", "presaves", "s4a_audience_timeline", "s4a_song_timeline", "amfa_daily_plays"),
        first_week_velocity_mart,
        "Streams (and listeners) D0 … D6, first 24 h (D0) and 72 h (D0-D2), week one and two, day one's "
        "share of week one, streams per pre-saver of the series' service, retention = week two / week "
        "one; a missing day makes every figure needing it empty.",
        expect_rows="SELECT EXISTS (SELECT 1 FROM first_week)",
    ),
)
