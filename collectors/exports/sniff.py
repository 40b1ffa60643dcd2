"""Finding out how an export file is written: encoding, delimiter, where the header is, which layout it is.

Encodings: a byte-order mark decides (UTF-8, UTF-16 LE/BE); otherwise the whole file is checked as UTF-8,
and a file that is not valid UTF-8 is read as cp1252 (Windows' superset of latin-1), or as latin-1 when it
holds one of the five bytes cp1252 leaves undefined. UTF-16 without a mark is recognised by its zero bytes.
Line ends may be LF, CRLF or CR alone. The delimiter is whichever of comma, semicolon, tab or pipe splits
the header into a known layout. The header is the first non-blank line that matches a layout (up to a few
preamble lines are allowed before it).
"""

from __future__ import annotations

import codecs
import csv
import re
from dataclasses import dataclass
from pathlib import Path

from collectors.exports.errors import ExportError, quote_cell
from collectors.exports.layouts import LAYOUTS, HeaderMatch, match_header

HEAD_BYTES = 1 << 16
SCAN_BYTES = 1 << 24
DELIMITERS = (",", ";", "\t", "|")
MAX_PREAMBLE_LINES = 5
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_CP1252_UNDEFINED = (b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d")
_LINE_END = re.compile(r"\r\n|\r|\n")
_LINE_END_BYTES = re.compile(rb"\r\n|\r|\n")


@dataclass(frozen=True)
class SourceFormat:
    """Everything needed to parse the data rows of one file."""

    path: Path
    encoding: str  # a Python codec name
    delimiter: str
    header: tuple[str, ...]
    header_line: int  # 1-based physical line of the header
    data_offset: int  # byte offset of the first data row
    match: HeaderMatch
    odd_quotes: bool  # the file holds an odd number of quote characters (only known after a full scan)


def inspect_source(path: Path, *, full_scan: bool = True) -> SourceFormat:
    """Sniff one file; `full_scan` reads the whole file once to settle the encoding and count quotes."""
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(HEAD_BYTES)
    except OSError as exc:
        raise ExportError(path, None, f"cannot open the file ({exc.strerror or exc})") from None
    encoding, bom = _encoding_from_head(head)
    odd_quotes = False
    if full_scan:
        encoding, odd_quotes = _scan_whole_file(path, encoding, len(bom))
    text = _decode_head(head[len(bom) :], encoding, final=size <= HEAD_BYTES)
    if not text.strip():
        if size <= HEAD_BYTES:
            raise ExportError(path, None, "empty file: no header and no rows")
        raise ExportError(path, None, f"no header in the first {HEAD_BYTES // 1024} KiB (only blank lines)")
    return _find_header(path, text, encoding, bom, odd_quotes)


def _encoding_from_head(head: bytes) -> tuple[str, bytes]:
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return encoding, bom
    sample = head[:4096]
    if len(sample) >= 8 and sample.count(0) >= len(sample) // 4:
        odd_zeros = sample[1::2].count(0)
        return ("utf-16-le" if odd_zeros > sample[0::2].count(0) else "utf-16-be"), b""
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8", b""
    except UnicodeDecodeError:
        return ("latin-1" if _has_cp1252_undefined(head) else "cp1252"), b""


def _scan_whole_file(path: Path, encoding: str, bom_length: int) -> tuple[str, bool]:
    """Settle UTF-8 versus cp1252/latin-1 over the whole file, and count quote characters."""
    if encoding.startswith("utf-16"):
        decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        quotes = 0
        with path.open("rb") as handle:
            handle.seek(bom_length)
            while chunk := handle.read(SCAN_BYTES):
                quotes += decoder.decode(chunk).count('"')
        return encoding, quotes % 2 == 1
    utf8 = codecs.getincrementaldecoder("utf-8")()
    bad_at: int | None = None
    has_undefined, quotes, base = False, 0, bom_length
    with path.open("rb") as handle:
        handle.seek(bom_length)
        while chunk := handle.read(SCAN_BYTES):
            quotes += chunk.count(b'"')
            has_undefined = has_undefined or _has_cp1252_undefined(chunk)
            if bad_at is None and (not chunk.isascii() or utf8.getstate()[0]):
                try:
                    utf8.decode(chunk)
                except UnicodeDecodeError as exc:
                    bad_at = base + exc.start
            base += len(chunk)
    if bad_at is None:
        try:
            utf8.decode(b"", final=True)
        except UnicodeDecodeError:
            bad_at = base - 1
    if bad_at is None:
        return "utf-8", quotes % 2 == 1
    if bom_length:
        line = _line_of_offset(path, bad_at)
        raise ExportError(
            path, line, f"not valid UTF-8 (byte {bad_at}) although the file starts with a UTF-8 mark"
        )
    return ("latin-1" if has_undefined else "cp1252"), quotes % 2 == 1


def _has_cp1252_undefined(data: bytes) -> bool:
    return any(byte in data for byte in _CP1252_UNDEFINED)


def _line_of_offset(path: Path, offset: int) -> int:
    with path.open("rb") as handle:
        before = handle.read(offset)
    return len(_LINE_END_BYTES.findall(before)) + 1


def _decode_head(head: bytes, encoding: str, *, final: bool) -> str:
    return codecs.getincrementaldecoder(encoding)(errors="replace").decode(head, final=final)


def _lines(text: str) -> list[tuple[int, str, int]]:
    """(1-based line number, line text, character offset just past its line end) for each line of `text`."""
    found, start, number = [], 0, 1
    for end in _LINE_END.finditer(text):
        found.append((number, text[start : end.start()], end.end()))
        start, number = end.end(), number + 1
    if start < len(text):
        found.append((number, text[start:], len(text)))
    return found


def _find_header(path: Path, text: str, encoding: str, bom: bytes, odd_quotes: bool) -> SourceFormat:
    candidates = [line for line in _lines(text) if line[1].strip()][:MAX_PREAMBLE_LINES]
    if not candidates:
        raise ExportError(path, None, "empty file: no header and no rows")
    for number, line, end in candidates:
        best = _best_split(path, number, line)
        if best is None:
            continue
        delimiter, fields, match = best
        offset = len(bom) + len(text[:end].encode(encoding))
        return SourceFormat(path, encoding, delimiter, tuple(fields), number, offset, match, odd_quotes)
    number, line, _ = candidates[0]
    raise ExportError(path, number, _unknown_header_problem(line))


def _best_split(path: Path, number: int, line: str) -> tuple[str, list[str], HeaderMatch] | None:
    """The delimiter under which `line` reads as a known header, and the match; None if none does."""
    options = []
    for delimiter in DELIMITERS:
        fields = next(csv.reader([line], delimiter=delimiter))
        matches = match_header(fields)
        if matches:
            options.append((delimiter, fields, matches))
    if not options:
        return None
    options.sort(key=lambda option: len(option[2][0].positions), reverse=True)
    delimiter, fields, matches = options[0]
    best_size = len(matches[0].positions)
    tied = [m.layout.kind for m in matches if len(m.positions) == best_size]
    if len(tied) > 1:
        raise ExportError(
            path,
            number,
            f"ambiguous header: it fits {' and '.join(tied)} equally well; add the missing columns",
        )
    return delimiter, fields, matches[0]


def _unknown_header_problem(line: str) -> str:
    fields = max((next(csv.reader([line], delimiter=d)) for d in DELIMITERS), key=len)
    shown = ", ".join(quote_cell(f.strip()) for f in fields[:8]) + (", …" if len(fields) > 8 else "")
    known = "; ".join(
        f"{layout.kind} ({', '.join(c.labels[0] for c in layout.columns if c.required)})"
        for layout in LAYOUTS
    )
    return f"unknown header [{shown}]: it matches no known export layout. Known layouts need: {known}"
