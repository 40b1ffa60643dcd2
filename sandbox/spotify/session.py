"""Who a Web API call is from, and what it may do: token checks, scopes, dev-mode rules, the viewer's zone."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from starlette.requests import Request

from sandbox.config import SpotifyApp
from sandbox.gate import CALLER, Caller, Reply, Scope
from sandbox.markets import is_market, market_zone
from sandbox.spotify import errors
from sandbox.spotify.accounts import AccessToken
from sandbox.spotify.errors import SpotifyError
from sandbox.spotify.library import Fan
from sandbox.spotify.objects import View

if TYPE_CHECKING:
    from sandbox.state import Sandbox


@dataclass(slots=True)
class Session:
    token: AccessToken
    app: SpotifyApp
    fan: Fan | None
    view: View
    dev_mode: bool

    @property
    def user(self) -> Fan:
        assert self.fan is not None
        return self.fan

    def require(self, *scopes: str) -> None:
        """403 unless the grant holds every scope named."""
        if not set(scopes) <= self.token.scopes:
            raise SpotifyError(403, errors.INSUFFICIENT_SCOPE)

    def require_any(self, *scopes: str) -> None:
        if not set(scopes) & self.token.scopes:
            raise SpotifyError(403, errors.INSUFFICIENT_SCOPE)

    def zone(self, market: str | None) -> ZoneInfo | None:
        """Where the caller listens: the user's own market wins over `market` (as on Spotify)."""
        if self.fan is not None:
            return self.fan.zone
        if market and market != "from_token":
            return market_zone(market)
        return None


def bearer(scope: Scope) -> str | None:
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    for name, value in headers:
        if name == b"authorization":
            text = value.decode("latin-1")
            if text[:7].lower() == "bearer ":
                return text[7:].strip()
            return ""
    return None


class SpotifyApiAdapter:
    """How the gate sees the Web API: the app behind a bearer token, its budget, its error shapes."""

    name = "spotify"

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def identify(self, scope: Scope) -> Caller:
        config = self.sandbox.config.spotify
        token = bearer(scope)
        record = self.sandbox.spotify.access_token(token) if token else None
        client_id = record.client_id if record else None
        app = config.app(client_id)
        budget = app.rate_budget if app and app.rate_budget else config.rate_budget
        return Caller(
            client_id=client_id,
            user=record.grant.fan_id if record and record.grant else None,
            limit_key=("spotify", client_id),
            budget=budget,
            window_s=config.rate_window_s,
            credential=(token, record),
            quota_key=("spotify-quota", app.developer_account) if app and config.quota_calls else None,
            quota_budget=config.quota_calls or 0,
            quota_window_s=config.quota_window_s,
            quota_reply=self.quota_exceeded,
        )

    def too_many(self, retry_after: int) -> Reply:
        return Reply(
            429,
            errors.error_body(429, errors.RATE_LIMITED),
            [
                (b"content-type", b"application/json; charset=utf-8"),
                (b"retry-after", str(retry_after).encode()),
            ],
        )

    def quota_exceeded(self, retry_after: int) -> Reply:
        """Spotify's 2026 answer once a developer account's quota is spent (reference section H)."""
        return Reply(
            429,
            errors.quota_body(),
            [
                (b"content-type", b"application/json; charset=utf-8"),
                (b"retry-after", str(retry_after).encode()),
            ],
        )

    def server_error(self, status: int) -> Reply:
        message = errors.SERVER_ERRORS.get(status, "Server error.")
        return Reply(
            status,
            errors.error_body(status, message),
            [(b"content-type", b"application/json; charset=utf-8")],
        )

    def revoke(self, caller: Caller) -> None:
        if caller.user is not None:
            self.sandbox.spotify.revoke(caller.user, caller.client_id)


def open_session(sandbox: Sandbox, request: Request, *, user: bool, deprecated: bool = False) -> Session:
    """Check the bearer token (401), the user behind it, dev-mode rules (403); build the caller's view."""
    caller: Caller = request.scope[CALLER]
    token, record = caller.credential
    if token is None:
        raise SpotifyError(401, errors.NO_TOKEN)
    if record is None:
        raise SpotifyError(401, errors.INVALID_TOKEN)
    now = sandbox.clock.time()
    accounts = sandbox.spotify
    grant = record.grant
    if grant is not None and grant.revoked_at is not None and accounts.config.revocation_kills_access_tokens:
        raise SpotifyError(401, errors.INVALID_TOKEN)
    if now >= record.expires_at:
        raise SpotifyError(401, errors.EXPIRED_TOKEN)
    app = accounts.app(record.client_id)
    if app is None:  # the app was removed from the configuration
        raise SpotifyError(401, errors.INVALID_TOKEN)
    if user and grant is None:
        raise SpotifyError(401, errors.USER_REQUIRED)
    dev_mode = accounts.config.app_dev_mode(app)
    fan = accounts.fans.get(grant.fan_id) if grant is not None else None
    if dev_mode:
        if deprecated:
            raise SpotifyError(403, "Forbidden")
        if fan is not None and not accounts.is_dev_user(app, fan.id):
            raise SpotifyError(403, errors.NOT_REGISTERED)
    base = _base_url(request)
    return Session(
        token=record,
        app=app,
        fan=fan,
        view=View(base=base, dev_mode=dev_mode, now=sandbox.clock.now()),
        dev_mode=dev_mode,
    )


def _base_url(request: Request) -> str:
    scope = request.scope
    host = request.headers.get("host")
    if not host:
        server = scope.get("server") or ("127.0.0.1", 80)
        host = f"{server[0]}:{server[1]}"
    return f"{scope.get('scheme', 'http')}://{host}{scope.get('root_path', '')}"


def check_market(market: str | None) -> str | None:
    if market is None or market == "from_token" or is_market(market):
        return market
    raise SpotifyError(400, "Invalid market code")
