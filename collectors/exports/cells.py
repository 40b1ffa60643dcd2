"""Vectorised conversion of one column of raw text cells (an Arrow string array) into typed values.

Every converter takes the raw cells of one batch and returns an Arrow array of the target type, with
empty cells as nulls. A cell that cannot be converted raises `CellProblem` naming the first offending row
of the batch; the reader turns that into an `ExportError` with the file's line number. Validation is done
with Arrow compute kernels (RE2 regular expressions, casts) over whole columns, never row by row.

Number formats: spaces (also no-break spaces) and apostrophes group thousands; in English files a comma
groups thousands and a point marks decimals, in French files (`decimal_comma`) the other way round.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pycountry

from collectors.exports.errors import quote_cell
from collectors.exports.labels import normalise_label


class CellProblem(Exception):
    """A cell that cannot be converted: `row` is 0-based within the batch."""

    def __init__(self, row: int, problem: str) -> None:
        super().__init__(problem)
        self.row = row
        self.problem = problem


_NULL_TEXT = pa.scalar(None, pa.string())
_SPACES = r"[\s\x{00a0}\x{202f}']"
_WHOLE = r"^[-+]?\d{1,18}$"
_DECIMAL = r"^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$"


def first_true(mask: pa.Array | pa.ChunkedArray) -> int | None:
    """Index of the first true value of a boolean array (nulls count as false), or None."""
    index = pc.index(pc.fill_null(mask, False), True).as_py()
    return None if index < 0 else index


def _cell(values: pa.Array, row: int) -> str:
    return quote_cell(values[row].as_py())


def by_distinct(values: pa.Array, convert: Callable[[pa.Array], pa.Array]) -> pa.Array:
    """Convert each distinct cell once: dates, months and codes repeat across thousands of rows.

    Distinct values keep the order of their first appearance, so the first bad distinct value is also the
    earliest bad row; a problem is reported at that row.
    """
    encoded = pc.dictionary_encode(values)
    try:
        converted = convert(encoded.dictionary)
    except CellProblem as problem:
        raise CellProblem(pc.index(encoded.indices, problem.row).as_py(), problem.problem) from None
    return pc.take(converted, encoded.indices)


def text(values: pa.Array) -> pa.Array:
    """Trimmed text; empty cells become null."""
    trimmed = pc.utf8_trim_whitespace(values)
    return pc.if_else(pc.equal(trimmed, ""), _NULL_TEXT, trimmed)


def without_emails(values: pa.Array) -> pa.Array:
    """Text with every cell that holds something like an email address replaced by null."""
    holds_email = pc.match_substring_regex(values, r"[^\s@]+@[^\s@]+\.[^\s@]+")
    return pc.if_else(pc.fill_null(holds_email, False), _NULL_TEXT, values)


def require(values: pa.Array, column: str) -> None:
    """Raise for the first row where a needed column holds no value."""
    row = first_true(pc.is_null(values))
    if row is not None:
        raise CellProblem(row, f"missing value in column {column}")


def _number_text(values: pa.Array, *, decimal_comma: bool) -> pa.Array:
    """Cells with grouping removed and a point as decimal mark, ready to be matched and cast."""
    cleaned = pc.replace_substring_regex(pc.utf8_trim_whitespace(values), _SPACES, "")
    if decimal_comma:
        grouped = pc.match_substring_regex(cleaned, r"^[-+]?\d{1,3}(\.\d{3})+(,\d*)?$")
        cleaned = pc.if_else(grouped, pc.replace_substring(cleaned, ".", ""), cleaned)
        return pc.replace_substring(cleaned, ",", ".")
    grouped = pc.match_substring_regex(cleaned, r"^[-+]?\d{1,3}(,\d{3})+(\.\d*)?$")
    return pc.if_else(grouped, pc.replace_substring(cleaned, ",", ""), cleaned)


def _plain_cast(values: pa.Array, target: pa.DataType) -> pa.Array | None:
    """The common case, fast: every cell is empty or a plain number Arrow casts as is; None otherwise."""
    trimmed = pc.utf8_trim_whitespace(values)
    try:
        numbers = pc.cast(pc.if_else(pc.equal(trimmed, ""), _NULL_TEXT, trimmed), target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if pa.types.is_floating(target) and pc.any(pc.invert(pc.is_finite(numbers))).as_py():
        return None
    return numbers


def _check_sign(numbers: pa.Array, column: str) -> pa.Array:
    row = first_true(pc.less(numbers, 0))
    if row is not None:
        raise CellProblem(
            row, f"impossible value {numbers[row].as_py()} in column {column}: cannot be negative"
        )
    return numbers


def whole_number(values: pa.Array, column: str, *, signed: bool, decimal_comma: bool) -> pa.Array:
    """Int64 counts. `12.0` is accepted as 12; `12.5`, `abc` and (unless `signed`) `-3` are refused."""
    numbers = _plain_cast(values, pa.int64())
    if numbers is not None:
        return numbers if signed else _check_sign(numbers, column)
    cleaned = _number_text(values, decimal_comma=decimal_comma)
    cleaned = pc.replace_substring_regex(cleaned, r"^([-+]?\d+)\.0*$", r"\1")
    empty = pc.equal(cleaned, "")
    valid = pc.match_substring_regex(cleaned, _WHOLE)
    row = first_true(pc.and_(pc.invert(valid), pc.invert(empty)))
    if row is not None:
        decimal = pc.match_substring_regex(cleaned[row : row + 1], _DECIMAL)[0].as_py()
        kind = "not a whole number" if decimal else "non-numeric value"
        raise CellProblem(row, f"{kind} {_cell(values, row)} in column {column}")
    numbers = pc.cast(pc.if_else(valid, cleaned, _NULL_TEXT), pa.int64())
    return numbers if signed else _check_sign(numbers, column)


def decimal_number(
    values: pa.Array,
    column: str,
    *,
    decimal_comma: bool,
    minimum: float | None = None,
    maximum: float | None = None,
    percent_sign: bool = False,
) -> pa.Array:
    """Float64 amounts, optionally bounded; a trailing `%` is allowed for percentages."""
    numbers = None if decimal_comma else _plain_cast(values, pa.float64())
    if numbers is None:
        cleaned = _number_text(values, decimal_comma=decimal_comma)
        if percent_sign:
            cleaned = pc.replace_substring_regex(cleaned, r"%$", "")
        empty = pc.equal(cleaned, "")
        valid = pc.match_substring_regex(cleaned, _DECIMAL)
        row = first_true(pc.and_(pc.invert(valid), pc.invert(empty)))
        if row is not None:
            raise CellProblem(row, f"non-numeric value {_cell(values, row)} in column {column}")
        numbers = pc.cast(pc.if_else(valid, cleaned, _NULL_TEXT), pa.float64())
    if minimum is not None:
        row = first_true(pc.less(numbers, minimum))
        if row is not None:
            raise CellProblem(
                row, f"impossible value {numbers[row].as_py()} in column {column}: below {minimum:g}"
            )
    if maximum is not None:
        row = first_true(pc.greater(numbers, maximum))
        if row is not None:
            raise CellProblem(
                row, f"impossible value {numbers[row].as_py()} in column {column}: above {maximum:g}"
            )
    return numbers


_YMD = r"^(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})$"
_DAY_FIRST = r"^(?P<d>\d{1,2})[-/.](?P<m>\d{1,2})[-/.](?P<y>\d{4})$"
_MONTH_FIRST = r"^(?P<m>\d{1,2})[-/.](?P<d>\d{1,2})[-/.](?P<y>\d{4})$"
_YM = r"^(?P<y>\d{4})[-/.](?P<m>\d{1,2})(?:[-/.](?P<d>0?1))?$"
FIRST_YEAR, LAST_YEAR = 1900, 2199


def _calendar(values: pa.Array, patterns: list[str], column: str, what: str) -> pa.Array:
    """Dates from the first pattern (with named groups y, m and optionally d) that each cell fits."""
    cleaned = pc.utf8_trim_whitespace(values)
    parts: dict[str, pa.Array] = {}
    for pattern in patterns:
        found = pc.extract_regex(cleaned, pattern)
        for name in ("y", "m", "d"):
            field = pc.struct_field(found, name)
            parts[name] = pc.coalesce(parts[name], field) if name in parts else field
    # A month pattern may leave the day out: it is the first.
    parts["d"] = pc.if_else(pc.and_(pc.is_valid(parts["y"]), pc.is_null(parts["d"])), "1", parts["d"])
    parts["d"] = pc.if_else(pc.equal(parts["d"], ""), "1", parts["d"])
    year, month, day = (pc.cast(parts[name], pa.int32()) for name in ("y", "m", "d"))
    iso = pc.binary_join_element_wise(
        pc.cast(year, pa.string()),
        pc.utf8_lpad(pc.cast(month, pa.string()), 2, "0"),
        pc.utf8_lpad(pc.cast(day, pa.string()), 2, "0"),
        "-",
    )
    in_range = pc.and_(
        pc.and_(pc.greater_equal(year, FIRST_YEAR), pc.less_equal(year, LAST_YEAR)),
        pc.and_(pc.and_(pc.greater_equal(month, 1), pc.less_equal(month, 12)), pc.greater_equal(day, 1)),
    )
    parsed = pc.strptime(
        pc.if_else(in_range, iso, _NULL_TEXT), format="%Y-%m-%d", unit="s", error_is_null=True
    )
    # strptime rolls 2025-02-30 over into March; a real date reads back the day it was given.
    real = pc.and_(pc.is_valid(parsed), pc.equal(pc.day(parsed), pc.cast(day, pa.int64())))
    row = first_true(pc.and_(pc.invert(pc.fill_null(real, False)), pc.not_equal(cleaned, "")))
    if row is not None:
        raise CellProblem(row, f"bad {what} {_cell(values, row)} in column {column}")
    return pc.if_else(real, parsed, pa.scalar(None, pa.timestamp("s")))


def date(values: pa.Array, column: str, *, day_first: bool) -> pa.Array:
    """Calendar days: ISO `2025-03-01` (or with `/`, `.`), or `01/03/2025` read day-first or month-first."""
    patterns = [_YMD, _DAY_FIRST if day_first else _MONTH_FIRST]
    return by_distinct(values, lambda distinct: _calendar(distinct, patterns, column, "date"))


def month(values: pa.Array, column: str) -> pa.Array:
    """Months such as DistroKid's `2026-02` (a first-of-month day is tolerated), as the month's first day."""
    return by_distinct(values, lambda distinct: _calendar(distinct, [_YM], column, "month"))


_EPOCH_SECONDS = r"^\d{9,10}$"
_EPOCH_MILLIS = r"^\d{12,13}$"
_SLASH_TIME = r"^\d{1,2}/\d{1,2}/\d{4}([ T]\d{1,2}:\d{2}(:\d{2})?)?$"


def timestamp(values: pa.Array, column: str, *, day_first: bool) -> pa.Array:
    """Moments as naive UTC: ISO 8601 (a `Z`, `UTC` or offset is honoured; none means UTC), `03/01/2025 14:22`
    (day-first or month-first), or Unix epoch seconds / milliseconds."""
    return by_distinct(values, lambda distinct: _moments(distinct, column, day_first=day_first))


def _moments(values: pa.Array, column: str, *, day_first: bool) -> pa.Array:
    cleaned = pc.replace_substring_regex(pc.utf8_trim_whitespace(values), r"\s*(UTC|GMT)$", "+00:00")
    series = pd.Series(cleaned.to_pandas(), dtype=object)
    iso = pd.to_datetime(series, format="ISO8601", utc=True, errors="coerce")
    slashed = series.where(series.str.match(_SLASH_TIME, na=False))
    loose = pd.to_datetime(slashed, dayfirst=day_first, utc=True, errors="coerce", format="mixed")
    seconds = pd.to_numeric(series.where(series.str.match(_EPOCH_SECONDS, na=False)), errors="coerce")
    millis = pd.to_numeric(series.where(series.str.match(_EPOCH_MILLIS, na=False)), errors="coerce")
    epoch = pd.to_datetime(seconds, unit="s", utc=True).fillna(pd.to_datetime(millis, unit="ms", utc=True))
    moments = iso.fillna(loose).fillna(epoch)
    bad = moments.isna() & (series != "") | (moments.dt.year < FIRST_YEAR) | (moments.dt.year > LAST_YEAR)
    if bad.any():
        row = int(bad.to_numpy().argmax())
        raise CellProblem(row, f"bad date {_cell(values, row)} in column {column}")
    naive = moments.dt.tz_localize(None).astype("datetime64[s]")
    return pa.array(naive, type=pa.timestamp("s"))


def code(values: pa.Array, column: str) -> pa.Array:
    """Identifiers (ISRC, UPC): upper case, no spaces or hyphens; a spreadsheet's `1.9888E+11` is refused."""
    return by_distinct(values, lambda distinct: _code(distinct, column))


