"""SQL over the warehouse snapshot: the only data the dashboard sees."""

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
            return connection.execute(sql, params or []).df()


CAMPAIGNS = """
SELECT c.slug, c.artist, c.title, c.release_at, c.timezone,
       coalesce(g.presaves, 0) AS presaves,
       fw.first_week_streams
FROM campaigns c
LEFT JOIN (
    SELECT g.campaign_slug, count(*) AS presaves
    FROM grants g JOIN campaigns c2 ON c2.slug = g.campaign_slug
    WHERE g.granted_at < c2.release_at GROUP BY 1
) g ON g.campaign_slug = c.slug
LEFT JOIN (SELECT campaign_slug, sum(streams) AS first_week_streams FROM first_week GROUP BY 1) fw
       ON fw.campaign_slug = c.slug
ORDER BY c.release_at DESC
"""

PRESAVES_DAILY = """
SELECT date, days_to_release, service, presaves, cumulative
FROM presaves_daily WHERE campaign_slug = ? ORDER BY date, service
"""

FIRST_WEEK = """
SELECT day, date, streams, listeners, presaves, streams_per_presaver
FROM first_week WHERE campaign_slug = ? ORDER BY day
"""


def campaigns(reader: WarehouseReader) -> pd.DataFrame:
    return reader.query(CAMPAIGNS)


def presaves_daily(reader: WarehouseReader, slug: str) -> pd.DataFrame:
    return reader.query(PRESAVES_DAILY, [slug])


def first_week(reader: WarehouseReader, slug: str) -> pd.DataFrame:
    return reader.query(FIRST_WEEK, [slug])
