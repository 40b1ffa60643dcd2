"""The executor against the sandbox on loopback and a real store (SQLite and PostgreSQL).

Grants are minted through the sandbox's own authorization flows (Spotify code exchange, Deezer connect,
Apple's Music User Token) and stored sealed, as the landing app stores them.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from campaigns.campaign_file import parse_campaign
from campaigns.models import Grant, GrantStatus
from campaigns.registry import create_campaign
from campaigns.settings import Settings
from campaigns.store import Store
from campaigns.vault import Secret, TokenVault
from executor.release import ReleaseOptions, ReleaseReport, run_release
from presave.servers import LoopbackServer
from sandbox.app import create_app
from sandbox.config import SandboxConfig
from sandbox.env import sandbox_env
from sandbox.state import Sandbox
from services import ServiceApp
from services.apple import AppleApp
from services.deezer import DeezerApp
from services.pacing import PacingPolicy
from services.spotify import SpotifyApp
from tests.conftest import PSEUDONYM_KEY

ARTIST_ID = "4Z8W4fKeB5YxbusRsdQVPb"
DEEZER_ARTIST = "27"
REDIRECT_URI = "http://127.0.0.1:8000/oauth/spotify/callback"
ALL_SCOPES = (
    "user-library-read user-library-modify user-follow-read user-follow-modify "
    "playlist-modify-public playlist-modify-private playlist-read-private"
)


@dataclass
class Harness:
    url: str
    sandbox: Sandbox
    admin: httpx.Client
    store: Store
    vault: TokenVault
    settings: Settings
    tmp_path: Path

    # apps --------------------------------------------------------------------------------------------
    def vault_keys(self) -> list[Secret]:
        return [Secret(key) for key in self.settings.secret_keys()]

    def spotify(self) -> SpotifyApp:
        return SpotifyApp.from_settings(self.settings)

    def apple(self) -> AppleApp:
        app = AppleApp.from_settings(self.settings)
        assert app is not None
        return app

    def deezer(self) -> DeezerApp:
        app = DeezerApp.from_settings(self.settings)
        assert app is not None
        return app

    def run(
        self,
        slug: str,
        *,
        services: tuple[str, ...] = ("spotify",),
        pacing: PacingPolicy | None = None,
        **kwargs: Any,
    ) -> ReleaseReport:
        kwargs.setdefault("options", ReleaseOptions(linger_s=0.5))
        makers = {"spotify": self.spotify, "apple": self.apple, "deezer": self.deezer}
        apps: dict[str, ServiceApp] = {name: makers[name]() for name in services}
        if pacing is not None and "spotify" in apps:
            apps["spotify"].use_pacing(pacing)
        return run_release(self.store, self.vault, apps, slug, **kwargs)

    # the catalogue and campaigns ---------------------------------------------------------------------
    def add_release(self, upc: str, release_at: datetime, *, tracks: int = 2, **extra: Any) -> dict[str, Any]:
        response = self.admin.post(
            "/sandbox/releases",
            json={
                "upc": upc,
                "title": f"Release {upc[-4:]}",
                "artist": {"name": "Nova Lane", "spotify_id": ARTIST_ID, "deezer_id": DEEZER_ARTIST},
                "release_at": release_at.isoformat(),
                "tracks": [
                    {"title": f"Song {n}", "isrc": f"QZWFV26{upc[-4:]}{n}", "duration_ms": 200_000}
                    for n in range(1, tracks + 1)
                ],
                **extra,
            },
        )
        assert response.status_code == 201, response.text
        return response.json()

    def add_campaign(
        self,
        slug: str,
        upc: str | None,
        release_at: datetime,
        *,
        services: dict[str, Any] | None = None,
        **extra: Any,
    ) -> int:
        document = {
            "slug": slug,
            "artist": "Nova Lane",
            "title": "Release",
            "release_at": release_at.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds"),
            "timezone": "UTC",
            "services": services or {"spotify": {"artist": f"spotify:artist:{ARTIST_ID}"}},
            **extra,
        }
        if upc:
            document["upc"] = upc
        with self.store.session() as session:
            return create_campaign(session, parse_campaign(document)).id

    # grants -----------------------------------------------------------------------------------------
    def _grant(
        self, campaign_id: int, service: str, user: str, access: str, refresh: str | None, **extra: Any
    ) -> int:
        with self.store.session() as session:
            grant = Grant(
                campaign_id=campaign_id,
                service=service,
                service_user_id=user,
                fan_key=self.vault.pseudonym(service, user),
                access_token=self.vault.seal(access),
                refresh_token=self.vault.seal(refresh) if refresh else None,
                status=GrantStatus.ACTIVE,
                **extra,
            )
            session.add(grant)
            session.flush()
            return grant.id

    def spotify_tokens(
        self, fan: str, *, scope: str = ALL_SCOPES, country: str = "GB", timezone: str | None = None
    ) -> dict[str, Any]:
        self.admin.post(
            "/sandbox/spotify/fans", json={"id": fan, "country": country, "timezone": timezone}
        ).raise_for_status()
        authorize = self.admin.get(
            "/spotify/accounts/authorize",
            params={
                "client_id": self.settings.spotify_client_id,
                "response_type": "code",
                "redirect_uri": REDIRECT_URI,
                "scope": scope,
                "sandbox_fan": fan,
            },
        )
        code = parse_qs(urlsplit(authorize.headers["location"]).query)["code"][0]
        secret = self.settings.spotify_client_secret
        assert secret is not None
        basic = base64.b64encode(
            f"{self.settings.spotify_client_id}:{secret.get_secret_value()}".encode()
        ).decode()
        answer = self.admin.post(
            "/spotify/accounts/api/token",
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI},
            headers={"Authorization": f"Basic {basic}"},
        )
        answer.raise_for_status()
        return answer.json()

    def spotify_grant(
        self,
        campaign_id: int,
        fan: str,
        *,
        scope: str = ALL_SCOPES,
        choices: dict[str, Any] | None = None,
        country: str = "GB",
        timezone: str | None = None,
        granted_at: datetime | None = None,
    ) -> int:
        tokens = self.spotify_tokens(fan, scope=scope, country=country, timezone=timezone)
        now = datetime.now(UTC)
        return self._grant(
            campaign_id,
            "spotify",
            fan,
            tokens["access_token"],
            tokens["refresh_token"],
            token_expires_at=now + timedelta(seconds=tokens["expires_in"]),
            scopes=tokens["scope"],
            choices=choices or {},
            country=country,
            fan_timezone=timezone,
            granted_at=granted_at or now,
        )

    def apple_grant(self, campaign_id: int, fan: str, *, choices: dict[str, Any] | None = None) -> int:
        self.admin.post("/sandbox/apple/fans", json={"id": fan, "subscribed": True}).raise_for_status()
        token = self.apple_token(fan)
        return self._grant(campaign_id, "apple", fan, token, None, country="US", choices=choices or {})

    def apple_token(self, fan: str) -> str:
        return self.admin.post(f"/sandbox/apple/fans/{fan}/user-token").json()["music_user_token"]

    def deezer_grant(self, campaign_id: int, fan: str, *, choices: dict[str, Any] | None = None) -> int:
        self.admin.post("/sandbox/deezer/fans", json={"id": fan}).raise_for_status()
        redirect = "http://127.0.0.1:8000/oauth/deezer/callback"
        auth = self.admin.get(
            "/deezer/connect/oauth/auth.php",
            params={
                "app_id": self.settings.deezer_app_id,
                "redirect_uri": redirect,
                "perms": "basic_access,offline_access,manage_library",
                "sandbox_fan": fan,
            },
        )
        code = parse_qs(urlsplit(auth.headers["location"]).query)["code"][0]
        secret = self.settings.deezer_secret
        assert secret is not None
        answer = self.admin.get(
            "/deezer/connect/oauth/access_token.php",
            params={
                "app_id": self.settings.deezer_app_id,
                "secret": secret.get_secret_value(),
                "code": code,
                "output": "json",
            },
        ).json()
        return self._grant(
            campaign_id, "deezer", fan, answer["access_token"], None, country="FR", choices=choices or {}
        )

    # what the services saw ---------------------------------------------------------------------------
    def calls(self, service: str = "spotify", **params: Any) -> list[dict[str, Any]]:
        response = self.admin.get(f"/sandbox/{service}/calls", params=params)
        response.raise_for_status()
        return response.json()["calls"]

    def fan(self, fan: str, service: str = "spotify") -> dict[str, Any]:
        response = self.admin.get(f"/sandbox/{service}/fans/{fan}")
        response.raise_for_status()
        return response.json()

    def configure(self, patch: dict[str, Any]) -> None:
        self.admin.put("/sandbox/config", json=patch).raise_for_status()


def sandbox_settings(url: str, config: SandboxConfig, tmp_path: Path, store_url: str, key: str) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path / "data",
        database_url=store_url,
        secret_key=key,
        pseudonym_key=PSEUDONYM_KEY,
        **{k.removeprefix("PRESAVE_").lower(): v for k, v in sandbox_env(url, config).items()},
    )


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(inspection={"record_bodies": True})


@pytest.fixture
def harness(
    tmp_path: Path, store: Store, store_url: str, settings: Settings, sandbox_config: SandboxConfig
) -> Iterator[Harness]:
    app = create_app(sandbox_config)
    with LoopbackServer(app) as server, httpx.Client(base_url=server.url, timeout=10) as admin:
        assert settings.secret_key is not None
        configured = sandbox_settings(
            server.url, sandbox_config, tmp_path, store_url, settings.secret_key.get_secret_value()
        )
        admin.post(
            "/sandbox/artists",
            json={"name": "Nova Lane", "spotify_id": ARTIST_ID, "deezer_id": DEEZER_ARTIST},
        ).raise_for_status()
        yield Harness(
            server.url,
            app.state.sandbox,
            admin,
            store,
            configured.vault(),
            configured,
            tmp_path,
        )


def ago(seconds: float) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=seconds)
