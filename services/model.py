"""What the service clients hand back, the same shape for every service."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from campaigns.campaign_file import CampaignSpec
from campaigns.vault import Secret, TokenVault

AVAILABLE = "available"
NOT_AVAILABLE = "not available"


@dataclass
class Tokens:
    """A grant's tokens, opened: what a code exchange gives (sealed by the caller before anything else),
    what the store holds (opened by `open_tokens`, the one place a grant's sealed tokens are opened), what
    a refresh gives (`refresh_token` None: the service kept the old one). A refresh updates them in place."""

    access_token: Secret
    refresh_token: Secret | None
    expires_at: datetime | None  # None: does not expire (Deezer offline_access, Apple's user token)
    scope: str = ""  # what the fan granted, space-separated as stored; empty: not known

    @property
    def scopes(self) -> frozenset[str] | None:
        """What the fan granted; None: not known."""
        return frozenset(self.scope.split()) if self.scope else None


TokenSink = Callable[[Tokens], None]  # stores a refresh's tokens (a rotated one first)


def open_tokens(
    vault: TokenVault, access: str, refresh: str | None, expires_at: datetime | None, scope: str | None
) -> Tokens:
    """A grant's tokens as the store holds them (sealed columns), opened; VaultError when the configured
    keys cannot open them."""
    return Tokens(vault.open(access), vault.open(refresh) if refresh else None, expires_at, scope or "")


@dataclass(frozen=True)
class Profile:
    user_id: str
    country: str | None
    email: Secret | None = None


@dataclass(frozen=True)
class FanPlaylist:
    """One of the fan's own playlists (they may add to it), offered as the place to add the release."""

    id: str
    name: str


@dataclass(frozen=True)
class Release:
    """The release as found on one service: the album (URI or id) and its tracks, in order."""

    service: str
    album: str | None
    tracks: tuple[str, ...] = ()
    found_by: str = ""  # e.g. "upc:198880045560"

    @property
    def label(self) -> str:
        return self.album or ",".join(self.tracks)


@dataclass(frozen=True)
class Lookup:
    """How a campaign names its release on one service: its own id, the UPC, or ISRCs (singles)."""

    album_id: str | None
    upc: str | None
    isrcs: tuple[str, ...]

    @property
    def key(self) -> str:
        """A short text naming the lookup, for reasons ("not found by upc:…")."""
        if self.album_id:
            return f"id:{self.album_id}"
        if self.upc:
            return f"upc:{self.upc}"
        return "isrc:" + ",".join(self.isrcs)

    @classmethod
    def of(cls, spec: CampaignSpec, service: str) -> Lookup:
        offer = getattr(spec.services, service, None)
        album_id = getattr(offer, "album_id", None) if offer is not None else None
        return cls(album_id, spec.upc, tuple(spec.isrcs))


@dataclass(frozen=True)
class ArtistStats:
    """One artist's figures on one service at `fetched_at`; a missing figure says why in its status."""

    service: str
    artist_id: str
    artist_name: str | None
    followers: int | None
    popularity: int | None
    followers_status: str
    popularity_status: str
    fetched_at: datetime

    @classmethod
    def of(
        cls, service: str, artist_id: str, body: dict[str, Any], followers: Any, popularity: Any
    ) -> ArtistStats:
        """The figures a service answered with (`body` its artist object): a figure it did not give reads
        "not available", never zero."""
        name = body.get("name")
        followers, popularity = count_of(followers), count_of(popularity)
        return cls(
            service,
            artist_id,
            name if isinstance(name, str) else None,
            followers,
            popularity,
            AVAILABLE if followers is not None else NOT_AVAILABLE,
            AVAILABLE if popularity is not None else NOT_AVAILABLE,
            datetime.now(UTC),
        )


def country_of(value: object) -> str | None:
    """A two-letter country code as the services give it, upper-cased; anything else as unknown."""
    if isinstance(value, str) and len(value) == 2 and value.isalpha():
        return value.upper()
    return None


def count_of(value: object) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
