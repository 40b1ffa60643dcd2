"""Lean routing for the simulated services: a Starlette router whose every answer, errors included
(unknown path, wrong method, a bug), comes out in the service's own shape.

The services sit on the hot path of benchmarks, so they skip FastAPI's per-call machinery
(dependency solving, its middleware stack); the admin routes, which are not hot, keep FastAPI.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route, Router
from starlette.types import Receive, Scope, Send

Handler = Callable[..., Awaitable[Response]]
log = logging.getLogger("sandbox")


class ServiceErrors:
    """How one service answers: its own exception type rendered, and the generic failures."""

    def __init__(
        self,
        error_type: type[Exception],
        render: Callable[[Any], Response],
        not_found: Callable[[], Response],
        method_not_allowed: Callable[[], Response],
        server_error: Callable[[], Response],
    ) -> None:
        self.error_type = error_type
        self.render = render
        self.not_found = not_found
        self.method_not_allowed = method_not_allowed
        self.server_error = server_error


class _ServiceRoute(Route):
    def __init__(self, path: str, handler: Handler, methods: list[str], errors: ServiceErrors) -> None:
        async def endpoint(request: Request) -> Response:
            try:
                return await handler(request, **request.path_params)
            except errors.error_type as exc:
                return errors.render(exc)
            except Exception:
                log.exception("sandbox handler failed: %s %s", request.method, request.url.path)
                return errors.server_error()

        super().__init__(path, endpoint, methods=methods)
        self.errors = errors

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.methods and scope["method"] not in self.methods:
            await self.errors.method_not_allowed()(scope, receive, send)
            return
        await super().handle(scope, receive, send)


class ServiceRouter:
    """Routes `(path, methods, handler)`; a handler takes the request and the path parameters."""

    def __init__(self, errors: ServiceErrors) -> None:
        self.errors = errors

        async def not_found(scope: Scope, receive: Receive, send: Send) -> None:
            await errors.not_found()(scope, receive, send)

        self._router = Router(default=not_found, redirect_slashes=False)
        self.routes: list[BaseRoute] = self._router.routes

    def add(self, path: str, handler: Handler, methods: list[str]) -> None:
        self.routes.append(_ServiceRoute(path, handler, methods, self.errors))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._router(scope, receive, send)

    def template(self, scope: Scope) -> str | None:
        """The path template a call matches (for calls refused before routing)."""
        for route in self.routes:
            match, _ = route.matches(scope)
            if match is not Match.NONE and isinstance(route, Route):
                return route.path
        return None
