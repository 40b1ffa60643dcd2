"""Spotify's accounts service as data: fans, their grants to apps, authorization codes and tokens.

A grant is one authorization of one app by one fan. Its refresh tokens die six months after it was
made, whatever refreshing happened; rotation replaces its refresh token (and, unless configured
otherwise, kills the old one). Revoking the app kills every grant of that fan to that app.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import random
import secrets
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sandbox import ids
from sandbox.config import SpotifyApp, SpotifyConfig
from sandbox.spotify.library import FOLLOW_TYPES, Fan, FanSpec, Playlist

if TYPE_CHECKING:
    from sandbox.clock import Clock

SCOPES = frozenset(
    {
        "app-remote-control",
        "playlist-read-private",
        "playlist-read-collaborative",
        "playlist-modify-public",
        "playlist-modify-private",
        "user-library-read",
        "user-library-modify",
        "user-read-private",
        "user-read-email",
        "user-follow-read",
        "user-follow-modify",
        "user-top-read",
        "user-read-playback-position",
        "user-read-playback-state",
        "user-read-recently-played",
        "user-read-currently-playing",
        "user-modify-playback-state",
        "ugc-image-upload",
        "streaming",
        "user-personalized",
        "user-soa-link",
        "user-soa-unlink",
        "soa-manage-entitlements",
        "soa-manage-partner",
        "soa-create-partner",
    }
)


class OAuthError(Exception):
    """An error the token endpoint answers with HTTP 400 and `{"error", "error_description"}`."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description


@dataclass(eq=False)
class Grant:
    id: str
    client_id: str
    fan_id: str
    scopes: frozenset[str]
    granted_at: float
    refresh_token: str = ""
    pkce: bool = False
    revoked_at: float | None = None
    refreshes: int = 0


@dataclass(eq=False)
class AuthorizationCode:
    code: str
    client_id: str
    fan_id: str
    redirect_uri: str
    scopes: frozenset[str]
    challenge: str | None
    expires_at: float
    used: bool = False


@dataclass(eq=False, slots=True)
class AccessToken:
    token: str
    client_id: str
    grant: Grant | None  # None: a client-credentials token (no user)
    expires_at: float
    scopes: frozenset[str] = field(default_factory=frozenset)


@dataclass(eq=False, slots=True)
class RefreshToken:
    token: str
    grant: Grant
    superseded: bool = False


def parse_scope(scope: str | None) -> frozenset[str] | None:
    """The scopes of a space-separated list, or None if one is unknown."""
    scopes = frozenset((scope or "").split())
    return scopes if scopes <= SCOPES else None


def is_loopback_redirect(uri: str) -> bool:
    """Spotify's rule since 2025: http only on a loopback IP literal, any port; `localhost` is refused."""
    parts = urlsplit(uri)
    return parts.scheme == "http" and parts.hostname in ("127.0.0.1", "::1") and not parts.fragment


