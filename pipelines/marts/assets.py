"""Marts: the campaign questions answered in SQL over the warehouse tables."""

import dagster as dg

from pipelines.resources import WarehouseResource

GROUP = "marts"

# Artist names in export file names lose punctuation and case; compare on letters and digits only.
ARTIST_KEY = "lower(regexp_replace({col}, '[^A-Za-z0-9]', '', 'g'))"

PRESAVES_DAILY = """
WITH daily AS (
    SELECT g.campaign_slug,
           (g.granted_at AT TIME ZONE c.timezone)::DATE AS date,
           (c.release_at AT TIME ZONE c.timezone)::DATE AS release_date,
           g.service,
           count(*) AS presaves
    FROM grants g JOIN campaigns c ON c.slug = g.campaign_slug
    WHERE g.granted_at < c.release_at
    GROUP BY ALL
)
SELECT campaign_slug, date, (date - release_date)::INTEGER AS days_to_release, service, presaves,
       sum(presaves) OVER (PARTITION BY campaign_slug, service ORDER BY date) AS cumulative
FROM daily
"""

FIRST_WEEK = f"""
WITH releases AS (
    SELECT slug, artist, {ARTIST_KEY.format(col="artist")} AS artist_key,
           (release_at AT TIME ZONE timezone)::DATE AS release_date
    FROM campaigns
),
presaves AS (
    SELECT g.campaign_slug, count(*) AS presaves
    FROM grants g JOIN campaigns c ON c.slug = g.campaign_slug
    WHERE g.granted_at < c.release_at
    GROUP BY ALL
),
timeline AS (
    SELECT {ARTIST_KEY.format(col="artist")} AS artist_key, date, streams, listeners FROM s4a_audience_timeline
),
days AS (
    SELECT r.*, d.day::INTEGER AS day, r.release_date + d.day::INTEGER AS date
    FROM releases r CROSS JOIN range(7) AS d(day)
)
SELECT d.slug AS campaign_slug, d.artist, d.release_date, d.day, d.date,
       t.streams, t.listeners, coalesce(p.presaves, 0) AS presaves,
       t.streams / nullif(p.presaves, 0) AS streams_per_presaver
FROM days d
LEFT JOIN timeline t ON t.artist_key = d.artist_key AND t.date = d.date
LEFT JOIN presaves p ON p.campaign_slug = d.slug
WHERE EXISTS (
    SELECT 1 FROM timeline x
    WHERE x.artist_key = d.artist_key AND x.date BETWEEN d.release_date AND d.release_date + 6
)
"""


def _rebuild(warehouse: WarehouseResource, table: str, query: str) -> dg.MaterializeResult:
    store = warehouse.warehouse()
    with store.writer() as connection:
        connection.execute("BEGIN")
        connection.execute(f"DELETE FROM {table}")
        connection.execute(f"INSERT INTO {table} BY NAME {query}")
        connection.execute("COMMIT")
        rows = connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index]
    return dg.MaterializeResult(metadata={"dagster/row_count": rows})


@dg.asset(group_name=GROUP, kinds={"duckdb"}, deps=["grants", "campaigns"])
def presaves_daily(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Pre-saves per campaign, service and local day before release, with the running total and the
    day's distance from release day (negative before it)."""
    return _rebuild(warehouse, "presaves_daily", PRESAVES_DAILY)


@dg.asset(group_name=GROUP, kinds={"duckdb"}, deps=["grants", "campaigns", "s4a_audience_timeline"])
def first_week(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Each campaign's first week (D0 = release day in the campaign's time zone to D6): the artist's
    daily streams and listeners from Spotify for Artists beside the campaign's pre-save count, and
    streams per pre-saver. Campaigns without export days in their first week have no rows."""
    return _rebuild(warehouse, "first_week", FIRST_WEEK)


@dg.asset_check(asset=first_week, description="At most seven days per campaign, numbered 0 to 6.")
def first_week_has_days_zero_to_six(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.warehouse().reader() as connection:
        bad = connection.execute(
            "SELECT campaign_slug FROM first_week GROUP BY 1 HAVING count(*) > 7 OR min(day) < 0 OR max(day) > 6"
        ).fetchall()
    return dg.AssetCheckResult(passed=not bad, metadata={"campaigns_out_of_range": len(bad)})


@dg.asset_check(asset=presaves_daily, description="Every pre-save day lies before its release day.")
def presaves_before_release(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.warehouse().reader() as connection:
        late = connection.execute("SELECT count(*) FROM presaves_daily WHERE days_to_release > 0").fetchone()[
            0
        ]  # type: ignore[index]
    return dg.AssetCheckResult(passed=late == 0, metadata={"rows_after_release": late})


assets = [presaves_daily, first_week]
asset_checks = [first_week_has_days_zero_to_six, presaves_before_release]
