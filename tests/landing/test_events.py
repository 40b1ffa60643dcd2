"""The batched event sink on a real SQLite store: nothing lost under concurrency, failures, or shutdown."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from campaigns.models import Campaign, LandingEvent
from campaigns.store import Store
from collectors.landing.events import EventSink, event_row


def _campaign() -> Campaign:
    return Campaign(
        slug="midnight-drive",
        artist="Nova Lane",
        title="Midnight Drive",
        release_at=datetime(2026, 12, 4, tzinfo=UTC),
        timezone="UTC",
        spec={},
    )


def _store(tmp_path: Path, *, migrated: bool = True) -> tuple[Store, int]:
    store = Store.connect(f"sqlite:///{tmp_path / 'presave.db'}", upgrade=migrated)
    if not migrated:
        return store, 0
    with store.session() as session:
        campaign = _campaign()
        session.add(campaign)
        session.flush()
        return store, campaign.id


def _count(store: Store) -> int:
    with store.session() as session:
        return session.scalar(select(func.count()).select_from(LandingEvent)) or 0


def test_many_threads_adding_lose_nothing(tmp_path: Path) -> None:
    store, campaign_id = _store(tmp_path)
    sink = EventSink(store).start()

    def visitor(n: int) -> None:
        for i in range(250):
            sink.add(event_row(campaign_id, "visit", {"visitor_id": f"v{n:02d}-{i:04d}-xxxxxxxx"}))

    threads = [threading.Thread(target=visitor, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sink.flush()
    assert _count(store) == 2000
    assert sink.dropped == 0
    sink.close()
    with store.session() as session:
        assert len(set(session.scalars(select(LandingEvent.visitor_id)))) == 2000
    store.dispose()


def test_closing_writes_what_is_still_queued(tmp_path: Path) -> None:
    store, campaign_id = _store(tmp_path)
    sink = EventSink(store, linger_s=10.0).start()  # the thread would wait long before writing
    for _ in range(10):
        sink.add(event_row(campaign_id, "click", {}, service="spotify", detail="listen"))
    sink.close(timeout=0.1)
    assert _count(store) == 10
    store.dispose()


def test_a_failed_write_is_retried_with_the_same_rows(tmp_path: Path) -> None:
    store, _ = _store(tmp_path, migrated=False)  # no tables yet: writes fail
    sink = EventSink(store, retry_s=0.05).start()
    for _ in range(5):
        sink.add(event_row(1, "visit", {}))
    assert not sink.flush(timeout=0.3)
    migrated = Store.connect(f"sqlite:///{tmp_path / 'presave.db'}")
    with migrated.session() as session:
        session.add(_campaign())
    assert sink.flush(timeout=5)
    assert _count(migrated) == 5
    with migrated.session() as session:
        assert session.scalar(select(Campaign.id)) == 1
    sink.close()
    migrated.dispose()
    store.dispose()


def test_event_rows_are_bounded_and_carry_the_visit() -> None:
    row = event_row(3, "error", {"utm_source": "ig", "timezone": "Europe/Paris", "ip": "x"}, detail="e" * 500)
    assert len(row["detail"]) == 200
    assert row["utm_source"] == "ig"
    assert "timezone" not in row
    assert "ip" not in row


def test_a_full_queue_drops_and_counts_instead_of_making_the_request_wait(tmp_path: Path) -> None:
    store, campaign_id = _store(tmp_path)
    sink = EventSink(store, capacity=100, retry_s=0.05).start()
    blocker = sqlite3.connect(tmp_path / "presave.db", timeout=0)  # another process writing, for long
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        kept: list[bool] = []
        requests = threading.Thread(
            target=lambda: kept.extend(sink.add(event_row(campaign_id, "visit", {})) for _ in range(1000))
        )
        requests.start()
        requests.join(timeout=10)
        assert not requests.is_alive()  # every add returned while the store could not write at all
        assert kept.count(False) == sink.dropped >= 900 - sink.written
        assert sink.counts()["dropped"] == sink.dropped
    finally:
        blocker.rollback()
        blocker.close()
    assert sink.flush(timeout=15)
    assert _count(store) + sink.dropped == 1000
    sink.close()
    store.dispose()
