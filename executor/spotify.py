"""Spotify: the label's app, one spotipy client per fan, and the release found by UPC (or ISRC, or id).

spotipy's retrying is off: clients get a plain `requests.Session` (no retry adapter), so a 429 comes
back at once with its `Retry-After` and the executor decides. spotipy's `Spotify.__del__` closes the
session it was given; `FanClient` does not, so a worker thread's session keeps its connections while
it serves fan after fan (one client per fan, never shared between threads).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import requests
import spotipy

from services.http import LeanSession
from campaigns.ledger import Claimed
from campaigns.models import ActionKind, GrantStatus
from campaigns.settings import Settings
from campaigns.vault import Secret
from services.pacing import PacingPolicy
from executor.playlists import FanPlaylists
from executor.services import (
    Failure,
    GrantLost,
    GrantTokens,
    Lookup,
    RefreshedTokens,
    Release,
    ResolvedNote,
    ServiceFailure,
    TokenSink,
    resolved,
)

T = TypeVar("T")
LIBRARY_MAX = 40  # URIs per PUT /me/library
REFRESH_MARGIN = timedelta(seconds=60)  # refresh an access token this close to its expiry


class TokenRefused(RuntimeError):
    """The accounts service refused a refresh; `error` is its OAuth error code (e.g. invalid_grant)."""

    def __init__(self, error: str, description: str) -> None:
        self.error = error
        self.description = description
        super().__init__(f"refresh refused: {error} ({description})")


def quiet_spotipy() -> None:
    """spotipy logs every HTTP error (the executor reports its own) and, at debug level, the bearer
    header: keep its logger above both."""
    logging.getLogger("spotipy").setLevel(logging.CRITICAL)


class FanClient(spotipy.Spotify):
    """A spotipy client acting for one fan over a worker's shared session (which it must not close)."""

    def __del__(self) -> None:
        return None


def new_http_session(pool: int = 4) -> requests.Session:
    """A worker thread's session: no retry adapter (spotipy's retrying stays off), lean per call."""
    return LeanSession(pool)


def classify(exc: Exception, what: str) -> ServiceFailure:
    """A spotipy or requests exception as the executor sees it."""
    if isinstance(exc, spotipy.SpotifyException):
        status = exc.http_status
        message = _message(exc)
        if status == 429:
            return ServiceFailure(
                Failure.THROTTLED,
                f"spotify {what}: 429 {message}",
                status=429,
                retry_after=_retry_after(exc.headers),
            )
        if status == 401:
            return ServiceFailure(Failure.UNAUTHORIZED, f"spotify {what}: 401 {message}", status=401)
        if status == 403:
            return ServiceFailure(Failure.FORBIDDEN, f"spotify {what}: 403 {message}", status=403)
        if status == 404:
            return ServiceFailure(Failure.NOT_FOUND, f"spotify {what}: 404 {message}", status=404)
        if status >= 500:
            return ServiceFailure(Failure.TRANSIENT, f"spotify {what}: {status} {message}", status=status)
        return ServiceFailure(Failure.REFUSED, f"spotify {what}: {status} {message}", status=status)
    if isinstance(exc, requests.Timeout):
        return ServiceFailure(Failure.TRANSIENT, f"spotify {what}: timed out")
    if isinstance(exc, requests.RequestException):
        return ServiceFailure(Failure.TRANSIENT, f"spotify {what}: {type(exc).__name__}")
    raise exc


def _message(exc: spotipy.SpotifyException) -> str:
    text = str(exc.msg or "")
    return text.split(":\n", 1)[-1].strip()[:160]


def _retry_after(headers: Any) -> float | None:
    try:
        value = (headers or {}).get("Retry-After")
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


