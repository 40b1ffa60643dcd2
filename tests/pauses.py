"""Reading the sandbox's call log for calls made while the app was told to wait."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

# A 429 reaches its caller, and the pause is written where every process reads it, a few milliseconds
# after the sandbox answered; a call that arrives within this much of the answer was already on its way
# (in flight) when any caller could have known. Anything later inside the announced window is a breach.
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
    return [
        call
        for call in calls
        if any(p.answered_at + IN_FLIGHT_S < _at(call) < p.until for p in windows)
    ]
