"""What a mart is: a warehouse table rebuilt whole from other tables, by SQL or by a pandas function.

`build(connection)` returns either a SQL query (inserted by column name) or a frame. Marts run inside the
warehouse writer's connection, so they read what the same run just wrote; the table is replaced in one
transaction, so a failed build leaves the previous rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import duckdb
import pandas as pd

from pipelines.schema import TABLES, Table
from pipelines.warehouse import insert_rows

Build = Callable[[duckdb.DuckDBPyConnection], "str | pd.DataFrame"]


@dataclass(frozen=True)
class Mart:
    name: str
    deps: tuple[str, ...]
    build: Build
    method: str  # how the numbers are made, in a sentence or two (shown in Dagster)
    expect_rows: str = "SELECT true"  # SQL: should the mart have rows, given its inputs?

    @property
    def table(self) -> Table:
        return TABLES[self.name]

    @property
    def description(self) -> str:
        key = ", ".join(self.table.key)
        return f"One row per {self.table.grain} (key: {key}). {self.method}"


def slug(expression: str) -> str:
    """SQL: text as a campaign slug (`Midnight Drive!` → `midnight-drive`), to match names to campaigns."""
    return f"trim(regexp_replace(lower(strip_accents({expression})), '[^a-z0-9]+', '-', 'g'), '-')"


def artist_key(expression: str) -> str:
    """SQL: an artist name on letters and digits only (file names lose punctuation and case)."""
    return f"regexp_replace(lower(strip_accents({expression})), '[^a-z0-9]', '', 'g')"


def rebuild(connection: duckdb.DuckDBPyConnection, mart: Mart) -> int:
    """Replace the mart's rows with a fresh build, in one transaction; returns the row count."""
    connection.execute("SET TimeZone = 'UTC'")
    connection.execute("SET enable_progress_bar = false")
    built = mart.build(connection)
    connection.execute("BEGIN")
    try:
        connection.execute(f"DELETE FROM {mart.name}")
        if isinstance(built, str):
            connection.execute(f"INSERT INTO {mart.name} BY NAME {built}")
        else:
            insert_rows(connection, mart.name, built)
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    rows: int = connection.execute(f"SELECT count(*) FROM {mart.name}").fetchone()[0]  # type: ignore[index]
    return rows


def frame(
    connection: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None
) -> pd.DataFrame:
    return connection.execute(sql, params or []).df()
