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

_EVENTS = f"""
events AS (
    SELECT e.*, (e.occurred_at AT TIME ZONE c.timezone)::DATE AS date,
           nullif(lower(trim(e.utm_source)), '') AS source
    FROM landing_events e JOIN campaigns c ON c.slug = e.campaign_slug
),
visitors AS (
    SELECT campaign_slug, visitor_key,
           arg_min(service, occurred_at) FILTER (WHERE service IS NOT NULL AND kind IN {CHOICE_KINDS}) AS chosen,
           arg_min(source, occurred_at) FILTER (WHERE source IS NOT NULL) AS first_source,
           arg_min(country, occurred_at) FILTER (WHERE country IS NOT NULL) AS first_country,
           bool_or(kind = 'visit') AS visited,
           list(DISTINCT service) FILTER (WHERE kind = 'grant' AND service IS NOT NULL) AS granted
    FROM events WHERE visitor_key IS NOT NULL
    GROUP BY ALL
)"""

FUNNEL_DAILY = f"""
WITH {_EVENTS},
delivered AS (
    SELECT DISTINCT campaign_slug, service, fan_key FROM owed_actions
    WHERE kind = 'save_release' AND outcome = 'delivered'
),
tagged AS (
    SELECT e.campaign_slug, e.date, e.kind,
           coalesce(e.service, v.chosen, '(none)') AS service,
           coalesce(e.source, v.first_source, '(direct)') AS source,
           coalesce(e.country, v.first_country, '(unknown)') AS country,
           e.kind = 'grant' AND d.fan_key IS NOT NULL AND row_number() OVER (
               PARTITION BY e.campaign_slug, e.service, e.fan_key, e.kind ORDER BY e.occurred_at, e.event_id
           ) = 1 AS delivered
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
       count(*) FILTER (WHERE delivered) AS delivered
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
SELECT campaign_slug, coalesce(first_source, '(direct)') AS source, coalesce(chosen, '(none)') AS service,
       count(*) AS visitors,
       count(*) FILTER (WHERE list_contains(granted, chosen)) AS grants,
       count(*) FILTER (WHERE len(coalesce(granted, [])) > 0) AS granted_any
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


def service_conversion(connection: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    parts = []
    for campaign, source, rows in _scopes(visitor_outcomes(connection)):
        chosen = _chose_a_service(rows)
        rates = conversion_rates(chosen, GRANTS_OF_VISITORS)
        overall = pd.DataFrame(
            {
                "service": [ANY_SERVICE],
                "grants": [rows["granted_any"].sum()],
                "visitors": [rows["visitors"].sum()],
            }
        )
        rates = pd.concat([rates, conversion_rates(overall, GRANTS_OF_VISITORS)])
        parts.append(rates.assign(campaign_slug=campaign, source=source))
    columns = ["campaign_slug", "source", "service", "visitors", "grants", "rate", "low", "high"]
    return pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)


def service_comparison(connection: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    parts = []
    for campaign, source, rows in _scopes(visitor_outcomes(connection)):
        pairs = pairwise_conversion(_chose_a_service(rows), GRANTS_OF_VISITORS)
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
        "none; delivered = grants whose release save was delivered.",
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
        "Visitors who chose a service and how many granted it, with the Wilson score 95% interval; "
        "'any' = every visitor and whether they granted some service. Per campaign and for all campaigns, "
        "per first traffic source and for all sources.",
        expect_rows="SELECT EXISTS (SELECT 1 FROM landing_events WHERE kind = 'visit')",
    ),
    Mart(
        "service_comparison",
        ("landing_events", "campaigns"),
        service_comparison,
        "Every pair of services: difference of conversion rates with Newcombe's hybrid score 95% "
        "interval, pooled two-proportion z-test (two-sided) and Holm's adjustment over the `comparisons` "
        "pairs of the campaign and source; `verdict` states it in words.",
        expect_rows="SELECT (SELECT count(DISTINCT service) FROM landing_events "
        f"WHERE kind IN {CHOICE_KINDS} AND service IS NOT NULL) > 1",
    ),
)
