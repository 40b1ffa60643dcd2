"""SQL over the warehouse snapshot: the only data the dashboard sees. Every query reads one mart (or the
glossary, or ingest's own bookkeeping), filtered and aggregated in DuckDB; no joins over raw export tables
and no name matching here: that belongs to the marts."""

from __future__ import annotations

import threading
from pathlib import Path

import duckdb
import pandas as pd

_OPEN = threading.local()  # per thread: its cursor on each snapshot version it read
_DATABASES: dict[str, tuple[int, duckdb.DuckDBPyConnection]] = {}  # per snapshot path: the version open
_DATABASES_LOCK = threading.Lock()


class WarehouseReader:
    """Reads the published snapshot. The process opens each snapshot version once (the first query after a
    publish) and every thread reads it through a cursor of its own (a connection is not shared between
    threads; Streamlit runs each script run in a new thread, so a cursor per run): a page's first query
    does not pay for opening the file and loading its catalogue again."""

    def __init__(self, snapshot: Path) -> None:
        self.snapshot = snapshot

    def available(self) -> bool:
        return self.snapshot.exists()

    def version(self) -> int:
        """Changes whenever a new snapshot is published (used as a cache key)."""
        try:
            stat = self.snapshot.stat()
        except FileNotFoundError:
            return 0
        return hash((stat.st_ino, stat.st_mtime_ns))

    def query(self, sql: str, params: list[object] | None = None) -> pd.DataFrame:
        return self._connection().execute(sql, params or []).df()

    def _connection(self) -> duckdb.DuckDBPyConnection:
        path, version = str(self.snapshot.resolve()), self.version()
        cursors: dict[str, tuple[int, duckdb.DuckDBPyConnection]] = _OPEN.__dict__.setdefault("cursors", {})
        held = cursors.get(path)
        if held is None or held[0] != version:
            if held is not None:
                held[1].close()
            cursor = _database(path, version).cursor()
            cursor.execute("USE snapshot")
            cursor.execute("SET TimeZone = 'UTC'")
            cursors[path] = (version, cursor)
        return cursors[path][1]

    def tables(self) -> set[str]:
        return set(
            self.query(
                "SELECT table_name FROM information_schema.tables WHERE table_catalog = current_database()"
            )["table_name"]
        )


def _database(path: str, version: int) -> duckdb.DuckDBPyConnection:
    """The process's connection to this version of the snapshot, opened on first use. The one it replaces
    is not closed here: threads may still be reading it through their cursors."""
    with _DATABASES_LOCK:
        held = _DATABASES.get(path)
        if held is None or held[0] != version:
            held = (version, _open(path))
            _DATABASES[path] = held
        return held[1]


def _open(snapshot: str) -> duckdb.DuckDBPyConnection:
    """A connection of its own on the file now at `snapshot`. Not `duckdb.connect(snapshot)`: DuckDB hands
    every connection to a path the database it already has open there, so while any thread still held the
    snapshot it replaced, a new connection would keep answering from the old file."""
    connection = duckdb.connect()
    quoted = snapshot.replace("'", "''")
    connection.execute(f"ATTACH '{quoted}' AS snapshot (READ_ONLY)")
    connection.execute("USE snapshot")
    connection.execute("SET TimeZone = 'UTC'")
    return connection


GLOSSARY = "SELECT * FROM figure_glossary ORDER BY position"

CAMPAIGNS = "SELECT * FROM campaign_overview ORDER BY release_at DESC, campaign_slug"

CAMPAIGN = "SELECT * FROM campaign_overview WHERE campaign_slug = ?"

# Every campaign's pre-saves to date, day by day (all services): the overview's small trends.
PRESAVE_TRENDS = """
SELECT campaign_slug, days_to_release,
       sum(sum(presaves)) OVER (PARTITION BY campaign_slug ORDER BY days_to_release)::BIGINT AS cumulative
FROM presaves_daily GROUP BY campaign_slug, days_to_release ORDER BY campaign_slug, days_to_release
"""

