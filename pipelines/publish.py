"""Publishing the dashboard's snapshot: the tables the dashboard reads, copied out of the warehouse file
after each write that changed one of them.

The snapshot keeps a fingerprint of every campaign's rows in each table it holds (`published_parts`: per
table its column list, then per campaign a row count and a sum of row hashes). Each publish hashes the
warehouse's dashboard tables once (about half a million rows at 10M warehouse rows) and compares: a write
that changed none of them publishes nothing. Otherwise the last snapshot (a few MB) is copied into a
private folder beside it, only the campaigns whose rows changed are deleted and re-inserted in the copy
(a table whose columns changed, that has no campaign column, or where most campaigns changed is written
whole), and the copy is renamed over the snapshot (same folder, so atomic: a reader opens the old file or
the new one, never a draft). The published file is never written in place. DuckDB frees the blocks of
rewritten rows but does not shrink the file, so when a copy's free blocks outnumber its used ones it is
first copied table by table into a fresh file (`COPY FROM DATABASE`): the snapshot does not grow with
each publish."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from campaigns.private_files import make_private

# What the dashboard reads (dashboards/queries.py and dashboards/pitch.py name no other table; a test holds
# them to it): the marts, the counts-only tables beside them, and ingest's bookkeeping. Published sorted by
# campaign, so a page's `WHERE campaign_slug = ?` skips the other campaigns' row groups.
DASHBOARD_TABLES = (
    "campaign_followers",
    "campaign_lift",
    "campaign_overview",
    "figure_glossary",
    "first_week_velocity",
    "follower_gain",
    "followup_days",
    "funnel_browsers",
    "funnel_sources",
    "loaded_files",
    "mart_checks",
    "presave_accumulation",
    "presave_forecast",
    "presave_kinds",
    "presave_origins",
    "presaves_by_country",
    "presaves_daily",
    "quarantined_files",
    "release_hours",
    "release_day_kinds",
    "release_outcomes",
    "release_undelivered",
    "release_waits",
    "service_comparison",
    "service_conversion",
    "source_freshness",
    "token_health",
)

PUBLISHED = "published_parts"  # in the snapshot: (table_name, part, fingerprint) of everything it holds
# A part is NULL for a table's columns (its CREATE TABLE statement), '' for the rows without a campaign (or a whole table without a
# campaign column), or a campaign's slug for that campaign's rows (slugs are never empty).
CAMPAIGN = "campaign_slug"
_WANTED = "publish_wanted"  # the writer's temporary table of the warehouse's fingerprints
_DRAFT = "dashboard_draft"
_PUBLISHED = "dashboard_published"
_FRESH = "dashboard_fresh"


@dataclass
class Change:
    """What differs between the warehouse and the snapshot in one dashboard table."""

    columns: str | None  # the table's columns in the warehouse; None when the warehouse no longer has it
    whole: bool = False  # new, or its columns changed: written whole
    campaigns: set[str] = field(default_factory=set)  # parts whose rows changed
    parts: int = 0  # parts the warehouse holds


def publish(connection: duckdb.DuckDBPyConnection, snapshot: Path) -> bool:
    """Bring the dashboard's snapshot up to date with the warehouse the writer's `connection` holds, and
    say whether it changed. A table the warehouse lacks is left out (the dashboard says it has no data
    yet); a snapshot without fingerprints (none yet, or one of an older layout) is written afresh."""
    fingerprint(connection)
    changes, copied = _changes(connection, snapshot)
    if not changes and snapshot.exists():
        return False
    with tempfile.TemporaryDirectory(prefix=f".{snapshot.name}.", dir=snapshot.parent) as folder:
        draft, fresh = Path(folder) / snapshot.name, Path(folder) / f"fresh.{snapshot.name}"
        if copied:
            shutil.copyfile(snapshot, draft)
        connection.execute(f"ATTACH '{draft}' AS {_DRAFT}")
        try:
            for table, change in sorted(changes.items()):
                _apply(connection, table, change)
            connection.execute(f"CREATE OR REPLACE TABLE {_DRAFT}.{PUBLISHED} AS FROM {_WANTED}")
            connection.execute(f"CHECKPOINT {_DRAFT}")
            fragmented = _fragmented(connection)
            if fragmented:
                _compact(connection, fresh)
        finally:
            connection.execute(f"DETACH {_DRAFT}")
        if fragmented:
            os.replace(fresh, draft)
        make_private(draft)
        os.replace(draft, snapshot)
    return True


def fingerprint(connection: duckdb.DuckDBPyConnection) -> None:
    """Fill the writer's temporary `publish_wanted` with, per dashboard table the warehouse holds, its
    columns (its CREATE TABLE statement), and per campaign (or for the whole table when it has no campaign column) its row count
    and the sum of its rows' hashes."""
    columns = dict(  # the CREATE TABLE statement names the columns and their types (and is quick to read)
        connection.execute(
            "SELECT table_name, sql FROM duckdb_tables() "
            "WHERE database_name = current_database() AND schema_name = 'main'"
        ).fetchall()
    )
    present = [table for table in DASHBOARD_TABLES if table in columns]
    connection.execute(
        f"CREATE OR REPLACE TEMP TABLE {_WANTED} "
        "(table_name VARCHAR NOT NULL, part VARCHAR, fingerprint VARCHAR NOT NULL)"
    )
    if not present:
        return
    connection.execute(
        f"INSERT INTO {_WANTED} "
        + " UNION ALL ".join(
            f"SELECT '{table}', NULL, ? UNION ALL "
            f"SELECT '{table}', {_part_of(columns[table])} AS part, "
            f"count(*) || ':' || coalesce(sum(hash(row)), 0) FROM main.{table} row GROUP BY part"
            for table in present
        ),
        [columns[table] for table in present],
    )


