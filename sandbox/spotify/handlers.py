"""Shared pieces of the Spotify Web API handlers: request parsing, the caller's session, lookups that
honour release timing, saving to a fan's library."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from sandbox import ids
from sandbox.catalog import Artist, Release, Track
from sandbox.spotify import errors
from sandbox.spotify.errors import SpotifyError
from sandbox.spotify.library import LIBRARY_TYPES, Fan, Playlist
from sandbox.spotify.session import Session, open_session

if TYPE_CHECKING:
    from sandbox.spotify.accounts import SpotifyAccounts
    from sandbox.state import Sandbox

URI = re.compile(r"^spotify:(track|album|episode|show|audiobook|artist|playlist|user):([^:,\s]+)$")
LIBRARY_MAX = 40
JSON = "application/json; charset=utf-8"
# The scope a /me/library write needs for each URI type ([inferred]: the spec lists the three together).
MODIFY_SCOPE = {
    **dict.fromkeys(LIBRARY_TYPES, "user-library-modify"),
    "artist": "user-follow-modify",
    "user": "user-follow-modify",
    "playlist": "playlist-modify-public",
}
READ_SCOPE = {
    **dict.fromkeys(LIBRARY_TYPES, "user-library-read"),
    "artist": "user-follow-read",
    "user": "user-follow-read",
    "playlist": "playlist-read-private",
}


def ok(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body, separators=(",", ":")).encode(), status_code=status, media_type=JSON)


def empty(status: int = 200) -> Response:
    return Response(b"", status_code=status)


def parse_uris(raw: str | None, limit: int) -> list[tuple[str, str, str]]:
    """(type, id, uri) for each comma-separated URI; 400 naming what is wrong."""
    if raw is None or not raw.strip():
        raise SpotifyError(400, "Missing required parameter: uris")
    uris = [u.strip() for u in raw.split(",") if u.strip()]
    if len(uris) > limit:
        raise SpotifyError(400, "Too many ids requested")
    parsed = []
    for uri in uris:
        match = URI.match(uri)
        if match is None:
            raise SpotifyError(400, f"Unsupported URL / URI: {uri}")
        kind, item_id = match.groups()
        if kind != "user" and not ids.is_spotify_id(item_id):
            raise SpotifyError(400, f"Invalid base62 id: {uri}")
        parsed.append((kind, item_id, f"spotify:{kind}:{item_id}"))
    return parsed


def parse_ids(raw: str | list[Any] | None, limit: int, kind: str) -> list[str]:
    if raw is None:
        raise SpotifyError(400, "Missing required field: ids")
    values = [str(v).strip() for v in raw] if isinstance(raw, list) else raw.split(",")
    values = [v.strip() for v in values if v.strip()]
    if not values:
        raise SpotifyError(400, "Missing required field: ids")
    if len(values) > limit:
        raise SpotifyError(400, "Too many ids requested")
    if kind != "user":
        for value in values:
            if not ids.is_spotify_id(value):
                raise SpotifyError(400, errors.INVALID_ID)
    return values


def int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SpotifyError(400, f"Invalid {name}") from None
    if not low <= value <= high:
        raise SpotifyError(400, f"Invalid {name}")
    return value


async def json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise SpotifyError(400, "Error parsing json") from None


class Handlers:
    """What the route handlers share: the caller's session, lookups that honour release timing, saving."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    @property
    def accounts(self) -> SpotifyAccounts:
        return self.sandbox.spotify

    def session(self, request: Request, *, user: bool = True, deprecated: bool = False) -> Session:
        return open_session(self.sandbox, request, user=user, deprecated=deprecated)

    # lookups that honour release timing -----------------------------------------------------------
    def visible_release(self, session: Session, album_id: str, market: str | None) -> Release:
        if not ids.is_spotify_id(album_id):
            raise SpotifyError(400, errors.INVALID_ID)
        release = self.sandbox.catalog.albums_by_spotify.get(album_id)
        if release is None or not release.is_live(session.view.now, session.zone(market)):
            raise SpotifyError(404, errors.NOT_FOUND)
        return release

    def visible_track(self, session: Session, track_id: str, market: str | None) -> Track:
        if not ids.is_spotify_id(track_id):
            raise SpotifyError(400, errors.INVALID_ID)
        track = self.sandbox.catalog.tracks_by_spotify.get(track_id)
        if track is None or not track.release.is_live(session.view.now, session.zone(market)):
            raise SpotifyError(404, errors.NOT_FOUND)
        return track

    def artist_or_404(self, artist_id: str) -> Artist:
        if not ids.is_spotify_id(artist_id):
            raise SpotifyError(400, errors.INVALID_ID)
        artist = self.sandbox.catalog.artists.get(artist_id)
        if artist is None:
            raise SpotifyError(404, errors.NOT_FOUND)
        return artist

    def playlist_or_404(self, playlist_id: str) -> Playlist:
        playlist = self.accounts.playlists.get(playlist_id)
        if playlist is None:
            raise SpotifyError(404, "Not found.")
        return playlist

    def artist_followers(self, artist: Artist) -> int:
        uri = f"spotify:artist:{artist.spotify_id}"
        return artist.followers + self.accounts.followers[uri]

    def check_exists(self, session: Session, kind: str, item_id: str) -> None:
        """404 for anything the fan cannot see yet (an unreleased album) or that does not exist."""
        if kind == "album":
            self.visible_release(session, item_id, None)
        elif kind == "track":
            self.visible_track(session, item_id, None)
        elif kind == "artist":
            self.artist_or_404(item_id)
        elif kind == "playlist":
            self.playlist_or_404(item_id)
        elif kind in ("episode", "show", "audiobook"):
            raise SpotifyError(404, errors.NOT_FOUND)

    def library_full(self, fan: Fan) -> bool:
        share = self.accounts.config.library_full_share
        if fan.library_full:
            return True
        return bool(share) and int(
            ids.numeric_id("library-full", self.sandbox.config.seed, fan.id)
        ) % 10_000 < (share * 10_000)

    def save(self, session: Session, items: list[tuple[str, str, str]]) -> None:
        """Add to the fan's library and follows; all or nothing."""
        fan = session.user
        for kind, item_id, _uri in items:
            self.check_exists(session, kind, item_id)
        if any(kind in LIBRARY_TYPES for kind, _, _ in items) and self.library_full(fan):
            raise SpotifyError(502, "Something went wrong")
        now = self.sandbox.clock.time()
        with self.accounts.lock:
            for kind, item_id, uri in items:
                self.accounts.add_to(fan, uri, now)
                if kind == "playlist":
                    self.accounts.playlists[item_id].followers.add(fan.id)

    def unsave(self, session: Session, items: list[tuple[str, str, str]]) -> None:
        fan = session.user
        with self.accounts.lock:
            for kind, item_id, uri in items:
                self.accounts.remove_from(fan, uri)
                if kind == "playlist" and item_id in self.accounts.playlists:
                    self.accounts.playlists[item_id].followers.discard(fan.id)