@dataclass
class SpotifyApp:
    """The label's Spotify app (client id and secret) and where its services are."""

    client_id: str
    client_secret: Secret
    accounts_url: str
    api_url: str
    timeout: float = 10.0
    pacing: PacingPolicy = field(default_factory=PacingPolicy)
    name: str = "spotify"
    _app_token: tuple[Secret, float] | None = field(default=None, repr=False)
    _token_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> SpotifyApp:
        if not settings.spotify_client_id or settings.spotify_client_secret is None:
            raise ValueError("Spotify is not configured: set PRESAVE_SPOTIFY_CLIENT_ID and _SECRET")
        return cls(
            client_id=settings.spotify_client_id,
            client_secret=Secret(settings.spotify_client_secret.get_secret_value()),
            accounts_url=settings.spotify_accounts_url,
            api_url=settings.spotify_api_url,
        )

    def client(self, access_token: Secret, session: requests.Session | None = None) -> spotipy.Spotify:
        """A spotipy client acting with this token; pass a session to reuse connections across fans."""
        sp = FanClient(
            auth=access_token.reveal(),
            requests_session=session or new_http_session(),
            requests_timeout=self.timeout,
        )
        sp.prefix = f"{self.api_url}/"
        return sp

    def _token(self, data: dict[str, str], session: requests.Session | None) -> dict[str, Any]:
        http = session or requests
        try:
            response = http.post(
                f"{self.accounts_url}/api/token",
                data=data,
                auth=(self.client_id, self.client_secret.reveal()),
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise classify(exc, "token") from None
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code == 429:
            raise ServiceFailure(
                Failure.THROTTLED,
                "spotify token: 429",
                status=429,
                retry_after=_retry_after(response.headers),
            )
        if response.status_code >= 500:
            raise ServiceFailure(
                Failure.TRANSIENT, f"spotify token: {response.status_code}", status=response.status_code
            )
        if response.status_code != 200 or "access_token" not in body:
            raise TokenRefused(
                str(body.get("error", response.status_code)), str(body.get("error_description", ""))[:160]
            )
        return body

    def refresh(self, refresh_token: Secret, session: requests.Session | None = None) -> RefreshedTokens:
        body = self._token({"grant_type": "refresh_token", "refresh_token": refresh_token.reveal()}, session)
        rotated = body.get("refresh_token")
        return RefreshedTokens(
            access_token=Secret(body["access_token"]),
            refresh_token=Secret(rotated) if rotated else None,
            expires_at=datetime.now(UTC) + timedelta(seconds=int(body.get("expires_in", 3600))),
        )

    def app_token(self, session: requests.Session | None = None) -> Secret:
        """A client-credentials token (catalogue lookups need no fan), cached until near its expiry."""
        with self._token_lock:
            if self._app_token is not None and self._app_token[1] > time.monotonic() + 60:
                return self._app_token[0]
            body = self._token({"grant_type": "client_credentials"}, session)
            token = Secret(body["access_token"])
            self._app_token = (token, time.monotonic() + int(body.get("expires_in", 3600)))
            return token

    # resolving the release -----------------------------------------------------------------------
    def resolve(self, lookup: Lookup, http: requests.Session) -> Release | None:
        """The release by its Spotify id, else by `upc:` search, else by `isrc:` (singles); with its
        tracks. None while Spotify does not show it (not live yet, or not delivered)."""
        try:
            token = self.app_token(http)
        except TokenRefused as exc:
            raise ServiceFailure(
                Failure.REFUSED, f"spotify: the app's credentials were refused ({exc.error})"
            ) from None
        sp = self.client(token, http)
        try:
            if lookup.album_id:
                return self._album(sp, lookup.album_id, f"id:{lookup.album_id}")
            if lookup.upc:
                found = sp.search(q=f"upc:{lookup.upc}", type="album", limit=1) or {}
                items = found.get("albums", {}).get("items") or []
                if items:
                    return self._album(sp, items[0]["id"], f"upc:{lookup.upc}")
            for isrc in lookup.isrcs:
                found = sp.search(q=f"isrc:{isrc}", type="track", limit=1) or {}
                items = found.get("tracks", {}).get("items") or []
                if items:
                    album = items[0].get("album") or {}
                    if album.get("id"):
                        return self._album(sp, album["id"], f"isrc:{isrc}")
                    return Release("spotify", None, (items[0]["uri"],), f"isrc:{isrc}")
        except (spotipy.SpotifyException, requests.RequestException) as exc:
            failure = classify(exc, "resolve")
            if failure.kind == Failure.NOT_FOUND:
                return None
            raise failure from None
        return None

    @staticmethod
    def _album(sp: spotipy.Spotify, album_id: str, found_by: str) -> Release:
        album = sp.album(album_id)
        tracks: list[str] = []
        page = sp.album_tracks(album_id, limit=50)
        while page:
            tracks += [t["uri"] for t in page.get("items") or []]
            page = sp.next(page) if page.get("next") else None
        return Release("spotify", album["uri"], tuple(tracks), found_by)

    def fan_session(self, tokens: GrantTokens, http: requests.Session, on_tokens: TokenSink) -> SpotifyFan:
        return SpotifyFan(self, tokens, http, on_tokens)


class SpotifyFan:
    """Acting for one fan: library saves and follows (`PUT /me/library`), playlist adds, checks."""

    def __init__(
        self, app: SpotifyApp, tokens: GrantTokens, http: requests.Session, on_tokens: TokenSink
    ) -> None:
        self.app = app
        self.tokens = tokens
        self.http = http
        self.on_tokens = on_tokens
        self.client = app.client(tokens.access_token, http)
        self.playlists = FanPlaylists(self)

    # tokens ----------------------------------------------------------------------------------------
    def ensure_fresh(self, now: datetime | None = None) -> None:
        now = now or datetime.now(UTC)
        if self.tokens.expires_at is None or self.tokens.expires_at - now < REFRESH_MARGIN:
            self.refresh()

    def refresh(self) -> None:
        if self.tokens.refresh_token is None:
            raise GrantLost(GrantStatus.EXPIRED, "no refresh token and the access token expired")
        try:
            refreshed = self.app.refresh(self.tokens.refresh_token, self.http)
        except TokenRefused as exc:
            if exc.error == "invalid_grant":
                revoked = "revoked" in exc.description.lower()
                raise GrantLost(
                    GrantStatus.REVOKED if revoked else GrantStatus.EXPIRED,
                    f"spotify refused the refresh token: invalid_grant ({exc.description})",
                ) from None
            raise ServiceFailure(
                Failure.REFUSED, f"spotify token: {exc.error} ({exc.description})", status=400
            ) from None
        self.on_tokens(self.tokens.grant_id, refreshed)  # a rotated refresh token is stored before use
        self.tokens.access_token = refreshed.access_token
        self.tokens.expires_at = refreshed.expires_at
        if refreshed.refresh_token is not None:
            self.tokens.refresh_token = refreshed.refresh_token
        self.client.set_auth(refreshed.access_token.reveal())

    def _call(self, what: str, call: Callable[[], T]) -> T:
        try:
            return call()
        except (spotipy.SpotifyException, requests.RequestException) as exc:
            raise classify(exc, what) from None

    # actions ---------------------------------------------------------------------------------------
    def perform(self, action: Claimed, release: Release | None, note: ResolvedNote) -> str | None:
        self.ensure_fresh()
        sp = self.client
        kind = action.kind
        if kind == ActionKind.SAVE_RELEASE:
            release = resolved(release, "spotify")
            if release.album:
                self._call("save album", lambda: sp.current_user_saved_albums_add([release.album]))
            else:
                for chunk in _chunks(release.tracks, LIBRARY_MAX):
                    self._call("save tracks", lambda c=chunk: sp.current_user_saved_tracks_add(c))
            return release.label
        if kind in (ActionKind.FOLLOW_ARTIST, ActionKind.FOLLOW):
            self._call("follow", lambda: _follow(sp, action.target))
            return action.target
        if kind == ActionKind.ADD_TO_PLAYLIST:
            return self.playlists.add(action, resolved(release, "spotify").tracks, note)
        raise ServiceFailure(Failure.REFUSED, f"spotify: no such action as {kind!r}")

    def verify(self, action: Claimed, release: Release | None) -> bool:
        self.ensure_fresh()
        sp = self.client
        kind = action.kind
        if kind == ActionKind.SAVE_RELEASE:
            release = resolved(release, "spotify")
            if release.album:
                return all(
                    self._call("check album", lambda: sp.current_user_saved_albums_contains([release.album]))
                )
            return all(
                all(self._call("check tracks", lambda c=chunk: sp.current_user_saved_tracks_contains(c)))
                for chunk in _chunks(release.tracks, LIBRARY_MAX)
            )
        if kind in (ActionKind.FOLLOW_ARTIST, ActionKind.FOLLOW):
            return all(self._call("check follow", lambda: sp.current_user_saved_items([action.target])))
        if kind == ActionKind.ADD_TO_PLAYLIST:
            return self.playlists.verify(action, resolved(release, "spotify").tracks)
        return False

    # the playlist calls (FanPlaylists does the bookkeeping) ---------------------------------------
    def create_playlist(self, name: str, marker: str) -> str:
        created = self._call(
            "create playlist",
            lambda: self.client.current_user_playlist_create(name, public=False, description=marker),
        )
        return str(created["id"])

    def find_playlist(self, name: str, marker: str) -> str | None:
        page = self._call("list playlists", lambda: self.client.current_user_playlists(limit=50))
        while page:
            for playlist in page.get("items") or []:
                if marker in (playlist.get("description") or ""):
                    return str(playlist["id"])
            page = (
                self._call("list playlists", lambda p=page: self.client.next(p)) if page.get("next") else None
            )
        return None

    def add_to_playlist(self, playlist: str, tracks: list[str]) -> None:
        self._call("playlist add", lambda: self.client.playlist_add_items(playlist, tracks))

    def playlist_tracks(self, playlist: str) -> set[str]:
        present: set[str] = set()
        page = self._call("check playlist", lambda: self.client.playlist_items(playlist, limit=50))
        while page:
            for entry in page.get("items") or []:
                item = entry.get("item") or entry.get("track") or {}
                if item.get("uri"):
                    present.add(item["uri"])
            page = (
                self._call("check playlist", lambda p=page: self.client.next(p)) if page.get("next") else None
            )
        return present


def _follow(sp: spotipy.Spotify, uri: str) -> Any:
    kind, _, entity = uri.removeprefix("spotify:").partition(":")
    if kind == "artist":
        return sp.user_follow_artists([entity])
    if kind == "user":
        return sp.user_follow_users([entity])
    if kind == "playlist":
        return sp.current_user_follow_playlist(entity)
    raise ServiceFailure(Failure.REFUSED, f"spotify: cannot follow {uri!r} (not an artist, user or playlist)")


def _chunks(items: Any, size: int) -> list[list[str]]:
    items = list(items)
    return [items[i : i + size] for i in range(0, len(items), size)]
