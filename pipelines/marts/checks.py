"""Asset checks beside the marts: row counts, keys, the numbers' own invariants, and no secret anywhere.

Every check reads the published snapshot (what the dashboard sees) and names tables, columns and counts,
never a value that could be personal.
"""

from __future__ import annotations

from collections.abc import Callable

import dagster as dg
import duckdb

from pipelines.marts.mart import Mart
from pipelines.resources import WarehouseResource

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


def keys_check(mart: Mart, asset: dg.AssetsDefinition) -> dg.AssetChecksDefinition:
    key = mart.table.key
    columns = ", ".join(key)
    nulls = " OR ".join(f"{k} IS NULL" for k in key)

    @dg.asset_check(
        asset=asset,
        name=f"{mart.name}_keys",
        description=f"Key ({columns}) never empty and unique.",
        blocking=True,
    )
    def _check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.warehouse().reader() as connection:
            empty = connection.execute(f"SELECT count(*) FROM {mart.name} WHERE {nulls}").fetchone()[0]  # type: ignore[index]
            repeated = connection.execute(
                f"SELECT count(*) FROM (SELECT 1 FROM {mart.name} GROUP BY {columns} HAVING count(*) > 1)"
            ).fetchone()[0]  # type: ignore[index]
        return dg.AssetCheckResult(
            passed=empty == 0 and repeated == 0,
            metadata={"rows_with_an_empty_key": empty, "repeated_keys": repeated},
        )

    return _check


def row_count_check(mart: Mart, asset: dg.AssetsDefinition) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=asset,
        name=f"{mart.name}_row_count",
        description="Has rows whenever its inputs hold what it is built from.",
    )
    def _check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.warehouse().reader() as connection:
            rows = connection.execute(f"SELECT count(*) FROM {mart.name}").fetchone()[0]  # type: ignore[index]
            expected = bool(connection.execute(mart.expect_rows).fetchone()[0])  # type: ignore[index]
        return dg.AssetCheckResult(
            passed=rows > 0 or not expected, metadata={"rows": rows, "inputs_have_data": expected}
        )

    return _check


def invariant_check(
    asset: dg.AssetsDefinition, name: str, description: str, violations_sql: str
) -> dg.AssetChecksDefinition:
    """A check that passes when `violations_sql` (a count of rows breaking the rule) is 0."""

    @dg.asset_check(asset=asset, name=name, description=description)
    def _check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.warehouse().reader() as connection:
            violations = connection.execute(violations_sql).fetchone()[0]  # type: ignore[index]
        return dg.AssetCheckResult(passed=violations == 0, metadata={"rows_breaking_the_rule": violations})

    return _check


# A local day may run a day ahead of UTC (UTC+14); anything later has not happened yet.
FUTURE = "current_date + 1"


def _shares(table: str, *columns: str) -> tuple[str, str, str]:
    """A rule: every share column of `table` lies in [0, 1]."""
    broken = " OR ".join(f"{c} < 0 OR {c} > 1 + 1e-9" for c in columns)
    return (
        f"{table}_shares_within_zero_and_one",
        f"Shares ({', '.join(columns)}) lie between 0 and 1: a share above 1 counts something twice.",
        f"SELECT count(*) FROM {table} WHERE {broken}",
    )


def _not_in_future(table: str, column: str, condition: str = "true") -> tuple[str, str, str]:
    return (
        f"{table}_not_in_the_future",
        f"No {column} after today (a day of slack for time zones east of UTC): the future is not data.",
        f"SELECT count(*) FROM {table} WHERE {column} > {FUTURE} AND {condition}",
    )


