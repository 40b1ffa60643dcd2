"""The warehouse's tables, declared once: their columns, their key and what a row is.

Fans appear only under keyed hashes: no token, email or raw service user id. Adding a column is one line
here (an operational copy selects the model's column of the same name: `pipelines/operational/extract.py`
names the others' sources): `ensure_schema` adds columns a table lacks to an existing warehouse, so no
rebuild is needed.

Keys are declared, not enforced by DuckDB indexes (an index over tens of millions of export rows costs
more memory than the loads themselves): loaders merge on them and asset checks prove them unique and
not null.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[str, ...]  # "name TYPE [NOT NULL]"
    key: tuple[str, ...]
    grain: str

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.split()[0] for c in self.columns)

    def ddl(self) -> str:
        return f"CREATE TABLE IF NOT EXISTS {self.name} ({', '.join(self.columns)})"


_SOURCE = ("source_file VARCHAR NOT NULL", "source_hash VARCHAR NOT NULL")
# the landing funnel's steps, counted in funnel_daily and summed over countries in funnel_sources: the
# direct save's (grants, delivered), then the reminder's (sign-ups, fans who followed the release-day link)
FUNNEL_STEPS = (
    "visits", "clicks", "authorize_starts", "grants", "denials", "errors", "delivered", "reminders", "reminder_clicks",
)  # fmt: skip
_FUNNEL_COUNTS = tuple(f"{step} BIGINT NOT NULL" for step in FUNNEL_STEPS)

OPERATIONAL = (
    Table(
        "campaigns",
        (
            "slug VARCHAR NOT NULL",
            "artist VARCHAR NOT NULL",
            "title VARCHAR NOT NULL",
            "upc VARCHAR",
            "release_at TIMESTAMPTZ NOT NULL",
            "timezone VARCHAR NOT NULL",
            "release_mode VARCHAR NOT NULL",
            "services VARCHAR[] NOT NULL",
            "spotify_artist_id VARCHAR",
            "deezer_artist_id VARCHAR",
        ),
        ("slug",),
        "one campaign",
    ),
    Table(
        "landing_events",
        (
            "event_id BIGINT NOT NULL",
            "campaign_slug VARCHAR NOT NULL",
            "occurred_at TIMESTAMPTZ NOT NULL",
            "kind VARCHAR NOT NULL",
            "service VARCHAR",
            "visitor_key VARCHAR",
            "fan_key VARCHAR",
            "utm_source VARCHAR",
            "utm_medium VARCHAR",
            "utm_campaign VARCHAR",
            "referrer_domain VARCHAR",
            "device_class VARCHAR",
            "in_app_browser VARCHAR",
            "country VARCHAR",
            "ip_hash VARCHAR",
            "detail VARCHAR",
        ),
        ("event_id",),
        "one landing-page event",
    ),
    Table(
        "grants",
        (
            "campaign_slug VARCHAR NOT NULL",
            "service VARCHAR NOT NULL",
            "fan_key VARCHAR NOT NULL",
            "granted_at TIMESTAMPTZ NOT NULL",
            "status VARCHAR NOT NULL",
            "country VARCHAR",
        ),
        ("campaign_slug", "service", "fan_key"),
        "one fan's grant of one service for one campaign",
    ),
    Table(
        "owed_actions",
        (
            "action_id BIGINT NOT NULL",
            "campaign_slug VARCHAR NOT NULL",
            "fan_key VARCHAR NOT NULL",
            "service VARCHAR NOT NULL",
            "kind VARCHAR NOT NULL",
            "target VARCHAR NOT NULL",
            "due_at TIMESTAMPTZ NOT NULL",
            "outcome VARCHAR NOT NULL",
            "attempts INTEGER NOT NULL",
            "done_at TIMESTAMPTZ",
            "reason VARCHAR",
        ),
        ("action_id",),
        "one owed library action (the release-day ledger)",
    ),
    Table(
        "reminders",
        (
            "campaign_slug VARCHAR NOT NULL",
            "service VARCHAR NOT NULL",
            "fan_key VARCHAR NOT NULL",
            "signed_up_at TIMESTAMPTZ NOT NULL",
            "reason VARCHAR NOT NULL",
        ),
        ("campaign_slug", "service", "fan_key"),
        "one fan's reminder pre-save on one service for one campaign (emailed a link on release day)",
    ),
)

EXPORTS = (
    Table(
        "s4a_audience_timeline",
        (
            "artist VARCHAR NOT NULL",
            "date DATE NOT NULL",
            "listeners BIGINT",
            "streams BIGINT",
            "followers BIGINT",
            "playlist_adds BIGINT",
            "saves BIGINT",
            *_SOURCE,
        ),
        ("artist", "date"),
        "Spotify for Artists: one artist-day",
    ),
    Table(
        "s4a_songs",
        (
            "artist VARCHAR NOT NULL",
            "time_window VARCHAR NOT NULL",
            "song VARCHAR NOT NULL",
            "listeners BIGINT",
            "streams BIGINT",
            "saves BIGINT",
            "release_date DATE",
            "as_of DATE NOT NULL",
            *_SOURCE,
        ),
        ("artist", "time_window", "song"),
        "Spotify for Artists: one song's totals over a window",
    ),
    Table(
        "s4a_song_timeline",
        ("artist VARCHAR", "song VARCHAR NOT NULL", "date DATE NOT NULL", "streams BIGINT", *_SOURCE),
        ("artist", "song", "date"),
        "Spotify for Artists: one song-day",
    ),
    Table(
        "amfa_songs",
        (
            "artist VARCHAR",
            "song VARCHAR NOT NULL",
            "album VARCHAR",
            "plays BIGINT",
            "listeners BIGINT",
            "avg_daily_listeners DOUBLE",
            "shazams BIGINT",
            "radio_spins BIGINT",
            "purchases BIGINT",
            "as_of DATE NOT NULL",
            *_SOURCE,
        ),
        ("artist", "song", "album"),
        "Apple Music for Artists: one song's totals",
    ),
    Table(
        "amfa_daily_plays",
        (
            "artist VARCHAR",
            "date DATE NOT NULL",
            "song VARCHAR NOT NULL",
            "album VARCHAR",
            "plays BIGINT",
            *_SOURCE,
        ),
        ("artist", "song", "album", "date"),
        "Apple Music for Artists: one song-day",
    ),
    Table(
        "amfa_listeners",
        ("artist VARCHAR", "date DATE NOT NULL", "listeners BIGINT", *_SOURCE),
        ("artist", "date"),
        "Apple Music for Artists: one artist-day",
    ),
    Table(
        "distrokid_bank",
        (
            "reporting_date DATE NOT NULL",
            "sale_month DATE NOT NULL",
            "store VARCHAR NOT NULL",
            "artist VARCHAR",
            "title VARCHAR",
            "isrc VARCHAR",
            "upc VARCHAR",
            "country VARCHAR",
            "source_type VARCHAR",
            "quantity BIGINT",
            "team_percentage DOUBLE",
            "songwriter_royalties_withheld_usd DOUBLE",
            "earnings_usd DOUBLE NOT NULL",
            "recoup_usd DOUBLE",
            "report_rows BIGINT NOT NULL",
            *_SOURCE,
        ),
        ("reporting_date", "sale_month", "store", "isrc", "upc", "country", "source_type"),
        "DistroKid bank: one store × track × country × sale month, as reported on one date (rows summed)",
    ),
    Table(
        "presave_fans",
        (
            "campaign VARCHAR NOT NULL",
            "presaved_on DATE NOT NULL",
            "presaved_at TIMESTAMP NOT NULL",
            "service VARCHAR NOT NULL",
            "country VARCHAR",
            "source VARCHAR",
            "opted_in BOOLEAN",
            "fan_key VARCHAR",
            *_SOURCE,
        ),
        ("campaign", "presaved_on", "service", "fan_key", "presaved_at"),
        "a pre-save made with another tool (one fan, one service); merged per campaign and day",
    ),
    Table(
        "loaded_files",
        (
            "content_hash VARCHAR NOT NULL",
            "file_name VARCHAR NOT NULL",
            "kind VARCHAR NOT NULL",
            "rows BIGINT NOT NULL",
            "as_of DATE",
            "variant VARCHAR",
            "encoding VARCHAR",
            "loaded_at TIMESTAMPTZ NOT NULL",
        ),
        ("content_hash",),
        "one export file loaded (by content)",
    ),
)

SNAPSHOTS = (
    Table(
        "artist_snapshots",
        (
            "snapshot_date DATE NOT NULL",
            "service VARCHAR NOT NULL",
            "artist_id VARCHAR NOT NULL",
            "artist_name VARCHAR",
            "followers BIGINT",
            "popularity INTEGER",
            "followers_status VARCHAR NOT NULL",
            "popularity_status VARCHAR NOT NULL",
            "fetched_at TIMESTAMPTZ NOT NULL",
        ),
        ("service", "artist_id", "snapshot_date"),
        "one artist's follower count and popularity on one service, one day",
    ),
)

# Counts the assets beside the marts take from the operational store (no fan key), written whole each run.
COUNTS = (
    Table(
        "presave_origins",
        (
            "campaign_slug VARCHAR NOT NULL",
            "service VARCHAR NOT NULL",
            "one_time BIGINT NOT NULL",
            "future BIGINT NOT NULL",
        ),
        ("campaign_slug", "service"),
        "one campaign's pre-saves on one service: one-time and carried over by a future-save opt-in",
    ),
    Table(
        "followup_days",
        (
            "campaign_slug VARCHAR NOT NULL",
            "day DATE NOT NULL",
            "presaves BIGINT NOT NULL",
            "baseline_per_day DOUBLE",
            "baseline_days BIGINT NOT NULL",
            "ratio DOUBLE",
        ),
        ("campaign_slug", "day"),
        "one follow-up day of a campaign: its pre-saves against the campaign's baseline",
    ),
)

_PER_DAY = tuple(f"d{d}_streams DOUBLE" for d in range(7)) + tuple(f"d{d}_listeners DOUBLE" for d in range(7))

MARTS = (
    Table(
        "campaign_followers",
        (
            "campaign_slug VARCHAR NOT NULL",
            "date DATE NOT NULL",
            "service VARCHAR NOT NULL",
            "origin VARCHAR NOT NULL",
            "followers BIGINT",
            "popularity INTEGER",
            "followers_status VARCHAR",  # 'available', 'not available' (NULL followers), 'error: …'
            "popularity_status VARCHAR",
        ),
        ("campaign_slug", "origin", "date"),
        "the campaign artist's followers on one service, one day, from one origin (export or API)",
    ),
    Table(
        "quarantined_files",
        (
            "content_hash VARCHAR NOT NULL",
            "file_name VARCHAR NOT NULL",
            "reason VARCHAR NOT NULL",
            "quarantined_at TIMESTAMPTZ NOT NULL",
        ),
        ("content_hash", "quarantined_at"),
        "one export file refused by ingest (moved to the quarantine folder) and why",
    ),
    Table(
        "release_actions",
        (
            "campaign_slug VARCHAR NOT NULL",
            "service VARCHAR NOT NULL",
            "kind VARCHAR NOT NULL",
            "outcome VARCHAR NOT NULL",
            "outcome_label VARCHAR",  # the outcome as reports name it ("ignored by the service")
            "fan VARCHAR NOT NULL",
            "due_at TIMESTAMPTZ NOT NULL",
            "done_at TIMESTAMPTZ",
            "seconds_to_library DOUBLE",
            "attempts INTEGER NOT NULL",
            "reason VARCHAR",
        ),
        ("campaign_slug", "service", "kind", "fan", "due_at"),
        "one owed action, its fan as a short keyed hash, its outcome and time to library",
    ),
    Table(
        "release_hours",
        (
            "campaign_slug VARCHAR NOT NULL",
            "service VARCHAR NOT NULL",
            "hour TIMESTAMPTZ NOT NULL",
            "outcome VARCHAR NOT NULL",
            "actions BIGINT NOT NULL",
        ),
        ("campaign_slug", "service", "hour", "outcome"),
        "owed actions of one campaign and service with one outcome in one hour (UTC; done, else due)",
    ),
    Table(
        "release_waits",
        (
            "campaign_slug VARCHAR NOT NULL",
            "service VARCHAR NOT NULL",
            "log_bucket DOUBLE NOT NULL",
            "actions BIGINT NOT NULL",
        ),
        ("campaign_slug", "service", "log_bucket"),
        "delivered actions of one campaign and service whose time to library (log10 seconds) falls in one "
        "quarter-decade bucket",
    ),
    Table(
        "release_undelivered",
        (
            "campaign_slug VARCHAR NOT NULL",
            "service VARCHAR NOT NULL",
            "kind VARCHAR NOT NULL",
            "outcome VARCHAR NOT NULL",
            "fan VARCHAR NOT NULL",
            "due_at TIMESTAMPTZ NOT NULL",
            "attempts INTEGER NOT NULL",
            "reason VARCHAR NOT NULL",
        ),
        ("campaign_slug", "service", "kind", "fan", "due_at"),
        "one owed action that failed or was undeliverable: its fan as a short keyed hash and the reason",
    ),
    Table(
        "funnel_browsers",
        (
            "campaign_slug VARCHAR NOT NULL",
            "source VARCHAR NOT NULL",
            "in_app_browser VARCHAR NOT NULL",
            "visitors BIGINT NOT NULL",
            "choosers BIGINT NOT NULL",
            "grants BIGINT NOT NULL",
            "rate DOUBLE",
            "loss DOUBLE",
        ),
        ("campaign_slug", "source", "in_app_browser"),
        "landing visitors per campaign, first source and in-app browser, with the in-app loss",
    ),
    Table(
        "source_freshness",
        (
            "source VARCHAR NOT NULL",
            "files BIGINT",
            "rows BIGINT NOT NULL",
            "data_until DATE",
            "updated_at TIMESTAMPTZ",
            "days_behind BIGINT",
        ),
        ("source",),
        "one source of the warehouse and how fresh its data is",
    ),
    Table(
        "campaign_releases",
        (
            "campaign_slug VARCHAR NOT NULL",
            "artist VARCHAR NOT NULL",
            "title VARCHAR NOT NULL",
            "origin VARCHAR NOT NULL",
            "release_at TIMESTAMPTZ NOT NULL",
            "release_date DATE NOT NULL",
            "timezone VARCHAR NOT NULL",
            "spotify_artist_id VARCHAR",
            "deezer_artist_id VARCHAR",
            "first_stream_date DATE",  # release day in the exports' calendar (UTC): D0 of streams and followers
        ),
        ("campaign_slug",),
        "one campaign, run here (native) or with another tool (imported)",
    ),
    Table(
        "presaves",
        (
            "campaign_slug VARCHAR NOT NULL",
            "origin VARCHAR NOT NULL",
            "service VARCHAR NOT NULL",
            "fan_key VARCHAR",
            "presaved_at TIMESTAMPTZ NOT NULL",
            "presaved_on DATE NOT NULL",
            "days_to_release INTEGER NOT NULL",
            "country VARCHAR",
            "source VARCHAR",
        ),
        ("campaign_slug", "service", "fan_key", "presaved_at"),
        "one pre-save before release: a native grant or an imported fan",
    ),
    Table(
        "presaves_daily",
        (
            "campaign_slug VARCHAR NOT NULL",
            "date DATE NOT NULL",
            "days_to_release INTEGER NOT NULL",
            "service VARCHAR NOT NULL",
            "presaves BIGINT NOT NULL",
            "cumulative BIGINT NOT NULL",
        ),
        ("campaign_slug", "date", "service"),
        "pre-saves per campaign, service and local day",
    ),
    Table(
        "presaves_by_country",
        (
            "campaign_slug VARCHAR NOT NULL",
            "country VARCHAR NOT NULL",
            "service VARCHAR NOT NULL",
            "presaves BIGINT NOT NULL",
            "share DOUBLE NOT NULL",
        ),
        ("campaign_slug", "country", "service"),
        "pre-saves per campaign, country and service",
    ),
    Table(
        "funnel_daily",
        (
            "campaign_slug VARCHAR NOT NULL",
            "date DATE NOT NULL",
            "service VARCHAR NOT NULL",
            "source VARCHAR NOT NULL",
            "country VARCHAR NOT NULL",
            *_FUNNEL_COUNTS,
        ),
        ("campaign_slug", "date", "service", "source", "country"),
        "landing funnel per campaign, local day, service, traffic source and country",
    ),
    Table(
        "funnel_sources",
        (
            "campaign_slug VARCHAR NOT NULL",
            "date DATE NOT NULL",
            "service VARCHAR NOT NULL",
            "source VARCHAR NOT NULL",
            *_FUNNEL_COUNTS,
        ),
        ("campaign_slug", "date", "service", "source"),
        "landing funnel per campaign, local day, service and traffic source (all countries)",
    ),
    Table(
        "presave_accumulation",
        (
            "campaign_slug VARCHAR NOT NULL",
            "day INTEGER NOT NULL",
            "date DATE NOT NULL",
            "presaves BIGINT NOT NULL",
            "cumulative BIGINT NOT NULL",
            "share_of_final DOUBLE",
            "last_week_share DOUBLE",
        ),
        ("campaign_slug", "day"),
        "cumulative pre-saves per campaign and day relative to release (D-28 … D0)",
    ),
    Table(
        "presave_forecast",
        (
            "campaign_slug VARCHAR NOT NULL",
            "as_of_day INTEGER NOT NULL",
            "so_far BIGINT NOT NULL",
            "point DOUBLE",
            "low DOUBLE",
            "high DOUBLE",
            "earlier_campaigns INTEGER NOT NULL",
            "actual BIGINT",
            "is_latest BOOLEAN NOT NULL",
            "note VARCHAR",
            "caveat VARCHAR",  # beside a forecast: earlier campaigns left out, a lower bound raised to so far
        ),
        ("campaign_slug", "as_of_day"),
        "the release-day pre-save forecast made at one relative day, from earlier campaigns' curves",
    ),
    Table(
        "service_conversion",
        (
            "campaign_slug VARCHAR NOT NULL",
            "source VARCHAR NOT NULL",
            "service VARCHAR NOT NULL",
            "visitors BIGINT NOT NULL",
            "grants BIGINT NOT NULL",
            "rate DOUBLE",
            "low DOUBLE",
            "high DOUBLE",
            "reminders BIGINT NOT NULL",  # visitors who took a reminder for the service (not in `grants`)
            "service_visitors BIGINT NOT NULL",  # chose the service by its button or by its reminder
            "presaves BIGINT NOT NULL",  # grants + reminders: every kind of pre-save
            "presave_rate DOUBLE",  # presaves / service_visitors
        ),
        ("campaign_slug", "source", "service"),
        "visit-to-grant conversion with its Wilson 95% interval, per campaign (or all) and source (or all)",
    ),
    Table(
        "service_comparison",
        (
            "campaign_slug VARCHAR NOT NULL",
            "source VARCHAR NOT NULL",
            "service_1 VARCHAR NOT NULL",
            "service_2 VARCHAR NOT NULL",
            "rate_1 DOUBLE",
            "rate_2 DOUBLE",
            "difference DOUBLE",
            "low DOUBLE",
            "high DOUBLE",
            "z DOUBLE",
            "p_value DOUBLE",
            "p_holm DOUBLE",
            "comparisons INTEGER",
            "verdict VARCHAR",
        ),
        ("campaign_slug", "source", "service_1", "service_2"),
        "two services' conversion compared: difference, Newcombe 95% interval, pooled z-test, Holm",
    ),
    Table(
        "first_week",
        (
            "campaign_slug VARCHAR NOT NULL",
            "artist VARCHAR NOT NULL",
            "release_date DATE NOT NULL",
            "day INTEGER NOT NULL",
            "date DATE NOT NULL",
            "streams BIGINT",
            "listeners BIGINT",
            "presaves BIGINT NOT NULL",
        ),
        ("campaign_slug", "day"),
        "the artist's Spotify streams and listeners on each day D0 … D6 of a campaign's first week",
    ),
    Table(
        "first_week_velocity",
        (
            "campaign_slug VARCHAR NOT NULL",
            "series VARCHAR NOT NULL",
            "release_date DATE NOT NULL",
            "presavers BIGINT NOT NULL",
            *_PER_DAY,
            "first_24h_streams DOUBLE",
            "first_72h_streams DOUBLE",
            "week1_streams DOUBLE",
            "week2_streams DOUBLE",
            "day1_share DOUBLE",
            "streams_per_presaver DOUBLE",
            "retention DOUBLE",
        ),
        ("campaign_slug", "series"),
        "first-week velocity of one campaign in one stream series (spotify_artist, spotify_song, apple_song)",
    ),
    Table(
        "campaign_lift",
        (
            "campaign_slug VARCHAR NOT NULL",
            "series VARCHAR NOT NULL",
            "artist VARCHAR NOT NULL",
            "title VARCHAR",
            "release_date DATE NOT NULL",
            "presaves BIGINT NOT NULL",
            "first_week_streams DOUBLE NOT NULL",
            "own_follows BIGINT",
            "followers_at_release DOUBLE",
            "streams_per_follower DOUBLE",
            "baseline_per_follower DOUBLE",
            "earlier_releases INTEGER NOT NULL",
            "artist_lift DOUBLE",
            "artist_lift_low DOUBLE",
            "artist_lift_high DOUBLE",
            "roster_fitted DOUBLE",
            "roster_residual DOUBLE",
            "roster_residual_low DOUBLE",
            "roster_residual_high DOUBLE",
            "roster_ratio DOUBLE",
            "roster_ratio_low DOUBLE",
            "roster_ratio_high DOUBLE",
            "roster_slope DOUBLE",
            "roster_slope_low DOUBLE",
            "roster_slope_high DOUBLE",
            "roster_r_squared DOUBLE",
            "roster_campaigns INTEGER NOT NULL",
            "artist_lift_verdict VARCHAR",
            "roster_expected DOUBLE",
            "roster_verdict VARCHAR",
        ),
        ("campaign_slug", "series"),
        "one campaign's first week against the artist's earlier releases and against the roster's line",
    ),
    Table(
        "follower_gain",
        (
            "campaign_slug VARCHAR NOT NULL",
            "service VARCHAR NOT NULL",
            "artist VARCHAR NOT NULL",
            "window_start DATE NOT NULL",
            "release_date DATE NOT NULL",
            "followers_source VARCHAR NOT NULL",
            "followers_start BIGINT",
            "followers_end BIGINT",
            "total_gain BIGINT",
            "presave_follows BIGINT NOT NULL",
            "follows_from VARCHAR NOT NULL",
            "organic_gain BIGINT",
            "baseline_daily_gain DOUBLE",
            "expected_organic_gain DOUBLE",
            "presave_share DOUBLE",
            "window_end DATE",  # the last day counted: release day, or the follower series' last day before it
            "note VARCHAR",  # says so when the series stops before release day
        ),
        ("campaign_slug", "service"),
        "follower gain on one service over the pre-save window (D-28 … D0, or from the first pre-save "
        "follow): pre-save follows and organic",
    ),
    Table(
        "release_outcomes",
        (
            "campaign_slug VARCHAR NOT NULL",
            "service VARCHAR NOT NULL",
            "kind VARCHAR NOT NULL",
            "planned BIGINT NOT NULL",
            "delivered BIGINT NOT NULL",
            "queued BIGINT NOT NULL",
            "pending_source BIGINT NOT NULL",
            "undeliverable BIGINT NOT NULL",
            "failed BIGINT NOT NULL",
            "ignored BIGINT",  # nullable: added to older warehouses
            "delivered_share DOUBLE",
            "median_seconds_to_library DOUBLE",
            "p90_seconds_to_library DOUBLE",
            "max_seconds_to_library DOUBLE",
        ),
        ("campaign_slug", "service", "kind"),
        "owed actions by outcome per campaign, service and kind, with the time from due moment to library",
    ),
    Table(
        "token_health",
        (
            "campaign_slug VARCHAR NOT NULL",
            "service VARCHAR NOT NULL",
            "due_at TIMESTAMPTZ NOT NULL",
            "grants BIGINT NOT NULL",
            "active BIGINT NOT NULL",
            "expired BIGINT NOT NULL",
            "revoked BIGINT NOT NULL",
            "expiring_before_due BIGINT NOT NULL",
            "earliest_expiry TIMESTAMPTZ",
        ),
        ("campaign_slug", "service"),
        "grants per campaign and service by status, and those whose token dies before the release moment",
    ),
    Table(
        "authenticity_scores",
        (
            "campaign_slug VARCHAR NOT NULL",
            "grants BIGINT NOT NULL",
            "score DOUBLE",
            "reasons VARCHAR NOT NULL",
            "ip_burst_grants DOUBLE NOT NULL",
            "device_burst_grants DOUBLE NOT NULL",
            "no_time_on_page_grants DOUBLE NOT NULL",
            "foreign_country_grants DOUBLE NOT NULL",
            "audience_excess DOUBLE NOT NULL",
            "audience_size DOUBLE",
            "audience_source VARCHAR",
            "status VARCHAR",
            "not_checked VARCHAR",
            "signs_checked INTEGER",  # of the five signs; 'no warning sign' only when all five were
        ),
        ("campaign_slug",),
        "one campaign's warning signs of inflated pre-saves and its score (1 = no sign)",
    ),
    Table(
        "campaign_overview",
        (
            "campaign_slug VARCHAR NOT NULL",
            "artist VARCHAR NOT NULL",
            "title VARCHAR NOT NULL",
            "origin VARCHAR NOT NULL",
            "release_at TIMESTAMPTZ NOT NULL",
            "presaves BIGINT NOT NULL",
            "spotify_presaves BIGINT NOT NULL",
            "apple_presaves BIGINT NOT NULL",
            "deezer_presaves BIGINT NOT NULL",
            "last_week_share DOUBLE",
            "delivered BIGINT NOT NULL",
            "first_week_streams DOUBLE",
            "streams_per_presaver DOUBLE",
            "artist_lift DOUBLE",
            "roster_ratio DOUBLE",
            "forecast_point DOUBLE",
            "forecast_low DOUBLE",
            "forecast_high DOUBLE",
            "authenticity_score DOUBLE",
            "artist_first_week_streams DOUBLE",
            "first_72h_streams DOUBLE",
            "retention DOUBLE",
            "artist_lift_low DOUBLE",
            "artist_lift_high DOUBLE",
            "artist_lift_verdict VARCHAR",
            "roster_ratio_low DOUBLE",
            "roster_ratio_high DOUBLE",
            "roster_verdict VARCHAR",
            "forecast_note VARCHAR",
            "authenticity_status VARCHAR",
            "authenticity_not_checked VARCHAR",
            "forecast_caveat VARCHAR",
            "reminders BIGINT NOT NULL",  # reminder pre-saves, beside `presaves` (direct)
        ),
        ("campaign_slug",),
        "one campaign's headline figures (each defined in `figure_glossary`)",
    ),
    Table(
        "figure_glossary",
        (
            "figure VARCHAR NOT NULL",
            "position INTEGER NOT NULL",
            "label VARCHAR NOT NULL",
            "unit VARCHAR NOT NULL",
            "definition VARCHAR NOT NULL",
            "help VARCHAR NOT NULL",
            "mart VARCHAR NOT NULL",
            "column_name VARCHAR NOT NULL",
            "series VARCHAR",
            "display VARCHAR NOT NULL",
        ),
        ("figure",),
        "one headline figure: its label, unit, definition, help text and the mart column it lives in",
    ),
    Table(
        "presave_kinds",
        (
            "campaign_slug VARCHAR NOT NULL",
            "service VARCHAR NOT NULL",
            "direct BIGINT NOT NULL",
            "reminders BIGINT NOT NULL",
            "total BIGINT NOT NULL",
            "direct_delivered BIGINT NOT NULL",
            "reminder_clicks BIGINT NOT NULL",
            "reminder_click_rate DOUBLE",
            "turned_away BIGINT NOT NULL",
            "turned_away_since TIMESTAMPTZ",
        ),
        ("campaign_slug", "service"),
        "pre-saves of one campaign on one service ('all': every service), direct and reminder apart",
    ),
    Table(
        "release_day_kinds",
        (
            "campaign_slug VARCHAR NOT NULL",
            "service VARCHAR NOT NULL",
            "direct BIGINT NOT NULL",
            "direct_delivered BIGINT NOT NULL",
            "delivered_share DOUBLE",
            "delivered_low DOUBLE",
            "delivered_high DOUBLE",
            "reminders BIGINT NOT NULL",
            "reminder_clicks BIGINT NOT NULL",
            "click_share DOUBLE",
            "click_low DOUBLE",
            "click_high DOUBLE",
        ),
        ("campaign_slug", "service"),
        "one released campaign's (or all released campaigns') direct saves delivered and reminder links "
        "followed, per service ('all': every service)",
    ),
)

CHECKS = (
    Table(
        "mart_checks",
        (
            "asset VARCHAR NOT NULL",  # the mart (or table) checked
            "check_name VARCHAR NOT NULL",
            "passed BOOLEAN NOT NULL",
            "blocking BOOLEAN NOT NULL",
            "description VARCHAR NOT NULL",  # the rule, in words
            "detail VARCHAR NOT NULL",  # what broke it ('' when passed)
            "campaigns VARCHAR[] NOT NULL",  # campaigns whose rows break it (empty: none to name)
            "checked_at TIMESTAMPTZ NOT NULL",
        ),
        ("asset", "check_name"),
        "one asset check's latest result",
    ),
)

TABLES: dict[str, Table] = {t.name: t for t in (*OPERATIONAL, *EXPORTS, *SNAPSHOTS, *COUNTS, *MARTS, *CHECKS)}


def ensure_schema(connection: duckdb.DuckDBPyConnection) -> None:
    """Create missing tables; add columns an older warehouse's tables lack (nullable, so rows survive), and
    let a column declared nullable since hold nulls."""
    existing = {
        (table, column)
        for table, column in connection.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'main'"
        ).fetchall()
    }
    required = {
        (table, column)
        for table, column in connection.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'main' AND is_nullable = 'NO'"
        ).fetchall()
    }
    present = {table for table, _ in existing}
    for table in TABLES.values():
        if table.name not in present:
            connection.execute(table.ddl())
            continue
        for column in table.columns:
            name, kind = column.split()[:2]
            if (table.name, name) not in existing:
                connection.execute(f"ALTER TABLE {table.name} ADD COLUMN {name} {kind}")
            elif (table.name, name) in required and "NOT NULL" not in column:
                connection.execute(f"ALTER TABLE {table.name} ALTER COLUMN {name} DROP NOT NULL")


def column_names(connection: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [row[0] for row in connection.execute(f"DESCRIBE {table}").fetchall()]
