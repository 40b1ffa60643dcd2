"""Pacing calls to one app's rate limit, shared by every caller of that app: the landing app's routes, the
executor's worker threads and shard processes, the snapshot collectors. Each service client owns one
`RateController` (its `pacer`); callers that may wait (`acquire`) and callers that may not (`wait_left`)
see the same pause.

Services limit an app over a rolling window (Spotify: 30 s) without publishing the budget. The controller
sends as fast as it is allowed until the service first answers 429; then:
- every worker waits out the `Retry-After` (a shared "pause until"), and
- the rate drops multiplicatively to `decrease` × the rate the window really admitted (the calls that
  succeeded in the last window, divided by its length), then rises additively by `increase` calls/s
  each second (AIMD), so it settles just under the budget with rare 429s.

The state (rate, when it was set, pause until) is three numbers; `SharedPacingState` keeps them in a small
memory-mapped file so the shard processes of one run pace together.
"""

from __future__ import annotations

import math
import mmap
import os
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from services.errors import throttled

UNLIMITED = math.inf


@dataclass(frozen=True)
class PacingPolicy:
    window_s: float = 30.0  # the service's rolling window (Spotify documents 30 s)
    decrease: float = 0.95  # multiplicative decrease on a 429
    increase: float = 0.5  # additive increase, calls/s per second, at least…
    increase_share: float = 0.005  # …or this share of the rate set at the last decrease, per second
    min_rate: float = 1.0  # calls/s: never slower than this (outside a pause)
    burst_s: float = 0.05  # how far ahead of the schedule a call may go (a small burst)
    default_pause_s: float = 1.0  # a 429 without Retry-After (Apple; Deezer's quota code)
    max_pause_s: float = 300.0  # a longer pause is not waited out: the actions go back to the queue


class PacingState(Protocol):
    """The three numbers every worker of an app shares."""

    def read(self) -> tuple[float, float, float]:
        """(rate at `set_at`, `set_at`, pause until); rate is UNLIMITED before the first 429."""
        ...

    def write(self, rate: float, set_at: float, pause_until: float) -> None: ...


class LocalPacingState:
    """For the workers (threads) of one process."""

    def __init__(self) -> None:
        self._values = (UNLIMITED, 0.0, 0.0)

    def read(self) -> tuple[float, float, float]:
        return self._values

    def write(self, rate: float, set_at: float, pause_until: float) -> None:
        self._values = (rate, set_at, pause_until)


class SharedPacingState:
    """The same numbers in a memory-mapped file, for shard processes (a sequence lock guards torn reads)."""

    _LAYOUT = struct.Struct("<Qddd")  # version, rate, set_at, pause_until

    def __init__(self, path: Path) -> None:
        self.path = path
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size < self._LAYOUT.size:
                os.ftruncate(fd, self._LAYOUT.size)
            self._map = mmap.mmap(fd, self._LAYOUT.size)
        finally:
            os.close(fd)
        self._lock = threading.Lock()

    @classmethod
    def create(cls, path: Path) -> SharedPacingState:
        path.write_bytes(cls._LAYOUT.pack(0, UNLIMITED, 0.0, 0.0))
        return cls(path)

    def read(self) -> tuple[float, float, float]:
        for _ in range(1000):
            version, rate, set_at, pause = self._LAYOUT.unpack_from(self._map)
            if version % 2 == 0 and self._LAYOUT.unpack_from(self._map)[0] == version:
                return rate, set_at, pause
        return rate, set_at, pause

    def write(self, rate: float, set_at: float, pause_until: float) -> None:
        with self._lock:
            version = self._LAYOUT.unpack_from(self._map)[0]
            struct.pack_into("<Q", self._map, 0, version + 1)
            struct.pack_into("<ddd", self._map, 8, rate, set_at, pause_until)
            struct.pack_into("<Q", self._map, 0, version + 2)

    def close(self) -> None:
        self._map.close()


