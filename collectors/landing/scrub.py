"""Attribution values that could name a person or carry a secret, replaced by a marker at capture.

Anyone can put anything in a link's `utm_*` or `ref` parameters, and newsletter tools often put the
reader's address there. A value that looks like an email address, a phone number or a token never
reaches the store (nor, so, the warehouse): the whole value becomes `redacted:email`, `redacted:phone`
or `redacted:token`, which keeps the fact that the link was tagged. Pure functions, tested with
examples; a few honest tags (a 12-digit UPC as a campaign name) are redacted too, which costs only
that tag.
"""

from __future__ import annotations

import re

EMAIL = "redacted:email"
PHONE = "redacted:phone"
TOKEN = "redacted:token"  # noqa: S105 - the marker, not a secret

_EMAIL = re.compile(
    r"[^\s@/?&=]+(?:@|%40|\(at\)|\[at\])[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}", re.I
)
# 9 to 15 digits (E.164's longest), single separators between them, not inside a longer word.
_PHONE = re.compile(r"(?<![\w+])\+?\d(?:[\s().-]{0,2}\d){8,14}(?!\w)")
_KNOWN_TOKEN = re.compile(
    r"gAAAAA[\w=-]{20,}|eyJ[\w-]{10,}\.[\w-]{10,}|\b[AB]Q[\w-]{40,}|\b(?:sk|pk|rk|ghp|xox[abp])[_-][\w-]{16,}"
)
_RUN = re.compile(r"[A-Za-z0-9_+/=~.-]{20,}")
_PIECE = re.compile(r"[A-Za-z0-9+/=~]+")
_CLASS_SWITCH = re.compile(r"(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])|(?<=[a-z])(?=[A-Z])")


def looks_random(piece: str) -> bool:
    """A run of 20+ letters and digits switching class often (a token), not a word with a year in it."""
    if len(piece) < 20 or not re.search(r"\d", piece) or not re.search(r"[A-Za-z]", piece):
        return False
    return len(_CLASS_SWITCH.findall(piece)) >= 4


def kind_of(value: str) -> str | None:
    """The marker for a value that looks like an email address, a phone number or a token, else None."""
    if _EMAIL.search(value):
        return EMAIL
    if _KNOWN_TOKEN.search(value):
        return TOKEN
    for run in _RUN.findall(value):
        if any(looks_random(piece) for piece in _PIECE.findall(run)):
            return TOKEN
    if _PHONE.search(value):
        return PHONE
    return None


def scrub(value: str | None) -> str | None:
    """The value as it may be stored: itself, or the marker of what it looked like."""
    if value is None:
        return None
    return kind_of(value) or value
