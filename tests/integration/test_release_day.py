from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

import httpx

from campaigns.vault import TokenVault
from executor.release import campaigns_with_work_due, run_release
from services.spotify import SpotifyApp
from tests.integration.conftest import System, add_campaign, add_release, soon
from tests.integration.test_landing_flow import _presave
from tests.sandbox.openapi import assert_calls_match_spec


def _wait_until(moment: datetime) -> None:
    while datetime.now(UTC) < moment:
        time.sleep(0.1)


def _album_saves(system: System) -> int:
    return sum(
        1
        for call in system.calls()
        if call["method"] == "PUT" and "spotify:album:" in unquote(str(call.get("query") or ""))
    )


def test_release_day_saves_the_album_once_to_every_library(system: System) -> None:
    release_at = soon(seconds=4)
    album = add_release(system, "198880045560", release_at)
    add_campaign(system, "midnight-drive", "198880045560", release_at)
    fans = ["fan-a", "fan-b", "fan-c"]
    for fan in fans:
        assert _presave(system, "midnight-drive", fan).status_code == 303
    app = {"spotify": SpotifyApp.from_settings(system.settings)}
    vault = TokenVault(system.settings.secret_keys())

    before = release_at - timedelta(seconds=1)  # the clock pinned: the fans' sign-ups take their time
    early = run_release(system.store, vault, app, "midnight-drive", now=before)
    assert early.performed == 3  # only the artist follows answered at grant time, checked at the service
    assert early.planned == 3  # the saves planned ahead, before any call
    assert _album_saves(system) == 0
    with system.store.session() as session:
        assert campaigns_with_work_due(session, before) == []

    _wait_until(release_at)
    with system.store.session() as session:
        assert campaigns_with_work_due(session, datetime.now(UTC)) == ["midnight-drive"]
    started = datetime.now(UTC)
    report = run_release(system.store, vault, app, "midnight-drive")
    assert report.releases["spotify"] == album["spotify"]["uri"]
    assert report.performed == 3
    assert report.outcomes["delivered"] == 6  # three saves, and the three artist follows at grant time
    for fan in fans:
        library = [item["uri"] for item in system.fan(fan)["library"]]
        assert library.count(album["spotify"]["uri"]) == 1
    saves = _album_saves(system)
    assert saves == 3

    again = run_release(system.store, vault, app, "midnight-drive")
    assert again.performed == 0
    assert _album_saves(system) == saves
    with system.store.session() as session:
        assert campaigns_with_work_due(session, datetime.now(UTC)) == []
    assert_calls_match_spec(system.calls(since=started.isoformat(), bodies="true"), check_params=True)


def test_a_release_not_live_yet_leaves_the_actions_queued(system: System) -> None:
    release_at = soon(seconds=2)
    add_release(system, "198880045577", soon(seconds=3600))  # the service has it later than the campaign
    add_campaign(system, "late-album", "198880045577", release_at)
    assert _presave(system, "late-album", "fan-d").status_code == 303
    _wait_until(release_at)
    report = run_release(
        system.store,
        TokenVault(system.settings.secret_keys()),
        {"spotify": SpotifyApp.from_settings(system.settings)},
        "late-album",
    )
    assert report.releases["spotify"] is None
    assert report.performed == 1  # the grant-time artist follow, checked; nothing saved
    assert _album_saves(system) == 0
    assert report.outcomes["queued"] == 1
    assert report.undone == 0


def test_the_release_run_command_prints_the_outcomes_and_its_exit_status_says_if_work_is_left(
    system: System,
) -> None:
    from typer.testing import CliRunner

    from presave.cli import app as cli

    release_at = soon(seconds=3)
    album = add_release(system, "198880045560", release_at)
    add_campaign(system, "midnight-drive", "198880045560", release_at)
    assert _presave(system, "midnight-drive", "fan-e").status_code == 303
    settings = system.settings
    env = {
        "PRESAVE_DATA_DIR": str(settings.data_dir),
        "PRESAVE_DATABASE_URL": settings.resolved_database_url,
        "PRESAVE_SECRET_KEY": settings.secret_key.get_secret_value() if settings.secret_key else "",
        "PRESAVE_SPOTIFY_CLIENT_ID": settings.spotify_client_id or "",
        "PRESAVE_SPOTIFY_CLIENT_SECRET": settings.spotify_client_secret.get_secret_value()
        if settings.spotify_client_secret
        else "",
        "PRESAVE_SPOTIFY_ACCOUNTS_URL": settings.spotify_accounts_url,
        "PRESAVE_SPOTIFY_API_URL": settings.spotify_api_url,
    }
    runner = CliRunner(env=env)
    _wait_until(release_at)
    done = runner.invoke(cli, ["release", "run", "midnight-drive"])
    assert done.exit_code == 0, done.output
    assert f"release on spotify: {album['spotify']['uri']}" in done.stdout
    assert "delivered\t2" in done.stdout  # the save, and the artist follow at grant time
    assert "sandbox-spotify-secret" not in done.output
    again = runner.invoke(cli, ["release", "run", "midnight-drive"])
    assert again.exit_code == 0
    assert "performed 0" in again.stdout
    unknown = runner.invoke(cli, ["release", "run", "no-such-campaign"])
    assert unknown.exit_code == 1
    assert unknown.stderr == "presave: no campaign 'no-such-campaign'\n"


def test_after_release_the_listen_button_opens_the_album_the_executor_resolved(system: System) -> None:
    release_at = soon(seconds=3)
    album = add_release(system, "198880045561", release_at)
    add_campaign(system, "midnight-drive", "198880045561", release_at)
    assert _presave(system, "midnight-drive", "fan-a").status_code == 303
    _wait_until(release_at)

    def listen() -> str:
        system.landing_app.state.landing.campaigns.clear()  # the page's 2 s campaign cache
        response = httpx.get(f"{system.landing_url}/midnight-drive/listen/spotify")
        assert response.status_code == 302
        return response.headers["location"]

    assert listen().startswith("https://open.spotify.com/search/")  # released, not resolved yet
    vault = TokenVault(system.settings.secret_keys())
    report = run_release(
        system.store, vault, {"spotify": SpotifyApp.from_settings(system.settings)}, "midnight-drive"
    )
    assert report.outcomes["delivered"] == 2
    album_id = album["spotify"]["uri"].removeprefix("spotify:album:")
    assert listen() == f"https://open.spotify.com/album/{album_id}"
    page = httpx.get(f"{system.landing_url}/midnight-drive")
    assert 'href="/midnight-drive/listen/spotify"' in page.text
