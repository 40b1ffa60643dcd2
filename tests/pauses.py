"""Reading the sandbox's call log for calls made while the app was told to wait."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.pacing import PacingState

# A call that arrives within this much of the moment the pause became visible to every process was already
# on its way (in flight: past its gate, in the server's queue). Anything later inside the window is a breach.
IN_FLIGHT_S = 0.05


@dataclass(frozen=True)
class Pause:
    answered_at: float  # when the 429 was answered (its arrival plus its handling)
    until: float  # answered_at + its Retry-After
    retry_after: int


def _at(call: dict[str, Any]) -> float:
    return datetime.fromisoformat(call["time"].replace("Z", "+00:00")).timestamp()


def pauses(calls: list[dict[str, Any]]) -> list[Pause]:
    """Every window the service announced (a 429 with a Retry-After), in order."""
    found = []
    for call in calls:
        if call["status"] == 429 and call.get("retry_after"):
            answered = _at(call) + call["duration_ms"] / 1000
            found.append(Pause(answered, answered + call["retry_after"], call["retry_after"]))
    return sorted(found, key=lambda p: p.answered_at)


def calls_while_told_to_wait(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The calls of the log (one app's) that arrived inside a window the service had announced, more than
    `IN_FLIGHT_S` after the 429 that announced it."""
    windows = pauses(calls)
    return [call for call in calls if any(p.answered_at + IN_FLIGHT_S < _at(call) < p.until for p in windows)]


def describe(breaches: list[dict[str, Any]], calls: list[dict[str, Any]]) -> str:
    """Each breach with how long after the 429 that announced its window it arrived (for a failure)."""
    windows = pauses(calls)
    lines = []
    for call in breaches:
        at = _at(call)
        late = min(at - p.answered_at for p in windows if p.answered_at < at < p.until)
        lines.append(f"seq {call['seq']} {call['route']} {call['status']}: {late * 1000:.1f} ms into a pause")
    return "; ".join(lines)


@dataclass
class PauseWatcher:
    """Polls an app's shared pacing state (as any process reads it) and notes when each pause became
    visible: the moment from which no process may send. The 429's answer reaches its caller and is written
    there a little later (`lag_s` of each pause: that caller's processing, reported, not hidden)."""

    state: PacingState
    every_s: float = 0.002
    seen: list[tuple[float, float]] = field(default_factory=list)  # (visible at, pause until)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> PauseWatcher:
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _poll(self) -> None:
        last = self.state.read().pause_until
        while not self._stop.wait(self.every_s):
            until = self.state.read().pause_until
            if until != last:
                self.seen.append((time.time(), until))
                last = until

    def breaches(self, calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Calls that arrived inside a visible pause, more than `IN_FLIGHT_S` after it became visible."""
        return [
            call
            for call in calls
            if any(visible + IN_FLIGHT_S < _at(call) < until for visible, until in self.seen)
        ]

    def lags_s(self, calls: list[dict[str, Any]]) -> list[float]:
        """For each announced pause, how long after the 429's answer the pause was visible to all."""
        lags = []
        for pause in pauses(calls):
            later = [visible for visible, until in self.seen if until >= pause.answered_at]
            if later:
                lags.append(min(later) - pause.answered_at)
        return lags

    def covers(self, calls: list[dict[str, Any]]) -> bool:
        """Every window the service announced ends before the pause every process kept (to the second)."""
        kept = [until for _, until in self.seen]
        return all(any(until >= p.until - 0.01 for until in kept) for p in pauses(calls))
