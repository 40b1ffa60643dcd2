"""How each export kind lands in the warehouse: its table, the key overlapping exports merge on, what
makes its "as of" date, what to do with repeated keys inside one file, and the rows it refuses.

Merging: per key, the export whose data reaches furthest (`as_of`: its last date, or for undated
exports the file's modification day) wins; on a tie the one loaded last wins. So loading an older export
after a newer one changes nothing for the days they share, and the order files arrive in does not matter.

What the file name tells (beyond what the readers take from Spotify for Artists names): a prefix ending
in a double underscore names the artist (Apple Music for Artists exports, which carry no artist) or the
campaign (pre-save fan exports without a campaign column): `Nova Lane__daily-plays.csv`,
`midnight-drive__featurefm-fans.csv`; Apple report names `<Artist> - Daily Plays.csv` (also
`- Songs Performance`, `- Listeners`) name the artist too.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import numpy as np
import pandas as pd

from collectors.exports import ExportError, ExportTable
from pipelines.schema import TABLES, Table

TAG_SEPARATOR = "__"


class Repeats(StrEnum):
    """What a key seen on several rows of one file means."""

    REFUSE = "refuse"  # a conflict (the same day twice with different numbers): the file is refused
    SUM = "sum"  # several report lines of one fact (DistroKid): added up
    KEEP = "keep"  # many rows per merge key by nature (fans per day): only exact copies are dropped


@dataclass(frozen=True)
class RowRule:
    """Rows no real export holds: `bad(frame)` marks them, `problem(row)` says what is wrong."""

    bad: Callable[[pd.DataFrame], pd.Series]
    problem: Callable[[pd.Series], str]


@dataclass(frozen=True)
class ExportKind:
    kind: str  # the warehouse table it loads has the same name
    prepare: Callable[[ExportTable, str | None], pd.DataFrame]  # (batch, name tag) → table columns
    merge_key: tuple[str, ...]
    date_column: str | None  # its latest value is the export's as-of date; None → file's mtime day
    repeats: Repeats = Repeats.REFUSE
    rules: tuple[RowRule, ...] = field(default_factory=tuple)
    dated_columns: tuple[str, ...] = ()  # the days (or times) the rows report: none may be in the future

    @property
    def table(self) -> Table:
        return TABLES[self.kind]

    @property
    def staged_columns(self) -> tuple[str, ...]:
        return tuple(c for c in self.table.column_names if c not in ("source_file", "source_hash", "as_of"))


# Apple Music for Artists report names: `<Artist> - Daily Plays.csv` and the like.
_APPLE_REPORT = re.compile(
    r"^(?P<artist>.+?)\s+-\s+(songs performance|daily plays|listeners)\b", re.IGNORECASE
)


def name_tag(path: Path) -> str | None:
    """The artist or campaign a file name carries: before `__`, or before ` - <Apple report name>`."""
    name = Path(path).name
    if TAG_SEPARATOR in name:
        return name.split(TAG_SEPARATOR, 1)[0].strip() or None
    report = _APPLE_REPORT.match(Path(name).stem)
    return report.group("artist").strip() if report else None


def _refuse(table: ExportTable, problem: str) -> ExportError:
    return ExportError(table.source, None, problem)


def _columns(frame: pd.DataFrame, names: tuple[str, ...]) -> pd.DataFrame:
    return frame.loc[:, list(names)].copy()


def _s4a_audience(table: ExportTable, tag: str | None) -> pd.DataFrame:
    artist = table.meta.get("artist") or tag
    if not artist:
        raise _refuse(
            table,
            "the artist is unknown: Spotify for Artists names this file '<Artist>-audience-timeline.csv'",
        )
    frame = _columns(table.frame, ("date", "listeners", "streams", "followers", "playlist_adds", "saves"))
    frame.insert(0, "artist", artist)
    return frame


def _s4a_songs(table: ExportTable, tag: str | None) -> pd.DataFrame:
    artist = table.meta.get("artist") or tag
    if not artist:
        raise _refuse(
            table, "the artist is unknown: Spotify for Artists names this file '<Artist>-songs-<window>.csv'"
        )
    frame = _columns(table.frame, ("song", "listeners", "streams", "saves", "release_date"))
    frame.insert(0, "artist", artist)
    frame.insert(1, "time_window", table.meta.get("window") or "unspecified")
    return frame


def _s4a_song_timeline(table: ExportTable, tag: str | None) -> pd.DataFrame:
    song = table.meta.get("song")
    if song and TAG_SEPARATOR in song:
        song = song.split(TAG_SEPARATOR, 1)[1].strip()
    if not song:
        raise _refuse(table, "the song is unknown: Spotify for Artists names this file '<Song>-timeline.csv'")
    frame = _columns(table.frame, ("date", "streams"))
    frame.insert(0, "artist", tag)
    frame.insert(1, "song", song)
    return frame


def _with_artist(names: tuple[str, ...]) -> Callable[[ExportTable, str | None], pd.DataFrame]:
    def prepare(table: ExportTable, tag: str | None) -> pd.DataFrame:
        frame = _columns(table.frame, names)
        frame.insert(0, "artist", tag)
        return frame

    return prepare


def _distrokid(table: ExportTable, tag: str | None) -> pd.DataFrame:  # noqa: ARG001 - every ExportKind's prepare takes the file's tag
    frame = _columns(
        table.frame,
        (
            "reporting_date",
            "sale_month",
            "store",
            "artist",
            "title",
            "isrc",
            "upc",
            "country",
            "source_type",
            "quantity",
            "team_percentage",
            "songwriter_royalties_withheld_usd",
            "earnings_usd",
            "recoup_usd",
        ),
    )
    frame["report_rows"] = np.int64(1)
    return frame


def _presave_fans(table: ExportTable, tag: str | None) -> pd.DataFrame:
    frame = _columns(
        table.frame, ("campaign", "presaved_at", "service", "country", "source", "opted_in", "fan_key")
    )
    if tag is not None:
        frame["campaign"] = frame["campaign"].fillna(tag)
    missing = frame["campaign"].isna()
    if missing.any():
        raise MissingCampaign(int(np.flatnonzero(missing.to_numpy())[0]))
    frame.insert(1, "presaved_on", frame["presaved_at"].dt.normalize())
    return frame


class MissingCampaign(Exception):
    """A fan row without a campaign; `row` is its index within the batch."""

    def __init__(self, row: int) -> None:
        super().__init__(row)
        self.row = row


MISSING_CAMPAIGN = (
    "no campaign for this fan: add a Campaign column, or name the file '<campaign>__<anything>.csv'"
)

_LISTENERS_ABOVE_STREAMS = RowRule(
    bad=lambda f: (f["listeners"] > f["streams"]).fillna(False).astype(bool),
    problem=lambda r: (
        f"impossible value: {r['listeners']} listeners but only {r['streams']} streams "
        "(every listener streams at least once)"
    ),
)
_LISTENERS_ABOVE_PLAYS = RowRule(
    bad=lambda f: (f["listeners"] > f["plays"]).fillna(False).astype(bool),
    problem=lambda r: (
        f"impossible value: {r['listeners']} listeners but only {r['plays']} plays "
        "(every listener plays at least once)"
    ),
)

KINDS: dict[str, ExportKind] = {
    k.kind: k
    for k in (
        ExportKind(
            "s4a_audience_timeline",
            _s4a_audience,
            ("artist", "date"),
            "date",
            rules=(_LISTENERS_ABOVE_STREAMS,),
            dated_columns=("date",),
        ),
        ExportKind(
            "s4a_songs",
            _s4a_songs,
            ("artist", "time_window", "song"),
            None,
            rules=(_LISTENERS_ABOVE_STREAMS,),
        ),
        ExportKind(
            "s4a_song_timeline",
            _s4a_song_timeline,
            ("artist", "song", "date"),
            "date",
            dated_columns=("date",),
        ),
        ExportKind(
            "amfa_songs",
            _with_artist(
                (
                    "song",
                    "album",
                    "plays",
                    "listeners",
                    "avg_daily_listeners",
                    "shazams",
                    "radio_spins",
                    "purchases",
                )
            ),
            ("artist", "song", "album"),
            None,
            rules=(_LISTENERS_ABOVE_PLAYS,),
        ),
        ExportKind(
            "amfa_daily_plays",
            _with_artist(("date", "song", "album", "plays")),
            ("artist", "song", "album", "date"),
            "date",
            dated_columns=("date",),
        ),
        ExportKind(
            "amfa_listeners",
            _with_artist(("date", "listeners")),
            ("artist", "date"),
            "date",
            dated_columns=("date",),
        ),
        ExportKind(
            "distrokid_bank",
            _distrokid,
            TABLES["distrokid_bank"].key,
            "reporting_date",
            repeats=Repeats.SUM,
            dated_columns=("reporting_date", "sale_month"),
        ),
        ExportKind(
            "presave_fans",
            _presave_fans,
            ("campaign", "presaved_on"),
            "presaved_on",
            repeats=Repeats.KEEP,
            dated_columns=("presaved_at",),
        ),
    )
}

SUMMED = ("quantity", "songwriter_royalties_withheld_usd", "earnings_usd", "recoup_usd", "report_rows")
