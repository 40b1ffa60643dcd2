"""The Spotify Web API routes (mounted at `/spotify/v1`): the 2026 ones and the older ones extended-quota
apps keep. Deprecated routes answer 403 for development-mode apps, which Spotify removed them for.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from sandbox import ids
from sandbox.catalog import Artist, Release, Track
from sandbox.routing import ServiceErrors, ServiceRouter
from sandbox.spotify import errors, objects
from sandbox.spotify.errors import SpotifyError
from sandbox.spotify.library import LIBRARY_TYPES, Fan, Playlist, PlaylistItem
from sandbox.spotify.search import search
from sandbox.spotify.session import Session, check_market, open_session

if TYPE_CHECKING:
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


class WebApi:
    """Route handlers over the sandbox's state; each method is one route."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    @property
    def accounts(self):
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

    # profile --------------------------------------------------------------------------------------
    async def me(self, request: Request) -> Response:
        session = self.session(request)
        fan = session.user
        followers = self.accounts.followers[fan.uri]
        return ok(objects.private_user(session.view, fan, session.token.scopes, followers))

    # catalogue ------------------------------------------------------------------------------------
    async def search(self, request: Request) -> Response:
        session = self.session(request, user=False)
        params = request.query_params
        market = check_market(params.get("market"))
        max_limit, default_limit = (10, 5) if session.dev_mode else (50, 20)
        limit = int_param(request, "limit", default_limit, 1, max_limit)
        offset = int_param(request, "offset", 0, 0, 1000)
        query = params.get("q")
        if not query:
            raise SpotifyError(400, "No search query")
        types = params.get("type")
        if not types:
            raise SpotifyError(400, "Missing parameter type")
        result = search(
            self.sandbox,
            session,
            query=query,
            types=types.split(","),
            zone=session.zone(market),
            limit=limit,
            offset=offset,
            market=market,
            artist_followers=self.artist_followers,
        )
        return ok(result)

    async def album(self, request: Request, album_id: str) -> Response:
        session = self.session(request, user=False)
        market = check_market(request.query_params.get("market"))
        release = self.visible_release(session, album_id, market)
        return ok(objects.album(session.view, release))

    async def albums(self, request: Request) -> Response:
        session = self.session(request, user=False, deprecated=True)
        market = check_market(request.query_params.get("market"))
        wanted = parse_ids(request.query_params.get("ids"), 20, "album")
        found = []
        for album_id in wanted:
            release = self.sandbox.catalog.albums_by_spotify.get(album_id)
            live = release is not None and release.is_live(session.view.now, session.zone(market))
            found.append(objects.album(session.view, release) if live and release else None)
        return ok({"albums": found})

    async def album_tracks(self, request: Request, album_id: str) -> Response:
        session = self.session(request, user=False)
        market = check_market(request.query_params.get("market"))
        release = self.visible_release(session, album_id, market)
        limit = int_param(request, "limit", 20, 1, 50)
        offset = int_param(request, "offset", 0, 0, 10_000)
        tracks = release.tracks[offset : offset + limit]
        params = {"market": market} if market else None
        page = objects.paging(
            session.view,
            f"/albums/{album_id}/tracks",
            [objects.track_simplified(session.view, t) for t in tracks],
            total=len(release.tracks),
            limit=limit,
            offset=offset,
            params=params,
        )
        return ok(page)

    async def artist(self, request: Request, artist_id: str) -> Response:
        session = self.session(request, user=False)
        artist = self.artist_or_404(artist_id)
        return ok(objects.artist(session.view, artist, self.artist_followers(artist)))

    async def artists(self, request: Request) -> Response:
        session = self.session(request, user=False, deprecated=True)
        found = []
        for artist_id in parse_ids(request.query_params.get("ids"), 50, "artist"):
            artist = self.sandbox.catalog.artists.get(artist_id)
            found.append(
                objects.artist(session.view, artist, self.artist_followers(artist)) if artist else None
            )
        return ok({"artists": found})

    async def track(self, request: Request, track_id: str) -> Response:
        session = self.session(request, user=False)
        market = check_market(request.query_params.get("market"))
        return ok(objects.track(session.view, self.visible_track(session, track_id, market)))

    async def tracks(self, request: Request) -> Response:
        session = self.session(request, user=False, deprecated=True)
        market = check_market(request.query_params.get("market"))
        found = []
        for track_id in parse_ids(request.query_params.get("ids"), 50, "track"):
            track = self.sandbox.catalog.tracks_by_spotify.get(track_id)
            live = track is not None and track.release.is_live(session.view.now, session.zone(market))
            found.append(objects.track(session.view, track) if live and track else None)
        return ok({"tracks": found})

    # library (2026) -------------------------------------------------------------------------------
    async def library_put(self, request: Request) -> Response:
        session = self.session(request)
        items = parse_uris(request.query_params.get("uris"), LIBRARY_MAX)
        session.require(*{MODIFY_SCOPE[kind] for kind, _, _ in items})
        self.save(session, items)
        return empty(200)

    async def library_delete(self, request: Request) -> Response:
        session = self.session(request)
        items = parse_uris(request.query_params.get("uris"), LIBRARY_MAX)
        session.require(*{MODIFY_SCOPE[kind] for kind, _, _ in items})
        self.unsave(session, items)
        return empty(200)

    async def library_contains(self, request: Request) -> Response:
        session = self.session(request)
        items = parse_uris(request.query_params.get("uris"), LIBRARY_MAX)
        session.require(*{READ_SCOPE[kind] for kind, _, _ in items})
        return ok([session.user.has(uri) for _, _, uri in items])

    # library (older, type-specific) ---------------------------------------------------------------
    async def _typed_ids(self, request: Request, kind: str, query_limit: int, body_limit: int) -> list[str]:
        raw = request.query_params.get("ids")
        if raw is not None:
            return parse_ids(raw, query_limit, kind)
        body = await json_body(request)
        if isinstance(body, dict) and "timestamped_ids" in body:
            stamped = body["timestamped_ids"]
            if not isinstance(stamped, list):
                raise SpotifyError(400, "timestamped_ids must be an array")
            return parse_ids([s.get("id") for s in stamped if isinstance(s, dict)], body_limit, kind)
        if isinstance(body, dict):
            return parse_ids(body.get("ids"), body_limit, kind)
        if isinstance(body, list):
            return parse_ids(body, body_limit, kind)
        return parse_ids(None, body_limit, kind)

    async def saved_put(self, request: Request, kind: str) -> Response:
        session = self.session(request, deprecated=True)
        session.require("user-library-modify")
        limits = (20, 50) if kind == "album" else (50, 50)
        wanted = await self._typed_ids(request, kind, *limits)
        self.save(session, [(kind, i, f"spotify:{kind}:{i}") for i in wanted])
        return empty(200)

    async def saved_delete(self, request: Request, kind: str) -> Response:
        session = self.session(request, deprecated=True)
        session.require("user-library-modify")
        limits = (20, 50) if kind == "album" else (50, 50)
        wanted = await self._typed_ids(request, kind, *limits)
        self.unsave(session, [(kind, i, f"spotify:{kind}:{i}") for i in wanted])
        return empty(200)

    async def saved_contains(self, request: Request, kind: str) -> Response:
        session = self.session(request, deprecated=True)
        session.require("user-library-read")
        wanted = parse_ids(request.query_params.get("ids"), 20 if kind == "album" else 50, kind)
        return ok([session.user.has(f"spotify:{kind}:{i}") for i in wanted])

    async def saved_list(self, request: Request, kind: str) -> Response:
        session = self.session(request)
        session.require("user-library-read")
        limit = int_param(request, "limit", 20, 1, 50)
        offset = int_param(request, "offset", 0, 0, 100_000)
        prefix = f"spotify:{kind}:"
        entries = sorted(
            (e for e in session.user.library.values() if e.uri.startswith(prefix)),
            key=lambda e: e.added_at,
            reverse=True,
        )
        catalog = self.sandbox.catalog
        items = []
        for entry in entries[offset : offset + limit]:
            item_id = entry.uri[len(prefix) :]
            if kind == "album":
                items.append(
                    {
                        "added_at": objects.iso(entry.added_at),
                        "album": objects.album(session.view, catalog.albums_by_spotify[item_id]),
                    }
                )
            else:
                items.append(
                    {
                        "added_at": objects.iso(entry.added_at),
                        "track": objects.track(session.view, catalog.tracks_by_spotify[item_id]),
                    }
                )
        return ok(
            objects.paging(
                session.view, f"/me/{kind}s", items, total=len(entries), limit=limit, offset=offset
            )
        )

    # follows (older) ------------------------------------------------------------------------------
    def _follow_type(self, request: Request) -> str:
        kind = request.query_params.get("type")
        if kind not in ("artist", "user"):
            raise SpotifyError(400, "type must be either 'artist' or 'user'")
        return kind

    async def following_put(self, request: Request) -> Response:
        session = self.session(request, deprecated=True)
        kind = self._follow_type(request)
        session.require("user-follow-modify")
        wanted = await self._typed_ids(request, kind, 50, 50)
        self.save(session, [(kind, i, f"spotify:{kind}:{i}") for i in wanted])
        return empty(204)

    async def following_delete(self, request: Request) -> Response:
        session = self.session(request, deprecated=True)
        kind = self._follow_type(request)
        session.require("user-follow-modify")
        wanted = await self._typed_ids(request, kind, 50, 50)
        self.unsave(session, [(kind, i, f"spotify:{kind}:{i}") for i in wanted])
        return empty(204)

    async def following_contains(self, request: Request) -> Response:
        session = self.session(request, deprecated=True)
        kind = self._follow_type(request)
        session.require("user-follow-read")
        wanted = parse_ids(request.query_params.get("ids"), 50, kind)
        return ok([session.user.has(f"spotify:{kind}:{i}") for i in wanted])

    async def following_list(self, request: Request) -> Response:
        session = self.session(request)
        if request.query_params.get("type") != "artist":
            raise SpotifyError(400, "Only valid type is 'artist'")
        session.require("user-follow-read")
        limit = int_param(request, "limit", 20, 1, 50)
        after = request.query_params.get("after")
        catalog = self.sandbox.catalog
        followed = sorted(
            uri.split(":")[2] for uri in session.user.follows if uri.startswith("spotify:artist:")
        )
        if after:
            followed = [a for a in followed if a > after]
        page = followed[:limit]
        items = [
            objects.artist(session.view, catalog.artists[a], self.artist_followers(catalog.artists[a]))
            for a in page
            if a in catalog.artists
        ]
        base = f"{session.view.base}/me/following?type=artist&limit={limit}"
        return ok(
            {
                "artists": {
                    "href": base,
                    "items": items,
                    "limit": limit,
                    "next": f"{base}&after={page[-1]}" if len(followed) > limit else None,
                    "cursors": {"after": page[-1] if len(followed) > limit else None, "before": None},
                    "total": len(session.user.follows),
                }
            }
        )

    async def playlist_follow(self, request: Request, playlist_id: str) -> Response:
        session = self.session(request, deprecated=True)
        body = await json_body(request)
        public = body.get("public", True) if isinstance(body, dict) else True
        session.require("playlist-modify-public" if public else "playlist-modify-private")
        self.save(session, [("playlist", playlist_id, f"spotify:playlist:{playlist_id}")])
        return empty(200)

    async def playlist_unfollow(self, request: Request, playlist_id: str) -> Response:
        session = self.session(request, deprecated=True)
        session.require_any("playlist-modify-public", "playlist-modify-private")
        self.unsave(session, [("playlist", playlist_id, f"spotify:playlist:{playlist_id}")])
        return empty(200)

    async def playlist_followers_contains(self, request: Request, playlist_id: str) -> Response:
        session = self.session(request, user=False, deprecated=True)
        playlist = self.playlist_or_404(playlist_id)
        raw = request.query_params.get("ids")
        users = [session.user.id] if raw is None and session.fan else parse_ids(raw, 5, "user")
        return ok([u in playlist.followers for u in users])

    # playlists ------------------------------------------------------------------------------------
    async def playlist_add(self, request: Request, playlist_id: str, *, deprecated: bool = False) -> Response:
        session = self.session(request, deprecated=deprecated)
        playlist = self.playlist_or_404(playlist_id)
        session.require("playlist-modify-public" if playlist.public else "playlist-modify-private")
        fan = session.user
        if playlist.owner_id != fan.id and not playlist.collaborative:
            raise SpotifyError(403, "You cannot add tracks to a playlist you don't own.")
        body = await json_body(request)
        raw = request.query_params.get("uris")
        position = request.query_params.get("position")
        if raw is not None:
            uris = [u.strip() for u in raw.split(",") if u.strip()]
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
        for uri in uris:
            match = URI.match(uri) if isinstance(uri, str) else None
            if match is None or match.group(1) not in ("track", "episode"):
                raise SpotifyError(400, f"Invalid track uri: {uri}")
            try:
                self.visible_track(session, match.group(2), None)
            except SpotifyError:
                raise SpotifyError(400, f"Invalid track uri: {uri}") from None
        try:
            at = len(playlist.items) if position is None else int(position)
        except (TypeError, ValueError):
            raise SpotifyError(400, "Invalid position") from None
        if not 0 <= at <= len(playlist.items):
            raise SpotifyError(400, "Index out of bounds")
        now = self.sandbox.clock.time()
        with self.accounts.lock:
            playlist.items[at:at] = [PlaylistItem(uri, now, fan.id) for uri in uris]
            playlist.version += 1
            snapshot = playlist.snapshot_id
        return ok({"snapshot_id": snapshot}, 201)

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


