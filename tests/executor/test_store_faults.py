"""Release day while the operational store fails mid-run: SQLite locked by another connection for a few
seconds, PostgreSQL with the executor's connections killed (pg_terminate_backend) again and again. No
action ends failed, none is done twice, and every rotated refresh token is kept."""

from __future__ import annotations

import base64
import sqlite3
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from campaigns.models import Grant, GrantStatus, OwedAction
from campaigns.store import Store, StoreTimeouts
from executor.release import ReleaseOptions, ReleaseReport, run_release
from tests.executor.conftest import Harness, ago

FANS = [f"fan-{n}" for n in range(6)]
OUTAGE_S = 3.0


class StoreOutage(threading.Thread):
    """Waits until the run has claimed its first actions, then makes the store fail for `OUTAGE_S`:
    an exclusive SQLite lock held by another connection, or PostgreSQL connections killed every 50 ms."""

    def __init__(self, store_url: str) -> None:
        super().__init__(name="store-outage", daemon=True)
        self.store_url = store_url
        self.started_outage = threading.Event()
        self.kills = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            if self.store_url.startswith("sqlite"):
                self._lock_sqlite(make_url(self.store_url).database or "")
            else:
                self._kill_postgres()
        except BaseException as error:  # reported by the test
            self.error = error

    def _lock_sqlite(self, path: str) -> None:
        connection = sqlite3.connect(path, timeout=30, isolation_level=None)
        self._wait_for_claims(lambda: connection.execute(CLAIMED).fetchone()[0])
        connection.execute("BEGIN EXCLUSIVE")
        self.started_outage.set()
        time.sleep(OUTAGE_S)
        connection.execute("ROLLBACK")
        connection.close()

    def _kill_postgres(self) -> None:
        engine = create_engine(self.store_url, isolation_level="AUTOCOMMIT", poolclass=None)
        with engine.connect() as connection:
            self._wait_for_claims(lambda: connection.execute(text(CLAIMED)).scalar())
            self.started_outage.set()
            until = time.monotonic() + OUTAGE_S
            while time.monotonic() < until:
                killed = connection.execute(
                    text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                ).scalar()
                self.kills += killed or 0
                time.sleep(0.05)
        engine.dispose()

    @staticmethod
    def _wait_for_claims(claimed: object) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if claimed():  # type: ignore[operator]
                return
            time.sleep(0.005)
        raise TimeoutError("the run never claimed an action")


CLAIMED = "SELECT count(*) FROM owed_actions WHERE started_at IS NOT NULL"


def _library_writes(harness: Harness) -> Counter[tuple[str, str]]:
    seen: Counter[tuple[str, str]] = Counter()
    for call in harness.calls("spotify"):
        if call["route"] == "PUT /me/library" and call["status"] == 200:
            for uri in unquote(call["query"]).removeprefix("uris=").split(","):
                seen[(call["user"], uri)] += 1
    return seen


def _refresh_works(harness: Harness, refresh_token: str) -> bool:
    secret = harness.settings.spotify_client_secret
    assert secret is not None
    basic = base64.b64encode(
        f"{harness.settings.spotify_client_id}:{secret.get_secret_value()}".encode()
    ).decode()
    answer = harness.admin.post(
        "/spotify/accounts/api/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        headers={"Authorization": f"Basic {basic}"},
    )
    return answer.status_code == 200


def _run(harness: Harness, store: Store, slug: str, *, now: datetime | None = None) -> ReleaseReport:
    return run_release(
        store,
        harness.vault,
        {"spotify": harness.spotify()},
        slug,
        now=now,
        options=ReleaseOptions(linger_s=0.5),
    )


@pytest.mark.parametrize("during", ["token refreshes", "library writes"])
def test_a_store_failing_mid_run_fails_no_action_repeats_none_and_keeps_rotated_tokens(
    harness: Harness, store_url: str, during: str
) -> None:
    # Short-lived access tokens: every grant is refreshed before its first call, and every refresh
    # rotates the refresh token (the old one stops working): dropping one would lose the fan. For the
    # library writes, tokens that last: the outage meets the outcomes being recorded instead.
    lifetime = 30 if during == "token refreshes" else 3600
    harness.configure({"spotify": {"access_token_lifetime_s": lifetime, "rotation": "always"}})
    harness.add_release("198880045590", ago(60))
    campaign = harness.add_campaign("store-faults", "198880045590", ago(60))
    for fan in FANS:
        harness.spotify_grant(campaign, fan)
    # The refreshes (or the library writes) answer slowly, so the store fails while they are under way
    # and the tokens (or the outcomes) are to be saved.
    slow = "spotify_accounts" if during == "token refreshes" else "spotify"
    harness.configure({"faults": {"services": [slow], "latency": {"median_ms": 400, "p99_ms": 500}}})
    # The run's own store: SQLite gives up waiting for the lock after 0.2 s (then the executor retries).
    store = Store.connect(store_url, upgrade=False, timeouts=StoreTimeouts(busy_s=0.2, connect_s=2))
    outage = StoreOutage(store_url)
    outage.start()
    try:
        first = _run(harness, store, "store-faults")
    finally:
        outage.join(timeout=60)
    assert outage.error is None
    assert outage.started_outage.is_set()
    if not store_url.startswith("sqlite"):
        assert outage.kills > 0
    harness.configure({"faults": {"latency": {"median_ms": 0, "p99_ms": 0}}})

    assert first.outcomes["failed"] == 0
    # Whatever the outage left in flight or sent back, the next run finishes, checking before redoing.
    second = _run(harness, store, "store-faults", now=datetime.now(UTC) + timedelta(minutes=5))
    assert second.outcomes["failed"] == 0
    assert second.outcomes["delivered"] == 2 * len(FANS)  # a save and the artist follow for each fan
    assert second.undone == 0

    writes = _library_writes(harness)
    assert writes
    assert set(writes.values()) == {1}  # nothing done twice
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(OwedAction)) == 2 * len(FANS)
        grants = list(session.scalars(select(Grant)))
    assert [grant.status for grant in grants] == [GrantStatus.ACTIVE] * len(FANS)
    for grant in grants:
        assert grant.refresh_token is not None
        assert _refresh_works(harness, harness.vault.open(grant.refresh_token).reveal())
    store.dispose()


@pytest.fixture
def sandbox_config():  # type: ignore[no-untyped-def]
    from sandbox.config import SandboxConfig

    return SandboxConfig(inspection={"record_bodies": False})
