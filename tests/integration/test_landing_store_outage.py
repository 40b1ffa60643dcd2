"""PostgreSQL going away while fans come back from Spotify: every connection to the store killed
(pg_terminate_backend) every 50 ms for a few seconds. A fan's callback ends on the done page or on the
503 "Not saved yet" page whose "Start again" link works; a 503 never spends the state (nothing was stored
for it); after starting again each fan has exactly one grant, and release day follows and saves each once.
(The SQLite variant, a store locked by another writer, is in test_landing_capture_faults.)"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import create_engine, select, text

from campaigns.models import AuthorizationAttempt
from campaigns.registry import get_campaign
from executor.release import ReleaseOptions, run_release
from services import apps_from_settings
from tests.integration.conftest import System, add_campaign, add_release, soon
from tests.integration.crowd import ARTIST_URI, grants_by_account, ledger, library_writes
from tests.integration.landing_helpers import Fan

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(300)]
SLUG = "store-outage"
UPC = "198880045580"
FANS = [f"outage-fan-{n:02d}" for n in range(12)]
AT_ONCE = 4
OUTAGE_S = 6.0
GIVE_UP_S = 90.0
RETRY_LINK = re.compile(r'<a class="button" href="([^"]+)">Start again</a>')


@pytest.fixture
def store_url(postgres_url: str) -> str:
    """The landing app's store: a scratch PostgreSQL database (the SQLite lock is tested elsewhere)."""
    return postgres_url


class BackendKiller(threading.Thread):
    """Terminates every other connection to the store's database every 50 ms until stopped."""

    def __init__(self, url: str) -> None:
        super().__init__(name="backend-killer", daemon=True)
        self.url = url
        self.kills = 0
        self.stopped = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        engine = create_engine(self.url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                while not self.stopped.wait(0.05):
                    self.kills += connection.execute(
                        text(
                            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                        )
                    ).scalar_one()
        except BaseException as error:  # reported by the test
            self.error = error
        finally:
            engine.dispose()


@dataclass
class Callbacks:
    """What the fans saw when they came back from Spotify: (status, the state, what the page offered)."""

    seen: list[tuple[int, str, str | None]] = field(default_factory=list)
    elsewhere: Counter[str] = field(default_factory=Counter)  # other steps' answers that sent a fan back
    done: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, status: int, state: str, offered: str | None) -> None:
        with self.lock:
            self.seen.append((status, state, offered))


def _state_of(url: object) -> str:
    return parse_qs(urlsplit(str(url)).query)["state"][0]


def _presave_until_done(system: System, fan_id: str, callbacks: Callbacks, give_up_at: float) -> None:
    """The fan starts at the campaign page, and starts again from wherever an error page points."""
    with Fan(system) as fan:
        start = f"/{SLUG}"
        while time.monotonic() < give_up_at:
            page = fan.http.get(start)
            connect = fan.http.get(f"/{SLUG}/connect/spotify") if page.status_code == 200 else page
            if connect.status_code != 302:
                callbacks.elsewhere[f"{connect.request.url.path} {connect.status_code}"] += 1
                time.sleep(0.1)
                continue
            callback = fan.authorize(connect.headers["location"], fan_id)
            link = RETRY_LINK.search(callback.text)
            offered = callback.headers.get("location") if callback.status_code == 303 else None
            if callback.status_code == 503 and "Not saved yet" in callback.text and link:
                offered = link.group(1)
            callbacks.note(callback.status_code, _state_of(callback.request.url), offered)
            if callback.status_code == 303:
                while fan.done(SLUG).status_code != 200 and time.monotonic() < give_up_at:
                    time.sleep(0.1)  # the done page reads the store too: the fan reloads it
                with callbacks.lock:
                    callbacks.done.add(fan_id)
                return
            start = offered or start
            time.sleep(0.1)


def _fans_during_an_outage(system: System) -> tuple[Callbacks, int]:
    callbacks = Callbacks()
    killer = BackendKiller(system.settings.resolved_database_url)
    give_up_at = time.monotonic() + GIVE_UP_S
    queue = list(FANS)
    queue_lock = threading.Lock()

    def fan_stream() -> None:
        while True:
            with queue_lock:
                if not queue:
                    return
                fan = queue.pop(0)
            _presave_until_done(system, fan, callbacks, give_up_at)

    streams = [threading.Thread(target=fan_stream, daemon=True) for _ in range(AT_ONCE)]
    killer.start()
    for stream in streams:
        stream.start()
    time.sleep(OUTAGE_S)
    killer.stopped.set()
    killer.join(timeout=30)
    for stream in streams:
        stream.join(timeout=GIVE_UP_S)
    assert killer.error is None, killer.error
    return callbacks, killer.kills


def _spent(system: System, states: list[str]) -> dict[str, bool]:
    """Per state, whether its authorization attempt was used up."""
    nonces = {URLSafeTimedSerializer("-").loads_unsafe(state)[1][0]: state for state in states}
    with system.store.session() as session:
        rows = session.execute(
            select(AuthorizationAttempt.nonce, AuthorizationAttempt.used_at).where(
                AuthorizationAttempt.nonce.in_(list(nonces))
            )
        )
        return {nonces[nonce]: used_at is not None for nonce, used_at in rows}


def test_postgres_connections_killed_at_the_callback_cost_no_fan_a_state_or_a_second_grant(
    system: System,
) -> None:
    release = add_release(system, UPC, datetime.now(UTC) - timedelta(hours=1))  # live at the sandbox
    add_campaign(system, SLUG, UPC, soon(seconds=120))
    callbacks, kills = _fans_during_an_outage(system)

    assert kills > 0
    statuses = Counter(status for status, _, _ in callbacks.seen)
    print(f"callbacks by answer {dict(statuses)}; other answers {dict(callbacks.elsewhere)}; kills {kills}")
    assert statuses[503] > 0, "no callback met the outage: the test proves nothing"
    assert set(statuses) <= {303, 503}
    assert callbacks.done == set(FANS)
    for status, _, offered in callbacks.seen:
        assert offered == (f"/{SLUG}/done" if status == 303 else f"/{SLUG}")  # the page and its link
    turned_away = [state for status, state, _ in callbacks.seen if status == 503]
    assert _spent(system, turned_away) == dict.fromkeys(turned_away, False)  # each can still be used

    with system.store.session() as session:
        campaign_id = get_campaign(session, SLUG).id
    vault = system.settings.vault()
    spotify = {"spotify": apps_from_settings(system.settings)["spotify"]}
    later = datetime.now(UTC) + timedelta(minutes=3)  # past the release and the landing app's holds
    report = run_release(system.store, vault, spotify, SLUG, now=later, options=ReleaseOptions(linger_s=0.5))
    assert report.outcomes["failed"] == 0
    assert grants_by_account(system.store, campaign_id) == dict.fromkeys(FANS, 1)
    outcomes = Counter((kind, outcome) for _, kind, outcome, _, _ in ledger(system.store, campaign_id))
    assert outcomes == {
        ("identify", "delivered"): len(FANS),
        ("follow_artist", "delivered"): len(FANS),
        ("save_release", "delivered"): len(FANS),
    }
    album = release["spotify"]["uri"]
    writes = library_writes(system.calls(client_id=system.settings.spotify_client_id))
    assert {fan: (writes[(fan, ARTIST_URI)], writes[(fan, album)]) for fan in FANS} == dict.fromkeys(
        FANS, (1, 1)
    )
