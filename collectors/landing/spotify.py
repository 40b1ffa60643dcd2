"""Spotify's authorization-code flow (with PKCE) and the grant-time calls, as the landing app needs them."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import httpx

from campaigns.settings import Settings
from campaigns.vault import Secret

LIBRARY_SCOPES = ("user-library-modify", "user-library-read")
FOLLOW_SCOPES = ("user-follow-modify", "user-follow-read")
PLAYLIST_SCOPES = ("playlist-modify-public", "playlist-modify-private", "playlist-read-private")


class SpotifyConnectError(RuntimeError):
    """Spotify refused a grant-time call; `error` is Spotify's code (never a token)."""

    def __init__(self, error: str, description: str = "") -> None:
        self.error = error
        super().__init__(f"spotify: {error}" + (f" ({description})" if description else ""))


@dataclass(frozen=True)
class Tokens:
    access_token: Secret
    refresh_token: Secret | None
    expires_at: datetime
    scope: str


@dataclass(frozen=True)
class Profile:
    user_id: str
    country: str | None


def pkce_pair() -> tuple[str, str]:
    """A code verifier and its S256 challenge (RFC 7636)."""
    verifier = secrets.token_urlsafe(64)[:96]
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def scopes_for(follows: list[str], *, with_email: bool = False) -> list[str]:
    """The least scopes a campaign needs: library always; follow and playlist scopes only when used."""
    scopes = list(LIBRARY_SCOPES) + list(FOLLOW_SCOPES)
    if any(uri.startswith("spotify:playlist:") for uri in follows):
        scopes += PLAYLIST_SCOPES
    if with_email:
        scopes.append("user-read-email")
    return scopes


class SpotifyConnect:
    def __init__(self, settings: Settings, http: httpx.Client) -> None:
        if not settings.spotify_client_id or settings.spotify_client_secret is None:
            raise SpotifyConnectError("not_configured", "PRESAVE_SPOTIFY_CLIENT_ID/SECRET are not set")
        self._client_id = settings.spotify_client_id
        self._client_secret = settings.spotify_client_secret
        self._accounts = settings.spotify_accounts_url
        self._api = settings.spotify_api_url
        self.redirect_uri = f"{settings.public_url}/oauth/spotify/callback"
        self._http = http

    def authorize_url(self, state: str, challenge: str, scopes: list[str]) -> str:
        query = {
            "client_id": self._client_id,
            "response_type": "code",
            "redirect_uri": self.redirect_uri,
            "scope": " ".join(scopes),
            "state": state,
            "code_challenge_method": "S256",
            "code_challenge": challenge,
        }
        return f"{self._accounts}/authorize?{urlencode(query)}"

    def exchange(self, code: str, verifier: str) -> Tokens:
        response = self._http.post(
            f"{self._accounts}/api/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self.redirect_uri,
                "code_verifier": verifier,
            },
            auth=(self._client_id, self._client_secret.get_secret_value()),
        )
        body = _json(response)
        if response.status_code != 200 or "access_token" not in body:
            raise SpotifyConnectError(
                str(body.get("error", response.status_code)), str(body.get("error_description", ""))
            )
        refresh = body.get("refresh_token")
        return Tokens(
            access_token=Secret(body["access_token"]),
            refresh_token=Secret(refresh) if refresh else None,
            expires_at=datetime.now(UTC) + timedelta(seconds=int(body.get("expires_in", 3600))),
            scope=str(body.get("scope", "")),
        )

    def profile(self, tokens: Tokens) -> Profile:
        response = self._http.get(f"{self._api}/me", headers=_bearer(tokens))
        body = _json(response)
        if response.status_code != 200:
            raise SpotifyConnectError(f"me_{response.status_code}", _message(body))
        return Profile(user_id=str(body["id"]), country=body.get("country"))

    def save_to_library(self, tokens: Tokens, uris: list[str]) -> None:
        """Follows and saves through the 2026 `/me/library` route (40 URIs at most per call)."""
        for start in range(0, len(uris), 40):
            batch = ",".join(uris[start : start + 40])
            response = self._http.put(
                f"{self._api}/me/library", params={"uris": batch}, headers=_bearer(tokens)
            )
            if response.status_code not in (200, 204):
                raise SpotifyConnectError(f"library_{response.status_code}", _message(_json(response)))


def _bearer(tokens: Tokens) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens.access_token.reveal()}"}


def _json(response: httpx.Response) -> dict[str, object]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _message(body: dict[str, object]) -> str:
    error = body.get("error")
    if isinstance(error, dict):
        return str(error.get("message", ""))
    return str(error or "")
