"""Each export layout read from a real file: kind, normalised columns, dtypes and values."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from exports_files import (
    AMFA_DAILY_PLAYS_EN,
    AMFA_DAILY_PLAYS_FR,
    AMFA_LISTENERS,
    AMFA_SONGS_EN,
    AMFA_SONGS_FR,
    DELIMITERS,
    DISTROKID_CURRENT,
    DISTROKID_LEGACY,
    DISTROKID_SONG_ALBUM,
    ENCODINGS,
    LINE_ENDS,
    PRESAVE_FANS,
    S4A_AUDIENCE,
    S4A_SONG_TIMELINE,
    S4A_SONGS,
    write_rows,
    write_text,
)

from campaigns.vault import TokenVault
from collectors.exports import KINDS, ExportTable, detect_kind, iter_export, read_export

DISTROKID_COLUMNS = [
    "reporting_date",
    "sale_month",
    "store",
    "artist",
    "title",
    "isrc",
    "upc",
    "quantity",
    "team_percentage",
    "source_type",
    "country",
    "songwriter_royalties_withheld_usd",
    "earnings_usd",
    "recoup_usd",
]


def test_every_kind_is_documented() -> None:
    readme = (Path(__file__).parents[2] / "collectors" / "exports" / "README.md").read_text()
    for kind in KINDS:
        assert f"`{kind}`" in readme


@pytest.mark.parametrize(
    ("name", "rows", "kind", "columns"),
    [
        (
            "Nova Lane-audience-timeline.csv",
            S4A_AUDIENCE,
            "s4a_audience_timeline",
            ["date", "listeners", "streams", "followers", "playlist_adds", "saves", "artist"],
        ),
        (
            "Nova Lane-songs-1year.csv",
            S4A_SONGS,
            "s4a_songs",
            ["song", "listeners", "streams", "saves", "release_date", "artist", "window"],
        ),
        (
            "Midnight Drive-timeline.csv",
            S4A_SONG_TIMELINE,
            "s4a_song_timeline",
            ["date", "streams", "song", "window"],
        ),
        (
            "songs.csv",
            AMFA_SONGS_EN,
            "amfa_songs",
            [
                "song",
                "album",
                "plays",
                "listeners",
                "avg_daily_listeners",
                "shazams",
                "radio_spins",
                "purchases",
            ],
        ),
        ("daily.csv", AMFA_DAILY_PLAYS_EN, "amfa_daily_plays", ["date", "song", "album", "plays"]),
        ("listeners.csv", AMFA_LISTENERS, "amfa_listeners", ["date", "listeners"]),
        ("bank.tsv", DISTROKID_CURRENT, "distrokid_bank", DISTROKID_COLUMNS),
        (
            "fans.csv",
            PRESAVE_FANS,
            "presave_fans",
            ["presaved_at", "service", "country", "campaign", "source", "opted_in", "fan_key"],
        ),
    ],
)
def test_each_layout_is_recognised_and_normalised(
    tmp_path: Path, name: str, rows: list[list[str]], kind: str, columns: list[str]
) -> None:
    path = write_rows(tmp_path / name, rows, delimiter="\t" if name.endswith(".tsv") else ",")
    assert detect_kind(path) == kind
    table = read_export(path)
    assert isinstance(table, ExportTable)
    assert table.kind == kind
    assert table.source == path
    assert list(table.frame.columns) == columns
    assert len(table.frame) == len(rows) - 1
    for column in table.frame.columns:
        dtype = str(table.frame[column].dtype)
        assert dtype in {"datetime64[s]", "Int64", "Float64", "str", "boolean"}, (column, dtype)


def test_kind_comes_from_the_header_not_the_file_name(tmp_path: Path) -> None:
    path = write_rows(tmp_path / "Nova Lane-audience-timeline.csv", DISTROKID_LEGACY, delimiter="\t")
    assert detect_kind(path) == "distrokid_bank"
    path = write_rows(tmp_path / "royalties.tsv", S4A_AUDIENCE)
    assert detect_kind(path) == "s4a_audience_timeline"


def test_audience_timeline_values_and_artist_from_file_name(tmp_path: Path) -> None:
    path = write_rows(tmp_path / "Nova Lane-audience-timeline.csv", S4A_AUDIENCE, encoding="utf-8-sig")
    table = read_export(path)
    frame = table.frame
    assert frame["date"].tolist() == [
        pd.Timestamp("2025-03-01"),
        pd.Timestamp("2025-03-02"),
        pd.Timestamp("2025-03-03"),
    ]
    assert frame["listeners"].tolist() == [12, 9, 1204]
    assert frame["streams"].tolist() == [15, 11, 1530]
    assert frame["followers"].tolist() == [40, 41, 1041]
    assert frame["saves"].isna().all()
    assert set(frame["artist"]) == {"Nova Lane"}
    assert table.meta["artist"] == "Nova Lane"


def test_audience_timeline_optional_columns(tmp_path: Path) -> None:
    rows = [
        ["date", "listeners", "streams", "followers", "playlist adds", "saves"],
        ["2025-03-01", 5, 6, 7, 2, 1],
    ]
    frame = read_export(write_rows(tmp_path / "A-audience-timeline.csv", rows)).frame
    assert frame.loc[0, "playlist_adds"] == 2
    assert frame.loc[0, "saves"] == 1


@pytest.mark.parametrize(
    ("name", "song", "window"),
    [
        ("Midnight Drive-timeline.csv", "Midnight Drive", None),
        ("Midnight Drive-28days-timeline.csv", "Midnight Drive", "28d"),
        ("Midnight Drive-timeline-12months.csv", "Midnight Drive", "12m"),
        ("Néon Skyline - Radio Edit-1year-timeline (1).csv", "Néon Skyline - Radio Edit", "12m"),
        ("Jay-Z Tribute-7days-timeline.csv", "Jay-Z Tribute", "7d"),
    ],
)
def test_song_timeline_takes_song_and_window_from_file_name(
    tmp_path: Path, name: str, song: str, window: str | None
) -> None:
    table = read_export(write_rows(tmp_path / name, S4A_SONG_TIMELINE, encoding="utf-8-sig"))
    assert table.kind == "s4a_song_timeline"
    assert table.meta["song"] == song
    assert table.meta.get("window") == window
    assert set(table.frame["song"]) == {song}
    assert table.frame["streams"].tolist() == [120, 98]
    if window is None:
        assert table.frame["window"].isna().all()
    else:
        assert set(table.frame["window"]) == {window}


def test_song_timeline_with_an_unrecognised_file_name_has_no_song(tmp_path: Path) -> None:
    table = read_export(write_rows(tmp_path / "export.csv", S4A_SONG_TIMELINE))
    assert "song" not in table.meta
    assert table.frame["song"].isna().all()


def test_songs_window_and_all_time_zeros(tmp_path: Path) -> None:
    year = read_export(write_rows(tmp_path / "Nova Lane-songs-1year.csv", S4A_SONGS)).frame
    assert year["song"].tolist() == ["Néon Skyline", "Tidewater, Part 2"]
    assert year["listeners"].tolist() == [310, 120]
    assert year["release_date"].tolist() == [pd.Timestamp("2025-02-14"), pd.Timestamp("2024-11-01")]
    assert set(year["window"]) == {"12m"}
    all_time_rows = [S4A_SONGS[0], ["Néon Skyline", "0", "5402", "0", "2025-02-14"]]
    all_time = read_export(write_rows(tmp_path / "Nova Lane-songs-all.csv", all_time_rows))
    assert all_time.meta["window"] == "all"
    # The all-time export reports 0 listeners and saves for every song: that means "not given".
    assert all_time.frame["listeners"].isna().all()
    assert all_time.frame["saves"].isna().all()
    assert all_time.frame["streams"].tolist() == [5402]


def test_apple_songs_english(tmp_path: Path) -> None:
    table = read_export(write_rows(tmp_path / "songs.csv", AMFA_SONGS_EN))
    frame = table.frame
    assert table.meta["language"] == "en"
    assert frame["plays"].tolist() == [1520, 800]
    assert frame["listeners"].tolist() == [610, 300]
    assert frame["shazams"].tolist() == [33, 0]
    assert frame["radio_spins"].tolist() == [4, 0]
    assert frame["purchases"].tolist() == [7, 1]
    assert frame["avg_daily_listeners"].isna().all()


def test_apple_songs_french_headers_and_number_format(tmp_path: Path) -> None:
    path = write_rows(tmp_path / "morceaux.csv", AMFA_SONGS_FR, delimiter=";", encoding="cp1252")
    table = read_export(path)
    frame = table.frame
    assert table.kind == "amfa_songs"
    assert table.meta["language"] == "fr"
    assert frame["song"].tolist() == ["Néon Skyline", "Tidewater"]
    assert frame["plays"].tolist() == [1520, 1800]
    assert frame["avg_daily_listeners"].tolist() == [12.5, 3.25]
    assert frame["listeners"].isna().all()


def test_apple_daily_plays_french_dates_are_day_first(tmp_path: Path) -> None:
    frame = read_export(write_rows(tmp_path / "ecoutes.csv", AMFA_DAILY_PLAYS_FR, delimiter=";")).frame
    assert frame["date"].tolist() == [pd.Timestamp("2025-03-01"), pd.Timestamp("2025-03-13")]
    assert frame["plays"].tolist() == [52, 61]


def test_apple_daily_plays_english_and_listeners(tmp_path: Path) -> None:
    plays = read_export(write_rows(tmp_path / "plays.csv", AMFA_DAILY_PLAYS_EN)).frame
    assert plays["song"].tolist() == ["Néon Skyline", "Néon Skyline"]
    assert plays["album"].isna().all()
    listeners = read_export(write_rows(tmp_path / "listeners.csv", AMFA_LISTENERS)).frame
    assert listeners["listeners"].tolist() == [40, 38]
    french = [["Date", "Auditeurs"], ["02/03/2025", "7"]]
    listeners_fr = read_export(write_rows(tmp_path / "auditeurs.csv", french, delimiter=";")).frame
    assert listeners_fr["date"].tolist() == [pd.Timestamp("2025-03-02")]


@pytest.mark.parametrize(
    ("rows", "variant"),
    [
        (DISTROKID_CURRENT, "current-15"),
        (DISTROKID_SONG_ALBUM, "current-15-song-album"),
        (DISTROKID_LEGACY, "legacy-13"),
    ],
)
def test_distrokid_generations(tmp_path: Path, rows: list[list[str]], variant: str) -> None:
    path = write_rows(
        tmp_path / "bank.tsv", rows, delimiter="\t", encoding="latin-1", line_end="\r", quote_all=True
    )
    table = read_export(path)
    frame = table.frame
    assert table.kind == "distrokid_bank"
    assert table.meta["variant"] == variant
    assert list(frame.columns) == DISTROKID_COLUMNS
    first = frame.iloc[0]
    source = rows[1] if variant == "legacy-13" else rows[1][1:]
    assert first["reporting_date"] == pd.Timestamp(source[0])
    assert first["sale_month"] == pd.Timestamp(source[1] + "-01")
    assert first["artist"] == source[3]
    assert first["upc"] == source[6], "leading zeros of a UPC are kept"
    assert first["source_type"] == "Song"
    if variant == "legacy-13":
        assert frame["recoup_usd"].isna().all()
        assert first["earnings_usd"] == pytest.approx(31.45)
    else:
        assert frame["quantity"].tolist() == [3, -1], "refunds are negative"
        assert frame["earnings_usd"].tolist() == pytest.approx([0.011, -0.009])
        assert pd.isna(frame.loc[0, "recoup_usd"])
        assert frame.loc[1, "recoup_usd"] == pytest.approx(0.5)
        assert frame["team_percentage"].tolist() == [50.0, 50.0]


def test_presave_fans_keep_no_personal_data(tmp_path: Path, vault: TokenVault) -> None:
    path = write_rows(tmp_path / "featurefm-fans.csv", PRESAVE_FANS)
    table = read_export(path, pseudonym=vault.pseudonym)
    frame = table.frame
    assert frame["service"].tolist() == ["spotify", "apple", "deezer"]
    assert frame["country"].tolist() == ["FR", "US", "FR"]
    assert frame["presaved_at"].tolist() == [
        pd.Timestamp("2026-11-20 14:22:05"),
        pd.Timestamp("2026-11-21 09:00:00"),
        pd.Timestamp("2026-11-21 10:30:00"),
    ]
    assert frame["opted_in"].tolist()[:2] == [True, False]
    assert pd.isna(frame.loc[2, "opted_in"])
    assert frame["source"].tolist()[:2] == ["instagram", "tiktok"]
    keys = frame["fan_key"].tolist()
    assert keys[0] == keys[2] == vault.pseudonym("email", "ada@example.com"), "one fan, case and spaces aside"
    assert keys[1] != keys[0]
    everything = [str(cell) for cell in frame.to_numpy().ravel()] + list(table.meta.values())
    assert not any("@" in cell or "Ada" in cell for cell in everything)
    assert table.meta["ignored_columns"] == "First Name, Last Name"


def test_presave_fans_free_text_holding_an_email_is_blanked(tmp_path: Path) -> None:
    rows = [list(row) for row in PRESAVE_FANS]
    rows[1][6] = "newsletter to ada@example.com"
    frame = read_export(write_rows(tmp_path / "fans.csv", rows)).frame
    assert pd.isna(frame.loc[0, "source"])
    assert frame.loc[1, "source"] == "tiktok"


def test_presave_fans_without_a_key_drop_emails(tmp_path: Path) -> None:
    frame = read_export(write_rows(tmp_path / "fans.csv", PRESAVE_FANS)).frame
    assert frame["fan_key"].isna().all()
    assert not any("@" in str(cell) for cell in frame.to_numpy().ravel())


def test_presave_fans_hypeddit_like_layout_with_user_ids(tmp_path: Path, vault: TokenVault) -> None:
    rows = [
        ["Platform", "Pre-saved at", "Country Code", "Spotify User ID", "Campaign"],
        ["spotify", "1763650925", "de", "31abcxyz", "Midnight Drive"],
        ["SPOTIFY", "11/21/2026 08:15", "GBR", "31abcxyz", "Midnight Drive"],
    ]
    frame = read_export(write_rows(tmp_path / "hypeddit.csv", rows), pseudonym=vault.pseudonym).frame
    assert frame["service"].tolist() == ["spotify", "spotify"]
    assert frame["country"].tolist() == ["DE", "GB"]
    assert frame["presaved_at"].tolist() == [
        pd.Timestamp("2025-11-20 15:02:05"),
        pd.Timestamp("2026-11-21 08:15"),
    ]
    assert frame["fan_key"].tolist() == [vault.pseudonym("spotify", "31abcxyz")] * 2
    assert frame["campaign"].tolist() == ["Midnight Drive"] * 2


VARIANT_ROWS = [
    ["song", "listeners", "streams", "saves", "release_date"],
    ["Néon Skyline", "310", "902", "41", "2025-02-14"],
    ["Don’t Look Back; “Live”", "12", "30", "1", "2024-01-31"],
    ["Tidewater\tPart 2", "1", "2", "0", "2023-06-09"],
]


@pytest.mark.parametrize("delimiter", DELIMITERS.values(), ids=DELIMITERS.keys())
@pytest.mark.parametrize("line_end", LINE_ENDS.values(), ids=LINE_ENDS.keys())
@pytest.mark.parametrize("encoding", ENCODINGS)
def test_encodings_line_ends_and_delimiters(
    tmp_path: Path, encoding: str, line_end: str, delimiter: str
) -> None:
    rows = [list(row) for row in VARIANT_ROWS]
    if encoding == "latin-1":  # latin-1 has no curly quotes
        rows[2][0] = "Don't Look Back; «Live»"
    path = write_rows(
        tmp_path / "Nova Lane-songs-28days.csv",
        rows,
        encoding=encoding,
        line_end=line_end,
        delimiter=delimiter,
    )
    table = read_export(path)
    assert table.kind == "s4a_songs"
    assert table.frame["song"].tolist() == [row[0] for row in rows[1:]]
    assert table.frame["streams"].tolist() == [902, 30, 2]
    assert table.frame["release_date"].tolist() == [pd.Timestamp(row[4]) for row in rows[1:]]
    assert table.meta["window"] == "28d"
    # cp1252 decodes every printable latin-1 byte the same way, so it is what a latin-1 file is read as.
    expected_encoding = {"utf-8-sig": "utf-8", "utf-16": "utf-16-le", "latin-1": "cp1252"}.get(
        encoding, encoding
    )
    assert table.meta["encoding"] == expected_encoding


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_byte_order_mark(tmp_path: Path, encoding: str) -> None:
    path = write_rows(
        tmp_path / "listeners.txt", AMFA_LISTENERS, delimiter="\t", encoding=encoding, line_end="\r\n"
    )
    table = read_export(path)
    assert table.meta["encoding"] == encoding
    assert table.frame["listeners"].tolist() == [40, 38]


def test_multi_line_quoted_value_and_blank_lines(tmp_path: Path) -> None:
    header = "song,listeners,streams,saves,release_date\n"
    text = header + '\n"Two\nLines",1,2,3,2025-01-01\n\n"Plain",4,5,6,2025-01-02'
    frame = read_export(write_text(tmp_path / "songs.csv", text)).frame
    assert frame["song"].tolist() == ["Two\nLines", "Plain"]
    assert frame["saves"].tolist() == [3, 6]


def test_trailing_empty_rows_from_spreadsheets_are_dropped(tmp_path: Path) -> None:
    text = "date,listeners,streams,followers\r\n2025-03-01,1,2,3\r\n,,,\r\n,,,\r\n"
    frame = read_export(write_text(tmp_path / "x-audience-timeline.csv", text)).frame
    assert len(frame) == 1


def test_header_only_file_gives_an_empty_typed_table(tmp_path: Path) -> None:
    table = read_export(
        write_text(tmp_path / "a-audience-timeline.csv", "\ufeffdate,listeners,streams,followers\n")
    )
    assert table.frame.empty
    assert str(table.frame["streams"].dtype) == "Int64"
    assert str(table.frame["date"].dtype) == "datetime64[s]"


def test_preamble_lines_before_the_header(tmp_path: Path) -> None:
    text = "Report generated 2026-11-01\nAccount: 1234\n\nDate,Listeners\n2025-03-01,4\n"
    table = read_export(write_text(tmp_path / "listeners.csv", text))
    assert table.kind == "amfa_listeners"
    assert table.meta["header_line"] == "4"
    assert table.frame["listeners"].tolist() == [4]


@pytest.mark.parametrize("batch_rows", [1, 3, 7, 1000])
def test_batches_add_up_to_the_whole_file(tmp_path: Path, batch_rows: int) -> None:
    rows = [S4A_SONG_TIMELINE[0]] + [[f"2026-01-{day:02d}", str(day * 10)] for day in range(1, 23)]
    path = write_rows(tmp_path / "Song-timeline.csv", rows)
    batches = list(iter_export(path, batch_rows=batch_rows))
    assert all(len(batch.frame) <= batch_rows for batch in batches)
    assert len(batches) == -(-22 // batch_rows)
    streams = [value for batch in batches for value in batch.frame["streams"].tolist()]
    assert streams == [day * 10 for day in range(1, 23)]
    assert read_export(path).frame["streams"].tolist() == streams
