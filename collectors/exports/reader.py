"""Reading export files: `detect_kind`, `iter_export` (bounded-memory batches) and `read_export`.

Rows are parsed by Arrow's streaming CSV reader (C++), as text, reading only the columns the layout
claims; each batch is then converted column by column with vectorised kernels (`cells`). A bad file
stops with an `ExportError` naming the line: quoting faults are checked before the first batch is
yielded, field-count and value faults when the batch holding them is reached, so a consumer of
`iter_export` must treat an error after some batches as "the whole file is bad" (stage, then commit).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from collectors.exports import cells
from collectors.exports.errors import ExportError, redact
from collectors.exports.filenames import meta_from_name
from collectors.exports.layouts import PERSONAL, CellType, Column, HeaderMatch
from collectors.exports.lines import QuotingFault, check_quotes, first_short_or_long, line_of_row, records
from collectors.exports.sniff import SourceFormat, inspect_source
from collectors.exports.table import ExportTable

DEFAULT_BATCH_ROWS = 500_000
ARROW_BLOCK_BYTES = 1 << 20  # Arrow reads ahead many blocks: small blocks keep memory bounded
Pseudonym = Callable[..., str]
"""A keyed hash such as `campaigns.vault.TokenVault.pseudonym`: `pseudonym(*parts) -> str`."""

NUMBERS = (CellType.COUNT, CellType.SIGNED_COUNT, CellType.AVERAGE, CellType.AMOUNT, CellType.PERCENTAGE)
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_ARROW_TYPES = {
    CellType.DATE: pa.timestamp("s"),
    CellType.MONTH: pa.timestamp("s"),
    CellType.TIMESTAMP: pa.timestamp("s"),
    CellType.COUNT: pa.int64(),
    CellType.SIGNED_COUNT: pa.int64(),
    CellType.AVERAGE: pa.float64(),
    CellType.AMOUNT: pa.float64(),
    CellType.PERCENTAGE: pa.float64(),
    CellType.FLAG: pa.bool_(),
}
_PANDAS_TYPES = {pa.int64(): pd.Int64Dtype(), pa.float64(): pd.Float64Dtype(), pa.bool_(): pd.BooleanDtype()}


def detect_kind(path: Path | str) -> str:
    """The layout of an export file, from its header alone (the file name is not consulted)."""
    return inspect_source(Path(path), full_scan=False).match.layout.kind


def read_export(path: Path | str, *, pseudonym: Pseudonym | None = None) -> ExportTable:
    """The whole file as one normalised table (built from `iter_export`)."""
    batches = list(iter_export(path, pseudonym=pseudonym))
    frames = [batch.frame for batch in batches]
    frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    first = batches[0]
    return ExportTable(first.kind, frame, first.source, first.meta)


def iter_export(
    path: Path | str, batch_rows: int = DEFAULT_BATCH_ROWS, *, pseudonym: Pseudonym | None = None
) -> Iterator[ExportTable]:
    """The file as normalised tables of at most `batch_rows` rows each (at least one table, maybe empty).

    `pseudonym` turns fans' emails and service user ids into a keyed `fan_key` (pre-save fan exports);
    without it those columns are dropped and `fan_key` is empty.
    """
    if batch_rows < 1:
        raise ValueError("batch_rows must be at least 1")
    source = inspect_source(Path(path))
    try:
        if source.odd_quotes:
            check_quotes(source)
    except QuotingFault as fault:
        raise ExportError(source.path, fault.line, fault.problem) from None
    meta = _meta(source)
    convert = _BatchConverter(source.match, meta, pseudonym)
    rows_before = 0
    yielded = False
    for raw in _raw_tables(source, batch_rows):
        try:
            frame = convert(raw)
        except cells.CellProblem as problem:
            line = line_of_row(source, rows_before + problem.row)
            raise ExportError(source.path, line, problem.problem) from None
        rows_before += raw.num_rows
        yielded = True
        yield ExportTable(source.match.layout.kind, frame, source.path, dict(meta))
    if not yielded:
        yield ExportTable(source.match.layout.kind, convert(_empty_raw(source)), source.path, dict(meta))


def _meta(source: SourceFormat) -> dict[str, str]:
    match = source.match
    claimed = set(match.positions.values())
    ignored = [
        redact(label.strip()) for i, label in enumerate(source.header) if i not in claimed and label.strip()
    ]
    meta = {
        "encoding": source.encoding,
        "delimiter": _DELIMITER_NAMES[source.delimiter],
        "header_line": str(source.header_line),
        "variant": match.variant,
        "language": match.language,
    }
    if ignored:
        meta["ignored_columns"] = ", ".join(ignored)
    meta.update(meta_from_name(match.layout.kind, source.path))
    return meta


def _field_names(source: SourceFormat) -> list[str]:
    return [f"f{i}" for i in range(len(source.header))]


def _claimed_names(source: SourceFormat) -> list[str]:
    return [f"f{i}" for i in sorted(set(source.match.positions.values()))]


def _empty_raw(source: SourceFormat) -> pa.Table:
    return pa.table({name: pa.array([], pa.string()) for name in _claimed_names(source)})


def _raw_tables(source: SourceFormat, batch_rows: int) -> Iterator[pa.Table]:
    """The claimed columns of the data rows, as text, in tables of `batch_rows` rows (the last fewer)."""
    pending: list[pa.RecordBatch] = []
    have = 0
    for batch in _arrow_batches(source):
        if batch.num_rows == 0:
            continue
        pending.append(batch)
        have += batch.num_rows
        while have >= batch_rows:
            table = pa.Table.from_batches(pending)
            yield table.slice(0, batch_rows)
            rest = table.slice(batch_rows)
            pending, have = rest.to_batches(), rest.num_rows
    if have:
        yield pa.Table.from_batches(pending)


def _arrow_batches(source: SourceFormat) -> Iterator[pa.RecordBatch]:
    miscounted: list[int] = []

    def on_invalid_row(row: pacsv.InvalidRow) -> str:
        miscounted.append(row.actual_columns)
        return "error"

    claimed = _claimed_names(source)
    read_options = pacsv.ReadOptions(
        column_names=_field_names(source),
        block_size=ARROW_BLOCK_BYTES,
        encoding="utf8" if source.encoding == "utf-8" else source.encoding,
    )
    parse_options = pacsv.ParseOptions(
        delimiter=source.delimiter,
        quote_char='"',
        double_quote=True,
        newlines_in_values=True,
        ignore_empty_lines=True,
        invalid_row_handler=on_invalid_row,
    )
    convert_options = pacsv.ConvertOptions(
        column_types=dict.fromkeys(claimed, pa.string()),
        include_columns=claimed,
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    with pa.OSFile(str(source.path)) as handle:
        handle.seek(source.data_offset)
        try:
            reader = pacsv.open_csv(
                handle,
                read_options=read_options,
                parse_options=parse_options,
                convert_options=convert_options,
            )
            yield from reader
        except (pa.ArrowInvalid, UnicodeDecodeError):
            if next(records(source), None) is None:
                return  # nothing after the header (Arrow refuses an empty input)
            raise _field_count_error(source) from None


def _field_count_error(source: SourceFormat) -> ExportError:
    """The first record whose field count differs from the header's, as a precise error."""
    expected = len(source.header)
    try:
        found = first_short_or_long(source)
    except QuotingFault as fault:
        return ExportError(source.path, fault.line, fault.problem)
    if found is None:
        return ExportError(source.path, None, "the file cannot be parsed as delimited text")
    record, is_last = found
    have = len(record.fields)
    span = f" (a quoted value runs from line {record.first_line} to {record.last_line})"
    spans = span if record.last_line > record.first_line else ""
    if is_last and have < expected:
        problem = f"truncated file: the last row has {have} of {expected} fields{spans}"
    elif have < expected:
        problem = f"row has {have} fields, the header has {expected}{spans}"
    else:
        problem = (
            f"row has {have} fields, the header has {expected} (an unquoted delimiter inside a value?){spans}"
        )
    return ExportError(source.path, record.first_line, problem)


