"""Mapping records back to physical lines, and finding quoting faults, for error messages.

The fast reader (Arrow) counts records, not lines; a quoted value may span lines and blank lines are
skipped. These slower scans (Python's csv module, same dialect) run only when something is wrong, so a
good file never pays for them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass

from collectors.exports.sniff import SourceFormat


@dataclass(frozen=True)
class Record:
    first_line: int
    last_line: int
    fields: list[str]


class QuotingFault(Exception):
    def __init__(self, line: int, problem: str) -> None:
        super().__init__(problem)
        self.line = line
        self.problem = problem


def records(source: SourceFormat, *, strict: bool = False) -> Iterator[Record]:
    """The data records after the header, with their physical lines; blank lines are skipped as Arrow does."""
    with source.path.open("rb") as raw:
        raw.seek(source.data_offset)
        text = io.TextIOWrapper(raw, encoding=source.encoding, errors="replace", newline="")
        reader = csv.reader(text, delimiter=source.delimiter, quotechar='"', doublequote=True, strict=strict)
        consumed = 0
        while True:
            first = source.header_line + consumed + 1
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                last = source.header_line + reader.line_num
                raise QuotingFault(first, _quoting_problem(str(exc), first, last)) from None
            consumed = reader.line_num
            if fields:
                yield Record(first, source.header_line + consumed, fields)


def _quoting_problem(message: str, first: int, last: int) -> str:
    if "end of data" in message or "field limit" in message:
        return f"unbalanced quotes: the quoted value opened on line {first} is never closed (truncated file?)"
    if "expected after" in message and first == last:
        return "malformed quoting: text follows a closing quote inside a value"
    if "expected after" in message:
        return (
            f"malformed quoting: a quoted value opened on line {first} closes on line {last} before more text"
        )
    return f"malformed quoting: {message}"


def line_of_row(source: SourceFormat, row: int) -> int | None:
    """The first physical line of the `row`-th (0-based) data record."""
    for index, record in enumerate(records(source)):
        if index == row:
            return record.first_line
    return None


def check_quotes(source: SourceFormat) -> None:
    """Raise QuotingFault for a quoted value that never closes (or text after a closing quote)."""
    for _ in records(source, strict=True):
        pass


def first_short_or_long(source: SourceFormat) -> tuple[Record, bool] | None:
    """The first record whose field count differs from the header's, and whether it is the file's last."""
    expected = len(source.header)
    found: Record | None = None
    for record in records(source):
        if found is not None:
            return found, False
        if len(record.fields) != expected:
            found = record
    return (found, True) if found is not None else None
