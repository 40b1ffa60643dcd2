"""Ids in each service's own shape, derived from content so a restarted sandbox gives the same ones."""

from __future__ import annotations

import hashlib
import re

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
SPOTIFY_ID = re.compile(r"^[0-9A-Za-z]{22}$")


def _digest(*parts: object) -> int:
    text = "\x1f".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode()).digest(), "big")


def spotify_id(*parts: object) -> str:
    """A 22-character base-62 id, like `4aawyAB9vmqN3uQ7FjRGTy`."""
    number = _digest("spotify", *parts)
    chars = []
    for _ in range(22):
        number, digit = divmod(number, 62)
        chars.append(BASE62[digit])
    return "".join(chars)


def spotify_user_id(*parts: object) -> str:
    """A 28-character lower-case id, the shape of accounts created since 2018."""
    alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
    number = _digest("spotify-user", *parts)
    chars = []
    for _ in range(28):
        number, digit = divmod(number, 36)
        chars.append(alphabet[digit])
    return "".join(chars)


def numeric_id(namespace: str, *parts: object, digits: int = 10) -> str:
    """A decimal id without a leading zero (Apple catalog ids, Deezer ids)."""
    number = _digest(namespace, *parts) % (9 * 10 ** (digits - 1))
    return str(10 ** (digits - 1) + number)


def is_spotify_id(value: str) -> bool:
    return bool(SPOTIFY_ID.match(value))
