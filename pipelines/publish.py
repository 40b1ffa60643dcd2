"""Publishing the dashboard's snapshot: the tables the dashboard reads, copied out of the warehouse file
after each write that changed one of them.

The snapshot keeps a fingerprint of every campaign's rows in each table it holds (`published_parts`: per
table its column list, then per campaign a row count and a sum of row hashes; one pass over the
dashboard's tables, a few million rows at most). A publish copies the last snapshot (a few MB) into a
private folder beside it, deletes and re-inserts only the campaigns whose rows changed (a table whose
columns changed, that has no campaign column, or where most campaigns changed is written whole), and
renames the copy over the snapshot (same folder, so atomic: a reader opens the old file or the new one,
never a draft). Nothing is replaced in place: DuckDB frees a dropped table's blocks but does not shrink
the file, so when a draft's free blocks outgrow its used ones it is rewritten into a fresh file first
(`COPY FROM DATABASE`), and the snapshot stays at the size of what it holds.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

import duckdb
import pandas as pd

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
    "funnel_daily",
    "loaded_files",
    "presave_accumulation",
    "presave_forecast",
    "presave_origins",
    "presaves_by_country",
    "presaves_daily",
    "quarantined_files",
    "release_hours",
    "release_outcomes",
    "release_undelivered",
    "release_waits",
    "service_comparison",
    "service_conversion",
    "source_freshness",
    "token_health",
)

PUBLISHED = "published_parts"  # in the snapshot: (table_name, part, fingerprint) of everything it holds
COLUMNS = None  # the part naming a table's column list; '' names rows without a campaign (or a whole table
# without a campaign column), and a slug that campaign's rows (slugs are never empty)
CAMPAIGN = "campaign_slug"
_DRAFT = "dashboard_draft"
_PUBLISHED = "dashboard_published"
_FRESH = "dashboard_fresh"

Part = tuple[str, str | None]  # (table, COLUMNS | '' | campaign slug)


def publish(connection: duckdb.DuckDBPyConnection, snapshot: Path) -> bool:
    """Bring the dashboard's snapshot up to date with the warehouse the writer's `connection` holds, and
    say whether it changed. A table the warehouse lacks is left out (the dashboard says it has no data
    yet); a snapshot without fingerprints (none yet, or one of an older layout) is written afresh."""
    wanted = fingerprints(connection)
    held = _held(connection, snapshot)
    if held == wanted and snapshot.exists():
        return False
    with tempfile.TemporaryDirectory(prefix=f".{snapshot.name}.", dir=snapshot.parent) as folder:
        draft, fresh = Path(folder) / snapshot.name, Path(folder) / f"fresh.{snapshot.name}"
        if held:
            shutil.copyfile(snapshot, draft)
        connection.execute(f"ATTACH '{draft}' AS {_DRAFT}")
        try:
            _update(connection, held, wanted)
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


def fingerprints(connection: duckdb.DuckDBPyConnection) -> dict[Part, str]:
    """Per dashboard table the warehouse holds: its column list, and per campaign (or for the whole table
    when it has no campaign column) its row count and the sum of its rows' hashes."""
    columns = dict(
        connection.execute(
            "SELECT table_name, string_agg(column_name || ' ' || data_type, ', ' ORDER BY column_index) "
            "FROM duckdb_columns() WHERE database_name = current_database() AND schema_name = 'main' "
            "GROUP BY ALL"
        ).fetchall()
    )
    present = [table for table in DASHBOARD_TABLES if table in columns]
    if not present:
        return {}
    parts = connection.execute(
        " UNION ALL ".join(
            f"SELECT '{table}', {_part_of(columns[table])} AS part, "
            f"count(*) || ':' || coalesce(sum(hash(row)), 0) FROM main.{table} row GROUP BY part"
            for table in present
        )
    ).fetchall()
    found: dict[Part, str] = {(table, COLUMNS): columns[table] for table in present}
    found.update(((table, part), fingerprint) for table, part, fingerprint in parts)
    return found


def _part_of(columns: str) -> str:
    return f"coalesce({CAMPAIGN}, '')" if _has_campaign(columns) else "''"


