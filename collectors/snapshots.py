"""Artist statistics the services' APIs still give an app: followers and popularity, read once a day.

The calls are the service clients' (`services.spotify.SpotifyApp.artist_stats` with the app's
client-credentials token, `services.deezer.DeezerApp.artist_stats` on Deezer's public API). Since February
2026 development-mode Spotify apps no longer see `followers` and `popularity` (reference/dsp-apis.md A.1):
a field the answer lacks is "not available", never an error and never zero.

A problem with one artist (unknown id, the service failing, the app told to wait) is recorded as that
artist's status and the others still load. Only a refused app (bad client id or secret) stops the whole
snapshot, because nothing else can succeed.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol

from services.errors import Failure, ServiceError, ServiceFailure
from services.model import AVAILABLE, NOT_AVAILABLE, ArtistStats

__all__ = [
    "AVAILABLE",
    "NOT_AVAILABLE",
    "AppRefused",
    "ArtistStats",
    "ArtistStatsSource",
    "artist",
    "snapshot",
]
MAX_RETRY_AFTER_S = 30.0  # a short throttle is waited out once; a longer one is recorded


class AppRefused(RuntimeError):
    """The service refused the app itself (client id or secret): no artist can be read."""


class ArtistStatsSource(Protocol):
    name: str

    def artist_stats(self, artist_id: str) -> ArtistStats: ...


def artist(source: ArtistStatsSource, artist_id: str) -> ArtistStats:
    """One artist's figures; a failure is the artist's status (AppRefused if the app was refused)."""
    for attempt in (1, 2):
        try:
            return source.artist_stats(artist_id)
        except ServiceFailure as failure:
            if failure.code == "app_refused":
                raise AppRefused(str(failure)) from None
            wait = failure.retry_after
            if (
                failure.kind == Failure.THROTTLED
                and attempt == 1
                and wait is not None
                and wait <= MAX_RETRY_AFTER_S
            ):
                time.sleep(wait)  # a batch job, not a request: the pause is short and shared by the app
                continue
            return _failed(source.name, artist_id, _problem(failure))
        except ServiceError as error:
            return _failed(source.name, artist_id, error.code)
    raise AssertionError("unreachable")


def snapshot(source: ArtistStatsSource, artist_ids: list[str]) -> list[ArtistStats]:
    """Each artist's figures, in order."""
    return [artist(source, artist_id) for artist_id in artist_ids]


def _problem(failure: ServiceFailure) -> str:
    if failure.status is not None and failure.status != 429:
        return f"{failure.status} {failure.detail}".strip()
    if failure.kind == Failure.TRANSIENT:
        return f"network ({failure.code})"
    return failure.code


def _failed(service: str, artist_id: str, problem: str) -> ArtistStats:
    status = f"error: {problem}"
    return ArtistStats(
        service,
        artist_id,
        None,
        None,
        None,
        status,
        NOT_AVAILABLE if service == "deezer" else status,  # Deezer has no popularity figure at all
        datetime.now(UTC),
    )
