"""The landing app while the operational store does not answer or fails: `/healthz` answers at once on the
event loop while a page waits for the store in a thread; the campaign pages stay up while SQLite is locked
by another connection or PostgreSQL's connections are killed; the event queue catches up afterwards."""

from __future__ import annotations

import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from campaigns.campaign_file import parse_campaign
from campaigns.models import LandingEvent
from campaigns.registry import create_campaign
from campaigns.settings import Settings
from campaigns.store import Store, StoreTimeouts, make_engine
from collectors.landing.app import create_app
from presave.servers import LoopbackServer
from tests.conftest import PSEUDONYM_KEY

SECRET = "x" * 43 + "="
SLUG = "midnight-drive"


def _settings(tmp_path: Path, url: str) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path / "data",
        database_url=url,
        secret_key=SECRET,
        pseudonym_key=PSEUDONYM_KEY,
        landing_rate_limit=0,
    )


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts TCP connections and never says a word (a store that does not answer)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    yield listener.getsockname()[1]
    listener.close()


def test_healthz_answers_at_once_while_a_page_waits_for_a_store_that_does_not_answer(
    tmp_path: Path, silent_server: int
) -> None:
    url = f"postgresql+psycopg://presave@127.0.0.1:{silent_server}/presave"
    store = Store(make_engine(url, StoreTimeouts(connect_s=3)))  # gives up connecting after 3 s
    app = create_app(_settings(tmp_path, url), store)
    page: dict[str, httpx.Response] = {}
    with LoopbackServer(app) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        waiting = threading.Thread(target=lambda: page.update(answer=client.get(f"/{SLUG}")))
        waiting.start()
        time.sleep(0.3)  # the page request is now waiting for the store
        health = httpx.get(f"{server.url}/healthz", timeout=1.0)  # fails if the loop is held
        assert health.status_code == 200
        assert health.text.startswith("ok\n")
        assert waiting.is_alive()  # the page was still waiting when /healthz answered
        waiting.join(timeout=30)
    answer = page["answer"]
    assert answer.status_code == 503  # the connect timeout ended the wait: try again, not a hang
    assert answer.headers["retry-after"] == "5"
    assert "try again" in answer.text.lower()
    store.dispose()


class Outage(threading.Thread):
    """For `seconds`: an exclusive SQLite lock held by another connection, or every PostgreSQL
    connection of the store killed every 50 ms."""

    def __init__(self, store_url: str, seconds: float) -> None:
        super().__init__(name="outage", daemon=True)
        self.store_url, self.seconds = store_url, seconds
        self.begun = threading.Event()
        self.kills = 0

    def run(self) -> None:
        if self.store_url.startswith("sqlite"):
            connection = sqlite3.connect(make_url(self.store_url).database or "", isolation_level=None)
            connection.execute("BEGIN EXCLUSIVE")
            self.begun.set()
            time.sleep(self.seconds)
            connection.execute("ROLLBACK")
            connection.close()
            return
        engine = create_engine(self.store_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            self.begun.set()
            until = time.monotonic() + self.seconds
            while time.monotonic() < until:
                self.kills += (
                    connection.execute(
                        text(
                            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                        )
                    ).scalar()
                    or 0
                )
                time.sleep(0.05)
        engine.dispose()


def test_the_campaign_pages_stay_up_while_the_store_fails(tmp_path: Path, store_url: str) -> None:
    settings = _settings(tmp_path, store_url)
    store = Store.connect(store_url, timeouts=StoreTimeouts(busy_s=0.2, connect_s=2))
    with store.session() as session:
        create_campaign(
            session,
            parse_campaign(
                {
                    "slug": SLUG,
                    "artist": "Nova Lane",
                    "title": "Midnight Drive",
                    "upc": "198880045560",
                    "release_at": (datetime.now(UTC) + timedelta(days=3))
                    .replace(tzinfo=None)
                    .isoformat(timespec="seconds"),
                    "timezone": "UTC",
                    "services": {"spotify": {"artist": "spotify:artist:4Z8W4fKeB5YxbusRsdQVPb"}},
                }
            ),
        )
    app = create_app(settings, store)
    with LoopbackServer(app) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        assert client.get(f"/{SLUG}").status_code == 200
        outage = Outage(store_url, seconds=3.0)
        outage.start()
        outage.begun.wait(10)
        pages = []
        while outage.is_alive():
            pages.append(client.get(f"/{SLUG}").status_code)
            pages.append(client.get(f"/{SLUG}/listen/spotify", follow_redirects=False).status_code)
            assert client.get("/healthz", timeout=1.0).status_code == 200
            time.sleep(0.25)
        outage.join()
        assert set(pages) <= {200, 302}  # every page and link answered through the outage
        assert len(pages) >= 8
        assert outage.kills > 0 or store_url.startswith("sqlite")
        sink = app.state.landing.events
        assert sink.flush(timeout=20)  # the views queued during the outage reach the store
        assert sink.dropped == 0
    with store.session() as session:
        stored = session.scalar(select(func.count()).select_from(LandingEvent))
    assert stored == 1 + len(pages)  # every view and click of the outage, none lost
    store.dispose()
