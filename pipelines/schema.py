"""The warehouse's tables. Fans appear only under keyed hashes: no token, email or raw DSP user id."""

from __future__ import annotations

import duckdb

TABLES: dict[str, str] = {
    "campaigns": """
        slug VARCHAR PRIMARY KEY, artist VARCHAR NOT NULL, title VARCHAR NOT NULL, upc VARCHAR,
        release_at TIMESTAMPTZ NOT NULL, timezone VARCHAR NOT NULL, release_mode VARCHAR NOT NULL,
        services VARCHAR[] NOT NULL""",
    "landing_events": """
        event_id BIGINT PRIMARY KEY, campaign_slug VARCHAR NOT NULL, occurred_at TIMESTAMPTZ NOT NULL,
        kind VARCHAR NOT NULL, service VARCHAR, visitor_key VARCHAR, fan_key VARCHAR,
        utm_source VARCHAR, utm_medium VARCHAR, utm_campaign VARCHAR, referrer_domain VARCHAR,
        device_class VARCHAR, in_app_browser VARCHAR, country VARCHAR, ip_hash VARCHAR, detail VARCHAR""",
    "grants": """
        campaign_slug VARCHAR NOT NULL, service VARCHAR NOT NULL, fan_key VARCHAR NOT NULL,
        granted_at TIMESTAMPTZ NOT NULL, status VARCHAR NOT NULL, country VARCHAR,
        PRIMARY KEY (campaign_slug, service, fan_key)""",
    "owed_actions": """
        action_id BIGINT PRIMARY KEY, campaign_slug VARCHAR NOT NULL, fan_key VARCHAR NOT NULL,
        service VARCHAR NOT NULL, kind VARCHAR NOT NULL, target VARCHAR NOT NULL, due_at TIMESTAMPTZ NOT NULL,
        outcome VARCHAR NOT NULL, attempts INTEGER NOT NULL, done_at TIMESTAMPTZ, reason VARCHAR""",
    "s4a_audience_timeline": """
        artist VARCHAR NOT NULL, date DATE NOT NULL, listeners BIGINT, streams BIGINT, followers BIGINT,
        source_file VARCHAR NOT NULL, PRIMARY KEY (artist, date)""",
    "loaded_files": """
        content_hash VARCHAR PRIMARY KEY, file_name VARCHAR NOT NULL, kind VARCHAR NOT NULL,
        rows BIGINT NOT NULL, loaded_at TIMESTAMPTZ NOT NULL""",
    "presaves_daily": """
        campaign_slug VARCHAR NOT NULL, date DATE NOT NULL, days_to_release INTEGER NOT NULL,
        service VARCHAR NOT NULL, presaves BIGINT NOT NULL, cumulative BIGINT NOT NULL""",
    "first_week": """
        campaign_slug VARCHAR NOT NULL, artist VARCHAR NOT NULL, release_date DATE NOT NULL,
        day INTEGER NOT NULL, date DATE NOT NULL, streams BIGINT, listeners BIGINT,
        presaves BIGINT NOT NULL, streams_per_presaver DOUBLE, PRIMARY KEY (campaign_slug, day)""",
}


def ensure_schema(connection: duckdb.DuckDBPyConnection) -> None:
    for table, columns in TABLES.items():
        connection.execute(f"CREATE TABLE IF NOT EXISTS {table} ({columns})")


def column_names(connection: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [row[0] for row in connection.execute(f"DESCRIBE {table}").fetchall()]
