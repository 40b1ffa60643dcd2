"""Deezer: album saves and artist follows for each fan, the release found by `GET /album/upc:…`.

Deezer answers most errors with HTTP 200 and `{"error": {"type", "message", "code"}}`: code 4 is its
quota (about 50 calls per 5 s per user, no Retry-After), 300 an invalid token, 200 a missing
permission, 800 "no data". There are no refresh tokens.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests

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
    Release,
    ResolvedNote,
    ServiceFailure,
    TokenSink,
    resolved,
)

QUOTA_PAUSE_S = 1.0  # a user's quota window is 5 s; come back a little later
DEEZER_PACING = PacingPolicy(window_s=5.0, default_pause_s=QUOTA_PAUSE_S)


@dataclass
class DeezerApp:
    app_id: str
    api_url: str
    timeout: float = 10.0
    pacing: PacingPolicy = field(default_factory=lambda: DEEZER_PACING)
    name: str = "deezer"

    @classmethod
    def from_settings(cls, settings: Settings) -> DeezerApp | None:
        if not settings.deezer_app_id:
            return None
        return cls(settings.deezer_app_id, settings.deezer_api_url)

    def request(
        self,
        http: requests.Session,
        method: str,
        path: str,
        what: str,
        *,
        token: Secret | None = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        query = dict(params or {})
        if token is not None:
            query["access_token"] = token.reveal()
        try:
            response = http.request(method, f"{self.api_url}{path}", params=query, timeout=self.timeout)
        except requests.Timeout:
            raise ServiceFailure(Failure.TRANSIENT, f"deezer {what}: timed out") from None
        except requests.RequestException as exc:
            raise ServiceFailure(Failure.TRANSIENT, f"deezer {what}: {type(exc).__name__}") from None
        if response.status_code >= 500 or response.status_code == 429:
            raise ServiceFailure(
                Failure.TRANSIENT, f"deezer {what}: HTTP {response.status_code}", status=response.status_code
            )
        try:
            body = response.json()
        except ValueError:
            raise ServiceFailure(
                Failure.TRANSIENT, f"deezer {what}: HTTP {response.status_code}, not JSON"
            ) from None
        error = body.get("error") if isinstance(body, dict) else None
        if response.status_code >= 400 and not error:
            raise ServiceFailure(
                Failure.REFUSED, f"deezer {what}: HTTP {response.status_code}", status=response.status_code
            )
        if error:
            raise _failure(error, what, with_token=token is not None)
        return body

    def resolve(self, lookup: Lookup, http: requests.Session) -> Release | None:
        """The album by its Deezer id or `upc:`, else a single's track by `isrc:`; None until live."""
        try:
            if lookup.album_id or lookup.upc:
                ref = lookup.album_id or f"upc:{lookup.upc}"
                album = self.request(http, "GET", f"/album/{ref}", "album")
                tracks = (album.get("tracks") or {}).get("data") or []
                return Release("deezer", str(album["id"]), tuple(str(t["id"]) for t in tracks), lookup.key)
            for isrc in lookup.isrcs:
                track = self.request(http, "GET", f"/track/isrc:{isrc}", "track")
                album_id = (track.get("album") or {}).get("id")
                return Release(
                    "deezer", str(album_id) if album_id else None, (str(track["id"]),), f"isrc:{isrc}"
                )
        except ServiceFailure as failure:
            if failure.kind == Failure.NOT_FOUND:
                return None
            raise
        return None

    def fan_session(self, tokens: GrantTokens, http: requests.Session, on_tokens: TokenSink) -> DeezerFan:
        return DeezerFan(self, tokens, http)


def _failure(error: Any, what: str, *, with_token: bool) -> Exception:
    code = error.get("code") if isinstance(error, dict) else None
    message = str(error.get("message", "") if isinstance(error, dict) else error)[:160]
    text = f"deezer {what}: code {code} {message}"
    if code == 4:
        return ServiceFailure(Failure.THROTTLED, text, retry_after=QUOTA_PAUSE_S, app_wide=False)
    if code == 700:
        return ServiceFailure(Failure.TRANSIENT, text)
    if code == 300 and with_token:
        return GrantLost(GrantStatus.REVOKED, f"deezer refused the access token ({message})")
    if code == 200:
        return ServiceFailure(Failure.FORBIDDEN, text)
    if code == 800:
        return ServiceFailure(Failure.NOT_FOUND, text)
    return ServiceFailure(Failure.REFUSED, text)


