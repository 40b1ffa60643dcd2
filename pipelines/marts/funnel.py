"""The landing funnel, and visit-to-grant conversion compared between services.

Attribution: an event without a service (a visit) takes the service its visitor chose first on that
campaign (the first click, authorization start, grant, denial or error naming one), or `(none)` for a
visitor who never chose. Source and country likewise fall back to the visitor's first known value;
`(direct)` and `(unknown)` stand for none. `delivered` counts, among the grants, the fans whose release
save was delivered (each fan once, on their first grant event).

Conversion per service is measured on visitors, not events: the visitors who chose the service, and how
many of them granted it. These groups are disjoint (a visitor's first choice), so the two-proportion test
between services compares independent samples. The `any` row is every visitor and whether they granted
some service: the page's overall visit-to-grant rate. Imported fans have no visits and stay out.

Reminder pre-saves are their own kind beside the direct ones (grants), never inside them: a visitor who
signed up for a reminder (an email, a link on release day) chose that service when they pressed no
button first (a link-only service has none). `reminders` counts the visitors who took a reminder for the
service they chose and did not grant it, so `presaves` = grants + reminders ≤ visitors; the funnel counts
reminder sign-ups (renewals not again) and the fans who followed their release-day link
(`reminder_clicks`, once per fan). Services are compared on direct conversion only among those a visitor
could save directly (some chooser started an authorization): a link-only service's zero is no finding.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from pipelines.analysis.proportions import (
    PAIR_COLUMNS,
    TEST_COLUMNS,
    RateColumns,
    conversion_rates,
    conversion_verdict,
    pairwise_conversion,
)
from pipelines.marts.mart import Mart, frame
from pipelines.schema import FUNNEL_STEPS

ALL = "(all)"
ANY_SERVICE = "any"
CHOICE_KINDS = "('click', 'authorize_start', 'grant', 'denial', 'error')"
DIRECT_KINDS = "('authorize_start', 'grant', 'denial')"  # steps only a direct save has

_EVENTS = f"""
events AS (
    SELECT e.*, (e.occurred_at AT TIME ZONE c.timezone)::DATE AS date,
           nullif(lower(trim(e.utm_source)), '') AS source
    FROM landing_events e JOIN campaigns c ON c.slug = e.campaign_slug
),
visitor_choices AS (
    SELECT campaign_slug, visitor_key,
           arg_min(service, occurred_at) FILTER (WHERE service IS NOT NULL AND kind IN {CHOICE_KINDS}) AS chosen,
           arg_min(service, occurred_at) FILTER (WHERE service IS NOT NULL AND kind = 'reminder') AS first_reminder,
           arg_min(source, occurred_at) FILTER (WHERE source IS NOT NULL) AS first_source,
           arg_min(country, occurred_at) FILTER (WHERE country IS NOT NULL) AS first_country,
           bool_or(kind = 'visit') AS visited,
           list(DISTINCT service) FILTER (WHERE kind = 'grant' AND service IS NOT NULL) AS granted,
           list(DISTINCT service) FILTER (WHERE kind = 'reminder' AND service IS NOT NULL) AS reminded,
           list(DISTINCT service) FILTER (WHERE kind IN {DIRECT_KINDS} AND service IS NOT NULL) AS tried
    FROM events WHERE visitor_key IS NOT NULL
    GROUP BY ALL
),
visitors AS (  -- a visitor who pressed no button but signed up for a reminder chose its service that way
    SELECT *, CASE WHEN chosen IS NULL THEN first_reminder END AS reminder_only,
           coalesce(chosen, first_reminder) AS service_chosen
    FROM visitor_choices
)"""

FUNNEL_DAILY = f"""
WITH {_EVENTS},
delivered AS (
    SELECT DISTINCT campaign_slug, service, fan_key FROM owed_actions
    WHERE kind = 'save_release' AND outcome = 'delivered'
),
tagged AS (
    SELECT e.campaign_slug, e.date, e.kind, e.detail, e.fan_key,
           coalesce(e.service, v.service_chosen, '(none)') AS service,
           coalesce(e.source, v.first_source, '(direct)') AS source,
           coalesce(e.country, v.first_country, '(unknown)') AS country,
           row_number() OVER (
               PARTITION BY e.campaign_slug, e.service, e.fan_key, e.kind ORDER BY e.occurred_at, e.event_id
           ) = 1 AS fans_first,
           d.fan_key IS NOT NULL AS saved
    FROM events e
    LEFT JOIN visitors v ON v.campaign_slug = e.campaign_slug AND v.visitor_key = e.visitor_key
    LEFT JOIN delivered d
           ON e.kind = 'grant' AND d.campaign_slug = e.campaign_slug AND d.service = e.service
          AND d.fan_key = e.fan_key
)
SELECT campaign_slug, date, service, source, country,
       count(*) FILTER (WHERE kind = 'visit') AS visits,
       count(*) FILTER (WHERE kind = 'click') AS clicks,
       count(*) FILTER (WHERE kind = 'authorize_start') AS authorize_starts,
       count(*) FILTER (WHERE kind = 'grant') AS grants,
       count(*) FILTER (WHERE kind = 'denial') AS denials,
       count(*) FILTER (WHERE kind = 'error') AS errors,
       count(*) FILTER (WHERE kind = 'grant' AND saved AND fans_first) AS delivered,
       count(*) FILTER (WHERE kind = 'reminder' AND detail IS DISTINCT FROM 'again') AS reminders,
       count(*) FILTER (WHERE kind = 'reminder_click' AND fan_key IS NOT NULL AND fans_first) AS reminder_clicks