def _part_of(columns: str) -> str:
    return f"coalesce({CAMPAIGN}, '')" if _has_campaign(columns) else "''"


def _has_campaign(columns: str) -> bool:
    """Whether a table's CREATE TABLE statement has the campaign column."""
    return re.search(rf'[(,]\s*"?{CAMPAIGN}"?\s', columns) is not None


def _changes(connection: duckdb.DuckDBPyConnection, snapshot: Path) -> tuple[dict[str, Change], bool]:
    """Per table whose fingerprints differ between the warehouse and the snapshot, and whether the
    snapshot has fingerprints at all (without them it counts as empty and is written afresh)."""
    attached = snapshot.exists()
    if attached:
        connection.execute(f"ATTACH '{snapshot}' AS {_PUBLISHED} (READ_ONLY)")
    try:
        usable = attached and bool(
            connection.execute(
                "SELECT 1 FROM duckdb_tables() WHERE database_name = ? AND table_name = ?",
                [_PUBLISHED, PUBLISHED],
            ).fetchall()
        )
        held = f"{_PUBLISHED}.{PUBLISHED}" if usable else f"(SELECT * FROM {_WANTED} LIMIT 0)"
        rows = connection.execute(f"""
            SELECT coalesce(w.table_name, h.table_name) AS table_name, coalesce(w.part, h.part) AS part,
                   (SELECT c.fingerprint FROM {_WANTED} c
                    WHERE c.table_name = coalesce(w.table_name, h.table_name) AND c.part IS NULL),
                   (SELECT count(*) FROM {_WANTED} p
                    WHERE p.table_name = coalesce(w.table_name, h.table_name) AND p.part IS NOT NULL)
            FROM {_WANTED} w FULL JOIN {held} h
              ON h.table_name = w.table_name AND h.part IS NOT DISTINCT FROM w.part
            WHERE w.fingerprint IS DISTINCT FROM h.fingerprint
        """).fetchall()
    finally:
        if attached:
            connection.execute(f"DETACH {_PUBLISHED}")
    return _by_table(rows), usable


def _by_table(rows: list[tuple[str, str | None, str | None, int]]) -> dict[str, Change]:
    changes: dict[str, Change] = {}
    for table, part, columns, parts in rows:
        change = changes.setdefault(table, Change(columns))
        if part is None:  # the column list: the table is new, gone, or reshaped
            change.whole = True
        else:
            change.campaigns.add(part)
        change.parts = max(change.parts, parts)
    return changes


def _apply(connection: duckdb.DuckDBPyConnection, table: str, change: Change) -> None:
    """Bring the draft's copy of `table` in line with the warehouse: drop it, rewrite the changed
    campaigns' rows, or (new, reshaped, no campaign column, or most campaigns changed) rewrite it whole."""
    if change.columns is None:
        connection.execute(f"DROP TABLE IF EXISTS {_DRAFT}.{table}")
        return
    campaigns = _has_campaign(change.columns)
    if change.whole or not campaigns or len(change.campaigns) * 2 > change.parts:
        order = f" ORDER BY {CAMPAIGN}" if campaigns else ""
        connection.execute(f"DROP TABLE IF EXISTS {_DRAFT}.{table}")
        connection.execute(f"CREATE TABLE {_DRAFT}.{table} AS SELECT * FROM main.{table}{order}")
        return
    where = f"coalesce({CAMPAIGN}, '') IN (SELECT unnest(?::VARCHAR[]))"
    chosen = sorted(change.campaigns)
    connection.execute(f"DELETE FROM {_DRAFT}.{table} WHERE {where}", [chosen])
    connection.execute(
        f"INSERT INTO {_DRAFT}.{table} SELECT * FROM main.{table} WHERE {where} ORDER BY {CAMPAIGN}", [chosen]
    )


def _fragmented(connection: duckdb.DuckDBPyConnection) -> bool:
    """Whether the draft's free blocks (left by rewritten rows) outnumber the blocks it uses."""
    row = connection.execute(
        "SELECT free_blocks, used_blocks FROM pragma_database_size() WHERE database_name = ?", [_DRAFT]
    ).fetchone()
    return row is not None and row[0] > max(row[1], 8)


def _compact(connection: duckdb.DuckDBPyConnection, fresh: Path) -> None:
    """Copy everything the draft holds into a new file, which then holds no free blocks."""
    connection.execute(f"ATTACH '{fresh}' AS {_FRESH}")
    try:
        connection.execute(f"COPY FROM DATABASE {_DRAFT} TO {_FRESH}")
    finally:
        connection.execute(f"DETACH {_FRESH}")
