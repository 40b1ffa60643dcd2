"""Web API routes for playlists: create, add items (query, object or bare array), read items."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from sandbox import ids
from sandbox.spotify import objects
from sandbox.spotify.errors import SpotifyError
from sandbox.spotify.handlers import URI, Handlers, int_param, json_body, ok
from sandbox.spotify.library import Playlist, PlaylistItem
from sandbox.spotify.session import Session


class PlaylistRoutes(Handlers):
    # playlists ------------------------------------------------------------------------------------
    async def playlist_add(self, request: Request, playlist_id: str, *, deprecated: bool = False) -> Response:
        session = self.session(request, deprecated=deprecated)
        playlist = self.playlist_or_404(playlist_id)
        session.require("playlist-modify-public" if playlist.public else "playlist-modify-private")
        fan = session.user
        if playlist.owner_id != fan.id and not playlist.collaborative:
            raise SpotifyError(403, "You cannot add tracks to a playlist you don't own.")
        uris, position = _requested_items(request.query_params, await json_body(request))
        for uri in uris:
            self._check_item(session, uri)
        at = _insert_at(position, len(playlist.items))
        now = self.sandbox.clock.time()
        with self.accounts.lock:
            playlist.items[at:at] = [PlaylistItem(uri, now, fan.id) for uri in uris]
            playlist.version += 1
            snapshot = playlist.snapshot_id
        return ok({"snapshot_id": snapshot}, 201)

    def _check_item(self, session: Session, uri: object) -> None:
        """A track or episode the fan can see, or the 400 Spotify answers."""
        match = URI.match(uri) if isinstance(uri, str) else None
        if match is None or match.group(1) not in ("track", "episode"):
            raise SpotifyError(400, f"Invalid track uri: {uri}")
        try:
            self.visible_track(session, match.group(2), None)
        except SpotifyError:
            raise SpotifyError(400, f"Invalid track uri: {uri}") from None

    async def playlist_items(
        self, request: Request, playlist_id: str, *, deprecated: bool = False
    ) -> Response:
        session = self.session(request, deprecated=deprecated)
        playlist = self.playlist_or_404(playlist_id)
        fan = session.user
        if playlist.owner_id != fan.id and not playlist.collaborative:
            raise SpotifyError(403, "Forbidden")
        if not playlist.public:
            session.require("playlist-read-private")
        limit = int_param(request, "limit", 20, 1, 50)
        offset = int_param(request, "offset", 0, 0, 100_000)
        catalog = self.sandbox.catalog
        items = []
        for item in playlist.items[offset : offset + limit]:
            track = catalog.tracks_by_spotify.get(item.uri.split(":")[2])
            track_obj = objects.track(session.view, track) if track else None
            entry = {
                "added_at": objects.iso(item.added_at),
                "added_by": {
                    "external_urls": {"spotify": f"{objects.OPEN}/user/{item.added_by}"},
                    "href": f"{session.view.base}/users/{item.added_by}",
                    "id": item.added_by,
                    "type": "user",
                    "uri": f"spotify:user:{item.added_by}",
                },
                "is_local": False,
                "item": track_obj,
            }
            if not session.dev_mode:
                entry["track"] = track_obj
            items.append(entry)
        path = f"/playlists/{playlist_id}/{'tracks' if deprecated else 'items'}"
        return ok(
            objects.paging(session.view, path, items, total=len(playlist.items), limit=limit, offset=offset)
        )

    async def playlist_get(self, request: Request, playlist_id: str) -> Response:
        session = self.session(request, user=False)
        playlist = self.playlist_or_404(playlist_id)
        owner = self.accounts.fans.get(playlist.owner_id)
        return ok(
            objects.playlist(session.view, playlist, owner.display_name if owner else playlist.owner_id)
        )

    async def playlist_create(self, request: Request, user_id: str | None = None) -> Response:
        session = self.session(request, deprecated=user_id is not None)
        fan = session.user
        if user_id is not None and user_id != fan.id:
            raise SpotifyError(403, "You cannot create a playlist for another user")
        body = await json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not body["name"]:
            raise SpotifyError(400, "Missing required field: name")
        public = bool(body.get("public", True))
        collaborative = bool(body.get("collaborative", False))
        if collaborative and public:
            raise SpotifyError(400, "Collaborative playlists can only be private.")
        session.require("playlist-modify-public" if public else "playlist-modify-private")
        with self.accounts.lock:
            if len(fan.playlists) >= 11_000:
                raise SpotifyError(403, "Playlist limit reached")
            playlist_id = ids.spotify_id("playlist", fan.id, len(fan.playlists), self.sandbox.clock.time())
            playlist = Playlist(
                id=playlist_id,
                name=body["name"],
                owner_id=fan.id,
                public=public,
                collaborative=collaborative,
                description=str(body.get("description") or ""),
            )
            self.accounts.playlists[playlist_id] = playlist
            fan.playlists.append(playlist_id)
            self.accounts.add_to(fan, playlist.uri, self.sandbox.clock.time())
            playlist.followers.add(fan.id)
        return ok(objects.playlist(session.view, playlist, fan.display_name), 201)

    async def my_playlists(self, request: Request) -> Response:
        session = self.session(request)
        fan = session.user
        limit = int_param(request, "limit", 20, 1, 50)
        offset = int_param(request, "offset", 0, 0, 100_000)
        followed = [uri.split(":")[2] for uri in fan.follows if uri.startswith("spotify:playlist:")]
        page = []
        for playlist_id in followed[offset : offset + limit]:
            playlist = self.accounts.playlists[playlist_id]
            full = objects.playlist(session.view, playlist, None)
            ref = {"href": full["items"]["href"], "total": full["items"]["total"]}
            full["items"] = ref
            if "tracks" in full:
                full["tracks"] = ref
            page.append(full)
        return ok(
            objects.paging(
                session.view, "/me/playlists", page, total=len(followed), limit=limit, offset=offset
            )
        )


def _requested_items(query: Mapping[str, str], body: Any) -> tuple[list[Any], Any]:
    """The URIs to add and the position, from the query (`uris`, `position`), a bare JSON array, or a JSON
    object (`uris`, `position`, which wins over the query's)."""
    raw = query.get("uris")
    position: Any = query.get("position")
    if raw is not None:
        uris: list[Any] = [u.strip() for u in raw.split(",") if u.strip()]
    elif isinstance(body, list):
        uris = body
    elif isinstance(body, dict) and isinstance(body.get("uris"), list):
        uris = body["uris"]
        position = body.get("position", position)
    else:
        raise SpotifyError(400, "No uris provided")
    if not uris:
        raise SpotifyError(400, "No uris provided")
    if len(uris) > 100:
        raise SpotifyError(400, "You can add a maximum of 100 tracks per request.")
    return uris, position


def _insert_at(position: Any, length: int) -> int:
    """Where the items go: the end without a position; a 400 outside the playlist."""
    try:
        at = length if position is None else int(position)
    except (TypeError, ValueError):
        raise SpotifyError(400, "Invalid position") from None
    if not 0 <= at <= length:
        raise SpotifyError(400, "Index out of bounds")
    return at
