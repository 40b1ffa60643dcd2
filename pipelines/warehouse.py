"""The DuckDB warehouse: one writer at a time, and a read-only snapshot for the dashboard published after
each write.

DuckDB lets one process write a file while no other process reads it. Writers take a file lock, write and
checkpoint; then, still holding the lock, the writer copies the tables the dashboard reads
(`DASHBOARD_TABLES`: the marts and ingest's bookkeeping, never the raw exports, landing events or ledger)
into a new file and renames it over the snapshot. Readers (the dashboard) always open a complete
snapshot, and a reader already open keeps its old file until it reconnects. The raw tables stay in the
warehouse file alone: everything else that reads it (asset checks, reports) opens it read-only under the
same lock, so it never meets a write half done.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd
from filelock import FileLock

from campaigns.private_files import make_private
from campaigns.settings import snapshot_path
from pipelines.schema import ensure_schema

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


class Warehouse:
    def __init__(self, path: Path, *, lock_timeout: float = 600.0) -> None:
        self.path = Path(path)
        self.snapshot_path = snapshot_path(self.path)
        self._lock = FileLock(str(self.path.with_name(self.path.name + ".lock")), timeout=lock_timeout)

    @contextmanager
    def writer(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection for one unit of writing; the snapshot is republished when it closes cleanly."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            connection = duckdb.connect(str(self.path))
            make_private(self.path)
            try:
                ensure_schema(connection)
                yield connection
                connection.execute("CHECKPOINT")
                publish(connection, self.snapshot_path)
            finally:
                connection.close()

    @contextmanager
    def reader(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection on the whole warehouse file, taken under the writers' lock (so no write
        is under way) and held until the block ends: for asset checks and reports, not the dashboard."""
        if not self.path.exists():
            with self.writer():
                pass
        with self._lock:
            connection = duckdb.connect(str(self.path), read_only=True)
            try:
                yield connection
            finally:
                connection.close()

    @staticmethod
    def replace_rows(
        connection: duckdb.DuckDBPyConnection, table: str, frames: Iterable[pd.DataFrame]
    ) -> int:
        """Swap a table's whole content for the frames' rows (see `replace`)."""
        return replace(connection, table, frames)


def publish(connection: duckdb.DuckDBPyConnection, snapshot: Path) -> bool:
    """Bring the dashboard's snapshot up to date with the warehouse the writer's `connection` holds, and
    say whether it changed.

    The snapshot keeps a fingerprint of each table it holds (`published_tables`: row count and a sum of
    row hashes, ~20 ms over every dashboard table at 10M warehouse rows). A write that changed none of
    `DASHBOARD_TABLES` (raw exports, landing events, the ledger) publishes nothing; otherwise the last
    snapshot is copied beside itself, only the changed tables are replaced in the copy, and the copy is
    renamed over the snapshot (same folder, so atomic; a private folder, so nobody reads the draft). A
    table the warehouse lacks is left out (the dashboard says it has no data yet)."""
    wanted = _fingerprints(connection)
    with tempfile.TemporaryDirectory(prefix=f".{snapshot.name}.", dir=snapshot.parent) as folder:
        draft = Path(folder) / snapshot.name
        if snapshot.exists():
            shutil.copyfile(snapshot, draft)
        connection.execute(f"ATTACH '{draft}' AS {_DRAFT}")
        try:
            held = _published(connection)
            if held == wanted:
                return False
            for table in sorted(set(held) - set(wanted)):
                connection.execute(f"DROP TABLE IF EXISTS {_DRAFT}.{table}")
            for table, fingerprint in wanted.items():
                if held.get(table) != fingerprint:
                    connection.execute(f"DROP TABLE IF EXISTS {_DRAFT}.{table}")
                    connection.execute(
                        f"CREATE TABLE {_DRAFT}.{table} AS SELECT * FROM main.{table}{_order(connection, table)}"
                    )
            connection.execute(
                f"CREATE OR REPLACE TABLE {_DRAFT}.{PUBLISHED} (table_name VARCHAR, fingerprint VARCHAR)"
            )
            connection.executemany(f"INSERT INTO {_DRAFT}.{PUBLISHED} VALUES (?, ?)", list(wanted.items()))
        finally:
            connection.execute(f"DETACH {_DRAFT}")
        make_private(draft)
        os.replace(draft, snapshot)
    return True


_DRAFT = "dashboard_draft"
PUBLISHED = "published_tables"  # in the snapshot: each table it holds and that table's fingerprint


def _fingerprints(connection: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Per dashboard table the warehouse holds: its columns, row count and the sum of its rows' hashes."""
    columns = dict(
        connection.execute(
            "SELECT table_name, string_agg(column_name || ' ' || data_type, ', ' ORDER BY ordinal_position) "
            "FROM information_schema.columns WHERE table_catalog = current_database() "
            "AND table_schema = 'main' GROUP BY ALL"
        ).fetchall()
    )
    present = [table for table in DASHBOARD_TABLES if table in columns]
    if not present:
        return {}
    sums = connection.execute(
        " UNION ALL ".join(
            f"SELECT '{table}', count(*), coalesce(sum(hash(row)), 0)::VARCHAR FROM main.{table} row"
            for table in present
        )
    ).fetchall()
    return {table: f"{rows}:{total}:{columns[table]}" for table, rows, total in sums}


def _published(connection: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """What the draft (a copy of the last snapshot) holds; a snapshot without fingerprints (none yet, or
    a whole-warehouse copy of older versions) is emptied so it is written afresh."""
    tables = [
        name
        for (name,) in connection.execute(
            f"SELECT table_name FROM information_schema.tables WHERE table_catalog = '{_DRAFT}'"
        ).fetchall()
    ]
    if PUBLISHED in tables:
        return dict(connection.execute(f"SELECT * FROM {_DRAFT}.{PUBLISHED}").fetchall())
    for table in tables:
        connection.execute(f"DROP TABLE {_DRAFT}.{table}")
    return {}


def _order(connection: duckdb.DuckDBPyConnection, table: str) -> str:
    columns = {row[0] for row in connection.execute(f"DESCRIBE main.{table}").fetchall()}
    return " ORDER BY campaign_slug" if "campaign_slug" in columns else ""


@contextmanager
def transaction(connection: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """BEGIN, then COMMIT when the block ends, or ROLLBACK if it raises (nothing half-written is left)."""
    connection.execute("BEGIN")
    try:
        yield connection
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def replace(
    connection: duckdb.DuckDBPyConnection,
    table: str,
    rows: Iterable[pd.DataFrame] | str,
    *,
    where: str | None = None,
    params: Sequence[object] = (),
) -> int:
    """The one way a writer swaps warehouse rows: delete the table's rows (or those `where` selects, with
    `params`) and insert the new ones, data frames (matched by column name) or a SELECT, in one
    transaction rolled back if anything fails. Returns the rows inserted."""
    with transaction(connection):
        connection.execute(f"DELETE FROM {table}" + (f" WHERE {where}" if where else ""), list(params))
        if isinstance(rows, str):
            inserted = connection.execute(f"INSERT INTO {table} BY NAME {rows}").fetchone()
            return int(inserted[0]) if inserted else 0
        return sum(insert_rows(connection, table, frame) for frame in rows)


def insert_rows(connection: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> int:
    if frame.empty:
        return 0
    connection.register("incoming_frame", frame)
    # No `finally`: after a failed INSERT the transaction is aborted, and unregistering would fail too and
    # hide the error (the next register of the name replaces the frame).
    connection.execute(f"INSERT INTO {table} BY NAME SELECT * FROM incoming_frame")
    connection.unregister("incoming_frame")
    return len(frame)
