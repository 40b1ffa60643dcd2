"""Asset checks beside the marts: row counts, keys, the numbers' own invariants, and no secret anywhere.

Every check reads the warehouse and names tables, columns, campaigns and counts, never a value that could
be personal. Each mart's asset evaluates its rules right after its rebuild, in the same writer, and
writes them to `mart_checks` (one row per asset and check: passed, the rule, what failed, which
campaigns, when): the snapshot publishes a figure and its checks together, so the dashboard and the
pitch pack never show a refuted figure unmarked. The Dagster asset checks evaluate the same rules
read-only, for Dagster's own record and for blocking what depends on a mart with broken keys.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import dagster as dg
import duckdb
import pandas as pd

from pipelines.marts.mart import Mart
from pipelines.resources import WarehouseResource
from pipelines.schema import TABLES
from pipelines.warehouse import replace

SHOWN_CAMPAIGNS = 5


@dataclass(frozen=True)
class Finding:
    """What one check found: passed or not, the failing detail in words, the campaigns whose rows break
    the rule (empty: the whole table, or no campaign to name), and Dagster metadata."""

    passed: bool
    detail: str = ""
    campaigns: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Rule:
    """One check of an asset: its name, the rule in words, and how to evaluate it over the warehouse."""

    asset: str
    name: str
    description: str
    evaluate: Callable[[duckdb.DuckDBPyConnection], Finding]
    blocking: bool = False


def record(connection: duckdb.DuckDBPyConnection, asset: str, found: list[tuple[Rule, Finding]]) -> None:
    """Replace the asset's rows of `mart_checks` with these findings (in the writer that built it, so the
    snapshot publishes a figure and its checks together)."""
    now = pd.Timestamp(datetime.now(UTC))
    frame = pd.DataFrame(
        [
            {
                "asset": asset,
                "check_name": rule.name,
                "passed": finding.passed,
                "blocking": rule.blocking,
                "description": rule.description,
                "detail": "" if finding.passed else finding.detail,
                "campaigns": list(finding.campaigns),
                "checked_at": now,
            }
            for rule, finding in found
        ],
        columns=list(TABLES["mart_checks"].column_names),
    )
    replace(connection, "mart_checks", [frame], where="asset = ?", params=[asset])


def check_result(finding: Finding) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=finding.passed,
        metadata={**finding.metadata, "detail": finding.detail if not finding.passed else "none"},
        description=None if finding.passed else finding.detail,
    )


def asset_check(rule: Rule, asset: dg.AssetsDefinition) -> dg.AssetChecksDefinition:
    """The rule as a Dagster asset check, evaluated over the warehouse read-only."""

    @dg.asset_check(asset=asset, name=rule.name, description=rule.description, blocking=rule.blocking)
    def _check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.warehouse().reader() as connection:
            return check_result(rule.evaluate(connection))

    return _check


# Shapes of secrets and personal data that must never reach the warehouse (RE2 syntax).
SECRET_SHAPES = {
    "Spotify access token": r"\bBQ[A-Za-z0-9_-]{40,}",
    "Spotify refresh token": r"\bAQ[A-Za-z0-9_-]{40,}",
    "Fernet token (sealed secret)": r"gAAAAA[A-Za-z0-9_=-]{20,}",
    "JSON web token": r"eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}",
    "email address": r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
}


def secret_findings(connection: duckdb.DuckDBPyConnection) -> list[str]:
    """`table.column: <shape> (n rows)` for every text column holding something shaped like a secret."""
    columns = connection.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'main' AND (data_type = 'VARCHAR' OR data_type = 'VARCHAR[]') "
        "ORDER BY table_name, ordinal_position"
    ).fetchall()
    by_table: dict[str, list[tuple[str, str]]] = {}
    for table, column, kind in columns:
        text = f'"{column}"' if kind == "VARCHAR" else f"array_to_string(\"{column}\", ' ')"
        by_table.setdefault(table, []).append((column, text))
    findings = []
    for table, texts in by_table.items():
        probes = [
            (column, shape, f"count(*) FILTER (WHERE regexp_matches({text}, '{pattern}'))")
            for column, text in texts
            for shape, pattern in SECRET_SHAPES.items()
        ]
        counts = connection.execute(f'SELECT {", ".join(p for *_, p in probes)} FROM "{table}"').fetchone()
        for (column, shape, _), count in zip(probes, counts or (), strict=True):
            if count:
                findings.append(f"{table}.{column}: {shape} ({count} rows)")
    return findings


def keys_rule(mart: Mart) -> Rule:
    key = mart.table.key
    columns = ", ".join(key)
    nulls = " OR ".join(f"{k} IS NULL" for k in key)

    def evaluate(connection: duckdb.DuckDBPyConnection) -> Finding:
        empty = connection.execute(f"SELECT count(*) FROM {mart.name} WHERE {nulls}").fetchone()[0]  # type: ignore[index]
        repeated = connection.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM {mart.name} GROUP BY {columns} HAVING count(*) > 1)"
        ).fetchone()[0]  # type: ignore[index]
        return Finding(
            empty == 0 and repeated == 0,
            f"{empty} rows with an empty key, {repeated} keys repeated",
            metadata={"rows_with_an_empty_key": empty, "repeated_keys": repeated},
        )

    return Rule(
        mart.name, f"{mart.name}_keys", f"Key ({columns}) never empty and unique.", evaluate, blocking=True
    )


def row_count_rule(mart: Mart) -> Rule:
    def evaluate(connection: duckdb.DuckDBPyConnection) -> Finding:
        rows = connection.execute(f"SELECT count(*) FROM {mart.name}").fetchone()[0]  # type: ignore[index]
        expected = bool(connection.execute(mart.expect_rows).fetchone()[0])  # type: ignore[index]
        return Finding(
            rows > 0 or not expected,
            "no rows, though its inputs hold what it is built from",
            metadata={"rows": rows, "inputs_have_data": expected},
        )

    return Rule(
        mart.name,
        f"{mart.name}_row_count",
        "Has rows whenever its inputs hold what it is built from.",
        evaluate,
    )


def invariant_rule(asset: str, name: str, description: str, violations_sql: str) -> Rule:
    """A check that passes when `violations_sql` (the rows breaking the rule, with their `campaign_slug`)
    selects nothing; a failure names the campaigns."""

    def evaluate(connection: duckdb.DuckDBPyConnection) -> Finding:
        violations, campaigns = connection.execute(
            f"SELECT count(*), list(DISTINCT campaign_slug ORDER BY campaign_slug) FROM ({violations_sql})"
        ).fetchone()  # type: ignore[misc]
        named = [c for c in campaigns or [] if c is not None]
        shown = ", ".join(named[:SHOWN_CAMPAIGNS]) + (" …" if len(named) > SHOWN_CAMPAIGNS else "")
        return Finding(
            violations == 0,
            f"{violations} rows break the rule" + (f" ({shown})" if named else ""),
            tuple(named),
            metadata={"rows_breaking_the_rule": violations, "campaigns": shown or "none"},
        )

    return Rule(asset, name, description, evaluate)


# A local day may run a day ahead of UTC (UTC+14); anything later has not happened yet.
FUTURE = "current_date + 1"


def _shares(table: str, *columns: str) -> tuple[str, str, str]:
    """A rule: every share column of `table` lies in [0, 1]."""
    broken = " OR ".join(f"{c} < 0 OR {c} > 1 + 1e-9" for c in columns)
    return (
        f"{table}_shares_within_zero_and_one",
        f"Shares ({', '.join(columns)}) lie between 0 and 1: a share above 1 counts something twice.",
        f"SELECT campaign_slug FROM {table} WHERE {broken}",
    )


def _not_in_future(table: str, column: str, condition: str = "true") -> tuple[str, str, str]:
    return (
        f"{table}_not_in_the_future",
        f"No {column} after today (a day of slack for time zones east of UTC): the future is not data.",
        f"SELECT campaign_slug FROM {table} WHERE {column} > {FUTURE} AND {condition}",
    )


INVARIANTS: dict[str, list[tuple[str, str, str]]] = {
    "presaves_daily": [
        (
            "presaves_before_release",
            "Every pre-save day lies on or before its release day.",
            "SELECT campaign_slug FROM presaves_daily WHERE days_to_release > 0",
        ),
        _not_in_future("presaves_daily", "date"),
    ],
    "presaves_by_country": [_shares("presaves_by_country", "share")],
    "funnel_daily": [_not_in_future("funnel_daily", "date")],
    "funnel_sources": [_not_in_future("funnel_sources", "date")],
    "first_week_velocity": [
        _shares("first_week_velocity", "day1_share"),
        _not_in_future("first_week_velocity", "release_date + 6", "week1_streams IS NOT NULL"),
    ],
    "follower_gain": [_shares("follower_gain", "presave_share")],
    "first_week": [
        (
            "first_week_has_days_zero_to_six",
            "At most seven days per campaign, numbered 0 to 6.",
            "SELECT campaign_slug FROM first_week GROUP BY 1 HAVING count(*) > 7 OR min(day) < 0 OR max(day) > 6",
        )
    ],
    "presave_accumulation": [
        (
            "accumulation_never_falls",
            "Cumulative pre-saves never fall from one day to the next.",
            "SELECT campaign_slug FROM (SELECT campaign_slug, cumulative < lag(cumulative) OVER "
            "(PARTITION BY campaign_slug ORDER BY day) AS falls FROM presave_accumulation) WHERE falls",
        ),
        _shares("presave_accumulation", "share_of_final", "last_week_share"),
        _not_in_future("presave_accumulation", "date"),
    ],
    "presave_forecast": [
        (
            "forecast_interval_holds_its_point",
            "so far ≤ low ≤ point ≤ high wherever a forecast was made.",
            "SELECT campaign_slug FROM presave_forecast WHERE point IS NOT NULL "
            "AND NOT (so_far <= low + 1e-9 AND low <= point + 1e-9 AND point <= high + 1e-9)",
        ),
        (
            "forecast_interval_has_width",
            "A forecast's interval is never zero-width: a forecast without uncertainty is not one.",
            "SELECT campaign_slug FROM presave_forecast WHERE point IS NOT NULL AND high <= low",
        ),
    ],
    "service_conversion": [
        (
            "conversion_within_its_interval",
            "grants ≤ visitors, and 0 ≤ low ≤ rate ≤ high ≤ 1.",
            "SELECT campaign_slug FROM service_conversion WHERE grants > visitors OR (visitors > 0 AND NOT "
            "(0 <= low AND low <= rate + 1e-12 AND rate <= high + 1e-12 AND high <= 1))",
        ),
        (
            "conversion_interval_has_width",
            "Where 0 < grants < visitors the interval has width: a zero-width one means a broken count.",
            "SELECT campaign_slug FROM service_conversion WHERE grants > 0 AND grants < visitors AND high <= low",
        ),
        (
            "presaves_are_direct_and_reminders",
            "presaves = grants (direct) + reminders ≤ service_visitors, and the direct button's visitors ≤ "
            "service_visitors: the two kinds counted apart, each visitor once.",
            "SELECT campaign_slug FROM service_conversion WHERE presaves <> grants + reminders "
            "OR presaves > service_visitors OR visitors > service_visitors",
        ),
        (
            "no_visitor_with_many_grants",
            "No visitor (one browser session) granted for more than three fan accounts: many grants from "
            "one visitor means visitors were merged (a shared cookie jar) or one fan made accounts.",
            "SELECT campaign_slug, visitor_key FROM landing_events "
            "WHERE kind = 'grant' AND visitor_key IS NOT NULL GROUP BY ALL HAVING count(DISTINCT fan_key) > 3",
        ),
    ],
    "presave_kinds": [
        (
            "total_is_direct_and_reminders",
            "total = direct + reminders, and no more reminder fans followed their link than signed up.",
            "SELECT campaign_slug FROM presave_kinds WHERE total <> direct + reminders OR reminder_clicks > reminders",
        ),
        (
            "delivered_within_direct",
            "No more direct saves delivered than direct pre-saves: a delivered save without its grant row "
            "means the grants copy lost fans.",
            "SELECT campaign_slug FROM presave_kinds WHERE direct_delivered > direct",
        ),
        _shares("presave_kinds", "reminder_click_rate"),
    ],
    "release_day_kinds": [
        _shares("release_day_kinds", "delivered_share", "click_share"),
        (
            "release_day_shares_within_their_intervals",
            "delivered_low ≤ delivered_share ≤ delivered_high and click_low ≤ click_share ≤ click_high.",
            "SELECT campaign_slug FROM release_day_kinds WHERE NOT (coalesce(delivered_low <= delivered_share "
            "+ 1e-12 AND delivered_share <= delivered_high + 1e-12, true) AND coalesce(click_low <= click_share "
            "+ 1e-12 AND click_share <= click_high + 1e-12, true))",
        ),
    ],
    "campaign_lift": [
        (
            "lift_intervals_have_width",
            "Every lift judged has an interval with width.",
            "SELECT campaign_slug FROM campaign_lift WHERE (artist_lift IS NOT NULL AND artist_lift_high <= "
            "artist_lift_low) OR (roster_ratio IS NOT NULL AND roster_ratio_high <= roster_ratio_low)",
        )
    ],
    "release_outcomes": [
        (
            "outcomes_sum_to_planned",
            "planned = delivered + queued + pending_source + undeliverable + failed + ignored.",
            "SELECT campaign_slug FROM release_outcomes WHERE planned <> "
            "delivered + queued + pending_source + undeliverable + failed + coalesce(ignored, 0)",
        ),
        _shares("release_outcomes", "delivered_share"),
    ],
    "authenticity_scores": [
        (
            "scores_between_zero_and_one",
            "0 ≤ score ≤ 1, and a score below 1 always gives its reasons.",
            "SELECT campaign_slug FROM authenticity_scores WHERE score < 0 OR score > 1 OR (score < 1 AND reasons = '')",
        )
    ],
}


def _no_secrets(connection: duckdb.DuckDBPyConnection) -> Finding:
    findings = secret_findings(connection)
    return Finding(
        not findings,
        "; ".join(findings),
        metadata={"findings": len(findings), "where": "\n".join(findings) or "none"},
    )


NO_SECRETS = Rule(
    "campaign_overview",
    "warehouse_holds_no_secrets",
    "No text column of any warehouse table holds a token (Spotify, Fernet, JWT) or an email address; a "
    "failure names the table and column, never the value.",
    _no_secrets,
    blocking=True,
)


def rules_for(mart: Mart) -> list[Rule]:
    """Every check of a mart: its key, its rows, its invariants (and, on the overview, no secrets)."""
    rules = [keys_rule(mart), row_count_rule(mart)]
    rules.extend(invariant_rule(mart.name, *rule) for rule in INVARIANTS.get(mart.name, []))
    return rules + ([NO_SECRETS] if mart.name == NO_SECRETS.asset else [])


def checks_for(mart: Mart, asset: dg.AssetsDefinition) -> list[dg.AssetChecksDefinition]:
    return [asset_check(rule, asset) for rule in rules_for(mart)]