class RateController:
    """One app's pacing as seen by one process: reserve a send time, report 429s and successes.

    `share` is this process's part of the app's rate (1/N for N shard processes).
    """

    def __init__(
        self,
        policy: PacingPolicy | None = None,
        state: PacingState | None = None,
        *,
        share: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.policy = policy or PacingPolicy()
        self.state = state or LocalPacingState()
        self.share = share
        self.clock = clock
        self.sleep = sleep
        self._lock = threading.Lock()
        self._next_slot = 0.0
        self._buckets: deque[list[float]] = deque()  # [0.1 s bucket number, successes] over one window
        self._in_window = 0
        self.throttled = 0  # 429s seen by this process
        self.succeeded = 0

    def rate(self, now: float | None = None) -> float:
        """The app's current rate in calls/s (UNLIMITED before the first 429)."""
        rate, set_at, _ = self.state.read()
        now = self.clock() if now is None else now
        return self._grown(rate, set_at, now)

    def _grown(self, rate: float, set_at: float, now: float) -> float:
        """The rate set at `set_at`, grown additively since."""
        if rate == UNLIMITED:
            return rate
        slope = max(self.policy.increase, rate * self.policy.increase_share)
        return rate + slope * max(0.0, now - set_at)

    def paused_until(self) -> float:
        return self.state.read()[2]

    def reserve(self, now: float) -> float:
        """The moment this caller may send (≥ now); reserves that slot."""
        rate, set_at, pause = self.state.read()
        with self._lock:
            start = max(now, pause)
            if rate == UNLIMITED:
                return start
            current = self._grown(rate, set_at, now) * self.share
            interval = 1.0 / max(current, self.policy.min_rate * self.share)
            slot = max(start - self.policy.burst_s, self._next_slot)
            self._next_slot = slot + interval
            return max(slot, start)

    def wait_left(self, now: float | None = None) -> float:
        """Seconds until the app may call again (0 when it may now); never blocks. For callers that must
        not sleep (a fan's request): they give up at once and leave the call for later."""
        now = self.clock() if now is None else now
        return max(0.0, self.paused_until() - now)

    def acquire(self) -> bool:
        """Block until this caller may send; False (at once) if the app is paused for longer than
        `max_pause_s` (the caller puts its action back in the queue for after the pause)."""
        while True:
            now = self.clock()
            if self.paused_until() - now > self.policy.max_pause_s:
                return False
            send_at = self.reserve(now)
            if send_at > now:
                self.sleep(send_at - now)
            if self.clock() >= self.paused_until():
                return True

    def on_success(self, now: float | None = None) -> None:
        now = self.clock() if now is None else now
        bucket = int(now * 10)
        with self._lock:
            self.succeeded += 1
            self._expire(bucket)
            if self._buckets and self._buckets[-1][0] == bucket:
                self._buckets[-1][1] += 1
            else:
                self._buckets.append([bucket, 1])
            self._in_window += 1

    def _expire(self, bucket: int) -> None:
        span = int(self.policy.window_s * 10)
        while self._buckets and self._buckets[0][0] <= bucket - span:
            self._in_window -= int(self._buckets.popleft()[1])

    def on_throttled(self, retry_after_s: float | None, now: float | None = None) -> float:
        """A 429 (or a quota error): pause every worker, lower the rate. Returns the pause's end."""
        now = self.clock() if now is None else now
        policy = self.policy
        wait = policy.default_pause_s if retry_after_s is None else max(0.0, retry_after_s)
        rate, set_at, pause = self.state.read()
        with self._lock:
            self.throttled += 1
            self._expire(int(now * 10))
            admitted = self._in_window / policy.window_s / self.share  # the app's rate the window let through
            pause_until = max(pause, now + wait)
            if set_at > 0 and now < pause and rate != UNLIMITED:
                # Several calls in flight see the same 429 episode: lower the rate once per pause.
                self.state.write(rate, set_at, pause_until)
                return pause_until
            current = self._grown(rate, set_at, now)
            base = min(current, admitted) if admitted > 0 else current
            if base == UNLIMITED:
                base = policy.min_rate
            new_rate = max(policy.min_rate, base * policy.decrease)
            self.state.write(new_rate, pause_until, pause_until)
            self._next_slot = 0.0
            return pause_until


class PacedApp:
    """What each service's app mixes in: its one `pacer`, and the gate of callers that may not wait."""

    name: str
    pacing: PacingPolicy
    pacer: RateController

    def use_pacing(
        self, policy: PacingPolicy | None = None, state: PacingState | None = None, *, share: float = 1.0
    ) -> None:
        """Pace this app by `policy` (default: its own), its state kept in `state` (default: this process's
        memory) with `share` of the app's rate for this process (1/N for N shard processes)."""
        self.pacing = policy or self.pacing
        self.pacer = RateController(self.pacing, state, share=share)

    def gate(self, what: str) -> None:
        """Raise at once (THROTTLED, or QUOTA_SPENT for a long wait) while the app is told to wait."""
        left = self.pacer.wait_left()
        if left > 0:
            raise throttled(self.name, f"{what} (not sent: the app is paused)", left)
