"""The DuckDB warehouse: one writer at a time, and a read-only snapshot for the dashboard published after
each write.

DuckDB lets one process write a file while no other process reads it. Writers take a file lock, write and
checkpoint; then, still holding the lock, the writer brings the snapshot of the tables the dashboard reads
up to date (`pipelines/publish.py`: only what changed, in a copy renamed over the snapshot). Readers (the
dashboard) always open a complete snapshot, and a reader already open keeps its old file until it
reconnects. The raw tables stay in the warehouse file alone: everything else that reads it (asset checks,
reports) opens it read-only under the same lock, so it never meets a write half done."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd
from filelock import FileLock

from campaigns.private_files import make_private
from campaigns.settings import snapshot_path
from pipelines.publish import DASHBOARD_TABLES as DASHBOARD_TABLES
from pipelines.publish import publish
from pipelines.schema import ensure_schema


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
