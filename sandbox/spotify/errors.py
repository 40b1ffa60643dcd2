"""Spotify Web API errors: `{"error": {"status", "message"}}` with the messages Spotify uses."""

from __future__ import annotations

import json

from starlette.responses import Response

NO_TOKEN = "No token provided"  # noqa: S105 - error messages, not secrets
INVALID_TOKEN = "Invalid access token"  # noqa: S105
EXPIRED_TOKEN = "The access token expired"  # noqa: S105
USER_REQUIRED = "Valid user authentication required"
INSUFFICIENT_SCOPE = "Insufficient client scope"
NOT_REGISTERED = "User not registered in the Developer Dashboard"
RATE_LIMITED = "API rate limit exceeded"
QUOTA_EXCEEDED = "Too many requests"  # with reason QUOTA_EXCEEDED: the developer account's quota is spent
NOT_FOUND = "non existing id"
INVALID_ID = "invalid id"
SERVER_ERRORS = {500: "Server error.", 502: "Bad gateway.", 503: "Service unavailable"}


class SpotifyError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message
        self.headers = headers or {}


def error_body(status: int, message: str) -> bytes:
    return json.dumps({"error": {"status": status, "message": message}}).encode()


def quota_body() -> bytes:
    return json.dumps(
        {"error": {"status": 429, "message": QUOTA_EXCEEDED, "reason": "QUOTA_EXCEEDED"}}
    ).encode()


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(
        error_body(status, message),
        status_code=status,
        media_type="application/json; charset=utf-8",
        headers=headers,
    )