FROM tagged
GROUP BY ALL
"""

# What the campaign page reads of the funnel: funnel_daily summed over countries (a fifth of its rows), so
# the dashboard's snapshot holds, fingerprints and republishes less.
FUNNEL_SOURCES = f"""
SELECT campaign_slug, date, service, source, {", ".join(f"sum({step}) AS {step}" for step in FUNNEL_STEPS)}
FROM funnel_daily
GROUP BY ALL
"""

VISITOR_OUTCOMES = f"""
WITH {_EVENTS}
SELECT campaign_slug, coalesce(first_source, '(direct)') AS source, coalesce(service_chosen, '(none)') AS service,
       count(*) FILTER (WHERE reminder_only IS NULL) AS visitors,
       count(*) AS service_visitors,
       count(*) FILTER (WHERE list_contains(granted, chosen)) AS grants,
       count(*) FILTER (WHERE len(coalesce(granted, [])) > 0) AS granted_any,
       count(*) FILTER (WHERE list_contains(reminded, service_chosen)
                        AND NOT coalesce(list_contains(granted, service_chosen), false)) AS reminders,
       count(*) FILTER (WHERE len(coalesce(reminded, [])) > 0 AND len(coalesce(granted, [])) = 0) AS reminded_any,
       count(*) FILTER (WHERE list_contains(tried, chosen)) AS tried
FROM visitors WHERE visited
GROUP BY ALL
"""


def visitor_outcomes(connection: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Visitors per campaign, first source and chosen service: how many granted it, how many granted any."""
    return frame(connection, VISITOR_OUTCOMES)


def _scopes(visitors: pd.DataFrame) -> list[tuple[str, str, pd.DataFrame]]:
    """(campaign, source, rows) for every campaign and all campaigns, every source and all sources."""
    scopes = []
    for campaign, rows in [(ALL, visitors), *visitors.groupby("campaign_slug", sort=True)]:
        scopes.append((str(campaign), ALL, rows))
        scopes.extend(
            (str(campaign), str(source), part) for source, part in rows.groupby("source", sort=True)
        )
    return scopes


GRANTS_OF_VISITORS = RateColumns(trials="visitors")  # per service: visitors who granted, of those who came


def _chose_a_service(rows: pd.DataFrame) -> pd.DataFrame:
    """The visitors who pressed a service's button (the others are counted under "(none)")."""
    return rows[rows["service"] != "(none)"]


def _saved_directly(rows: pd.DataFrame) -> pd.DataFrame:
    """The choosers of services a visitor could save directly here (some chooser started authorizing)."""
    chosen = _chose_a_service(rows)
    tried = chosen.groupby("service")["tried"].sum()
    return chosen[chosen["service"].isin(tried[tried > 0].index)]


def _with_reminders(rates: pd.DataFrame, rows: pd.DataFrame, reminders: str) -> pd.DataFrame:
    """Reminder sign-ups beside the direct grants, and both together (`presaves`) of the visitors who
    chose the service either way (`service_visitors`), per service."""
    kinds = rows.groupby("service")[[reminders, "service_visitors"]].sum()
    rates = rates.merge(kinds.rename(columns={reminders: "reminders"}), left_on="service", right_index=True)
    rates["presaves"] = rates["grants"] + rates["reminders"]
    rates["presave_rate"] = rates["presaves"] / rates["service_visitors"].where(rates["service_visitors"] > 0)
    return rates