class DeezerFan:
    def __init__(self, app: DeezerApp, tokens: GrantTokens, http: requests.Session) -> None:
        self.app = app
        self.tokens = tokens
        self.http = http
        self.playlists = FanPlaylists(self, id_prefix="deezer:playlist:")

    def refresh(self) -> None:
        raise GrantLost(GrantStatus.EXPIRED, "deezer access tokens cannot be refreshed")

    def _target(self, action: Claimed, release: Release | None) -> tuple[str, str, str]:
        """(collection, parameter, id) for the action."""
        if action.kind == ActionKind.SAVE_RELEASE:
            release = resolved(release, "deezer")
            if release.album:
                return "albums", "album_id", release.album
            return "tracks", "track_id", release.tracks[0]
        if action.kind == ActionKind.FOLLOW_ARTIST:
            return "artists", "artist_id", action.target.removeprefix("deezer:artist:")
        raise ServiceFailure(Failure.REFUSED, f"deezer: no such action as {action.kind!r}")

    def perform(self, action: Claimed, release: Release | None, note: ResolvedNote) -> str | None:
        if action.kind == ActionKind.ADD_TO_PLAYLIST:
            return self.playlists.add(action, resolved(release, "deezer").tracks, note)
        collection, parameter, item = self._target(action, release)
        self.app.request(
            self.http,
            "POST",
            f"/user/me/{collection}",
            f"add to {collection}",
            token=self.tokens.access_token,
            params={parameter: item},
        )
        return f"deezer:{collection[:-1]}:{item}"

    def verify(self, action: Claimed, release: Release | None) -> bool:
        if action.kind == ActionKind.ADD_TO_PLAYLIST:
            return self.playlists.verify(action, resolved(release, "deezer").tracks)
        collection, _, item = self._target(action, release)
        return any(
            str(e.get("id")) == item for e in self._pages(f"/user/me/{collection}", f"list {collection}")
        )

    def _pages(self, path: str, what: str) -> Iterator[dict[str, Any]]:
        following: str | None = path
        params: dict[str, Any] = {"limit": 100}
        while following:
            page = self.app.request(
                self.http, "GET", following, what, token=self.tokens.access_token, params=params
            )
            yield from page.get("data") or []
            link = page.get("next")
            if not link or not link.startswith(self.app.api_url):
                return
            parts = urlsplit(link)  # the `next` link carries its own index and limit
            following = parts.path.removeprefix(urlsplit(self.app.api_url).path)
            params = {k: v for k, v in parse_qsl(parts.query) if k != "access_token"}

    # the playlist calls (FanPlaylists does the bookkeeping). Deezer creates a playlist from a title
    # alone, so one created for an action is found again by its title among the fan's own, newest first.
    def create_playlist(self, name: str, marker: str) -> str:
        created = self.app.request(
            self.http,
            "POST",
            "/user/me/playlists",
            "create playlist",
            token=self.tokens.access_token,
            params={"title": name},
        )
        if not isinstance(created, dict) or not created.get("id"):
            raise ServiceFailure(Failure.REFUSED, "deezer create playlist: no playlist id in the answer")
        return str(created["id"])

    def find_playlist(self, name: str, marker: str) -> str | None:
        me = self.app.request(self.http, "GET", "/user/me", "profile", token=self.tokens.access_token)
        own = [
            p
            for p in self._pages("/user/me/playlists", "list playlists")
            if p.get("title") == name and (p.get("creator") or {}).get("id") == (me or {}).get("id")
        ]
        newest = max(own, key=lambda p: int(p.get("time_add") or 0), default=None)
        return str(newest["id"]) if newest else None

    def playlist_tracks(self, playlist: str) -> set[str]:
        return {str(t.get("id")) for t in self._pages(f"/playlist/{playlist}/tracks", "check playlist")}

    def add_to_playlist(self, playlist: str, tracks: list[str]) -> None:
        self.app.request(
            self.http,
            "POST",
            f"/playlist/{playlist}/tracks",
            "playlist add",
            token=self.tokens.access_token,
            params={"songs": ",".join(tracks)},
        )
