"""The label's Spotify app and one spotipy client per fan, with spotipy's own retrying turned off.

spotipy's retry adapter sleeps the whole `Retry-After` inside the calling thread and drops the header
when it gives up; the executor owns retrying, so clients get a plain `requests.Session`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import requests
import spotipy

from campaigns.settings import Settings
from campaigns.vault import Secret


class TokenRefused(RuntimeError):
    """The accounts service refused a refresh; `error` is its OAuth error code (e.g. invalid_grant)."""

    def __init__(self, error: str, description: str) -> None:
        self.error = error
        self.description = description
        super().__init__(f"refresh refused: {error} ({description})")


@dataclass(frozen=True)
class RefreshedTokens:
    access_token: Secret
    refresh_token: Secret | None  # None when Spotify kept the old one (no rotation)
    expires_at: datetime


@dataclass(frozen=True)
class SpotifyApp:
    client_id: str
    client_secret: Secret
    accounts_url: str
    api_url: str
    timeout: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> SpotifyApp:
        if not settings.spotify_client_id or settings.spotify_client_secret is None:
            raise ValueError("Spotify is not configured: set PRESAVE_SPOTIFY_CLIENT_ID and _SECRET")
        return cls(
            client_id=settings.spotify_client_id,
            client_secret=Secret(settings.spotify_client_secret.get_secret_value()),
            accounts_url=settings.spotify_accounts_url,
            api_url=settings.spotify_api_url,
        )

    def client(self, access_token: Secret, session: requests.Session | None = None) -> spotipy.Spotify:
        """A spotipy client acting for one fan; pass a session to reuse connections across fans."""
        sp = spotipy.Spotify(
            auth=access_token.reveal(),
            requests_session=session or requests.Session(),
            requests_timeout=self.timeout,
        )
        sp.prefix = f"{self.api_url}/"
        return sp

    def refresh(self, refresh_token: Secret, session: requests.Session | None = None) -> RefreshedTokens:
        http = session or requests
        response = http.post(
            f"{self.accounts_url}/api/token",
            data={"grant_type": "refresh_token", "refresh_token": refresh_token.reveal()},
            auth=(self.client_id, self.client_secret.reveal()),
            timeout=self.timeout,
        )
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200 or "access_token" not in body:
            raise TokenRefused(
                str(body.get("error", response.status_code)), str(body.get("error_description", ""))
            )
        rotated = body.get("refresh_token")
        return RefreshedTokens(
            access_token=Secret(body["access_token"]),
            refresh_token=Secret(rotated) if rotated else None,
            expires_at=datetime.now(UTC) + timedelta(seconds=int(body.get("expires_in", 3600))),
        )
