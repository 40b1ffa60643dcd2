"""SQL over the warehouse snapshot: the only data the dashboard sees (marts, never tokens or fans)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd


class WarehouseReader:
    """Opens the read-only snapshot per query, so a newly published snapshot is picked up at once."""

    def __init__(self, snapshot: Path) -> None:
        self.snapshot = snapshot

    def available(self) -> bool:
        return self.snapshot.exists()

    def version(self) -> float:
        """Changes whenever a new snapshot is published (used as a cache key)."""
        return self.snapshot.stat().st_mtime if self.snapshot.exists() else 0.0

    def query(self, sql: str, params: list[object] | None = None) -> pd.DataFrame:
        with duckdb.connect(str(self.snapshot), read_only=True) as connection:
            connection.execute("SET TimeZone = 'UTC'")
            return connection.execute(sql, params or []).df()


CAMPAIGNS = """
SELECT r.campaign_slug AS slug, r.artist, r.title, r.origin, r.release_at, r.timezone,
       coalesce(o.presaves, 0) AS presaves, o.spotify_presaves, o.apple_presaves, o.deezer_presaves,
       o.last_week_share, o.delivered, o.first_week_streams, o.streams_per_presaver, o.artist_lift,
       o.roster_ratio, o.forecast_point, o.forecast_low, o.forecast_high, o.authenticity_score
FROM campaign_releases r
LEFT JOIN campaign_overview o USING (campaign_slug)
ORDER BY r.release_at DESC
"""

PRESAVES_DAILY = """
SELECT date, days_to_release, service, presaves, cumulative
FROM presaves_daily WHERE campaign_slug = ? ORDER BY date, service
"""

PRESAVES_BY_COUNTRY = """
SELECT country, service, presaves, share FROM presaves_by_country WHERE campaign_slug = ?
ORDER BY presaves DESC, country
"""

FIRST_WEEK = """
SELECT day, date, streams, listeners, presaves, streams_per_presaver
FROM first_week WHERE campaign_slug = ? ORDER BY day
"""

VELOCITY = "SELECT * FROM first_week_velocity WHERE campaign_slug = ? ORDER BY series"

LIFT = "SELECT * FROM campaign_lift WHERE campaign_slug = ? ORDER BY series"

ROSTER = """
SELECT l.campaign_slug, r.title, l.artist, l.release_date, l.series, l.presaves, l.first_week_streams,
       l.roster_fitted, l.roster_ratio, l.roster_ratio_low, l.roster_ratio_high, l.streams_per_follower
FROM campaign_lift l JOIN campaign_releases r USING (campaign_slug)
WHERE l.series = ? ORDER BY l.presaves
"""

ARTIST_RELEASES = """
SELECT l.campaign_slug, r.title, l.release_date, l.streams_per_follower, l.artist_lift, l.artist_lift_low,
       l.artist_lift_high
FROM campaign_lift l JOIN campaign_releases r USING (campaign_slug)
WHERE l.series = ? AND lower(l.artist) = lower(?) ORDER BY l.release_date
"""

FORECAST = """
SELECT as_of_day, so_far, point, low, high, earlier_campaigns, actual, is_latest, note
FROM presave_forecast WHERE campaign_slug = ? ORDER BY as_of_day
"""

ACCUMULATION = """
SELECT day, date, presaves, cumulative, share_of_final, last_week_share
FROM presave_accumulation WHERE campaign_slug = ? ORDER BY day
"""

FOLLOWER_GAIN = "SELECT * FROM follower_gain WHERE campaign_slug = ?"

FOLLOWERS_DAILY = """
SELECT t.date, t.followers
FROM s4a_audience_timeline t JOIN campaign_releases r
  ON regexp_replace(lower(t.artist), '[^a-z0-9]', '', 'g') = regexp_replace(lower(r.artist), '[^a-z0-9]', '', 'g')
WHERE r.campaign_slug = ? AND t.date BETWEEN r.release_date - 56 AND r.release_date + 13
  AND t.followers IS NOT NULL
ORDER BY t.date
"""

ARTIST_SNAPSHOTS = """
SELECT a.snapshot_date, a.service, a.followers, a.popularity, a.followers_status, a.popularity_status
FROM artist_snapshots a JOIN campaign_releases r
  ON (a.service = 'spotify' AND a.artist_id = r.spotify_artist_id)
  OR (a.service = 'deezer' AND a.artist_id = r.deezer_artist_id)
WHERE r.campaign_slug = ? ORDER BY a.snapshot_date DESC, a.service
"""

CONVERSION = """
SELECT source, service, visitors, grants, rate, low, high FROM service_conversion
WHERE campaign_slug = ? ORDER BY source = '(all)' DESC, source, service
"""

COMPARISON = """
SELECT source, service_1, service_2, rate_1, rate_2, difference, low, high, z, p_value, p_holm
FROM service_comparison WHERE campaign_slug = ? ORDER BY source = '(all)' DESC, source, service_1, service_2
"""

OUTCOMES = "SELECT * FROM release_outcomes WHERE campaign_slug = ? ORDER BY service, kind"

GRANT_HEALTH = "SELECT * FROM token_health WHERE campaign_slug = ? ORDER BY service"

AUTHENTICITY = "SELECT * FROM authenticity_scores WHERE campaign_slug = ?"


def campaigns(reader: WarehouseReader) -> pd.DataFrame:
    return reader.query(CAMPAIGNS)


def for_campaign(reader: WarehouseReader, sql: str, slug: str) -> pd.DataFrame:
    return reader.query(sql, [slug])


def presaves_daily(reader: WarehouseReader, slug: str) -> pd.DataFrame:
    return reader.query(PRESAVES_DAILY, [slug])


def first_week(reader: WarehouseReader, slug: str) -> pd.DataFrame:
    return reader.query(FIRST_WEEK, [slug])


def roster(reader: WarehouseReader, series: str) -> pd.DataFrame:
    return reader.query(ROSTER, [series])


def artist_releases(reader: WarehouseReader, series: str, artist: str) -> pd.DataFrame:
    return reader.query(ARTIST_RELEASES, [series, artist])
