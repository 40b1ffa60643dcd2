"""The door in front of each simulated service: rate limit, faults, call log.

A plain ASGI middleware, so its cost per call is a token lookup, a rate-window update and one log
append. It sits directly under the server (no middleware that wraps `receive`), which lets it drop a
connection the way a failing load balancer does: closed, with no answer at all.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from starlette.routing import Match

from sandbox.calllog import Call
from sandbox.faults import FaultPlan

if TYPE_CHECKING:
    from sandbox.state import Sandbox

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]
CALLER = "sandbox.caller"


@dataclass(slots=True)
class Caller:
    """Who is calling, as far as the service can tell before doing any work."""

    client_id: str | None = None
    user: str | None = None
    limit_key: object | None = None  # None: this call is not rate limited
    budget: int = 0
    window_s: float = 1.0
    credential: Any = None  # the service's own token record, for its handlers
    # a quota over a longer window besides the rate limit (Spotify's per developer account): its key (None:
    # no quota), calls per window, the window, and the answer once it is spent (given the Retry-After)
    quota_key: object | None = None
    quota_budget: int = 0
    quota_window_s: float = 86400.0
    quota_reply: Callable[[int], Reply] | None = None


@dataclass(slots=True)
class Reply:
    status: int
    body: bytes
    headers: Headers = field(default_factory=list)


class ServiceAdapter(Protocol):
    """What the gate needs to know about one service."""

    name: str

    def identify(self, scope: Scope) -> Caller: ...

    def too_many(self, retry_after: int) -> Reply: ...

    def server_error(self, status: int) -> Reply: ...

    def revoke(self, caller: Caller) -> None: ...


class DroppedConnection(Exception):
    """Raised to make the server abandon a half-sent response where the connection cannot be closed."""


class ServiceGate:
    def __init__(
        self, app: Callable[..., Awaitable[None]], sandbox: Sandbox, adapter: ServiceAdapter
    ) -> None:
        self.app = app
        self.sandbox = sandbox
        self.adapter = adapter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sandbox = self.sandbox
        started = time.perf_counter()
        now = sandbox.clock.time()
        original_path = scope["path"]
        _strip_trailing_slash(scope)
        caller = self.adapter.identify(scope)
        scope[CALLER] = caller
        bodies = sandbox.config.inspection.record_bodies
        seen = _Seen(bodies)
        tracked_send = seen.wrap_send(send)
        tracked_receive = seen.wrap_receive(receive) if bodies else receive
        fault, refusal, retry_after = self._refusal(caller, now)
        if refusal is not None:
            await _send_reply(tracked_send, refusal)
        else:
            plan = sandbox.faults.plan(self.adapter.name, user_call=caller.user is not None)
            if plan is None:
                await self.app(scope, tracked_receive, tracked_send)
            else:
                fault = plan.label
                if plan.throttle:
                    retry_after = sandbox.config.faults.throttle_retry_after_s
                await self._with_faults(plan, caller, scope, tracked_receive, tracked_send, seen)
        self._record(scope, caller, seen, original_path, now, started, fault, retry_after)

    def _refusal(self, caller: Caller, now: float) -> tuple[str | None, Reply | None, int | None]:
        """(fault, reply, retry after) when the caller's rate limit or quota refuses the call."""
        sandbox = self.sandbox
        if caller.limit_key is not None:
            retry_after = sandbox.limiter.hit(caller.limit_key, now, caller.budget, caller.window_s)
            if retry_after is not None:
                return "rate_limited", self.adapter.too_many(retry_after), retry_after
        if caller.quota_key is not None and caller.quota_reply is not None:
            retry_after = sandbox.quotas.hit(
                caller.quota_key, now, caller.quota_budget, caller.quota_window_s, count_refused=False
            )
            if retry_after is not None:
                return "quota_exceeded", caller.quota_reply(retry_after), retry_after
        return None, None, None

    def _record(
        self,
        scope: Scope,
        caller: Caller,
        seen: _Seen,
        original_path: str,
        now: float,
        started: float,
        fault: str | None,
        retry_after: int | None,
    ) -> None:
        bodies = seen.record
        route = scope.get("route")
        route_path = getattr(route, "path", None) or _match_route(self.app, scope) or "<unmatched>"
        self.sandbox.calls.record(
            Call(
                seq=0,
                time=now,
                service=self.adapter.name,
                client_id=caller.client_id,
                user=caller.user,
                method=scope["method"],
                path=original_path,
                query=scope.get("query_string", b"").decode("latin-1"),
                route=f"{scope['method']} {route_path}",
                status=seen.status,
                duration_ms=(time.perf_counter() - started) * 1000,
                fault=fault,
                retry_after=retry_after,
                request_body=bytes(seen.request) if bodies else None,
                response_body=bytes(seen.response) if bodies and seen.delivered else None,
                response_type=seen.content_type,
            )
        )

    async def _with_faults(
        self, plan: FaultPlan, caller: Caller, scope: Scope, receive: Receive, send: Send, seen: _Seen
    ) -> None:
        if plan.latency_s:
            await asyncio.sleep(plan.latency_s)
        if plan.revoke:
            self.adapter.revoke(caller)
        if plan.throttle:
            await _send_reply(send, self.adapter.too_many(self.sandbox.config.faults.throttle_retry_after_s))
            return
        if plan.error_status is not None:
            await _send_reply(send, self.adapter.server_error(plan.error_status))
            return
        if not (plan.drop or plan.slow_s):
            await self.app(scope, receive, send)
            return
        if plan.after_processing:
            await self._after_processing(plan, scope, receive, send, seen)
        else:
            await self._before_processing(plan, scope, receive, send)

    async def _before_processing(self, plan: FaultPlan, scope: Scope, receive: Receive, send: Send) -> None:
        """The connection drops, or the answer is slow, before the service has done anything."""
        if plan.drop:
            await _drop(receive, send)
            return
        gone, early = await _wait_unless_gone(receive, plan.slow_s)
        if gone:
            return  # the client gave up first: nothing was done
        await self.app(scope, _replaying(early, receive), send)

    async def _after_processing(
        self, plan: FaultPlan, scope: Scope, receive: Receive, send: Send, seen: _Seen
    ) -> None:
        """The service does the work; then the connection drops, or the answer is slow."""
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        await self.app(scope, receive, hold)
        for message in held:
            if message["type"] == "http.response.start":
                seen.status = message["status"]
        if plan.drop:
            await _drop(receive, send)
            return
        gone, _ = await _wait_unless_gone(receive, plan.slow_s)
        if gone:
            return
        for message in held:
            await send(message)