def _code(values: pa.Array, column: str) -> pa.Array:
    cleaned = pc.utf8_upper(pc.replace_substring_regex(values, r"[\s\x{00a0}\-]", ""))
    row = first_true(pc.match_substring_regex(cleaned, r"^\d+(\.\d+)?E\+\d+$"))
    if row is not None:
        raise CellProblem(
            row, f"{column} {_cell(values, row)} was turned into scientific notation by a spreadsheet"
        )
    return pc.if_else(pc.equal(cleaned, ""), _NULL_TEXT, cleaned)


_SERVICES = {
    "spotify": "spotify",
    "applemusic": "apple",
    "apple": "apple",
    "itunes": "apple",
    "deezer": "deezer",
    "tidal": "tidal",
    "amazonmusic": "amazon",
    "amazon": "amazon",
    "youtubemusic": "youtube",
    "youtube": "youtube",
    "soundcloud": "soundcloud",
    "pandora": "pandora",
    "napster": "napster",
    "anghami": "anghami",
    "audiomack": "audiomack",
    "boomplay": "boomplay",
    "qobuz": "qobuz",
}


def map_distinct(values: pa.Array, mapping: Callable[[str | None], str | None]) -> pa.Array:
    """Apply a Python function to each distinct value once (exports repeat a handful of values)."""
    distinct = pc.unique(values)
    mapped = pa.array([mapping(v) for v in distinct.to_pylist()], type=pa.string())
    return pc.take(mapped, pc.index_in(values, distinct))