def pkce_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class SpotifyAccounts:
    """All accounts-service state, behind one lock (calls are short; nothing blocks while holding it)."""

    def __init__(self, config: SpotifyConfig, clock: Clock, seed: int) -> None:
        self.config = config
        self.clock = clock
        self.seed = seed
        self.lock = threading.RLock()
        self._rng = random.Random(seed)
        self._fan_numbers = itertools.count(1)
        self.fans: dict[str, Fan] = {}
        self.grants: dict[str, Grant] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.access_tokens: dict[str, AccessToken] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}
        self.dev_users: dict[str, list[str]] = {}  # client id -> fans who authorized, in order
        self.playlists: dict[str, Playlist] = {}
        self.followers: Counter[str] = Counter()  # followed URI -> fans following it (kept, not counted)

    # apps -------------------------------------------------------------------------------------------
    def app(self, client_id: str | None) -> SpotifyApp | None:
        return self.config.app(client_id)

    def redirect_allowed(self, app: SpotifyApp, uri: str) -> bool:
        return uri in app.redirect_uris or is_loopback_redirect(uri)

    def authenticate_client(self, client_id: str | None, client_secret: str | None) -> SpotifyApp:
        app = self.app(client_id)
        if app is None:
            raise OAuthError("invalid_client", "Invalid client")
        if client_secret is not None and not hmac.compare_digest(app.client_secret, client_secret):
            raise OAuthError("invalid_client", "Invalid client secret")
        return app

    # fans -------------------------------------------------------------------------------------------
    def register_fan(self, spec: FanSpec) -> Fan:
        with self.lock:
            fan = self.fans.get(spec.id)
            if fan is None:
                fan = Fan.from_spec(spec, created_at=self.clock.time(), seed=self.seed)
                self.fans[fan.id] = fan
            else:
                fan.update(spec)
            return fan

    def fan(self, fan_id: str) -> Fan:
        """The fan with this id, created on first sight."""
        with self.lock:
            fan = self.fans.get(fan_id)
            if fan is None:
                fan = Fan.from_spec(FanSpec(id=fan_id), created_at=self.clock.time(), seed=self.seed)
                self.fans[fan_id] = fan
            return fan

    def new_fan(self) -> Fan:
        with self.lock:
            while True:
                fan_id = ids.spotify_user_id(self.seed, "fan", next(self._fan_numbers))
                if fan_id not in self.fans:
                    return self.fan(fan_id)

    def add_to(self, fan: Fan, uri: str, now: float) -> None:
        """Save or follow for the fan, keeping follower counts current (call under the lock)."""
        if fan.add(uri, now) and uri.split(":")[1] in FOLLOW_TYPES:
            self.followers[uri] += 1

    def remove_from(self, fan: Fan, uri: str) -> None:
        if fan.remove(uri) and uri.split(":")[1] in FOLLOW_TYPES:
            self.followers[uri] -= 1

    # authorization ----------------------------------------------------------------------------------
    def issue_code(
        self,
        app: SpotifyApp,
        fan: Fan,
        redirect_uri: str,
        scopes: frozenset[str],
        challenge: str | None,
    ) -> str:
        code = "AQ" + secrets.token_urlsafe(96)
        with self.lock:
            self.codes[code] = AuthorizationCode(
                code=code,
                client_id=app.client_id,
                fan_id=fan.id,
                redirect_uri=redirect_uri,
                scopes=scopes,
                challenge=challenge,
                expires_at=self.clock.time() + self.config.authorization_code_lifetime_s,
            )
            users = self.dev_users.setdefault(app.client_id, [])
            if fan.id not in users:
                users.append(fan.id)
        return code

    def exchange_code(
        self, app: SpotifyApp, code: str | None, redirect_uri: str | None, verifier: str | None
    ) -> tuple[AccessToken, RefreshToken]:
        now = self.clock.time()
        with self.lock:
            issued = self.codes.get(code or "")
            if issued is None or issued.client_id != app.client_id or issued.used:
                raise OAuthError("invalid_grant", "Invalid authorization code")
            if now >= issued.expires_at:
                raise OAuthError("invalid_grant", "Authorization code expired")
            if redirect_uri != issued.redirect_uri:
                raise OAuthError("invalid_grant", "Invalid redirect URI")
            if verifier is not None or issued.challenge is not None:
                if issued.challenge is None:
                    raise OAuthError("invalid_request", "code_verifier was not expected")
                if verifier is None or not hmac.compare_digest(pkce_challenge(verifier), issued.challenge):
                    raise OAuthError("invalid_grant", "code_verifier was incorrect")
            issued.used = True
            grant = Grant(
                id=secrets.token_hex(8),
                client_id=app.client_id,
                fan_id=issued.fan_id,
                scopes=issued.scopes,
                granted_at=now,
                pkce=issued.challenge is not None,
            )
            self.grants[grant.id] = grant
            refresh = self._new_refresh_token(grant)
            return self._new_access_token(app.client_id, grant, now), refresh

    def refresh(self, app: SpotifyApp, token: str | None) -> tuple[AccessToken, RefreshToken | None]:
        """A new access token; the second item is the rotated refresh token, or None if not rotated."""
        now = self.clock.time()
        with self.lock:
            record = self.refresh_tokens.get(token or "")
            if record is None or record.grant.client_id != app.client_id:
                raise OAuthError("invalid_grant", "Invalid refresh token")
            grant = record.grant
            if grant.revoked_at is not None:
                raise OAuthError("invalid_grant", "Refresh token revoked")
            if now >= grant.granted_at + self.config.refresh_token_lifetime_s:
                raise OAuthError("invalid_grant", "Invalid refresh token")
            if record.superseded and not self.config.rotated_refresh_tokens_stay_valid:
                raise OAuthError("invalid_grant", "Invalid refresh token")
            grant.refreshes += 1
            rotated = None
            if self._rotate():
                record.superseded = True
                rotated = self._new_refresh_token(grant)
            return self._new_access_token(app.client_id, grant, now), rotated

    def _rotate(self) -> bool:
        mode = self.config.rotation
        if mode == "always":
            return True
        if mode == "never":
            return False
        return self._rng.random() < self.config.rotation_share

    def client_credentials(self, app: SpotifyApp) -> AccessToken:
        with self.lock:
            return self._new_access_token(app.client_id, None, self.clock.time())

    def _new_access_token(self, client_id: str, grant: Grant | None, now: float) -> AccessToken:
        token = AccessToken(
            token="BQ" + secrets.token_urlsafe(100),
            client_id=client_id,
            grant=grant,
            expires_at=now + self.config.access_token_lifetime_s,
            scopes=grant.scopes if grant else frozenset(),
        )
        self.access_tokens[token.token] = token
        return token

    def _new_refresh_token(self, grant: Grant) -> RefreshToken:
        record = RefreshToken(token="AQ" + secrets.token_urlsafe(96), grant=grant)
        grant.refresh_token = record.token
        self.refresh_tokens[record.token] = record
        return record

    # revocation -------------------------------------------------------------------------------------
    def revoke(self, fan_id: str, client_id: str | None = None) -> int:
        """The fan removes the app (or every app) from their account; returns the grants revoked."""
        now = self.clock.time()
        revoked = 0
        with self.lock:
            for grant in self.grants.values():
                mine = grant.fan_id == fan_id and grant.revoked_at is None
                if mine and (client_id is None or grant.client_id == client_id):
                    grant.revoked_at = now
                    revoked += 1
        return revoked

    def access_token(self, token: str) -> AccessToken | None:
        return self.access_tokens.get(token)

    def is_dev_user(self, app: SpotifyApp, fan_id: str) -> bool:
        if app.dev_mode_users is not None:
            return fan_id in app.dev_mode_users
        users = self.dev_users.get(app.client_id, [])
        return fan_id in users[: self.config.dev_mode_user_cap]