CONVERSION_COLUMNS = [
    "campaign_slug", "source", "service", "visitors", "grants", "rate", "low", "high",
    "reminders", "service_visitors", "presaves", "presave_rate",
]  # fmt: skip


def service_conversion(connection: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    parts = []
    for campaign, source, rows in _scopes(visitor_outcomes(connection)):
        chosen = _chose_a_service(rows)
        rates = _with_reminders(conversion_rates(chosen, GRANTS_OF_VISITORS), chosen, "reminders")
        overall = pd.DataFrame(
            {
                "service": [ANY_SERVICE],
                "grants": [rows["granted_any"].sum()],
                "visitors": [rows["service_visitors"].sum()],
                "service_visitors": [rows["service_visitors"].sum()],
                "reminded_any": [rows["reminded_any"].sum()],
            }
        )
        overall = _with_reminders(conversion_rates(overall, GRANTS_OF_VISITORS), overall, "reminded_any")
        parts.append(pd.concat([rates, overall]).assign(campaign_slug=campaign, source=source))
    columns = CONVERSION_COLUMNS
    return pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)


def service_comparison(connection: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    parts = []
    for campaign, source, rows in _scopes(visitor_outcomes(connection)):
        pairs = pairwise_conversion(_saved_directly(rows), GRANTS_OF_VISITORS)
        if not pairs.empty:
            parts.append(pairs.assign(campaign_slug=campaign, source=source, comparisons=len(pairs)))
    if not parts:
        return pd.DataFrame(
            columns=["campaign_slug", "source", *PAIR_COLUMNS, *TEST_COLUMNS, "comparisons", "verdict"]
        )
    pairs = pd.concat(parts, ignore_index=True).rename(
        columns={"group_1": "service_1", "group_2": "service_2"}
    )
    pairs["verdict"] = [
        conversion_verdict(
            row.service_1, row.service_2, row.difference, row.low, row.high, row.p_holm, row.comparisons
        )
        for row in pairs.itertuples()
    ]
    return pairs


MARTS = (
    Mart(
        "funnel_daily",
        ("landing_events", "campaigns", "owed_actions"),
        lambda _: FUNNEL_DAILY,
        "Landing events counted per local day; visits carry the service their visitor chose, `(none)` if "
        "none; delivered = grants whose release save was delivered; reminders = reminder sign-ups (a "
        "kind of pre-save apart from grants), reminder_clicks = reminder fans who followed their link.",
        expect_rows="SELECT EXISTS (SELECT 1 FROM landing_events)",
    ),
    Mart(
        "funnel_sources",
        ("funnel_daily",),
        lambda _: FUNNEL_SOURCES,
        "funnel_daily summed over countries: what the campaign page's funnel by service and by source reads.",
        expect_rows="SELECT EXISTS (SELECT 1 FROM funnel_daily)",
    ),
    Mart(
        "service_conversion",
        ("landing_events", "campaigns"),
        service_conversion,
        "Visitors who chose a service and how many granted it (direct pre-saves), with the Wilson score "
        "95% interval; beside them the choosers who took a reminder instead (`reminders`) and both "
        "(`presaves`, `presave_rate`). 'any' = every visitor and whether they granted some service (or "
        "else took a reminder). Per campaign and for all campaigns, per first traffic source and for all.",
        expect_rows="SELECT EXISTS (SELECT 1 FROM landing_events WHERE kind = 'visit')",
    ),
    Mart(
        "service_comparison",
        ("landing_events", "campaigns"),
        service_comparison,
        "Every pair of services: difference of conversion rates with Newcombe's hybrid score 95% "
        "interval, pooled two-proportion z-test (two-sided) and Holm's adjustment over the `comparisons` "
        "pairs of the campaign and source; `verdict` states it in words. Direct conversion, among the "
        "services a visitor could save directly (reminder-only services are not compared).",
        expect_rows="SELECT (SELECT count(DISTINCT service) FROM landing_events "
        f"WHERE kind IN {DIRECT_KINDS} AND service IS NOT NULL) > 1",
    ),
)
