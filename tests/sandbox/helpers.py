"""Small verbs the sandbox tests share: seed a release, authorize a fan, build spotipy clients."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import spotipy

from sandbox.state import Sandbox

CLIENT_ID = "sandbox-spotify-client"
CLIENT_SECRET = "sandbox-spotify-secret"
REDIRECT_URI = "http://127.0.0.1:8000/oauth/spotify/callback"
ALL_SCOPES = (
    "user-read-private user-read-email user-library-read user-library-modify user-follow-read "
    "user-follow-modify playlist-modify-public playlist-modify-private playlist-read-private"
)


@dataclass
class SandboxServer:
    url: str
    sandbox: Sandbox
    client: httpx.Client

    @property
    def api(self) -> str:
        return f"{self.url}/spotify/v1"

    @property
    def accounts(self) -> str:
        return f"{self.url}/spotify/accounts"


def release_payload(
    upc: str = "198880045560",
    *,
    release_at: datetime | None = None,
    title: str = "Midnight Drive",
    artist: str = "Nova Lane",
    tracks: int = 2,
    **extra: Any,
) -> dict[str, Any]:
    at = release_at or datetime.now(UTC) - timedelta(days=1)
    return {
        "upc": upc,
        "title": title,
        "artist": {"name": artist},
        "release_at": at.isoformat().replace("+00:00", "Z"),
        "tracks": [
            {"title": f"{title} {n}", "isrc": f"QZWFV24{upc[-3:]}{n:02d}", "duration_ms": 180_000 + n}
            for n in range(1, tracks + 1)
        ],
        **extra,
    }


def add_release(server: SandboxServer, **kwargs: Any) -> dict[str, Any]:
    response = server.client.post("/sandbox/releases", json=release_payload(**kwargs))
    assert response.status_code == 201, response.text
    return response.json()


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(64)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize_code(
    server: SandboxServer,
    fan: str,
    *,
    scope: str = ALL_SCOPES,
    challenge: str | None = None,
    state: str = "st4te",
    decision: str | None = None,
    client_id: str = CLIENT_ID,
) -> dict[str, list[str]]:
    """Go through `GET /authorize` as `fan`; the query the app's redirect URI receives."""
    params = {
        "client_id": client_id,
        "response_type": "code",
        "redirect_uri": REDIRECT_URI,
        "scope": scope,
        "state": state,
        "sandbox_fan": fan,
    }
    if challenge:
        params |= {"code_challenge_method": "S256", "code_challenge": challenge}
    if decision:
        params["sandbox_decision"] = decision
    response = server.client.get("/spotify/accounts/authorize", params=params)
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT_URI + "?")
    return parse_qs(urlsplit(location).query)


def basic_auth(client_id: str = CLIENT_ID, secret: str = CLIENT_SECRET) -> dict[str, str]:
    encoded = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {encoded}"}


def grant_tokens(
    server: SandboxServer,
    fan: str,
    *,
    scope: str = ALL_SCOPES,
    client_id: str = CLIENT_ID,
    client_secret: str = CLIENT_SECRET,
) -> dict[str, Any]:
    """Authorize `fan` and exchange the code with client credentials; the token endpoint's answer."""
    code = authorize_code(server, fan, scope=scope, client_id=client_id)["code"][0]
    response = server.client.post(
        "/spotify/accounts/api/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI},
        headers=basic_auth(client_id, client_secret),
    )
    assert response.status_code == 200, response.text
    return response.json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class SandboxOAuth(spotipy.SpotifyOAuth):
    """spotipy's code flow pointed at the sandbox, with its token kept in memory."""

    def __init__(self, server: SandboxServer, scope: str = ALL_SCOPES) -> None:
        super().__init__(
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            redirect_uri=REDIRECT_URI,
            scope=scope,
            open_browser=False,
            cache_handler=spotipy.MemoryCacheHandler(),
        )
        self.OAUTH_AUTHORIZE_URL = f"{server.accounts}/authorize"
        self.OAUTH_TOKEN_URL = f"{server.accounts}/api/token"


class SandboxPKCE(spotipy.SpotifyPKCE):
    def __init__(self, server: SandboxServer, scope: str = ALL_SCOPES) -> None:
        super().__init__(
            client_id=CLIENT_ID,
            redirect_uri=REDIRECT_URI,
            scope=scope,
            open_browser=False,
            cache_handler=spotipy.MemoryCacheHandler(),
        )
        self.OAUTH_AUTHORIZE_URL = f"{server.accounts}/authorize"
        self.OAUTH_TOKEN_URL = f"{server.accounts}/api/token"


def spotify_client(server: SandboxServer, auth: Any, **options: Any) -> spotipy.Spotify:
    client = spotipy.Spotify(auth_manager=auth, **options)
    client.prefix = f"{server.api}/"
    return client


def code_from(server: SandboxServer, authorize_url: str, fan: str) -> str:
    """Follow an authorize URL a client built, as `fan`; the code its redirect URI receives."""
    response = server.client.get(f"{authorize_url}&{urlencode({'sandbox_fan': fan})}")
    assert response.status_code == 302, response.text
    return parse_qs(urlsplit(response.headers["location"]).query)["code"][0]
