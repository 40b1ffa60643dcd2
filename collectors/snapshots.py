"""Artist statistics the services' APIs still give an app: followers and popularity, read once a day.

Spotify: `GET /artists/{id}` with an app token (client credentials). Since February 2026 development-mode
apps no longer see `followers` and `popularity` (reference/dsp-apis.md A.1): a field the answer lacks is
"not available", never an error. Deezer: `GET /artist/{id}`, public, `nb_fan`; Deezer has no popularity,
and answers its errors with HTTP 200 and an `error` object.

A client answers one artist at a time; a problem with one artist (unknown id, the service failing) is
recorded as that artist's status and the others still load. Only a refused app (bad client id or secret)
stops the whole snapshot, because nothing else can succeed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx

from campaigns.vault import Secret

AVAILABLE = "available"
NOT_AVAILABLE = "not available"
MAX_RETRY_AFTER_S = 30.0


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


class AppRefused(RuntimeError):
    """The service refused the app itself (client id or secret): no artist can be read."""


class ArtistStatsSource(Protocol):
    service: str

    def artist(self, artist_id: str) -> ArtistStats: ...


def _failed(service: str, artist_id: str, problem: str, *, popularity: bool = True) -> ArtistStats:
    status = f"error: {problem}"
    return ArtistStats(
        service,
        artist_id,
        None,
        None,
        None,
        status,
        status if popularity else NOT_AVAILABLE,
        datetime.now(UTC),
    )


def _count(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


class SpotifyArtistStats:
    """Spotify's Web API with an app token (client-credentials flow); the token is renewed when it expires."""

    service = "spotify"

    def __init__(
        self, client_id: str, client_secret: Secret, accounts_url: str, api_url: str, http: httpx.Client
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.accounts_url = accounts_url.rstrip("/")
        self.api_url = api_url.rstrip("/")
        self.http = http
        self._token: Secret | None = None
        self._expires = 0.0

    def _app_token(self, *, renew: bool = False) -> Secret:
        if self._token is not None and not renew and time.monotonic() < self._expires - 60:
            return self._token
        response = self.http.post(
            f"{self.accounts_url}/api/token",
            data={"grant_type": "client_credentials"},
            auth=(self.client_id, self.client_secret.reveal()),
        )
        body = _json(response)
        if response.status_code != 200 or "access_token" not in body:
            raise AppRefused(
                f"Spotify refused the app token: {body.get('error', response.status_code)} "
                f"({body.get('error_description', '')})"
            )
        self._token = Secret(body["access_token"])
        self._expires = time.monotonic() + float(body.get("expires_in", 3600))
        return self._token

    def artist(self, artist_id: str) -> ArtistStats:
        response = self._get(f"/artists/{artist_id}")
        if response.status_code != 200:
            message = _json(response).get("error", {})
            text = message.get("message", "") if isinstance(message, dict) else ""
            return _failed(self.service, artist_id, f"{response.status_code} {text}".strip())
        body = _json(response)
        followers = body.get("followers")
        total = _count(followers.get("total")) if isinstance(followers, dict) else None
        popularity = _count(body.get("popularity"))
        return ArtistStats(
            self.service,
            artist_id,
            body.get("name"),
            total,
            popularity,
            AVAILABLE if total is not None else NOT_AVAILABLE,
            AVAILABLE if popularity is not None else NOT_AVAILABLE,
            datetime.now(UTC),
        )

    def _get(self, path: str) -> httpx.Response:
        response = self._send(path, renew=False)
        if response.status_code == 401:  # the app token expired early or was revoked: renew once
            response = self._send(path, renew=True)
        if response.status_code == 429:
            wait = min(float(response.headers.get("Retry-After", 1)), MAX_RETRY_AFTER_S)
            time.sleep(wait)
            response = self._send(path, renew=False)
        return response

    def _send(self, path: str, *, renew: bool) -> httpx.Response:
        token = self._app_token(renew=renew)
        return self.http.get(f"{self.api_url}{path}", headers={"Authorization": f"Bearer {token.reveal()}"})


class DeezerArtistStats:
    """Deezer's public API: an artist's fan count (`nb_fan`); Deezer has no popularity figure."""

    service = "deezer"

    def __init__(self, api_url: str, http: httpx.Client) -> None:
        self.api_url = api_url.rstrip("/")
        self.http = http

    def artist(self, artist_id: str) -> ArtistStats:
        response = self.http.get(f"{self.api_url}/artist/{artist_id}")
        body = _json(response)
        error = body.get("error")
        if response.status_code != 200 or error:
            text = error.get("message", "") if isinstance(error, dict) else ""
            return _failed(
                self.service, artist_id, f"{response.status_code} {text}".strip(), popularity=False
            )
        fans = _count(body.get("nb_fan"))
        return ArtistStats(
            self.service,
            artist_id,
            body.get("name"),
            fans,
            None,
            AVAILABLE if fans is not None else NOT_AVAILABLE,
            NOT_AVAILABLE,
            datetime.now(UTC),
        )


def snapshot(source: ArtistStatsSource, artist_ids: list[str]) -> list[ArtistStats]:
    """Each artist's figures; a network failure for one artist is recorded as its status."""
    found = []
    for artist_id in artist_ids:
        try:
            found.append(source.artist(artist_id))
        except httpx.HTTPError as exc:
            found.append(_failed(source.service, artist_id, f"network ({type(exc).__name__})"))
    return found


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
