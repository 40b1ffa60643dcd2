"""The dashboard's snapshot: the tables the dashboard reads and nothing else, published again only when
one of them changed."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from dashboards import pitch, queries
from pipelines.warehouse import DASHBOARD_TABLES, Warehouse

RAW = ("landing_events", "grants", "owed_actions", "release_actions", "presave_fans", "s4a_song_timeline")


def _named_tables(module: object) -> set[str]:
    text = Path(module.__file__).read_text()  # type: ignore[attr-defined]
    return set(re.findall(r"\b(?:FROM|JOIN)\s+([a-z_]+)", text)) - {"information_schema"}


def _tables(snapshot: Path) -> set[str]:
    with duckdb.connect(str(snapshot), read_only=True) as connection:
        return {
            name
            for (name,) in connection.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }


def test_every_table_the_dashboard_queries_is_published() -> None:
    named = _named_tables(queries) | _named_tables(pitch)
    assert named, "the dashboard's SQL names its tables"
    assert named <= set(DASHBOARD_TABLES)


def test_the_snapshot_holds_the_marts_but_no_raw_rows(snapshot: Path) -> None:
    tables = _tables(snapshot)
    assert {"campaign_overview", "funnel_sources", "release_undelivered", "loaded_files"} <= tables
    assert not tables & set(RAW)


def test_a_write_of_raw_rows_only_leaves_the_snapshot_as_it_was_and_a_mart_change_publishes(
    tmp_path: Path,
) -> None:
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    with warehouse.writer():
        pass
    published = warehouse.snapshot_path.stat()
    with warehouse.writer() as connection:
        connection.execute(
            "INSERT INTO landing_events BY NAME SELECT 1 AS event_id, 'x' AS campaign_slug, "
            "now() AS occurred_at, 'visit' AS kind"
        )
    assert warehouse.snapshot_path.stat().st_ino == published.st_ino  # the dashboard keeps its cache
    with warehouse.writer() as connection:
        connection.execute(
            "INSERT INTO release_hours VALUES ('x', 'spotify', TIMESTAMPTZ '2026-12-04 00:00:00+00', "
            "'delivered', 3)"
        )
    assert warehouse.snapshot_path.stat().st_ino != published.st_ino
    assert queries.WarehouseReader(warehouse.snapshot_path).query("SELECT actions FROM release_hours")[
        "actions"
    ].tolist() == [3]


UNDELIVERED = (
    "INSERT INTO release_undelivered SELECT 'c' || (i % 40), 'spotify', 'save_release', 'failed', "
    "'fan' || i, TIMESTAMPTZ '2026-12-04 00:00:00+00', 1, 'grant lost' FROM range({rows}) t(i)"
)


def _rows(path: Path, table: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as connection:
        return sorted(connection.execute(f"SELECT * FROM {table}").fetchall(), key=repr)


def _assert_published(warehouse: Warehouse, *tables: str) -> None:
    for table in tables:
        assert _rows(warehouse.snapshot_path, table) == _rows(warehouse.path, table), table


def test_the_snapshot_holds_the_warehouses_rows_after_changes_to_some_campaigns_all_and_the_columns(
    tmp_path: Path,
) -> None:
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    with warehouse.writer() as connection:
        connection.execute(UNDELIVERED.format(rows=4000))
        connection.execute("INSERT INTO source_freshness (source, rows) VALUES ('inbox', 1)")
    _assert_published(warehouse, "release_undelivered", "source_freshness")
    writes = (
        "UPDATE release_undelivered SET attempts = 2 WHERE fan = 'fan7'",  # one campaign's row
        "DELETE FROM release_undelivered WHERE campaign_slug = 'c3'",  # a campaign gone
        "INSERT INTO release_undelivered SELECT * REPLACE ('c99' AS campaign_slug) "
        "FROM release_undelivered WHERE campaign_slug = 'c4'",  # a new campaign
        "UPDATE release_undelivered SET reason = 'revoked'",  # every campaign
        "UPDATE source_freshness SET rows = 3",  # a table without a campaign column
        "ALTER TABLE release_undelivered ADD COLUMN note VARCHAR DEFAULT 'x'",  # new columns
    )
    for write in writes:
        with warehouse.writer() as connection:
            connection.execute(write)
        _assert_published(warehouse, "release_undelivered", "source_freshness")
    assert _rows(warehouse.snapshot_path, "release_undelivered")[0][-1] == "x"


def test_republishing_the_same_campaigns_again_and_again_leaves_the_snapshot_its_size(tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    with warehouse.writer() as connection:
        connection.execute(UNDELIVERED.format(rows=400_000))
    fresh = warehouse.snapshot_path.stat().st_size
    for round in range(12):
        with warehouse.writer() as connection:
            if round % 2:
                connection.execute("UPDATE release_undelivered SET attempts = attempts + 1")
            else:
                connection.execute(
                    f"UPDATE release_undelivered SET attempts = {round} WHERE campaign_slug = 'c1'"
                )
    _assert_published(warehouse, "release_undelivered")
    assert warehouse.snapshot_path.stat().st_size <= 2 * fresh
