"""Loading export files into the warehouse: every kind, once by content, latest export wins, bad files
quarantined with their reason while the good ones load, nothing half-loaded."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest

from collectors.exports import KINDS
from pipelines.exports.ingest import ingest_files
from pipelines.exports.kinds import KINDS as LOADED_KINDS
from pipelines.warehouse import Warehouse
from tests.collectors.exports_files import (
    AMFA_DAILY_PLAYS_EN,
    AMFA_DAILY_PLAYS_FR,
    AMFA_LISTENERS,
    AMFA_SONGS_EN,
    AMFA_SONGS_FR,
    DISTROKID_CURRENT,
    DISTROKID_LEGACY,
    DISTROKID_SONG_ALBUM,
    PRESAVE_FANS,
    S4A_AUDIENCE,
    S4A_SONG_TIMELINE,
    S4A_SONGS,
    write_rows,
    write_text,
)


def pseudonym(*parts: str) -> str:
    return "fan-" + "-".join(parts).replace("@", "_at_")[:20]


@pytest.fixture
def warehouse(tmp_path: Path) -> Warehouse:
    return Warehouse(tmp_path / "warehouse.duckdb")


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "inbox"
    folder.mkdir()
    return folder


def ingest(warehouse: Warehouse, *paths: Path, batch_rows: int = 500_000):
    root = warehouse.path.parent
    return ingest_files(
        list(paths),
        warehouse,
        root / "quarantine",
        root / "loaded",
        pseudonym=pseudonym,
        batch_rows=batch_rows,
    )


def rows(warehouse: Warehouse, sql: str) -> list[tuple]:
    with warehouse.reader() as connection:
        return connection.execute(sql).fetchall()


def test_every_export_kind_has_a_loader() -> None:
    assert set(LOADED_KINDS) == set(KINDS)


@pytest.mark.parametrize(
    ("name", "content", "options", "table", "expected"),
    [
        (
            "Nova Lane-audience-timeline.csv",
            S4A_AUDIENCE,
            {"encoding": "utf-8-sig"},
            "SELECT artist, date, listeners, streams, followers FROM s4a_audience_timeline ORDER BY date",
            [
                ("Nova Lane", date(2025, 3, 1), 12, 15, 40),
                ("Nova Lane", date(2025, 3, 2), 9, 11, 41),
                ("Nova Lane", date(2025, 3, 3), 1204, 1530, 1041),
            ],
        ),
        (
            "Nova Lane-songs-1year.csv",
            S4A_SONGS,
            {"line_end": "\r\n"},
            "SELECT artist, time_window, song, streams, release_date FROM s4a_songs ORDER BY song",
            [
                ("Nova Lane", "12m", "Néon Skyline", 902, date(2025, 2, 14)),
                ("Nova Lane", "12m", "Tidewater, Part 2", 300, date(2024, 11, 1)),
            ],
        ),
        (
            "Nova Lane__Midnight Drive-timeline.csv",
            S4A_SONG_TIMELINE,
            {"line_end": "\r"},
            "SELECT artist, song, date, streams FROM s4a_song_timeline ORDER BY date",
            [
                ("Nova Lane", "Midnight Drive", date(2026, 1, 1), 120),
                ("Nova Lane", "Midnight Drive", date(2026, 1, 2), 98),
            ],
        ),
        (
            "songs.csv",
            AMFA_SONGS_EN,
            {"delimiter": ";"},
            "SELECT artist, song, plays, listeners, shazams FROM amfa_songs ORDER BY song",
            [(None, "Néon Skyline", 1520, 610, 33), (None, "Tidewater", 800, 300, 0)],
        ),
        (
            "Nova Lane__morceaux.csv",
            AMFA_SONGS_FR,
            {"encoding": "latin-1", "delimiter": ";"},
            "SELECT artist, song, plays, avg_daily_listeners FROM amfa_songs ORDER BY song",
            [("Nova Lane", "Néon Skyline", 1520, 12.5), ("Nova Lane", "Tidewater", 1800, 3.25)],
        ),
        (
            "Nova Lane__daily-plays.csv",
            AMFA_DAILY_PLAYS_EN,
            {},
            "SELECT artist, date, song, plays FROM amfa_daily_plays ORDER BY date",
            [
                ("Nova Lane", date(2025, 3, 1), "Néon Skyline", 52),
                ("Nova Lane", date(2025, 3, 2), "Néon Skyline", 61),
            ],
        ),
        (
            "Nova Lane - Daily Plays.csv",
            AMFA_DAILY_PLAYS_EN,
            {},
            "SELECT DISTINCT artist FROM amfa_daily_plays",
            [("Nova Lane",)],
        ),
        (
            "ecoutes.csv",
            AMFA_DAILY_PLAYS_FR,
            {"encoding": "utf-8-sig", "delimiter": ";", "line_end": "\r\n"},
            "SELECT date, plays FROM amfa_daily_plays ORDER BY date",
            [(date(2025, 3, 1), 52), (date(2025, 3, 13), 61)],
        ),
        (
            "listeners.csv",
            AMFA_LISTENERS,
            {"delimiter": "\t"},
            "SELECT date, listeners FROM amfa_listeners ORDER BY date",
            [(date(2025, 3, 1), 40), (date(2025, 3, 2), 38)],
        ),
        (
            "bank.tsv",
            DISTROKID_CURRENT,
            {"encoding": "latin-1", "delimiter": "\t", "line_end": "\r", "quote_all": True},
            "SELECT sale_month, store, artist, upc, country, quantity, earnings_usd, recoup_usd "
            "FROM distrokid_bank ORDER BY sale_month",
            [
                (date(2026, 1, 1), "Apple Music", "Tést Ärtist", "0198880045560", "US", -1, -0.009, 0.5),
                (date(2026, 2, 1), "Spotify", "Tést Ärtist", "0198880045560", "FR", 3, 0.011, None),
            ],
        ),
        (
            "bank-song-album.tsv",
            DISTROKID_SONG_ALBUM,
            {"delimiter": "\t"},
            "SELECT count(*), sum(quantity) FROM distrokid_bank",
            [(2, 2)],
        ),
        (
            "bank-legacy.csv",
            DISTROKID_LEGACY,
            {"encoding": "latin-1"},
            "SELECT reporting_date, store, isrc, quantity, earnings_usd, recoup_usd FROM distrokid_bank",
            [(date(2026, 8, 25), "Spotify", "NLA1Z2600123", 10234, 31.45, None)],
        ),
    ],
)
def test_each_kind_loads_into_its_table(
    warehouse: Warehouse, inbox: Path, name: str, content, options: dict, table: str, expected: list
) -> None:
    path = write_rows(inbox / name, content, **options)
    report = ingest(warehouse, path)
    assert report.refused == []
    assert len(report.loaded) == 1
    assert rows(warehouse, table) == expected
    assert rows(warehouse, "SELECT file_name, rows FROM loaded_files") == [(name, len(content) - 1)]
    assert not path.exists()  # moved out of the inbox
    assert (warehouse.path.parent / "loaded" / name).exists()


def test_the_same_file_twice_changes_nothing(warehouse: Warehouse, inbox: Path) -> None:
    first = write_rows(inbox / "Nova Lane-audience-timeline.csv", S4A_AUDIENCE)
    ingest(warehouse, first)
    again = write_rows(inbox / "Nova Lane-audience-timeline (1).csv", S4A_AUDIENCE)
    report = ingest(warehouse, again)
    assert report.loaded == []
    assert report.duplicates == ["Nova Lane-audience-timeline (1).csv"]
    assert rows(warehouse, "SELECT count(*) FROM s4a_audience_timeline") == [(3,)]
    assert rows(warehouse, "SELECT count(*) FROM loaded_files") == [(1,)]


def _audience(path: Path, days: list[tuple[str, int]]) -> Path:
    return write_rows(
        path, [["date", "listeners", "streams", "followers"], *[[d, n, n * 2, 100] for d, n in days]]
    )


@pytest.mark.parametrize("order", ["older first", "newer first"])
def test_overlapping_exports_merge_per_day_and_the_latest_export_wins(
    warehouse: Warehouse, inbox: Path, order: str
) -> None:
    older = _audience(inbox / "a.csv", [("2025-03-01", 10), ("2025-03-02", 11), ("2025-03-03", 12)])
    newer = _audience(inbox / "b.csv", [("2025-03-03", 30), ("2025-03-04", 40)])
    # Spotify for Artists names every audience export alike; the file name carries the artist.
    older = older.rename(inbox / "Nova Lane-audience-timeline.csv")
    newer = newer.rename(inbox / "Nova Lane-audience-timeline (1).csv")
    for path in [older, newer] if order == "older first" else [newer, older]:
        ingest(warehouse, path)
    assert rows(
        warehouse, "SELECT date, listeners, source_file FROM s4a_audience_timeline ORDER BY date"
    ) == [
        (date(2025, 3, 1), 10, "Nova Lane-audience-timeline.csv"),
        (date(2025, 3, 2), 11, "Nova Lane-audience-timeline.csv"),
        (date(2025, 3, 3), 30, "Nova Lane-audience-timeline (1).csv"),
        (date(2025, 3, 4), 40, "Nova Lane-audience-timeline (1).csv"),
    ]


def test_a_revised_export_of_the_same_days_replaces_the_earlier_one(
    warehouse: Warehouse, inbox: Path
) -> None:
    ingest(warehouse, _audience(inbox / "Nova Lane-audience-timeline.csv", [("2025-03-01", 10)]))
    ingest(warehouse, _audience(inbox / "Nova Lane-audience-timeline.csv", [("2025-03-01", 13)]))
    assert rows(warehouse, "SELECT listeners FROM s4a_audience_timeline") == [(13,)]


def test_undated_exports_are_ordered_by_when_the_file_was_written(warehouse: Warehouse, inbox: Path) -> None:
    header = ["song", "listeners", "streams", "saves", "release_date"]
    newer = write_rows(inbox / "Nova Lane-songs-28days.csv", [header, ["Neon", 5, 50, 1, "2025-01-01"]])
    older = write_rows(inbox / "Nova Lane-songs-28days (1).csv", [header, ["Neon", 4, 40, 1, "2025-01-01"]])
    os.utime(older, (1_700_000_000, 1_700_000_000))
    ingest(warehouse, newer)
    ingest(warehouse, older)
    assert rows(warehouse, "SELECT streams, as_of FROM s4a_songs") == [(50, datetime.now(UTC).date())]


def test_artists_are_merged_apart(warehouse: Warehouse, inbox: Path) -> None:
    ingest(warehouse, _audience(inbox / "Nova Lane-audience-timeline.csv", [("2025-03-01", 10)]))
    ingest(warehouse, _audience(inbox / "Mara Ellis-audience-timeline.csv", [("2025-03-01", 99)]))
    assert rows(warehouse, "SELECT artist, listeners FROM s4a_audience_timeline ORDER BY artist") == [
        ("Mara Ellis", 99),
        ("Nova Lane", 10),
    ]


def test_distrokid_report_lines_of_one_fact_are_added_up_and_a_later_report_replaces_them(
    warehouse: Warehouse, inbox: Path
) -> None:
    header, line = DISTROKID_CURRENT[0], DISTROKID_CURRENT[1]
    quantity, earnings = header.index("Quantity"), header.index("Earnings (USD)")
    twice = [header, line, [*line[:quantity], "4", *line[quantity + 1 : earnings], "0.02", line[-1]]]
    ingest(warehouse, write_rows(inbox / "bank.tsv", twice, delimiter="\t"))
    assert rows(warehouse, "SELECT quantity, round(earnings_usd, 6), report_rows FROM distrokid_bank") == [
        (7, 0.031, 2)
    ]
    revised = [header, [*line[:quantity], "5", *line[quantity + 1 :]]]
    ingest(warehouse, write_rows(inbox / "bank (1).tsv", revised, delimiter="\t"))
    assert rows(warehouse, "SELECT quantity, report_rows FROM distrokid_bank") == [(5, 1)]


def test_fan_exports_keep_no_personal_data_and_merge_per_campaign_and_day(
    warehouse: Warehouse, inbox: Path
) -> None:
    fans = [[*PRESAVE_FANS[0], "Campaign"], *[[*row, "Midnight Drive"] for row in PRESAVE_FANS[1:]]]
    ingest(warehouse, write_rows(inbox / "featurefm.csv", fans))
    loaded = rows(
        warehouse,
        "SELECT campaign, presaved_on, service, country, source, opted_in, fan_key FROM presave_fans "
        "ORDER BY presaved_at",
    )
    assert loaded == [
        (
            "Midnight Drive",
            date(2026, 11, 20),
            "spotify",
            "FR",
            "instagram",
            True,
            pseudonym("email", "ada@example.com"),
        ),
        (
            "Midnight Drive",
            date(2026, 11, 21),
            "apple",
            "US",
            "tiktok",
            False,
            pseudonym("email", "bo@example.org"),
        ),
        (
            "Midnight Drive",
            date(2026, 11, 21),
            "deezer",
            "FR",
            None,
            None,
            pseudonym("email", "ada@example.com"),
        ),
    ]
    with warehouse.reader() as connection:
        text = str(connection.execute("SELECT * FROM presave_fans").fetchall())
    assert "@" not in text
    assert "Ada" not in text
    # A later export of the 21st (one fan left) replaces that day only.
    later = [fans[0], fans[3]]
    ingest(warehouse, write_rows(inbox / "featurefm (1).csv", later))
    assert rows(warehouse, "SELECT presaved_on, service FROM presave_fans ORDER BY presaved_at") == [
        (date(2026, 11, 20), "spotify"),
        (date(2026, 11, 21), "deezer"),
    ]


def test_a_fan_export_without_a_campaign_column_takes_it_from_the_file_name(
    warehouse: Warehouse, inbox: Path
) -> None:
    ingest(warehouse, write_rows(inbox / "midnight-drive__hypeddit.csv", PRESAVE_FANS))
    assert rows(warehouse, "SELECT DISTINCT campaign FROM presave_fans") == [("midnight-drive",)]


def _reason(warehouse: Warehouse, name: str) -> str:
    return (warehouse.path.parent / "quarantine" / f"{name}.reason.txt").read_text()


@pytest.mark.parametrize(
    ("name", "text", "line", "problem"),
    [
        ("Nova Lane-audience-timeline.csv", "date,listens,plays\n2025-03-01,1,2\n", "1", "unknown header"),
        (
            "Nova Lane-audience-timeline.csv",
            "date,listeners,streams,followers\n2025-03-01,1,2,3\n2025-02-30,1,2,3\n",
            "3",
            "bad date '2025-02-30' in column date",
        ),
        (
            "Nova Lane-audience-timeline.csv",
            "date,listeners,streams,followers\n2025-03-01,1,-2,3\n",
            "2",
            "impossible value -2 in column streams: cannot be negative",
        ),
        (
            "Nova Lane-audience-timeline.csv",
            "date,listeners,streams,followers\n2025-03-01,1,2,3\n2025-03-02,50,20,3\n",
            "3",
            "impossible value: 50 listeners but only 20 streams",
        ),
        (
            "Nova Lane-audience-timeline.csv",
            "date,listeners,streams,followers\n2025-03-01,1,2,3\n2025-03-02,1,2",
            "3",
            "truncated file: the last row has 3 of 4 fields",
        ),
        (
            "Nova Lane-audience-timeline.csv",
            "date,listeners,streams,followers\n2025-03-01,1,2,3\n2025-03-02,1,2,3\n2025-03-01,1,5,3\n",
            "4",
            "conflicting rows: artist 'Nova Lane', date 2025-03-01 appears again with different values",
        ),
        (
            "audience.csv",
            "date,listeners,streams,followers\n2025-03-01,1,2,3\n",
            "(the whole file)",
            "the artist is unknown",
        ),
        (
            "fans.csv",
            "Date,Service,Country\n2026-11-20,Spotify,FR\n",
            "2",
            "no campaign for this fan",
        ),
    ],
)
def test_a_bad_file_is_quarantined_with_its_file_line_and_problem(
    warehouse: Warehouse, inbox: Path, name: str, text: str, line: str, problem: str
) -> None:
    bad = write_text(inbox / name, text)
    report = ingest(warehouse, bad)
    assert report.loaded == []
    assert [name for name, _ in report.refused] == [name]
    reason = _reason(warehouse, name)
    assert f"file: {name}\n" in reason
    assert f"line: {line}\n" in reason
    assert problem in reason
    assert (warehouse.path.parent / "quarantine" / name).exists()
    assert not bad.exists()
    assert rows(warehouse, "SELECT count(*) FROM loaded_files") == [(0,)]


def test_the_good_files_load_while_the_bad_one_is_quarantined(warehouse: Warehouse, inbox: Path) -> None:
    good = write_rows(inbox / "Nova Lane-audience-timeline.csv", S4A_AUDIENCE)
    bad = write_text(inbox / "Mara Ellis-audience-timeline.csv", "date,listeners,streams\n2025-13-01,1,2\n")
    also_good = write_rows(inbox / "bank.tsv", DISTROKID_LEGACY, delimiter="\t")
    report = ingest(warehouse, good, bad, also_good)
    assert [name for name, *_ in report.loaded] == ["Nova Lane-audience-timeline.csv", "bank.tsv"]
    assert [name for name, _ in report.refused] == ["Mara Ellis-audience-timeline.csv"]
    assert rows(warehouse, "SELECT DISTINCT artist FROM s4a_audience_timeline") == [("Nova Lane",)]
    assert rows(warehouse, "SELECT count(*) FROM distrokid_bank") == [(1,)]


def test_a_file_refused_after_some_batches_leaves_nothing_behind(warehouse: Warehouse, inbox: Path) -> None:
    ingest(warehouse, _audience(inbox / "Nova Lane-audience-timeline.csv", [("2025-03-01", 10)]))
    days = [[f"2025-04-{d:02d}", 5, 9, 1] for d in range(1, 21)]
    days.append(["2025-04-31", 5, 9, 1])  # the 21st row, in the fourth batch of six
    bad = write_rows(
        inbox / "Nova Lane-audience-timeline (1).csv", [["date", "listeners", "streams", "followers"], *days]
    )
    report = ingest(warehouse, bad, batch_rows=6)
    assert [name for name, _ in report.refused] == ["Nova Lane-audience-timeline (1).csv"]
    assert "line: 22\n" in _reason(warehouse, "Nova Lane-audience-timeline (1).csv")
    assert rows(warehouse, "SELECT date, listeners FROM s4a_audience_timeline") == [(date(2025, 3, 1), 10)]
    with duckdb.connect(str(warehouse.path), read_only=True) as connection:
        tables = {t for (t,) in connection.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert not any(t.startswith("staged") for t in tables)


def test_big_files_load_in_batches_with_the_same_result(warehouse: Warehouse, inbox: Path) -> None:
    days = [[f"2025-{m:02d}-{d:02d}", d, d * 3, 100 + d] for m in (1, 2) for d in range(1, 29)]
    path = write_rows(
        inbox / "Nova Lane-audience-timeline.csv", [["date", "listeners", "streams", "followers"], *days]
    )
    seen: list[int] = []
    root = warehouse.path.parent
    ingest_files(
        [path],
        warehouse,
        root / "quarantine",
        root / "loaded",
        on_rows=lambda _p, n: seen.append(n),
        batch_rows=10,
    )
    assert seen == [10, 20, 30, 40, 50, 56]
    assert rows(warehouse, "SELECT count(*), sum(streams) FROM s4a_audience_timeline") == [(56, 2 * 3 * 406)]


def test_a_warehouse_from_before_content_hashes_gets_the_new_columns_and_its_days_replaced(
    warehouse: Warehouse, inbox: Path
) -> None:
    with duckdb.connect(str(warehouse.path)) as connection:
        connection.execute(
            "CREATE TABLE s4a_audience_timeline (artist VARCHAR NOT NULL, date DATE NOT NULL, listeners BIGINT, "
            "streams BIGINT, followers BIGINT, source_file VARCHAR NOT NULL, PRIMARY KEY (artist, date))"
        )
        connection.execute(
            "INSERT INTO s4a_audience_timeline VALUES ('Nova Lane', '2025-03-01', 1, 1, 1, 'old.csv')"
        )
    ingest(
        warehouse,
        _audience(inbox / "Nova Lane-audience-timeline.csv", [("2025-03-01", 10), ("2025-03-02", 11)]),
    )
    assert rows(
        warehouse, "SELECT date, listeners, playlist_adds FROM s4a_audience_timeline ORDER BY date"
    ) == [
        (date(2025, 3, 1), 10, None),
        (date(2025, 3, 2), 11, None),
    ]


# rows dated after the load moment ----------------------------------------------------------------------


def _ingest_at(warehouse: Warehouse, loaded_at: datetime, *paths: Path):
    root = warehouse.path.parent
    return ingest_files(
        list(paths), warehouse, root / "quarantine", root / "loaded", pseudonym=pseudonym, loaded_at=loaded_at
    )


@pytest.mark.parametrize(
    ("name", "content", "loaded_at", "line", "dated", "table"),
    [
        (
            "Nova Lane-audience-timeline.csv",
            S4A_AUDIENCE,
            datetime(2025, 3, 2, 9, tzinfo=UTC),
            "4",
            "2025-03-03",
            "s4a_audience_timeline",
        ),
        (
            "Nova Lane__Midnight Drive-timeline.csv",
            S4A_SONG_TIMELINE,
            datetime(2026, 1, 1, 9, tzinfo=UTC),
            "3",
            "2026-01-02",
            "s4a_song_timeline",
        ),
        (
            "Nova Lane - Listeners.csv",
            AMFA_LISTENERS,
            datetime(2025, 2, 28, 8, tzinfo=UTC),
            "2",
            "2025-03-01",
            "amfa_listeners",
        ),
        (
            "bank.tsv",
            DISTROKID_LEGACY,
            datetime(2026, 8, 20, tzinfo=UTC),
            "2",
            "2026-08-25",
            "distrokid_bank",
        ),
        (
            "midnight-drive__fans.csv",
            PRESAVE_FANS,
            datetime(2026, 11, 20, 12, tzinfo=UTC),
            "3",
            "2026-11-21 09:00:00",
            "presave_fans",
        ),
    ],
)
def test_a_file_with_a_row_dated_after_its_load_moment_is_quarantined_naming_the_row_and_date(
    warehouse: Warehouse,
    inbox: Path,
    name: str,
    content: list[list[str]],
    loaded_at: datetime,
    line: str,
    dated: str,
    table: str,
) -> None:
    path = write_rows(inbox / name, content, delimiter="\t" if name.endswith(".tsv") else ",")
    report = _ingest_at(warehouse, loaded_at, path)
    assert report.loaded == []
    assert [refused for refused, _ in report.refused] == [name]
    reason = _reason(warehouse, name)
    assert f"file: {name}\n" in reason
    assert f"line: {line}\n" in reason
    assert f"row dated {dated}, after the moment this file was loaded" in reason
    assert rows(warehouse, f"SELECT count(*) FROM {table}") == [(0,)]  # no day to come counts as history


def test_days_that_have_begun_somewhere_load(warehouse: Warehouse, inbox: Path) -> None:
    # At 10:00 UTC on 2 March it is already 3 March in Kiritimati (UTC+14): an export may hold that day.
    path = write_rows(inbox / "Nova Lane-audience-timeline.csv", S4A_AUDIENCE)
    report = _ingest_at(warehouse, datetime(2025, 3, 2, 10, tzinfo=UTC), path)
    assert [loaded for loaded, *_ in report.loaded] == ["Nova Lane-audience-timeline.csv"]
    assert rows(warehouse, "SELECT max(date) FROM s4a_audience_timeline") == [(date(2025, 3, 3),)]
