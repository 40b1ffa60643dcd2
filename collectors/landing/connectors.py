"""What every service connector gives the landing app: tokens, the fan's profile, their playlists.

Errors carry a short code (never a token, an email or a URL, which for Deezer holds the token).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from campaigns.vault import Secret


class ConnectError(RuntimeError):
    """A service refused or failed a call made while the fan waits; `code` is safe to log and store."""

    def __init__(self, service: str, code: str, *, refused: bool = False) -> None:
        self.service = service
        self.code = code[:80]
        self.refused = refused  # the service said no to what the fan brought (a bad code or token)
        super().__init__(f"{service}: {self.code}")


@dataclass(frozen=True)
class Tokens:
    access_token: Secret
    refresh_token: Secret | None
    expires_at: datetime | None  # None: does not expire (Deezer offline_access, Apple's user token)
    scope: str


@dataclass(frozen=True)
class Profile:
    user_id: str
    country: str | None
    email: Secret | None = None


@dataclass(frozen=True)
class FanPlaylist:
    """One of the fan's own playlists, offered as the place to add the release."""

    id: str
    name: str


def country_of(value: object) -> str | None:
    if isinstance(value, str) and len(value) == 2 and value.isalpha():
        return value.upper()
    return None
