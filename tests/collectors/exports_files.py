"""Writing export files the way the services (and spreadsheets) do, for the reader tests."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

ENCODINGS = ("utf-8", "utf-8-sig", "latin-1", "cp1252", "utf-16")
LINE_ENDS = {"lf": "\n", "crlf": "\r\n", "cr": "\r"}
DELIMITERS = {"comma": ",", "semicolon": ";", "tab": "\t"}


def write_rows(
    path: Path,
    rows: Sequence[Sequence[object]],
    *,
    encoding: str = "utf-8",
    line_end: str = "\n",
    delimiter: str = ",",
    quote_all: bool = False,
) -> Path:
    """Write `rows` (header first) as delimited text, every row ended by `line_end`."""
    buffer = io.StringIO(newline="")
    quoting = csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=line_end, quoting=quoting)
    writer.writerows([[str(cell) for cell in row] for row in rows])
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def write_text(path: Path, text: str, *, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


S4A_AUDIENCE = [
    ["date", "listeners", "streams", "followers"],
    ["2025-03-01", "12", "15", "40"],
    ["2025-03-02", "9", "11", "41"],
    ["2025-03-03", "1204", "1530", "1041"],
]

S4A_SONGS = [
    ["song", "listeners", "streams", "saves", "release_date"],
    ["Néon Skyline", "310", "902", "41", "2025-02-14"],
    ["Tidewater, Part 2", "120", "300", "12", "2024-11-01"],
]

S4A_SONG_TIMELINE = [["date", "streams"], ["2026-01-01", "120"], ["2026-01-02", "98"]]

AMFA_SONGS_EN = [
    ["Song", "Album", "Plays", "Listeners", "Shazam", "Radio Spins", "Purchases"],
    ["Néon Skyline", "Night Drives", "1520", "610", "33", "4", "7"],
    ["Tidewater", "Night Drives", "800", "300", "0", "0", "1"],
]

AMFA_SONGS_FR = [
    ["Morceau", "Album", "Écoutes", "Moy. d'auditeurs journalière", "Shazam", "Diffusions radio", "Achats"],
    ["Néon Skyline", "Night Drives", "1 520", "12,5", "33", "4", "7"],
    ["Tidewater", "Night Drives", "1.800", "3,25", "0", "0", "1"],
]

AMFA_DAILY_PLAYS_EN = [
    ["Date", "Song", "Plays"],
    ["2025-03-01", "Néon Skyline", "52"],
    ["2025-03-02", "Néon Skyline", "61"],
]

AMFA_DAILY_PLAYS_FR = [
    ["Date", "Morceau", "Écoutes"],
    ["01/03/2025", "Néon Skyline", "52"],
    ["13/03/2025", "Néon Skyline", "61"],
]

AMFA_LISTENERS = [["Date", "Listeners"], ["2025-03-01", "40"], ["2025-03-02", "38"]]

DISTROKID_CURRENT_HEADER = [
    "Date Inserted",
    "Reporting Date",
    "Sale Month",
    "Store",
    "Artist",
    "Title",
    "ISRC",
    "UPC",
    "Quantity",
    "Team Percentage",
    "Source Type",
    "Country of Sale",
    "Songwriter Royalties Withheld (USD)",
    "Earnings (USD)",
    "Recoup (USD)",
]
DISTROKID_CURRENT = [
    DISTROKID_CURRENT_HEADER,
    [
        "2026-03-25",
        "2026-03-25",
        "2026-02",
        "Spotify",
        "Tést Ärtist",
        "Néon Skyline",
        "QZWFV2498114",
        "0198880045560",
        "3",
        "50",
        "Song",
        "FR",
        "0.00000",
        "0.011000000000",
        "",
    ],
    [
        "2026-03-25",
        "2026-03-25",
        "2026-01",
        "Apple Music",
        "Tést Ärtist",
        "Néon Skyline",
        "QZWFV2498114",
        "0198880045560",
        "-1",
        "50",
        "Song",
        "US",
        "0.00000",
        "-0.009000000000",
        "0.5",
    ],
]
DISTROKID_SONG_ALBUM = [
    [("Song/Album" if h == "Source Type" else h) for h in DISTROKID_CURRENT_HEADER],
    *DISTROKID_CURRENT[1:],
]
DISTROKID_LEGACY = [
    [
        "Reporting Date",
        "Sale Month",
        "Store",
        "Artist",
        "Title",
        "ISRC",
        "UPC",
        "Quantity",
        "Team Percentage",
        "Song/Album",
        "Country of Sale",
        "Songwriter Royalties Withheld",
        "Earnings (USD)",
    ],
    [
        "2026-08-25",
        "2026-07",
        "Spotify",
        "Mara Ellis",
        "Tidewater",
        "NLA1Z2600123",
        "0724384960650",
        "10234",
        "100",
        "Song",
        "NL",
        "0",
        "31.45",
    ],
]

PRESAVE_FANS = [
    ["Date", "Email", "First Name", "Last Name", "Country", "Service", "Source", "Marketing Opt-In"],
    ["2026-11-20 14:22:05", "Ada@Example.com", "Ada", "L", "France", "Spotify", "instagram", "Yes"],
    ["2026-11-21T09:00:00Z", "bo@example.org", "Bo", "K", "US", "Apple Music", "tiktok", "No"],
    ["2026-11-21 10:30:00", "ada@example.com ", "Ada", "L", "FR", "Deezer", "", ""],
]
