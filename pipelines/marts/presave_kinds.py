"""Direct saves and reminder pre-saves, apart and in total, per campaign and service.

`direct`: grants the label's app saves for (the warehouse's `grants`: accepted tokens, accounts the app
may act for); `direct_delivered`: those fans whose release save was delivered. `reminders`: reminder
pre-saves (an email and a service, a link on release day); `reminder_clicks`: reminder fans who followed
their release-day link (the tracked redirect), and `reminder_click_rate` = clicks / reminders.
`turned_away`: fans a development-mode Spotify app refused after they authorized, the first at
`turned_away_since`. The `all` row sums the services of a campaign.

`release_day_kinds` sets the two kinds side by side once a campaign is released, for the analyst: of the
direct pre-savers, the share whose save was delivered (the release is in their library); of the reminder
fans, the share who followed their release-day link (they opened the release). Each with its counts and
Wilson 95% interval, per released campaign and over all of them (`(all)`), per service and `all`. They
are different acts (a save needs nothing of the fan; a click needs the fan to act), so this is a
description of what each kind achieved on release day, not a test between them; neither is a stream.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from pipelines.analysis.proportions import RateColumns, conversion_rates
from pipelines.marts.mart import Mart, frame

TURNED_AWAY = "presave:user_not_registered"

PRESAVE_KINDS = f"""
WITH direct AS (
    SELECT campaign_slug, service, count(*) AS direct FROM grants GROUP BY ALL
),
delivered AS (
    SELECT campaign_slug, service, count(DISTINCT fan_key) AS direct_delivered FROM owed_actions
    WHERE kind = 'save_release' AND outcome = 'delivered' GROUP BY ALL
),
reminded AS (
    SELECT campaign_slug, service, count(*) AS reminders FROM reminders GROUP BY ALL
),
clicked AS (
    SELECT campaign_slug, service, count(DISTINCT fan_key) AS reminder_clicks FROM landing_events
    WHERE kind = 'reminder_click' AND fan_key IS NOT NULL GROUP BY ALL
),
turned AS (
    SELECT campaign_slug, service, count(*) AS turned_away, min(occurred_at) AS turned_away_since
    FROM landing_events WHERE kind = 'error' AND detail = '{TURNED_AWAY}' GROUP BY ALL
),
pairs AS (
    SELECT campaign_slug, service FROM direct
    UNION SELECT campaign_slug, service FROM reminded
    UNION SELECT campaign_slug, service FROM turned
),
per_service AS (
    SELECT p.campaign_slug, p.service,
           coalesce(d.direct, 0) AS direct,
           coalesce(r.reminders, 0) AS reminders,
           coalesce(d.direct, 0) + coalesce(r.reminders, 0) AS total,
           coalesce(v.direct_delivered, 0) AS direct_delivered,
           coalesce(c.reminder_clicks, 0) AS reminder_clicks,
           coalesce(c.reminder_clicks, 0) / nullif(r.reminders, 0) AS reminder_click_rate,
           coalesce(t.turned_away, 0) AS turned_away,
           t.turned_away_since
    FROM pairs p
    LEFT JOIN direct d USING (campaign_slug, service)
    LEFT JOIN delivered v USING (campaign_slug, service)
    LEFT JOIN reminded r USING (campaign_slug, service)
    LEFT JOIN clicked c USING (campaign_slug, service)
    LEFT JOIN turned t USING (campaign_slug, service)
    WHERE p.campaign_slug IN (SELECT slug FROM campaigns)
)
SELECT * FROM per_service
UNION ALL BY NAME
SELECT campaign_slug, 'all' AS service, sum(direct) AS direct, sum(reminders) AS reminders,
       sum(total) AS total, sum(direct_delivered) AS direct_delivered,
       sum(reminder_clicks) AS reminder_clicks,
       sum(reminder_clicks) / nullif(sum(reminders), 0) AS reminder_click_rate,
       sum(turned_away) AS turned_away, min(turned_away_since) AS turned_away_since
FROM per_service GROUP BY campaign_slug
"""

RELEASED_KINDS = """
SELECT k.campaign_slug, k.service, k.direct, k.direct_delivered, k.reminders, k.reminder_clicks
FROM presave_kinds k JOIN campaigns c ON c.slug = k.campaign_slug
WHERE k.service <> 'all' AND c.release_at <= now()
"""
ALL = "(all)"
DELIVERED_OF_DIRECT = RateColumns(successes="direct_delivered", trials="direct")
CLICKS_OF_REMINDERS = RateColumns(successes="reminder_clicks", trials="reminders")
RELEASE_DAY_COLUMNS = [
    "campaign_slug", "service", "direct", "direct_delivered", "delivered_share", "delivered_low",
    "delivered_high", "reminders", "reminder_clicks", "click_share", "click_low", "click_high",
]  # fmt: skip


def _shares(rows: pd.DataFrame, columns: RateColumns, prefix: str) -> pd.DataFrame:
    # a delivered save whose grant row is gone must not break the interval (the check flags it instead)
    rows = rows.assign(**{columns.successes: np.minimum(rows[columns.successes], rows[columns.trials])})
    rates = conversion_rates(rows, columns)
    return rates.rename(columns={"rate": f"{prefix}_share", "low": f"{prefix}_low", "high": f"{prefix}_high"})


def release_day_kinds(connection: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    kinds = frame(connection, RELEASED_KINDS)
    parts = []
    for campaign, campaign_rows in [(ALL, kinds), *kinds.groupby("campaign_slug", sort=True)]:
        rows = pd.concat([campaign_rows, campaign_rows.assign(service="all")])
        direct = _shares(rows, DELIVERED_OF_DIRECT, "delivered")
        reminded = _shares(rows, CLICKS_OF_REMINDERS, "click")
        parts.append(direct.merge(reminded, on="service").assign(campaign_slug=str(campaign)))
    if kinds.empty:
        return pd.DataFrame(columns=RELEASE_DAY_COLUMNS)
    return pd.concat(parts, ignore_index=True)[RELEASE_DAY_COLUMNS]


MARTS = (
    Mart(
        "presave_kinds",
        ("campaigns", "grants", "owed_actions", "reminders", "landing_events"),
        lambda _: PRESAVE_KINDS,
        "Direct saves (the label's app saves for the fan) and reminder pre-saves (a release-day email with "
        "a tracked link) counted apart and in total per campaign and service, with how many direct saves "
        "were delivered, how many reminder fans followed their link, and the fans a development-mode "
        "Spotify app turned away (since when).",
        expect_rows="SELECT EXISTS (SELECT 1 FROM grants UNION ALL SELECT 1 FROM reminders)",
    ),
    Mart(
        "release_day_kinds",
        ("presave_kinds", "campaigns"),
        release_day_kinds,
        "Released campaigns only: of the direct pre-savers, how many had their save delivered; of the "
        "reminder fans, how many followed their release-day link (the tracked redirect); each share with "
        "its Wilson score 95% interval. Per campaign and over all released campaigns, per service and "
        "'all'. A description of each kind's release day, not a test between them.",
        expect_rows="SELECT EXISTS (SELECT 1 FROM presave_kinds k JOIN campaigns c ON c.slug = "
        "k.campaign_slug WHERE c.release_at <= now())",
    ),
)
