"""Direct saves and reminder pre-saves, apart and in total, per campaign and service.

`direct`: grants the label's app saves for (the warehouse's `grants`: accepted tokens, accounts the app
may act for); `direct_delivered`: those fans whose release save was delivered. `reminders`: reminder
pre-saves (an email and a service, a link on release day); `reminder_clicks`: reminder fans who followed
their release-day link (the tracked redirect), and `reminder_click_rate` = clicks / reminders.
`turned_away`: fans a development-mode Spotify app refused after they authorized, the first at
`turned_away_since`. The `all` row sums the services of a campaign.
"""

from __future__ import annotations

from pipelines.marts.mart import Mart

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
)