def spotify_errors() -> ServiceErrors:
    return ServiceErrors(
        SpotifyError,
        render=lambda exc: errors.error_response(exc.status, exc.message, exc.headers),
        not_found=lambda: errors.error_response(404, "Service not found"),
        method_not_allowed=lambda: errors.error_response(405, "Method not allowed"),
        server_error=lambda: errors.error_response(500, errors.SERVER_ERRORS[500]),
    )


def build_web_api(sandbox: Sandbox) -> ServiceRouter:
    api = WebApi(sandbox)
    router = ServiceRouter(spotify_errors())
    route = router.add

    def typed(handler: Any, kind: str) -> Any:
        async def endpoint(request: Request) -> Response:
            return await handler(request, kind)

        return endpoint

    def deprecated(handler: Any) -> Any:
        async def endpoint(request: Request, playlist_id: str) -> Response:
            return await handler(request, playlist_id, deprecated=True)

        return endpoint

    route("/me", api.me, ["GET"])
    route("/search", api.search, ["GET"])
    route("/albums", api.albums, ["GET"])
    route("/albums/{album_id}", api.album, ["GET"])
    route("/albums/{album_id}/tracks", api.album_tracks, ["GET"])
    route("/artists", api.artists, ["GET"])
    route("/artists/{artist_id}", api.artist, ["GET"])
    route("/tracks", api.tracks, ["GET"])
    route("/tracks/{track_id}", api.track, ["GET"])
    route("/me/library", api.library_put, ["PUT"])
    route("/me/library", api.library_delete, ["DELETE"])
    route("/me/library/contains", api.library_contains, ["GET"])
    for kind in ("track", "album"):
        route(f"/me/{kind}s", typed(api.saved_put, kind), ["PUT"])
        route(f"/me/{kind}s", typed(api.saved_delete, kind), ["DELETE"])
        route(f"/me/{kind}s", typed(api.saved_list, kind), ["GET"])
        route(f"/me/{kind}s/contains", typed(api.saved_contains, kind), ["GET"])
    route("/me/following", api.following_put, ["PUT"])
    route("/me/following", api.following_delete, ["DELETE"])
    route("/me/following", api.following_list, ["GET"])
    route("/me/following/contains", api.following_contains, ["GET"])
    route("/playlists/{playlist_id}", api.playlist_get, ["GET"])
    route("/playlists/{playlist_id}/followers", api.playlist_follow, ["PUT"])
    route("/playlists/{playlist_id}/followers", api.playlist_unfollow, ["DELETE"])
    route("/playlists/{playlist_id}/followers/contains", api.playlist_followers_contains, ["GET"])
    route("/playlists/{playlist_id}/items", api.playlist_add, ["POST"])
    route("/playlists/{playlist_id}/items", api.playlist_items, ["GET"])
    route("/playlists/{playlist_id}/tracks", deprecated(api.playlist_add), ["POST"])
    route("/playlists/{playlist_id}/tracks", deprecated(api.playlist_items), ["GET"])
    route("/me/playlists", api.playlist_create, ["POST"])
    route("/me/playlists", api.my_playlists, ["GET"])
    route("/users/{user_id}/playlists", api.playlist_create, ["POST"])
    return router