def _service_name(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    label = normalise_label(value)
    return _SERVICES.get(label.replace(" ", ""), label.replace(" ", "_"))


def service(values: pa.Array) -> pa.Array:
    """Canonical service names: `Apple Music` → `apple`; unknown services keep a snake_case name."""
    return map_distinct(values, _service_name)


_COUNTRY_BLANKS = frozenset({"", "unknown", "n a", "na", "none", "other", "xx", "zz", "not set"})
_COUNTRY_EXTRAS = {
    "uk": "GB",
    "great britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "usa": "US",
    "u s a": "US",
    "u s": "US",
    "america": "US",
    "russia": "RU",
    "south korea": "KR",
    "korea": "KR",
    "north korea": "KP",
    "ivory coast": "CI",
    "czech republic": "CZ",
    "turkey": "TR",
    "kosovo": "XK",
    "vietnam": "VN",
    "laos": "LA",
    "macedonia": "MK",
    "swaziland": "SZ",
    "burma": "MM",
    "cape verde": "CV",
    "holland": "NL",
    "the netherlands": "NL",
    "vatican": "VA",
}


@functools.cache
def _country_names() -> dict[str, str]:
    names: dict[str, str] = {}
    for country in pycountry.countries:
        for attribute in ("alpha_3", "name", "official_name", "common_name"):
            value = getattr(country, attribute, None)
            if value:
                names[normalise_label(value)] = country.alpha_2
    names.update(_COUNTRY_EXTRAS)
    return names


_UNKNOWN_COUNTRY = "\x00unknown"


def _country_code(value: str | None) -> str | None:
    if value is None:
        return None
    label = normalise_label(value)
    if label in _COUNTRY_BLANKS:
        return None
    if len(label) == 2 and label.isalpha():
        return label.upper()
    return _country_names().get(label, _UNKNOWN_COUNTRY)


def country(values: pa.Array, column: str) -> pa.Array:
    """ISO 3166 alpha-2 codes from codes (`fr`), alpha-3 (`FRA`) or English names (`France`)."""
    codes = map_distinct(values, _country_code)
    row = first_true(pc.equal(codes, _UNKNOWN_COUNTRY))
    if row is not None:
        raise CellProblem(row, f"unknown country {_cell(values, row)} in column {column}")
    return codes


_TRUE = frozenset({"yes", "y", "true", "t", "1", "x", "oui", "opted in", "checked", "on", "subscribed"})
_FALSE = frozenset({"no", "n", "false", "f", "0", "non", "off", "unchecked", "opted out", "unsubscribed"})


def _flag_text(value: str | None) -> str | None:
    label = normalise_label(value or "")
    if not label:
        return None
    return "1" if label in _TRUE else "0" if label in _FALSE else "?"


def flag(values: pa.Array, column: str) -> pa.Array:
    """Booleans from yes/no, true/false, 1/0, x (and French oui/non); empty is null."""
    coded = map_distinct(values, _flag_text)
    row = first_true(pc.equal(coded, "?"))
    if row is not None:
        raise CellProblem(row, f"not a yes/no value {_cell(values, row)} in column {column}")
    return pc.equal(coded, "1")
