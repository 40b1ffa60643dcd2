"""The one error every export reader raises: which file, which line, what was wrong."""

from __future__ import annotations

import re
from pathlib import Path

_EMAIL_LIKE = re.compile(r"@")
_MAX_CELL = 40


def redact(text: str) -> str:
    """Text fit for a message or meta: anything holding an `@` is withheld, long text is cut."""
    if _EMAIL_LIKE.search(text):
        return "<withheld: looks like an email address>"
    return text if len(text) <= _MAX_CELL else text[: _MAX_CELL - 1] + "…"


def quote_cell(value: object) -> str:
    """A cell quoted for a message, redacted as `redact` does."""
    text = redact(str(value))
    return text if text.startswith("<withheld") else repr(text)


class ExportError(ValueError):
    """An export file that cannot be read as a whole.

    `line` is the 1-based physical line of the file (counting the header and any blank lines), or None when
    the problem belongs to the whole file (empty, undecodable). The message never quotes a cell that could
    hold an email address.
    """

    def __init__(self, path: Path | str, line: int | None, problem: str) -> None:
        self.path = Path(path)
        self.line = line
        self.problem = problem
        where = f"line {line}" if line is not None else "whole file"
        super().__init__(f"{self.path}: {where}: {problem}")

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.path, self.line, self.problem))