def _has_campaign(columns: str) -> bool:
    return any(column.split(" ", 1)[0] == CAMPAIGN for column in columns.split(", "))


def _held(connection: duckdb.DuckDBPyConnection, snapshot: Path) -> dict[Part, str]:
    """The fingerprints the published snapshot holds; none when there is no snapshot or it has none."""
    if not snapshot.exists():
        return {}
    connection.execute(f"ATTACH '{snapshot}' AS {_PUBLISHED} (READ_ONLY)")
    try:
        if not connection.execute(
            "SELECT 1 FROM duckdb_tables() WHERE database_name = ? AND table_name = ?", [_PUBLISHED, PUBLISHED]
        ).fetchall():
            return {}
        rows = connection.execute(f"SELECT table_name, part, fingerprint FROM {_PUBLISHED}.{PUBLISHED}")
        return {(table, part): fingerprint for table, part, fingerprint in rows.fetchall()}
    finally:
        connection.execute(f"DETACH {_PUBLISHED}")


def _update(connection: duckdb.DuckDBPyConnection, held: dict[Part, str], wanted: dict[Part, str]) -> None:
    """Make the draft hold `wanted`: drop the tables no longer there, then per table rewrite the
    campaigns whose fingerprint changed, or the whole table; then store the new fingerprints."""
    held_tables = {table for table, part in held if part is COLUMNS}
    wanted_tables = {table for table, part in wanted if part is COLUMNS}
    for table in sorted(held_tables - wanted_tables):
        connection.execute(f"DROP TABLE IF EXISTS {_DRAFT}.{table}")
    for table in sorted(wanted_tables):
        columns = wanted[(table, COLUMNS)]
        changed = _changed_parts(table, held, wanted)
        same_columns = held.get((table, COLUMNS)) == columns
        if same_columns and not changed:
            continue
        if same_columns and _has_campaign(columns) and len(changed) * 2 <= len(_parts(table, wanted)):
            _write_campaigns(connection, table, sorted(changed))
        else:
            _write_table(connection, table, columns)
    connection.register("published_fingerprints", _frame(wanted))
    connection.execute(
        f"CREATE OR REPLACE TABLE {_DRAFT}.{PUBLISHED} AS SELECT * FROM published_fingerprints"
    )
    connection.unregister("published_fingerprints")


def _parts(table: str, fingerprints: dict[Part, str]) -> set[str]:
    return {part for name, part in fingerprints if name == table and part is not COLUMNS}


def _changed_parts(table: str, held: dict[Part, str], wanted: dict[Part, str]) -> set[str]:
    parts = _parts(table, held) | _parts(table, wanted)
    return {part for part in parts if held.get((table, part)) != wanted.get((table, part))}


def _write_table(connection: duckdb.DuckDBPyConnection, table: str, columns: str) -> None:
    order = f" ORDER BY {CAMPAIGN}" if _has_campaign(columns) else ""
    connection.execute(f"DROP TABLE IF EXISTS {_DRAFT}.{table}")
    connection.execute(f"CREATE TABLE {_DRAFT}.{table} AS SELECT * FROM main.{table}{order}")


def _write_campaigns(connection: duckdb.DuckDBPyConnection, table: str, campaigns: Iterable[str]) -> None:
    """Replace the rows of these campaigns ('' = rows without one) in the draft's copy of `table`."""
    chosen = list(campaigns)
    where = f"coalesce({CAMPAIGN}, '') IN (SELECT unnest(?::VARCHAR[]))"
    connection.execute(f"DELETE FROM {_DRAFT}.{table} WHERE {where}", [chosen])
    connection.execute(
        f"INSERT INTO {_DRAFT}.{table} SELECT * FROM main.{table} WHERE {where} ORDER BY {CAMPAIGN}", [chosen]
    )


def _frame(fingerprints: dict[Part, str]) -> pd.DataFrame:
    return pd.DataFrame(
        [(table, part, fingerprint) for (table, part), fingerprint in fingerprints.items()],
        columns=["table_name", "part", "fingerprint"],
    ).astype({"table_name": "string", "part": "string", "fingerprint": "string"})


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
