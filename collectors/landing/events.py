"""Landing events written in batches: a bounded in-memory queue that one thread flushes to the store.

A page view must not wait for a database commit, and thousands of one-row transactions a second would
serialise on SQLite's single writer. So views and clicks are queued and written together, one
transaction every few milliseconds. A request never waits for the queue: when it is full (the store has
been away for a while) the new row is dropped and counted (`dropped`, in `/healthz` and in a warning at
most once a minute); a failed write is retried with the same rows, and closing the sink writes what is
left.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.orm import Session

from campaigns.models import LandingEvent
from campaigns.store import Store

log = logging.getLogger(__name__)
LANDING_EVENTS: Table = LandingEvent.__table__  # type: ignore[assignment]  # Core inserts: no ORM bulk path
INSERT_EVENT = LANDING_EVENTS.insert()
DROP_LOG_INTERVAL_S = 60.0

EVENT_COLUMNS = (
    "visitor_id",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "referrer_domain",
    "device_class",
    "in_app_browser",
    "country",
    "ip_hash",
)


def event_row(
    campaign_id: int,
    kind: str,
    visit: dict[str, Any],
    *,
    service: str | None = None,
    grant_id: int | None = None,
    detail: str | None = None,
) -> dict[str, Any]:
    """One landing event as a row: the visit's attribution plus what happened, stamped now."""
    return {
        "campaign_id": campaign_id,
        "occurred_at": datetime.now(UTC),
        "kind": str(getattr(kind, "value", kind)),
        "service": service,
        "grant_id": grant_id,
        "detail": detail[:200] if detail else None,
        **{key: visit.get(key) for key in EVENT_COLUMNS},
    }


class EventSink:
    """Queues event rows and writes them in one transaction per batch from a background thread."""

    def __init__(
        self,
        store: Store,
        *,
        capacity: int = 50_000,
        batch_size: int = 5_000,
        linger_s: float = 0.005,
        retry_s: float = 0.2,
        transaction: Callable[[], AbstractContextManager[Session | Connection]] | None = None,
    ) -> None:
        self._store = store
        self._transaction = transaction or store.session
        self._capacity = capacity
        self._batch_size = batch_size
        self._linger_s = linger_s
        self._retry_s = retry_s
        self._queue: deque[dict[str, Any]] = deque()
        self._lock = threading.Condition()
        self._added = 0
        self._written = 0
        self._dropped = 0
        self._dropped_logged_at = -DROP_LOG_INTERVAL_S
        self._closing = False
        self._thread: threading.Thread | None = None

    @property
    def written(self) -> int:
        return self._written

    def start(self) -> EventSink:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="landing-events", daemon=True)
            self._thread.start()
        return self

    @property
    def dropped(self) -> int:
        return self._dropped

    def counts(self) -> dict[str, int]:
        """What the sink holds and has done since it started: queued, written, dropped rows."""
        with self._lock:
            return {"queued": len(self._queue), "written": self._written, "dropped": self._dropped}

    def add(self, row: dict[str, Any]) -> bool:
        """Queue one row without ever waiting for the store; False (and counted) when the queue is full."""
        with self._lock:
            if len(self._queue) >= self._capacity:
                self._dropped += 1
                now = time.monotonic()
                if now - self._dropped_logged_at >= DROP_LOG_INTERVAL_S:
                    self._dropped_logged_at = now
                    log.warning(
                        "landing events: queue full (%d rows, the store is behind); %d dropped so far",
                        len(self._queue),
                        self._dropped,
                    )
                return False
            self._queue.append(row)
            self._added += 1
            self._lock.notify_all()
            return True

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every row queued so far is in the store; False if that took longer than `timeout`."""
        deadline = time.monotonic() + timeout
        with self._lock:
            target = self._added
            if self._thread is None:
                self._write_queued_locked()
            while self._written < target:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(min(left, 0.05))
        return True

    def close(self, timeout: float = 30.0) -> None:
        """Write what is queued, then stop the thread."""
        with self._lock:
            self._closing = True
            self._lock.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        with self._lock:
            self._write_queued_locked()

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._queue and not self._closing:
                    self._lock.wait()
                if not self._queue and self._closing:
                    return
            time.sleep(self._linger_s)  # let a burst gather into one transaction
            with self._lock:
                batch = [self._queue[i] for i in range(min(len(self._queue), self._batch_size))]
            if not batch:  # a timed-out close() wrote them meanwhile
                continue
            if self._write(batch):
                with self._lock:
                    for _ in batch:
                        self._queue.popleft()
                    self._written += len(batch)
                    self._lock.notify_all()
            else:
                time.sleep(self._retry_s)

    def _write_queued_locked(self) -> None:
        while self._queue:
            batch = list(self._queue)[: self._batch_size]
            if not self._write(batch):
                log.error("landing events: %d rows could not be written at shutdown", len(self._queue))
                return
            for _ in batch:
                self._queue.popleft()
            self._written += len(batch)
            self._lock.notify_all()

    def _write(self, batch: list[dict[str, Any]]) -> bool:
        try:
            with self._transaction() as session:
                session.execute(INSERT_EVENT, batch)
        except Exception as exc:  # the store may be busy or briefly away: keep the rows and retry
            log.warning("landing events: batch of %d not written yet (%s)", len(batch), type(exc).__name__)
            return False
        return True
