"""Every call the simulated services answered, and counts by route and status, for tests and benchmarks.

Appending is O(1) under one short lock; the counts are kept apart from the log, so they stay exact
when the log is trimmed to its limit.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(slots=True)
class Call:
    seq: int
    time: float
    service: str  # spotify, spotify_accounts, apple, deezer, deezer_connect
    client_id: str | None
    user: str | None
    method: str
    path: str
    query: str
    route: str  # the route's template, e.g. "PUT /me/library"
    status: int
    duration_ms: float
    fault: str | None = None
    retry_after: int | None = None  # the Retry-After of a 429 the gate answered (rate limit or quota)
    request_body: bytes | None = None
    response_body: bytes | None = None
    response_type: str | None = None

    def as_json(self, *, bodies: bool = False) -> dict[str, Any]:
        record: dict[str, Any] = {
            "seq": self.seq,
            "time": datetime.fromtimestamp(self.time, UTC).isoformat().replace("+00:00", "Z"),
            "service": self.service,
            "client_id": self.client_id,
            "user": self.user,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "route": self.route,
            "status": self.status,
            "duration_ms": round(self.duration_ms, 3),
            "fault": self.fault,
            "retry_after": self.retry_after,
        }
        if bodies:
            record["request_body"] = _text(self.request_body)
            record["response_body"] = _text(self.response_body)
            record["response_type"] = self.response_type
        return record


def _text(body: bytes | None) -> str | None:
    return None if body is None else body.decode("utf-8", "replace")


class CallLog:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._calls: list[Call] = []
        self._by_user: dict[tuple[str, str], list[Call]] = {}
        self._counts: Counter[tuple[str, str | None, str, int]] = Counter()
        self._seq = 0
        self.trimmed = 0

    def record(self, call: Call) -> None:
        with self._lock:
            self._seq += 1
            call.seq = self._seq
            self._counts[(call.service, call.client_id, call.route, call.status)] += 1
            if self.limit == 0:
                return
            self._calls.append(call)
            if call.user is not None:
                self._by_user.setdefault((call.service, call.user), []).append(call)
            if len(self._calls) > self.limit:
                self._trim()

    def _trim(self) -> None:
        drop = len(self._calls) - self.limit // 2
        self.trimmed += drop
        self._calls = self._calls[drop:]
        first = self._calls[0].seq if self._calls else self._seq + 1
        self._by_user = {
            key: kept
            for key, calls in self._by_user.items()
            if (kept := [c for c in calls if c.seq >= first])
        }

    def calls(
        self,
        *,
        services: tuple[str, ...] | None = None,
        client_id: str | None = None,
        since_seq: int | None = None,
        since_time: float | None = None,
    ) -> list[Call]:
        with self._lock:
            calls = list(self._calls)
        return [
            c
            for c in calls
            if (services is None or c.service in services)
            and (client_id is None or c.client_id == client_id)
            and (since_seq is None or c.seq > since_seq)
            and (since_time is None or c.time >= since_time)
        ]

    def calls_of(self, service: str, user: str) -> list[Call]:
        with self._lock:
            return list(self._by_user.get((service, user), ()))

    def summary(self, services: tuple[str, ...], client_id: str | None = None) -> dict[str, Any]:
        with self._lock:
            counts = list(self._counts.items())
        by_route: dict[str, dict[str, int]] = {}
        by_status: Counter[str] = Counter()
        total = 0
        for (service, client, route, status), n in counts:
            if service not in services or (client_id is not None and client != client_id):
                continue
            route_counts = by_route.setdefault(route, {})
            route_counts[str(status)] = route_counts.get(str(status), 0) + n
            by_status[str(status)] += n
            total += n
        return {
            "total": total,
            "by_route": dict(sorted(by_route.items())),
            "by_status": dict(sorted(by_status.items())),
        }

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()
            self._by_user.clear()
            self._counts.clear()
