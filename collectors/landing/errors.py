"""The landing app's last line: an unexpected exception becomes one log line and a plain error page.

The line names the exception's type and the request's id, nothing else: a database error's text quotes
its statement and parameters, a service error may quote a URL with a token in it. The id is sent back in
`X-Request-ID` on every response, so a fan's report can be matched with the line. Catching here, inside
Starlette's own error middleware, also keeps the server from printing the traceback with its text.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

log = logging.getLogger("collectors.landing.errors")
REQUEST_ID_HEADER = b"x-request-id"

ErrorPage = Callable[[Request], Response]


class ErrorLayer:
    """ASGI middleware: a request id on every response; one line per crash; a 500 page instead."""

    def __init__(self, app: Any, *, error_page: ErrorPage | None = None) -> None:
        self.app = app
        self.error_page = error_page

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = secrets.token_hex(6)
        started = False

        async def send_with_id(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []), (REQUEST_ID_HEADER, request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:  # every kind: this is the layer that keeps their text out of the log
            log.error("landing: request %s failed: %s", request_id, type(exc).__name__)
            if not started:
                await self._error_response(scope)(scope, receive, send_with_id)

    def _error_response(self, scope: dict[str, Any]) -> Callable[..., Awaitable[None]]:
        if self.error_page is not None:
            try:
                return self.error_page(Request(scope))
            except Exception as exc:  # the page itself failed: say so plainly
                log.error("landing: the error page failed: %s", type(exc).__name__)
        return PlainTextResponse("Something went wrong. Please try again in a moment.", status_code=500)
