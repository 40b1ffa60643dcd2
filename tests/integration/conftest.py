"""The system on loopback: the sandbox and the landing app served over real HTTP, on a real store."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet

from campaigns.campaign_file import parse_campaign
from campaigns.registry import create_campaign
from campaigns.settings import Settings
from campaigns.store import Store
from collectors.landing.app import create_app as create_landing
from presave.processes import free_port
from presave.servers import LoopbackServer
from sandbox.app import create_app as create_sandbox
from sandbox.config import SandboxConfig
from sandbox.env import sandbox_env
from sandbox.state import Sandbox
from tests.conftest import PSEUDONYM_KEY

ARTIST_ID = "4Z8W4fKeB5YxbusRsdQVPb"


@dataclass
class System:
    settings: Settings
    store: Store
    sandbox: Sandbox
    sandbox_url: str
    landing_url: str
    admin: httpx.Client
    landing_app: Any = None  # the landing FastAPI app (its state.landing holds the event sink)

    def fan(self, fan_id: str) -> dict:
        response = self.admin.get(f"/sandbox/spotify/fans/{fan_id}")
        response.raise_for_status()
        return response.json()

    def calls(self, **params: str) -> list[dict]:
        response = self.admin.get("/sandbox/spotify/calls", params=params)
        response.raise_for_status()
        body = response.json()
        return body["calls"] if isinstance(body, dict) else body


@pytest.fixture
def system(tmp_path: Path, store_url: str) -> Iterator[System]:
    config = SandboxConfig(inspection={"record_bodies": True})
    sandbox_app = create_sandbox(config)
    with LoopbackServer(sandbox_app) as sandbox_server:
        landing_port = free_port(0)
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            data_dir=tmp_path / "data",
            database_url=store_url,
            secret_key=Fernet.generate_key().decode(),
            pseudonym_key=PSEUDONYM_KEY,
            public_url=f"http://127.0.0.1:{landing_port}",
            country_header="CF-IPCountry",
            **{
                k.removeprefix("PRESAVE_").lower(): v
                for k, v in sandbox_env(sandbox_server.url, config).items()
            },
        )
        store = Store.connect(settings.resolved_database_url)
        landing_app = create_landing(settings, store)
        landing_server = LoopbackServer(landing_app, port=landing_port)
        with landing_server, httpx.Client(base_url=sandbox_server.url, timeout=10) as admin:
            admin.post(
                "/sandbox/artists", json={"name": "Nova Lane", "spotify_id": ARTIST_ID}
            ).raise_for_status()
            yield System(
                settings,
                store,
                sandbox_app.state.sandbox,
                sandbox_server.url,
                landing_server.url,
                admin,
                landing_app,
            )
        store.dispose()


def add_release(system: System, upc: str, release_at: datetime, title: str = "Midnight Drive") -> dict:
    response = system.admin.post(
        "/sandbox/releases",
        json={
            "upc": upc,
            "title": title,
            "artist": {"name": "Nova Lane", "spotify_id": ARTIST_ID},
            "release_at": release_at.isoformat(),
            "tracks": [
                {"title": f"{title} {n}", "isrc": f"QZWFV26{upc[-4:]}{n}", "duration_ms": 200_000}
                for n in (1, 2)
            ],
        },
    )
    response.raise_for_status()
    return response.json()


def add_campaign(system: System, slug: str, upc: str, release_at: datetime, **extra: object) -> None:
    spec = parse_campaign(
        {
            "slug": slug,
            "artist": "Nova Lane",
            "title": "Midnight Drive",
            "upc": upc,
            "release_at": release_at.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds"),
            "timezone": "UTC",
            "services": {"spotify": {"artist": f"spotify:artist:{ARTIST_ID}"}},
            **extra,
        }
    )
    with system.store.session() as session:
        create_campaign(session, spec)


def soon(seconds: float = 3600) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=seconds)