INVARIANTS: dict[str, list[tuple[str, str, str]]] = {
    "presaves_daily": [
        (
            "presaves_before_release",
            "Every pre-save day lies on or before its release day.",
            "SELECT count(*) FROM presaves_daily WHERE days_to_release > 0",
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
            "SELECT count(*) FROM (SELECT campaign_slug FROM first_week GROUP BY 1 "
            "HAVING count(*) > 7 OR min(day) < 0 OR max(day) > 6)",
        )
    ],
    "presave_accumulation": [
        (
            "accumulation_never_falls",
            "Cumulative pre-saves never fall from one day to the next.",
            "SELECT count(*) FROM (SELECT cumulative < lag(cumulative) OVER "
            "(PARTITION BY campaign_slug ORDER BY day) AS falls FROM presave_accumulation) WHERE falls",
        ),
        _shares("presave_accumulation", "share_of_final", "last_week_share"),
        _not_in_future("presave_accumulation", "date"),
    ],
    "presave_forecast": [
        (
            "forecast_interval_holds_its_point",
            "so far ≤ low ≤ point ≤ high wherever a forecast was made.",
            "SELECT count(*) FROM presave_forecast WHERE point IS NOT NULL "
            "AND NOT (so_far <= low + 1e-9 AND low <= point + 1e-9 AND point <= high + 1e-9)",
        ),
        (
            "forecast_interval_has_width",
            "A forecast's interval is never zero-width: a forecast without uncertainty is not one.",
            "SELECT count(*) FROM presave_forecast WHERE point IS NOT NULL AND high <= low",
        ),
    ],
    "service_conversion": [
        (
            "conversion_within_its_interval",
            "grants ≤ visitors, and 0 ≤ low ≤ rate ≤ high ≤ 1.",
            "SELECT count(*) FROM service_conversion WHERE grants > visitors OR (visitors > 0 AND NOT "
            "(0 <= low AND low <= rate + 1e-12 AND rate <= high + 1e-12 AND high <= 1))",
        ),
        (
            "conversion_interval_has_width",
            "Where 0 < grants < visitors the interval has width: a zero-width one means a broken count.",
            "SELECT count(*) FROM service_conversion WHERE grants > 0 AND grants < visitors AND high <= low",
        ),
        (
            "no_visitor_with_many_grants",
            "No visitor (one browser session) granted for more than three fan accounts: many grants from "
            "one visitor means visitors were merged (a shared cookie jar) or one fan made accounts.",
            "SELECT count(*) FROM (SELECT campaign_slug, visitor_key FROM landing_events "
            "WHERE kind = 'grant' AND visitor_key IS NOT NULL GROUP BY ALL HAVING count(DISTINCT fan_key) > 3)",
        ),
    ],
    "campaign_lift": [
        (
            "lift_intervals_have_width",
            "Every lift judged has an interval with width.",
            "SELECT count(*) FROM campaign_lift WHERE (artist_lift IS NOT NULL AND artist_lift_high <= "
            "artist_lift_low) OR (roster_ratio IS NOT NULL AND roster_ratio_high <= roster_ratio_low)",
        )
    ],
    "release_outcomes": [
        (
            "outcomes_sum_to_planned",
            "planned = delivered + queued + pending_source + undeliverable + failed + ignored.",
            "SELECT count(*) FROM release_outcomes WHERE planned <> "
            "delivered + queued + pending_source + undeliverable + failed + coalesce(ignored, 0)",
        ),
        _shares("release_outcomes", "delivered_share"),
    ],
    "authenticity_scores": [
        (
            "scores_between_zero_and_one",
            "0 ≤ score ≤ 1, and a score below 1 always gives its reasons.",
            "SELECT count(*) FROM authenticity_scores WHERE score < 0 OR score > 1 OR (score < 1 AND reasons = '')",
        )
    ],
}


def no_secrets_check(asset: dg.AssetsDefinition) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=asset,
        name="warehouse_holds_no_secrets",
        description="No text column of any warehouse table holds a token (Spotify, Fernet, JWT) or an "
        "email address; a failure names the table and column, never the value.",
        blocking=True,
    )
    def _check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.warehouse().reader() as connection:
            findings = secret_findings(connection)
        return dg.AssetCheckResult(
            passed=not findings, metadata={"findings": len(findings), "where": "\n".join(findings) or "none"}
        )

    return _check


def checks_for(mart: Mart, asset: dg.AssetsDefinition) -> list[dg.AssetChecksDefinition]:
    made: list[Callable[..., object]] = [keys_check(mart, asset), row_count_check(mart, asset)]
    made.extend(invariant_check(asset, *rule) for rule in INVARIANTS.get(mart.name, []))
    return made  # type: ignore[return-value]
