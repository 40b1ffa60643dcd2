"""The export layouts we accept, as data: each column's header labels, its type and whether it is needed.

A file is recognised by its header: a layout matches when every required column is present (under any of
its labels); the layout matching the most columns wins. Labels are compared after `normalise_label`, so
case, accents and punctuation do not matter. Columns a layout does not know are dropped (and listed in
the table's meta), which is also how personal columns such as names and phone numbers never get in.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from collectors.exports.labels import normalise_label


class CellType(StrEnum):
    DATE = "date"  # a calendar day → datetime64[s] at midnight
    MONTH = "month"  # YYYY-MM → datetime64[s], first day of the month
    TIMESTAMP = "timestamp"  # date with optional time and offset → datetime64[s], naive UTC
    COUNT = "count"  # whole number ≥ 0 → Int64
    SIGNED_COUNT = "signed_count"  # whole number, may be negative (refunds) → Int64
    AVERAGE = "average"  # decimal ≥ 0 → Float64
    AMOUNT = "amount"  # decimal, may be negative → Float64
    PERCENTAGE = "percentage"  # decimal in [0, 100] → Float64
    TEXT = "text"  # trimmed text, empty → NA
    CODE = "code"  # identifier: trimmed, upper case, inner spaces and hyphens removed
    COUNTRY = "country"  # ISO 3166 alpha-2, from a code or an English name
    SERVICE = "service"  # canonical streaming-service name (spotify, apple, deezer, …)
    FLAG = "flag"  # yes/no → boolean
    EMAIL = "email"  # personal: only ever turned into the fan key, never kept
    FAN_ID = "fan_id"  # personal: a service's user id, only ever turned into the fan key
    IGNORED = "ignored"  # known to the layout but not kept


PERSONAL = frozenset({CellType.EMAIL, CellType.FAN_ID})


@dataclass(frozen=True)
class Column:
    name: str
    labels: tuple[str, ...]
    type: CellType
    required: bool = True
    needed: bool = False  # every row must hold a value


@dataclass(frozen=True)
class Layout:
    kind: str
    columns: tuple[Column, ...]
    meta_columns: tuple[str, ...] = ()  # output columns filled from the file name


def _col(name: str, labels: str, kind: CellType, *, required: bool = True, needed: bool = False) -> Column:
    return Column(name, tuple(labels.split("|")), kind, required, needed)


C = CellType

S4A_AUDIENCE_TIMELINE = Layout(
    "s4a_audience_timeline",
    (
        _col("date", "date", C.DATE, needed=True),
        _col("listeners", "listeners", C.COUNT),
        _col("streams", "streams", C.COUNT),
        _col("followers", "followers", C.COUNT, required=False),
        _col("playlist_adds", "playlist adds", C.COUNT, required=False),
        _col("saves", "saves", C.COUNT, required=False),
    ),
    meta_columns=("artist",),
)

S4A_SONGS = Layout(
    "s4a_songs",
    (
        _col("song", "song|title|track", C.TEXT, needed=True),
        _col("listeners", "listeners", C.COUNT),
        _col("streams", "streams", C.COUNT),
        _col("saves", "saves", C.COUNT),
        _col("release_date", "release date|released", C.DATE, required=False),
    ),
    meta_columns=("artist", "window"),
)

S4A_SONG_TIMELINE = Layout(
    "s4a_song_timeline",
    (
        _col("date", "date", C.DATE, needed=True),
        _col("streams", "streams", C.COUNT),
    ),
    meta_columns=("song", "window"),
)

_APPLE_SONG = "song|song title|title|track|morceau|titre|chanson"
_APPLE_PLAYS = "plays|ecoutes|lectures"
_APPLE_LISTENERS = "listeners|unique listeners|auditeurs|auditeurs uniques"
_APPLE_AVG_LISTENERS = (
    "avg daily listeners|average daily listeners|moy d auditeurs journaliere|"
    "moyenne d auditeurs journaliere|auditeurs quotidiens moyens"
)

AMFA_SONGS = Layout(
    "amfa_songs",
    (
        _col("song", _APPLE_SONG, C.TEXT, needed=True),
        _col("album", "album", C.TEXT, required=False),
        _col("plays", _APPLE_PLAYS, C.COUNT),
        _col("listeners", _APPLE_LISTENERS, C.COUNT, required=False),
        _col("avg_daily_listeners", _APPLE_AVG_LISTENERS, C.AVERAGE, required=False),
        _col("shazams", "shazam|shazams|shazam count|nombre de shazam", C.COUNT, required=False),
        _col("radio_spins", "radio spins|diffusions radio|passages radio", C.COUNT, required=False),
        _col("purchases", "purchases|achats", C.COUNT, required=False),
    ),
)

AMFA_DAILY_PLAYS = Layout(
    "amfa_daily_plays",
    (
        _col("date", "date|jour", C.DATE, needed=True),
        _col("song", _APPLE_SONG, C.TEXT, needed=True),
        _col("album", "album", C.TEXT, required=False),
        _col("plays", _APPLE_PLAYS, C.COUNT),
    ),
)

AMFA_LISTENERS = Layout(
    "amfa_listeners",
    (
        _col("date", "date|jour", C.DATE, needed=True),
        _col("listeners", f"{_APPLE_LISTENERS}|{_APPLE_AVG_LISTENERS}", C.COUNT),
    ),
)

DISTROKID_BANK = Layout(
    "distrokid_bank",
    (
        _col("date_inserted", "date inserted", C.IGNORED, required=False),
        _col("reporting_date", "reporting date", C.DATE, needed=True),
        _col("sale_month", "sale month", C.MONTH, needed=True),
        _col("store", "store", C.TEXT, needed=True),
        _col("artist", "artist", C.TEXT),
        _col("title", "title", C.TEXT),
        _col("isrc", "isrc", C.CODE),
        _col("upc", "upc", C.CODE),
        _col("quantity", "quantity", C.SIGNED_COUNT),
        _col("team_percentage", "team percentage", C.PERCENTAGE),
        _col("source_type", "source type|song album", C.TEXT),
        _col("country", "country of sale", C.CODE),
        _col(
            "songwriter_royalties_withheld_usd",
            "songwriter royalties withheld usd|songwriter royalties withheld",
            C.AMOUNT,
        ),
        _col("earnings_usd", "earnings usd", C.AMOUNT, needed=True),
        _col("recoup_usd", "recoup usd", C.AMOUNT, required=False),
    ),
)

PRESAVE_FANS = Layout(
    "presave_fans",
    (
        _col(
            "presaved_at",
            "date|presave date|pre save date|presaved at|pre saved at|created at|created|timestamp|"
            "date added|subscribed at|subscription date|signup date",
            C.TIMESTAMP,
            needed=True,
        ),
        _col(
            "service", "service|platform|dsp|streaming service|music service|provider", C.SERVICE, needed=True
        ),
        _col(
            "country",
            "country|country code|fan country|location country|geo country",
            C.COUNTRY,
            required=False,
        ),
        _col(
            "campaign",
            "campaign|campaign name|release|release title|smart link|link name",
            C.TEXT,
            required=False,
        ),
        _col("source", "source|utm source|traffic source|referrer|channel", C.TEXT, required=False),
        _col(
            "opted_in",
            "opt in|opted in|email opt in|marketing opt in|newsletter opt in|consent|marketing consent",
            C.FLAG,
            required=False,
        ),
        _col("email", "email|e mail|email address|fan email|mail", C.EMAIL, required=False),
        _col(
            "fan_id",
            "user id|fan id|spotify id|spotify user id|deezer user id|apple user id|service user id|"
            "subscriber id",
            C.FAN_ID,
            required=False,
        ),
    ),
)

LAYOUTS: tuple[Layout, ...] = (
    S4A_AUDIENCE_TIMELINE,
    S4A_SONGS,
    S4A_SONG_TIMELINE,
    AMFA_SONGS,
    AMFA_DAILY_PLAYS,
    AMFA_LISTENERS,
    DISTROKID_BANK,
    PRESAVE_FANS,
)
KINDS: tuple[str, ...] = tuple(layout.kind for layout in LAYOUTS)

FRENCH_LABELS = frozenset(
    normalise_label(label)
    for label in (
        "Morceau",
        "Titre",
        "Chanson",
        "Écoutes",
        "Lectures",
        "Auditeurs",
        "Auditeurs uniques",
        "Moy. d'auditeurs journalière",
        "Moyenne d'auditeurs journalière",
        "Auditeurs quotidiens moyens",
        "Nombre de Shazam",
        "Diffusions radio",
        "Passages radio",
        "Achats",
        "Jour",
    )
)


@dataclass(frozen=True)
class HeaderMatch:
    """Which layout a header is, and where each of the layout's columns sits in it."""

    layout: Layout
    positions: dict[str, int]  # column name → 0-based field index in the header
    ignored: tuple[str, ...]  # header labels no column claimed (dropped)
    language: str  # "en" or "fr": decides day-first dates and decimal commas

    labels_used: dict[str, str]  # column name → the (normalised) label that matched it

    @property
    def variant(self) -> str:
        """DistroKid's three header generations; "standard" for every other layout."""
        if self.layout is not DISTROKID_BANK:
            return "standard"
        if "date_inserted" not in self.positions:
            return "legacy-13"
        return "current-15" if self.labels_used["source_type"] == "source type" else "current-15-song-album"


def _match_one(layout: Layout, labels: list[str]) -> HeaderMatch | None:
    positions: dict[str, int] = {}
    used: dict[str, str] = {}
    taken: set[int] = set()
    for column in layout.columns:
        for label in column.labels:
            index = next((i for i, have in enumerate(labels) if have == label and i not in taken), None)
            if index is not None:
                positions[column.name] = index
                used[column.name] = label
                taken.add(index)
                break
        else:
            if column.required:
                return None
    ignored = tuple(labels[i] for i in range(len(labels)) if i not in taken and labels[i])
    french = any(label in FRENCH_LABELS for label in used.values())
    return HeaderMatch(layout, positions, ignored, "fr" if french else "en", used)


def match_header(header: list[str]) -> list[HeaderMatch]:
    """Every layout the header satisfies, best (most columns recognised) first."""
    labels = [normalise_label(h) for h in header]
    found = [m for layout in LAYOUTS if (m := _match_one(layout, labels)) is not None]
    return sorted(found, key=lambda m: len(m.positions), reverse=True)
