"""Artist statistics from the services' APIs, read with an app token against the sandbox on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import httpx
import pytest

from campaigns.campaign_file import parse_campaign
from campaigns.registry import create_campaign
from campaigns.settings import Settings
from campaigns.store import Store
from campaigns.vault import Secret
from collectors.snapshots import NOT_AVAILABLE, AppRefused, artist, snapshot
from pipelines.resources import (
    ArtistStatsResource,
    DeezerResource,
    OperationalStore,
    SpotifyResource,
    WarehouseResource,
)
from pipelines.snapshots.assets import artist_snapshots
from pipelines.warehouse import Warehouse
from presave.servers import LoopbackServer
from sandbox.app import create_app
from sandbox.config import SandboxConfig
from services.deezer import DeezerApp
from services.spotify import SpotifyApp
from tests.conftest import PSEUDONYM_KEY

ARTIST_ID = "4Z8W4fKeB5YxbusRsdQVPb"
CLIENT_ID, CLIENT_SECRET = "sandbox-spotify-client", "sandbox-spotify-secret"


@pytest.fixture
def sandbox_url() -> Iterator[str]:
    with LoopbackServer(create_app(SandboxConfig())) as server:
        with httpx.Client(base_url=server.url) as admin:
            admin.post(
                "/sandbox/artists",
                json={
                    "name": "Nova Lane",
                    "spotify_id": ARTIST_ID,
                    "deezer_id": "27",
                    "followers": 1234,
                    "popularity": 41,
                },
            ).raise_for_status()
        yield server.url


def spotify(url: str, secret: str = CLIENT_SECRET) -> SpotifyApp:
    return SpotifyApp(CLIENT_ID, Secret(secret), f"{url}/spotify/accounts", f"{url}/spotify/v1")


def test_an_extended_quota_app_reads_followers_and_popularity(sandbox_url: str) -> None:
    stats = artist(spotify(sandbox_url), ARTIST_ID)
    assert (stats.artist_name, stats.followers, stats.popularity) == ("Nova Lane", 1234, 41)
    assert (stats.followers_status, stats.popularity_status) == ("available", "available")


def test_a_development_mode_app_reads_not_available_instead_of_failing(sandbox_url: str) -> None:
    with httpx.Client(base_url=sandbox_url) as http:
        http.put("/sandbox/config", json={"spotify": {"dev_mode": True}}).raise_for_status()
    stats = artist(spotify(sandbox_url), ARTIST_ID)
    assert stats.artist_name == "Nova Lane"
    assert (stats.followers, stats.popularity) == (None, None)
    assert (stats.followers_status, stats.popularity_status) == (NOT_AVAILABLE, NOT_AVAILABLE)


def test_an_unknown_artist_is_recorded_and_the_others_still_load(sandbox_url: str) -> None:
    found = snapshot(spotify(sandbox_url), ["0000000000000000000000", ARTIST_ID])
    assert found[0].followers is None
    assert found[0].followers_status.startswith("error: 404")
    assert found[1].followers == 1234


def test_a_refused_app_stops_the_snapshot_without_showing_its_secret(sandbox_url: str) -> None:
    with pytest.raises(AppRefused) as refused:
        artist(spotify(sandbox_url, secret="not-the-secret"), ARTIST_ID)
    assert "invalid_client" in str(refused.value)
    assert "not-the-secret" not in str(refused.value)


def test_deezer_fans_are_read_and_deezer_errors_on_http_200_are_recorded(sandbox_url: str) -> None:
    found = snapshot(DeezerApp("", f"{sandbox_url}/deezer/api"), ["27", "999"])
    assert (found[0].artist_name, found[0].followers, found[0].followers_status) == (
        "Nova Lane",
        1234,
        "available",
    )
    assert found[0].popularity_status == NOT_AVAILABLE  # Deezer has no popularity figure
    assert found[1].followers is None
    assert found[1].followers_status == "error: 200 no data"


def test_the_asset_keeps_one_row_per_artist_and_day(
    sandbox_url: str, tmp_path: Path, settings: Settings
) -> None:
    store = Store.connect(f"sqlite:///{tmp_path / 'presave.db'}")
    spec = parse_campaign(
        {
            "slug": "midnight-drive",
            "artist": "Nova Lane",
            "title": "Midnight Drive",
            "upc": "198880045560",
            "release_at": "2026-12-04T00:00",
            "timezone": "Europe/London",
            "services": {"spotify": {"artist": f"spotify:artist:{ARTIST_ID}"}},
        }
    )
    with store.session() as session:
        create_campaign(session, spec)
    store.dispose()
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    resources = {
        "artist_stats": ArtistStatsResource(
            spotify=SpotifyResource(
                client_id=CLIENT_ID,
                client_secret=CLIENT_SECRET,
                accounts_url=f"{sandbox_url}/spotify/accounts",
                api_url=f"{sandbox_url}/spotify/v1",
            ),
            deezer=DeezerResource(),
        ),
        "operational_store": OperationalStore(
            database_url=f"sqlite:///{tmp_path / 'presave.db'}",
            secret_key=settings.secret_key.get_secret_value(),  # type: ignore[union-attr]
            pseudonym_key=PSEUDONYM_KEY,
        ),
        "warehouse": WarehouseResource(path=str(warehouse.path)),
    }
    for _ in range(2):
        assert dg.materialize([artist_snapshots], resources=resources).success
    with warehouse.reader() as connection:
        rows = connection.execute(
            "SELECT snapshot_date, service, artist_id, followers, popularity, followers_status FROM artist_snapshots"
        ).fetchall()
    assert rows == [(datetime.now(UTC).date(), "spotify", ARTIST_ID, 1234, 41, "available")]
