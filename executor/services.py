"""What the executor needs from each streaming service, whatever its API looks like.

Each service module (spotify, apple, deezer) provides an *app* (the label's credentials: resolves the
release, builds one session per fan) and a *fan session* (acts for one fan: performs an owed action,
checks whether it is already done). Failures are reported as `ServiceFailure` with a `Failure` kind the
worker decides on, or `GrantLost` when the fan's authorization is gone for good.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import requests

from campaigns.campaign_file import CampaignSpec
from campaigns.ledger import Claimed
from campaigns.vault import Secret
from services.pacing import PacingPolicy


class Failure(enum.StrEnum):
    THROTTLED = "throttled"  # 429 / quota: wait (Retry-After), then again; not the fan's fault
    UNAUTHORIZED = "unauthorized"  # the access token was refused: refresh once
    FORBIDDEN = "forbidden"  # missing scope, not the fan's playlist, no subscription: skip with reason
    NOT_FOUND = "not_found"  # the target is not there (yet) for this fan: try again later
    TRANSIENT = "transient"  # 5xx, timeout, dropped connection: outcome unknown, back off and check
    REFUSED = "refused"  # the request itself was refused (400): retrying cannot help


class ServiceFailure(Exception):
    """A call failed; the message names the service and status, never a token."""

    def __init__(
        self,
        kind: Failure,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        app_wide: bool = True,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.retry_after = retry_after
        self.app_wide = app_wide  # a throttle of the whole app (Spotify, Apple), or of this fan (Deezer)


class GrantLost(Exception):
    """The fan's authorization is gone for good (`invalid_grant`, a revoked token): never retried."""

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(f"grant {status}: {reason}")
        self.status = status  # GrantStatus value: expired or revoked
        self.reason = reason


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


def resolved(release: Release | None, service: str) -> Release:
    """The release an action needs; until it is resolved on the service, NOT_FOUND (back to the queue)."""
    if release is None:
        raise ServiceFailure(Failure.NOT_FOUND, f"{service}: the release is not resolved yet")
    return release


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


@dataclass
class GrantTokens:
    """One grant's tokens as the store holds them, opened; updated in place when refreshed."""

    grant_id: int
    access_token: Secret
    refresh_token: Secret | None
    expires_at: datetime | None
    granted_at: datetime


@dataclass(frozen=True)
class RefreshedTokens:
    access_token: Secret
    refresh_token: Secret | None  # None when the service kept the old one (no rotation)
    expires_at: datetime


TokenSink = Callable[[int, RefreshedTokens], None]
ResolvedNote = Callable[[str], None]


class FanSession(Protocol):
    """Acting for one fan on one service (one client, one HTTP session, one worker thread)."""

    def perform(self, action: Claimed, release: Release | None, note: ResolvedNote) -> str | None:
        """Do the action; returns what the target resolved to (album URI, playlist id) if anything.
        `note` records an intermediate result (a created playlist) before going on."""
        ...

    def verify(self, action: Claimed, release: Release | None) -> bool:
        """Whether the action is already done at the service (after a crash or an unclear failure)."""
        ...

    def refresh(self) -> None:
        """Get a new access token now (after a 401); raises GrantLost if the grant is gone."""
        ...


class ServiceApp(Protocol):
    name: str
    pacing: PacingPolicy

    def resolve(self, lookup: Lookup, http: requests.Session) -> Release | None:
        """The release if the service has it live now, else None."""
        ...

    def fan_session(
        self, tokens: GrantTokens, http: requests.Session, on_tokens: TokenSink
    ) -> FanSession: ...


@dataclass
class Tally:
    """Counts one worker keeps while it runs (for progress and the report)."""

    performed: int = 0  # actions that needed a call this run
    calls: int = 0
    throttled: int = 0
    cpu_s: float = 0.0  # CPU the worker process spent performing (not starting up or planning)
    by_outcome: dict[str, int] = field(default_factory=dict)

    def count(self, outcome: str) -> None:
        self.by_outcome[outcome] = self.by_outcome.get(outcome, 0) + 1
