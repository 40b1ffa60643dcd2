"""The landing app's guards: the fan's signed session, CSRF tokens, request limits.

The fan session is a signed cookie naming the grant the browser just made; the done page and the erase
button act only on that grant. Every POST carries a CSRF token derived from that session (or, for the
MusicKit page, the single-use authorization state) and must come from our own origin.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from itsdangerous import BadSignature, URLSafeTimedSerializer

from campaigns.settings import Settings

SESSION_COOKIE = "psv_fan"
SESSION_LIFETIME_S = 2 * 60 * 60
MAX_BODY_BYTES = 16 * 1024


@dataclass(frozen=True)
class DonePageSession:
    """The grant this browser just made, for the done page: grant id, campaign id, service, a nonce."""

    grant_id: int
    campaign_id: int
    service: str
    nonce: str


class Sessions:
    """Signs and reads the fan-session cookie, and derives its CSRF token."""

    def __init__(self, key: str) -> None:
        self._signer = URLSafeTimedSerializer(key, salt="presave.fan-session")
        self._csrf_key = hashlib.sha256(b"csrf:" + key.encode()).digest()

    def issue(self, grant_id: int, campaign_id: int, service: str) -> tuple[DonePageSession, str]:
        session = DonePageSession(grant_id, campaign_id, service, secrets.token_urlsafe(12))
        cookie = self._signer.dumps([grant_id, campaign_id, service, session.nonce])
        return session, cookie

    def read(self, cookie: str | None) -> DonePageSession | None:
        if not cookie or len(cookie) > 512:
            return None
        try:
            grant_id, campaign_id, service, nonce = self._signer.loads(cookie, max_age=SESSION_LIFETIME_S)
        except (BadSignature, ValueError, TypeError):
            return None
        if not (isinstance(grant_id, int) and isinstance(campaign_id, int)):
            return None
        return DonePageSession(grant_id, campaign_id, str(service), str(nonce))

    def csrf_token(self, session: DonePageSession) -> str:
        message = f"{session.grant_id}|{session.nonce}".encode()
        return hmac.new(self._csrf_key, message, hashlib.sha256).hexdigest()

    def csrf_ok(self, session: DonePageSession, token: str | None) -> bool:
        expected = self.csrf_token(session).encode()
        return bool(token) and hmac.compare_digest(expected, (token or "").encode("utf-8", "replace"))


def same_origin(headers: dict[str, str], public_origin: str) -> bool:
    """A POST is ours when its Origin (or, without one, its Referer) is the landing app's origin.

    Browsers send Origin on every cross-site POST, so a missing Origin and Referer means a non-browser
    client, which the CSRF token still has to satisfy.
    """
    origin = headers.get("origin")
    if origin is not None:
        return origin == public_origin
    referer = headers.get("referer")
    if referer is not None:
        return referer == public_origin or referer.startswith(public_origin + "/")
    return True


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(settings: Settings, configured: Collection[str]) -> str:
    """Scripts from us (and MusicKit's origin); forms post to us, and redirect to the services."""
    apple = "apple" in configured
    musickit = origin_of(settings.musickit_js_url) if apple else ""
    frames = musickit or "'none'"
    apple_api = origin_of(settings.apple_api_url) if apple else ""
    services = " ".join(
        origin_of(url)
        for url, service in (
            (settings.spotify_accounts_url, "spotify"),
            (settings.deezer_connect_url, "deezer"),
        )
        if service in configured
    )
    return (
        "default-src 'self'; "
        f"script-src 'self' {musickit}; "
        f"connect-src 'self' {musickit} {apple_api}; "
        f"frame-src {frames}; "
        "img-src 'self' https: data:; "
        "style-src 'self' 'unsafe-inline'; "
        f"form-action 'self' {services}; "
        "frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    )


SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"x-frame-options", b"DENY"),
]


class RequestLimits:
    """ASGI middleware: bodies over `max_body` answer 413 before the app sees them; security headers out."""

    def __init__(self, app: Any, *, max_body: int = MAX_BODY_BYTES, csp: str = "") -> None:
        self.app = app
        self.max_body = max_body
        self.headers = [*SECURITY_HEADERS, (b"content-security-policy", csp.encode())] if csp else []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = _content_length(scope)
        if length is not None and length > self.max_body:
            await _too_large(send)
            return
        if scope["method"] in ("POST", "PUT", "PATCH"):
            body, complete = await _read_body(receive, self.max_body)
            if not complete:
                await _too_large(send)
                return
            receive = _replay(body)

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and self.headers:
                message["headers"] = [*message.get("headers", []), *self.headers]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _content_length(scope: dict[str, Any]) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _read_body(receive: Any, limit: int) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks), True
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return b"", False
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), True


def _replay(body: bytes) -> Any:
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


async def _too_large(send: Any) -> None:
    body = b"<!doctype html><title>Too large</title><p>This request is too large.</p>"
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"text/html; charset=utf-8"), *SECURITY_HEADERS],
        }
    )
    await send({"type": "http.response.body", "body": body})