PRESAVES_DAILY = """
SELECT date, days_to_release, service, presaves, cumulative
FROM presaves_daily WHERE campaign_slug = ? ORDER BY date, service
"""

PRESAVES_BY_COUNTRY = """
SELECT country, service, presaves, share FROM presaves_by_country WHERE campaign_slug = ?
ORDER BY presaves DESC, country
"""

PRESAVE_ORIGINS = """
SELECT service, one_time, future FROM presave_origins WHERE campaign_slug = ? ORDER BY service
"""

FOLLOWUP_DAYS = """
SELECT day, presaves, baseline_per_day, baseline_days, ratio
FROM followup_days WHERE campaign_slug = ? ORDER BY day
"""

ACCUMULATION = """
SELECT day, date, presaves, cumulative, share_of_final, last_week_share
FROM presave_accumulation WHERE campaign_slug = ? ORDER BY day
"""

FORECAST = """
SELECT as_of_day, so_far, point, low, high, earlier_campaigns, actual, is_latest, note
FROM presave_forecast WHERE campaign_slug = ? ORDER BY as_of_day
"""

FUNNEL_BY_SERVICE = """
SELECT service, sum(visits) AS visits, sum(clicks) AS clicks, sum(authorize_starts) AS authorize_starts,
       sum(grants) AS grants, sum(denials) AS denials, sum(errors) AS errors, sum(delivered) AS delivered,
       sum(reminders) AS reminders, sum(grants) + sum(reminders) AS presaves, sum(reminder_clicks) AS reminder_clicks
FROM funnel_sources
WHERE campaign_slug = ? AND (? = '(all)' OR source = ?) AND date BETWEEN ? AND ?
GROUP BY service ORDER BY service = '(none)', service
"""

FUNNEL_BY_SOURCE = """
SELECT source, sum(visits) AS visits, sum(clicks) AS clicks, sum(authorize_starts) AS authorize_starts,
       sum(grants) AS grants, sum(denials) AS denials, sum(errors) AS errors, sum(delivered) AS delivered,
       sum(reminders) AS reminders, sum(grants) + sum(reminders) AS presaves, sum(reminder_clicks) AS reminder_clicks
FROM funnel_sources
WHERE campaign_slug = ? AND date BETWEEN ? AND ?
GROUP BY source ORDER BY visits DESC, source
"""

FUNNEL_SOURCES = "SELECT DISTINCT source FROM funnel_sources WHERE campaign_slug = ? ORDER BY source"

FUNNEL_DATES = "SELECT min(date) AS first, max(date) AS last FROM funnel_sources WHERE campaign_slug = ?"

FUNNEL_BROWSERS = """
SELECT in_app_browser, visitors, choosers, grants, rate, loss FROM funnel_browsers
WHERE campaign_slug = ? AND source = ? ORDER BY in_app_browser = '(none)' DESC, visitors DESC
"""

VELOCITY = "SELECT * FROM first_week_velocity WHERE campaign_slug = ? ORDER BY series"

LIFT_SERIES = "SELECT DISTINCT series FROM campaign_lift ORDER BY series"

ROSTER = """
SELECT campaign_slug, artist, release_date, series, presaves, first_week_streams, roster_fitted,
       roster_ratio, roster_ratio_low, roster_ratio_high, artist_lift, streams_per_follower
FROM campaign_lift WHERE series = ? ORDER BY presaves
"""

FOLLOWER_GAIN = "SELECT * FROM follower_gain WHERE campaign_slug = ?"

CONVERSION = """
SELECT source, service, visitors, grants, rate, low, high, reminders, service_visitors, presaves, presave_rate
FROM service_conversion
WHERE campaign_slug = ? ORDER BY source = '(all)' DESC, source, service
"""

COMPARISON = """
SELECT * FROM service_comparison WHERE campaign_slug = ? AND source = ? ORDER BY service_1, service_2
"""

