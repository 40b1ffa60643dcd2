"""The callback captures first: a Spotify that fails after the token exchange, or a store that is busy,
costs the fan nothing. Real sandbox and landing app over HTTP, on SQLite (and PostgreSQL for the faults)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from urllib.parse import unquote

import pytest
from sqlalchemy import select

from campaigns.models import OwedAction
from collectors.landing.app import create_app as create_landing
from executor.entry import release_day
from executor.release import run_release
from presave.processes import free_port
from presave.servers import LoopbackServer
from services.spotify import SpotifyApp
from tests.integration.conftest import ARTIST_ID, System, add_campaign, add_release, soon
from tests.integration.landing_helpers import Fan, grants

SLUG = "midnight-drive"
UPC = "198880045560"
ARTIST_URI = f"spotify:artist:{ARTIST_ID}"


def _ledger(system: System) -> list[tuple[str, str | None, str]]:
    with system.store.session() as session:
        actions = session.scalars(select(OwedAction).order_by(OwedAction.id)).all()
        return [(a.kind, a.target, a.outcome) for a in actions]


def _spotify_fails_with(system: System, status: int | None) -> None:
    """Every Spotify Web API call answers `status` (the accounts service, token exchange, still works)."""
    faults = (
        {"services": ["spotify"], "error_share": 1.0, "error_statuses": [status]}
        if status
        else {"error_share": 0.0}
    )
    system.admin.put("/sandbox/config", json={"faults": faults}).raise_for_status()


def _follow_calls(system: System) -> list[dict]:
    """The artist follows Spotify answered (the ones a fault turned away are not counted)."""
    return [
        c
        for c in system.calls()
        if c["method"] == "PUT" and ARTIST_URI in unquote(str(c.get("query") or "")) and not c["fault"]
    ]


def _wait_until(moment: datetime) -> None:
    while datetime.now(UTC) < moment:
        time.sleep(0.1)


def _captured_while_spotify_fails(system: System) -> datetime:
    """A fan pre-saves while every Spotify Web API call after the token exchange answers 502; the moment
    the release is due."""
    release_at = soon(seconds=3)
    add_release(system, UPC, release_at)
    add_campaign(system, SLUG, UPC, release_at)
    _spotify_fails_with(system, 502)
    with Fan(system) as fan:
        assert fan.visit(SLUG).status_code == 200
        callback = fan.oauth(SLUG, "spotify", "fan-ada")
    assert callback.status_code == 303
    assert callback.headers["location"] == f"/{SLUG}/done"
    return release_at


def _served_once(system: System) -> None:
    [grant] = grants(system)
    assert grant.service_user_id == "fan-ada"
    ledger = _ledger(system)
    assert [o for k, _, o in ledger if k == "identify"] == ["delivered"]
    assert [o for k, t, o in ledger if k == "follow_artist" and t == ARTIST_URI] == ["delivered"]
    assert [f["uri"] for f in system.fan("fan-ada")["follows"]].count(ARTIST_URI) == 1
    assert len(_follow_calls(system)) == 1


def test_a_fan_whose_spotify_fails_after_the_exchange_lands_on_the_done_page_with_the_actions_owed(
    system: System,
) -> None:
    _captured_while_spotify_fails(system)
    [grant] = grants(system)
    assert grant.service_user_id.startswith("pending:")  # /me did not answer yet
    ledger = _ledger(system)
    assert [o for k, _, o in ledger if k == "identify"] == ["queued"]
    assert ("follow_artist", ARTIST_URI, "queued") in ledger
    assert system.fan("fan-ada")["follows"] == []


def test_the_executor_later_identifies_the_fan_and_follows_exactly_once(system: System) -> None:
    release_at = _captured_while_spotify_fails(system)
    _spotify_fails_with(system, None)
    _wait_until(release_at)
    vault = system.settings.vault()  # the Fernet keys and the pseudonym keys
    apps = {"spotify": SpotifyApp.from_settings(system.settings)}
    run_release(system.store, vault, apps, SLUG)
    run_release(system.store, vault, apps, SLUG)  # a second run finds nothing more to do
    _served_once(system)


def test_the_release_day_command_identifies_the_fan_and_follows_exactly_once(system: System) -> None:
    release_at = _captured_while_spotify_fails(system)
    _spotify_fails_with(system, None)
    _wait_until(release_at)
    release_day(system.settings, SLUG, shards=1)
    release_day(system.settings, SLUG, shards=1)
    _served_once(system)


@pytest.fixture
def locked_sqlite(system: System) -> Iterator[sqlite3.Connection]:
    """Another connection to the same SQLite file, able to hold its write lock."""
    url = system.settings.resolved_database_url
    if not url.startswith("sqlite"):
        pytest.skip("holds an SQLite write lock")
    connection = sqlite3.connect(url.split("///", 1)[1], isolation_level=None, timeout=5)
    yield connection
    if connection.in_transaction:
        connection.execute("ROLLBACK")
    connection.close()


@pytest.fixture
def impatient_system(system: System) -> Iterator[System]:
    """A second landing app on the same sandbox and store whose store waits only briefly for another writer
    (PRESAVE_STORE_BUSY_TIMEOUT_S)."""
    port = free_port(0)
    settings = system.settings.model_copy(
        update={"store_busy_timeout_s": 0.3, "public_url": f"http://127.0.0.1:{port}"}
    )
    app = create_landing(settings)
    with LoopbackServer(app, port=port) as server:
        yield replace(system, settings=settings, landing_url=server.url, landing_app=app)


def test_a_busy_store_at_the_callback_asks_the_fan_to_try_again_and_the_next_try_saves_once(
    impatient_system: System, locked_sqlite: sqlite3.Connection
) -> None:
    system = impatient_system
    add_release(system, UPC, soon())
    add_campaign(system, SLUG, UPC, soon())
    with Fan(system) as fan:
        assert fan.visit(SLUG).status_code == 200
        connect = fan.http.get(f"/{SLUG}/connect/spotify")
        assert connect.status_code == 302
        locked_sqlite.execute("BEGIN EXCLUSIVE")  # another writer holds the store while the fan consents
        busy = fan.authorize(connect.headers["location"], "fan-bo")
        locked_sqlite.execute("ROLLBACK")
        assert busy.status_code == 503
        assert "Not saved yet" in busy.text
        assert f'href="/{SLUG}"' in busy.text
        assert grants(system) == []

        assert fan.visit(SLUG).status_code == 200
        again = fan.oauth(SLUG, "spotify", "fan-bo")
    assert again.status_code == 303
    assert again.headers["location"] == f"/{SLUG}/done"
    [grant] = grants(system)
    assert grant.service_user_id == "fan-bo"