class _Seen:
    """What went through a call: its status, and its bodies when they are recorded."""

    __slots__ = ("content_type", "delivered", "record", "request", "response", "status")

    def __init__(self, record: bool) -> None:
        self.record = record
        self.status = 0
        self.delivered = False
        self.request = bytearray()
        self.response = bytearray()
        self.content_type: str | None = None

    def wrap_send(self, send: Send) -> Send:
        async def tracked(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.status = message["status"]
                if self.record:
                    for name, value in message.get("headers", ()):
                        if name.lower() == b"content-type":
                            self.content_type = value.decode("latin-1")
            elif message["type"] == "http.response.body":
                if self.record:
                    self.response += message.get("body", b"")
                if not message.get("more_body"):
                    self.delivered = True
            await send(message)

        return tracked

    def wrap_receive(self, receive: Receive) -> Receive:
        async def tracked() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                self.request += message.get("body", b"")
            return message

        # keep the server's cycle reachable, so a dropped connection can still be closed
        tracked.__self__ = getattr(receive, "__self__", None)  # type: ignore[attr-defined]
        return tracked


def _strip_trailing_slash(scope: Scope) -> None:
    """Spotify treats `me/` as `me` (spotipy sends both)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if path.endswith("/") and len(path) > len(root) + 1:
        scope["path"] = path.rstrip("/") or "/"
        raw = scope.get("raw_path")
        if raw:
            scope["raw_path"] = raw.rstrip(b"/") or b"/"


def _match_route(app: Any, scope: Scope) -> str | None:
    """The template of the route a call would have reached (for calls refused before routing)."""
    while not hasattr(app, "routes") and hasattr(app, "app"):  # look through middleware
        app = app.app
    for route in getattr(app, "routes", ()):
        match, _ = route.matches(scope)
        if match is not Match.NONE:
            return getattr(route, "path", None)
    return None


async def _send_reply(send: Send, reply: Reply) -> None:
    headers = [
        (b"content-length", str(len(reply.body)).encode()),
        *reply.headers,
    ]
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": reply.body})


async def _drop(receive: Receive, send: Send) -> None:
    """Close the connection without answering; where the server hides it, abandon a half-sent answer."""
    cycle = getattr(receive, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is not None:
        transport.close()
        for _ in range(3):  # let the server notice, so it does not try to answer in our place
            await asyncio.sleep(0)
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"64")]})
    raise DroppedConnection("connection dropped by the sandbox's fault plan")


async def _wait_unless_gone(receive: Receive, seconds: float) -> tuple[bool, list[Message]]:
    """Wait `seconds`; whether the client hung up meanwhile, and the request messages read while waiting."""
    early: list[Message] = []

    async def gone() -> None:
        while (message := await receive())["type"] != "http.disconnect":
            early.append(message)

    try:
        await asyncio.wait_for(gone(), timeout=seconds)
    except TimeoutError:
        return False, early
    return True, early


def _replaying(early: list[Message], receive: Receive) -> Receive:
    pending = list(early)

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return replay
