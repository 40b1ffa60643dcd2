"""Rolling-window rate limits: every call counts, refused ones too, and a refusal says when to come back."""

from __future__ import annotations

import math
import threading
from collections import deque

RESOLUTION_S = 0.1


class RollingWindow:
    """Calls in the last `window_s` seconds, kept in 100 ms buckets (O(1) per call)."""

    __slots__ = ("_buckets", "_total")

    def __init__(self) -> None:
        self._buckets: deque[list[int]] = deque()  # [bucket number, calls]
        self._total = 0

    def hit(self, now: float, budget: int, window_s: float, *, count_refused: bool = True) -> float | None:
        """Count one call at `now`; None if it is within `budget`, else the seconds until one would be.
        `count_refused=False`: a refused call does not count (a quota counts the calls it served)."""
        bucket = int(now / RESOLUTION_S)
        span = max(1, round(window_s / RESOLUTION_S))
        buckets = self._buckets
        while buckets and buckets[0][0] <= bucket - span:
            self._total -= buckets.popleft()[1]
        over = self._total >= budget
        if over and not count_refused:
            return self._wait(now, budget, span)
        if buckets and buckets[-1][0] >= bucket:  # same bucket, or the clock was set back
            buckets[-1][1] += 1
        else:
            buckets.append([bucket, 1])
        self._total += 1
        if not over:
            return None
        return self._wait(now, budget, span)

    def _wait(self, now: float, budget: int, span: int) -> float:
        remaining = self._total
        for number, calls in self._buckets:
            remaining -= calls
            if remaining < budget:
                return max(0.0, (number + span) * RESOLUTION_S - now)
        return span * RESOLUTION_S  # unreachable: the last bucket empties the window

    @property
    def total(self) -> int:
        return self._total


class RateLimiter:
    """One rolling window per key (an app, a developer token, a user), behind one short lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._windows: dict[object, RollingWindow] = {}

    def hit(
        self, key: object, now: float, budget: int, window_s: float, *, count_refused: bool = True
    ) -> int | None:
        """None when the call is within budget; otherwise the whole seconds for `Retry-After` (at least 1)."""
        with self._lock:
            window = self._windows.get(key)
            if window is None:
                window = self._windows[key] = RollingWindow()
            wait = window.hit(now, budget, window_s, count_refused=count_refused)
        return None if wait is None else max(1, math.ceil(wait))

    def clear(self) -> None:
        with self._lock:
            self._windows.clear()
