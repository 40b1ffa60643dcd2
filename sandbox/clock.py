"""The sandbox's clock: the real time, shifted or frozen by a test to reach a release or a token's expiry."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime


class Clock:
    """Seconds since the epoch, as the simulated services see them."""

    def __init__(self, start_at: datetime | None = None) -> None:
        self._lock = threading.Lock()
        self._offset = 0.0 if start_at is None else _epoch(start_at) - time.time()
        self._frozen_at: float | None = None

    def time(self) -> float:
        frozen = self._frozen_at
        return frozen if frozen is not None else time.time() + self._offset

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), UTC)

    @property
    def frozen(self) -> bool:
        return self._frozen_at is not None

    def set(self, at: datetime, *, frozen: bool = False) -> None:
        with self._lock:
            self._offset = _epoch(at) - time.time()
            self._frozen_at = _epoch(at) if frozen else None

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += seconds
            if self._frozen_at is not None:
                self._frozen_at += seconds

    def freeze(self, frozen: bool) -> None:
        with self._lock:
            if frozen and self._frozen_at is None:
                self._frozen_at = time.time() + self._offset
            elif not frozen and self._frozen_at is not None:
                self._offset = self._frozen_at - time.time()
                self._frozen_at = None


def _epoch(at: datetime) -> float:
    if at.tzinfo is None:
        raise ValueError("clock times must carry a time zone (use UTC)")
    return at.timestamp()
