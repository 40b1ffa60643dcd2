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

The state (`Pacing`: rate, when it was set, pause until, quota spent until) is four numbers, read before
every call and changed atomically on a 429 (`after_throttle` is the one rule). It lives in this process
(`LocalPacingState`) or, for every process that uses the label's credentials, in the operational store or
Redis (`services.shared_pacing`). A spent quota (Spotify's `QUOTA_EXCEEDED`, hours long) stops every caller
until it passes; callers that may wait put their work back in the queue instead of waiting.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, NamedTuple, Protocol

from services.errors import QUOTA_PAUSE_S, throttled

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
    max_pause_s: float = QUOTA_PAUSE_S  # a longer pause is not waited out: the actions go back to the queue
    quota_pause_s: float = 3600.0  # a spent quota that names no Retry-After


class Pacing(NamedTuple):
    """What every caller of an app shares, in wall-clock seconds (`time.time()`: processes and machines
    agree on it, unlike `time.monotonic()`)."""

    rate: float = UNLIMITED  # the app's calls/s at `set_at` (UNLIMITED before the first 429)
    set_at: float = 0.0
    pause_until: float = 0.0  # no call before this (a Retry-After)
    quota_until: float = 0.0  # a spent quota: no call before this, and nothing waits for it (reschedule)


def after_throttle(current: Pacing, now: float, until: float, rate: float, *, quota: bool) -> Pacing:
    """The one rule for a 429 (or a quota answer) seen at `now` asking to wait until `until`: every caller
    pauses until the later of the two pauses; the rate drops to `rate` once per pause (calls in flight
    see the same 429 episode, in this process or any other, and must not lower it again)."""
    pause = max(current.pause_until, until)
    quota_until = max(current.quota_until, until) if quota else current.quota_until
    if current.set_at > 0 and now < current.pause_until and current.rate != UNLIMITED:
        return Pacing(current.rate, current.set_at, pause, quota_until)
    return Pacing(rate, pause, pause, quota_until)


class PacingState(Protocol):
    """Where an app's `Pacing` lives: this process's memory, the operational store or Redis."""

    def read(self) -> Pacing:
        """The current values: one cheap read, made before every call (never cached)."""
        ...

    def update(self, change: Callable[[Pacing], Pacing]) -> Pacing:
        """Apply `change` atomically (a compare-and-set, retried when another process wrote in between);
        the values after it."""
        ...


class LocalPacingState:
    """For the workers (threads) of one process."""

    def __init__(self) -> None:
        self._values = Pacing()
        self._lock = threading.Lock()

    def read(self) -> Pacing:
        return self._values

    def update(self, change: Callable[[Pacing], Pacing]) -> Pacing:
        with self._lock:
            self._values = change(self._values)
            return self._values


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
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.policy = policy or PacingPolicy()
        self.state: PacingState = state or LocalPacingState()
        self.share = share
        self.clock = clock
        self.sleep = sleep
        self._lock = threading.Lock()
        self._next_slot = 0.0
        self._granted = threading.local()  # what this thread's `acquire` read, for the call it granted
        self._buckets: deque[list[float]] = deque()  # [0.1 s bucket number, successes] over one window
        self._in_window = 0
        self.throttled = 0  # 429s seen by this process
        self.succeeded = 0

    def rate(self, now: float | None = None) -> float:
        """The app's current rate in calls/s (UNLIMITED before the first 429)."""
        rate, set_at, _, _ = self.state.read()
        now = self.clock() if now is None else now
        return self._grown(rate, set_at, now)

    def _grown(self, rate: float, set_at: float, now: float) -> float:
        """The rate set at `set_at`, grown additively since."""
        if rate == UNLIMITED:
            return rate
        slope = max(self.policy.increase, rate * self.policy.increase_share)
        return rate + slope * max(0.0, now - set_at)

    def paused_until(self) -> float:
        """When the app may call again (a spent quota's end, or the pause's)."""
        values = self.state.read()
        return max(values.pause_until, values.quota_until)

    def reserve(self, now: float, values: Pacing | None = None) -> float:
        """The moment this caller may send (≥ now); reserves that slot."""
        rate, set_at, pause, _ = values if values is not None else self.state.read()
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

    def reschedules(self, values: Pacing, now: float) -> bool:
        """Whether a caller that may wait must not wait for this pause either: a spent quota, or a pause
        longer than `max_pause_s` (the work goes back to the queue for after it)."""
        return values.quota_until > now or values.pause_until - now > self.policy.max_pause_s

    def acquire(self) -> bool:
        """Block until this caller may send; False (at once) if the app's quota is spent or it is paused
        for longer than `max_pause_s` (the caller puts its action back in the queue for after the pause).
        The shared state is read again after every wait, so a pause set meanwhile by any process holds."""
        while True:
            now = self.clock()
            values = self.state.read()
            if self.reschedules(values, now):
                return False
            send_at = self.reserve(now, values)
            if send_at > now:
                self.sleep(send_at - now)
                now = self.clock()
                values = self.state.read()
            if now >= max(values.pause_until, values.quota_until):
                self._granted.read = (values, now)
                return True

    def granted(self) -> Pacing:
        """The state as this thread's `acquire` read it when it granted the call about to be made (the
        client's gate need not read it again), else as it is now."""
        taken: tuple[Pacing, float] | None = getattr(self._granted, "read", None)
        if taken is not None:
            self._granted.read = None
            values, at = taken
            if self.clock() - at <= self.policy.burst_s:
                return values
        return self.state.read()

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

    def on_throttled(
        self, retry_after_s: float | None, now: float | None = None, *, quota: bool = False
    ) -> float:
        """A 429 (or a spent quota): pause every caller of the app, in every process, and lower the rate
        once. Returns the pause's end."""
        now = self.clock() if now is None else now
        policy = self.policy
        if retry_after_s is None:
            wait = policy.quota_pause_s if quota else policy.default_pause_s
        else:
            wait = max(0.0, retry_after_s)
        with self._lock:
            self.throttled += 1
            self._expire(int(now * 10))
            admitted = self._in_window / policy.window_s / self.share  # the app's rate the window let through
            self._next_slot = 0.0

        def lowered(current: Pacing) -> Pacing:
            grown = self._grown(current.rate, current.set_at, now)
            base = min(grown, admitted) if admitted > 0 else grown
            if base == UNLIMITED:
                base = policy.min_rate
            return after_throttle(
                current, now, now + wait, max(policy.min_rate, base * policy.decrease), quota=quota
            )

        return self.state.update(lowered).pause_until


class PacedApp:
    """What each service's app mixes in: its one `pacer`, and the gate every call passes."""

    URLS: ClassVar[tuple[str, ...]] = ()  # the fields naming the service's addresses
    name: str
    pacing: PacingPolicy
    pacer: RateController

    def __post_init__(self) -> None:
        """The addresses kept without a trailing slash (paths are joined to them), and the pacer started."""
        for url in self.URLS:
            setattr(self, url, getattr(self, url).rstrip("/"))
        self.use_pacing()

    @property
    def pacing_key(self) -> str:
        """The app as its service limits it (`spotify:<client id>`): the key of its shared pacing."""
        raise NotImplementedError

    def use_pacing(
        self, policy: PacingPolicy | None = None, state: PacingState | None = None, *, share: float = 1.0
    ) -> None:
        """Pace this app by `policy` (default: its own), its state kept in `state` (default: where it is
        kept now, or this process's memory) with `share` of the app's rate for this process (1/N for N
        shard processes)."""
        self.pacing = policy or self.pacing
        current = getattr(self, "pacer", None)
        if state is None and isinstance(current, RateController):
            state = current.state
        self.pacer = RateController(self.pacing, state, share=share)

    def gate(self, what: str) -> None:
        """Raise at once, before sending, while the app is told to wait (THROTTLED; QUOTA_SPENT for a spent
        quota or a long wait). The failure has no status: nothing was sent."""
        values = self.pacer.granted()
        now = self.pacer.clock()
        left = max(values.pause_until, values.quota_until) - now
        if left > 0:
            raise throttled(
                self.name,
                f"{what} (not sent: the app is paused)",
                left,
                quota=values.quota_until > now,
                sent=False,
            )