OUTCOMES = "SELECT * FROM release_outcomes WHERE campaign_slug = ? ORDER BY service, kind"

GRANT_HEALTH = "SELECT * FROM token_health WHERE campaign_slug = ? ORDER BY service"

ACTION_SERVICES = "SELECT DISTINCT service FROM release_outcomes WHERE campaign_slug = ? ORDER BY service"

OUTCOMES_OVER_TIME = """
SELECT hour, outcome, sum(actions)::BIGINT AS actions
FROM release_hours WHERE campaign_slug = ? AND (? = '(all)' OR service = ?)
GROUP BY ALL ORDER BY hour, outcome
"""

TIME_TO_LIBRARY = """
SELECT service, log_bucket, actions
FROM release_waits WHERE campaign_slug = ? AND (? = '(all)' OR service = ?)
ORDER BY log_bucket, service
"""

UNDELIVERED_FANS = """
SELECT fan, service, kind, outcome, reason, attempts, due_at
FROM release_undelivered WHERE campaign_slug = ? AND (? = '(all)' OR service = ?)
ORDER BY outcome, service, fan LIMIT 1000
"""

UNDELIVERED_REASONS = """
SELECT outcome, reason, count(*) AS actions
FROM release_undelivered WHERE campaign_slug = ? AND (? = '(all)' OR service = ?)
GROUP BY ALL ORDER BY actions DESC
"""

LOADED_FILES = """
SELECT file_name, kind, rows, as_of, loaded_at, left(content_hash, 16) AS content_hash
FROM loaded_files ORDER BY loaded_at DESC, file_name
"""

QUARANTINED_FILES = """
SELECT file_name, reason, quarantined_at, left(content_hash, 16) AS content_hash
FROM quarantined_files ORDER BY quarantined_at DESC, file_name
"""

FRESHNESS = "SELECT * FROM source_freshness ORDER BY days_behind DESC NULLS FIRST, source"

PRESAVE_KINDS = "SELECT * FROM presave_kinds WHERE campaign_slug = ? ORDER BY service"

# released campaigns (or '(all)' of them): direct saves delivered beside reminder links followed
RELEASE_DAY_KINDS = (
    "SELECT * FROM release_day_kinds WHERE campaign_slug = ? ORDER BY service = 'all', service"
)

# campaigns whose development-mode Spotify app turned fans away (and to reminders)
SPOTIFY_CAPPED = """
SELECT campaign_slug, turned_away, reminders AS spotify_reminders, turned_away_since
FROM presave_kinds WHERE service = 'spotify' AND turned_away > 0 ORDER BY campaign_slug
"""

FOLLOWERS = """
SELECT date, origin, followers, service FROM campaign_followers WHERE campaign_slug = ? ORDER BY origin, date
"""

# A figure an origin never gave (Spotify development-mode apps lose followers and popularity) shows as
# empty with its status, never as 0 and never hidden.
LATEST_FOLLOWERS = """
SELECT service, origin,
       arg_max(followers, date) FILTER (WHERE followers IS NOT NULL) AS followers,
       arg_max(popularity, date) FILTER (WHERE popularity IS NOT NULL) AS popularity,
       CASE WHEN count(followers) = 0 THEN 'followers ' || coalesce(arg_max(followers_status, date), 'not available')
       END AS note,
       max(date) FILTER (WHERE followers IS NOT NULL) AS date
FROM campaign_followers WHERE campaign_slug = ? GROUP BY ALL ORDER BY service, origin
"""

FAILED_CHECKS = """
SELECT asset, check_name, description, detail, campaigns, checked_at
FROM mart_checks WHERE NOT passed ORDER BY asset, check_name
"""
MART_CHECKS = """
SELECT asset, check_name, passed, blocking, description, detail, campaigns, checked_at
FROM mart_checks ORDER BY passed, asset, check_name
"""
