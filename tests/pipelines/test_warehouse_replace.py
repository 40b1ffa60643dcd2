from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from pipelines.warehouse import replace


@pytest.fixture
def connection() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    connection.execute("CREATE TABLE snapshots (artist VARCHAR, day DATE, followers BIGINT)")
    replace(
        connection,
        "snapshots",
        [
            pd.DataFrame(
                {"day": ["2026-11-30", "2026-12-01"], "artist": ["nova", "nova"], "followers": [10, 12]}
            )
        ],
    )
    return connection


def _rows(connection: duckdb.DuckDBPyConnection) -> list[tuple[object, ...]]:
    return connection.execute("SELECT artist, day::VARCHAR, followers FROM snapshots ORDER BY day").fetchall()


def test_replacing_with_a_condition_swaps_only_the_rows_it_selects(
    connection: duckdb.DuckDBPyConnection,
) -> None:
    frame = pd.DataFrame({"artist": ["nova"], "day": ["2026-12-01"], "followers": [15]})
    inserted = replace(connection, "snapshots", [frame], where="day = ?", params=["2026-12-01"])
    assert inserted == 1
    assert _rows(connection) == [("nova", "2026-11-30", 10), ("nova", "2026-12-01", 15)]


def test_a_select_replaces_the_whole_table_and_counts_what_it_inserted(
    connection: duckdb.DuckDBPyConnection,
) -> None:
    inserted = replace(
        connection, "snapshots", "SELECT 'lane' AS artist, DATE '2026-12-02' AS day, 3 AS followers"
    )
    assert inserted == 1
    assert _rows(connection) == [("lane", "2026-12-02", 3)]


def test_a_replacement_that_fails_half_way_leaves_the_old_rows(connection: duckdb.DuckDBPyConnection) -> None:
    good = pd.DataFrame({"artist": ["lane"], "day": ["2026-12-02"], "followers": [1]})
    bad = pd.DataFrame({"artist": ["lane"], "day": ["not a day"], "followers": [2]})
    with pytest.raises(duckdb.ConversionException):
        replace(connection, "snapshots", [good, bad])
    assert _rows(connection) == [("nova", "2026-11-30", 10), ("nova", "2026-12-01", 12)]