class _BatchConverter:
    """Turns one table of raw text cells into the layout's normalised, typed frame."""

    def __init__(self, match: HeaderMatch, meta: Mapping[str, str], pseudonym: Pseudonym | None) -> None:
        self.match = match
        self.meta = meta
        self.pseudonym = pseudonym
        self.day_first = match.language == "fr"
        self.decimal_comma = match.language == "fr"

    def __call__(self, raw: pa.Table) -> pd.DataFrame:
        raw, kept_rows = _drop_blank_rows(raw)
        try:
            converted = self._convert(raw)
        except cells.CellProblem as problem:
            if kept_rows is not None:
                problem.row = kept_rows[problem.row].as_py()
            raise
        frame = pa.table(converted).to_pandas(types_mapper=_PANDAS_TYPES.get)
        for name in self.match.layout.meta_columns:
            frame[name] = pd.Series(self.meta.get(name), index=frame.index, dtype="str")
        return frame

    def _cells(self, raw: pa.Table, column: Column) -> pa.Array | None:
        position = self.match.positions.get(column.name)
        return None if position is None else raw.column(f"f{position}").combine_chunks()

    def _convert(self, raw: pa.Table) -> dict[str, pa.Array]:
        layout = self.match.layout
        out: dict[str, pa.Array] = {}
        for column in layout.columns:
            if column.type in PERSONAL or column.type is CellType.IGNORED:
                continue
            values = self._cells(raw, column)
            if values is None:
                out[column.name] = pa.nulls(raw.num_rows, _ARROW_TYPES.get(column.type, pa.string()))
                continue
            out[column.name] = self._typed(values, column)
            if column.needed:
                cells.require(out[column.name], column.name)
        if any(c.type in PERSONAL for c in layout.columns):
            out["fan_key"] = self._fan_keys(raw, out.get("service"))
            for column in layout.columns:
                if column.type is CellType.TEXT:
                    # A fan list's free text (campaign, source) must not smuggle an address through.
                    out[column.name] = cells.without_emails(out[column.name])
        if layout.kind == "s4a_songs" and self.meta.get("window") == "all":
            # The all-time songs export reports 0 listeners and 0 saves for every song: unknown, not zero.
            out["listeners"] = pa.nulls(raw.num_rows, pa.int64())
            out["saves"] = pa.nulls(raw.num_rows, pa.int64())
        return out

    def _typed(self, values: pa.Array, column: Column) -> pa.Array:
        name, kind = column.name, column.type
        if kind in (CellType.DATE, CellType.MONTH, CellType.TIMESTAMP):
            return self._typed_time(values, name, kind)
        if kind in NUMBERS:
            return self._typed_number(values, name, kind)
        if kind is CellType.CODE:
            return cells.code(values, name)
        if kind is CellType.COUNTRY:
            return cells.country(values, name)
        if kind is CellType.SERVICE:
            return cells.service(values)
        if kind is CellType.FLAG:
            return cells.flag(values, name)
        return cells.text(values)

    def _typed_time(self, values: pa.Array, name: str, kind: CellType) -> pa.Array:
        if kind is CellType.DATE:
            return cells.date(values, name, day_first=self.day_first)
        if kind is CellType.MONTH:
            return cells.month(values, name)
        return cells.timestamp(values, name, day_first=self.day_first)

    def _typed_number(self, values: pa.Array, name: str, kind: CellType) -> pa.Array:
        if kind in (CellType.COUNT, CellType.SIGNED_COUNT):
            signed = kind is CellType.SIGNED_COUNT
            return cells.whole_number(values, name, signed=signed, decimal_comma=self.decimal_comma)
        if kind is CellType.AVERAGE:
            return cells.decimal_number(values, name, decimal_comma=self.decimal_comma, minimum=0)
        if kind is CellType.AMOUNT:
            return cells.decimal_number(values, name, decimal_comma=self.decimal_comma)
        return cells.decimal_number(
            values, name, decimal_comma=self.decimal_comma, minimum=0, maximum=100, percent_sign=True
        )

    def _fan_keys(self, raw: pa.Table, services: pa.Array | None) -> pa.Array:
        """Keyed hashes of the fan's email (or else service + user id); the plain values go no further."""
        rows = raw.num_rows
        if self.pseudonym is None:
            return pa.nulls(rows, pa.string())
        pseudonym = self.pseudonym
        keys = pa.nulls(rows, pa.string())
        fan_id = self._column_of_type(raw, CellType.FAN_ID)
        if fan_id is not None:
            service = services if services is not None else pa.nulls(rows, pa.string())
            joined = pc.binary_join_element_wise(pc.fill_null(service, ""), cells.text(fan_id), "\x1f")
            keys = cells.map_distinct(joined, lambda v: None if v is None else pseudonym(*v.split("\x1f", 1)))
        email = self._column_of_type(raw, CellType.EMAIL)
        if email is not None:
            normalised = pc.utf8_lower(cells.text(email))
            by_email = cells.map_distinct(normalised, lambda v: None if v is None else pseudonym("email", v))
            keys = pc.coalesce(by_email, keys)
        return keys

    def _column_of_type(self, raw: pa.Table, kind: CellType) -> pa.Array | None:
        column = next((c for c in self.match.layout.columns if c.type is kind), None)
        return None if column is None else self._cells(raw, column)


def _drop_blank_rows(raw: pa.Table) -> tuple[pa.Table, pa.Array | None]:
    """Rows whose claimed cells are all empty (spreadsheets leave `,,,` lines) carry nothing: drop them."""
    if raw.num_columns == 0 or raw.num_rows == 0:
        return raw, None
    blank = None
    for column in raw.columns:
        empty = pc.equal(pc.binary_length(column), 0)
        blank = empty if blank is None else pc.and_(blank, empty)
    if not pc.any(blank).as_py():
        return raw, None
    kept = pc.indices_nonzero(pc.invert(blank))
    return raw.take(kept), kept
