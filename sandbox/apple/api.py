"""Apple Music API routes (mounted at `/apple`, so `/apple/v1/...`).

Every call needs a developer token (ES256 JWT; anything else is 401); `/v1/me/...` also needs a
`Music-User-Token` (403 without). Library adds answer 202 and silently ignore what cannot be added.
Errors are `{"errors": [{"id", "title", "detail", "status", "code"}]}` with string status and code.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response

from sandbox import ids
from sandbox.apple.errors import AppleError, bad_parameter, errors_body, forbidden, not_found, unauthorized
from sandbox.apple.keys import Developer, DeveloperTokenError
from sandbox.apple.music import AppleFan, LibraryPlaylist, PlaylistTrack, album_visible, song_visible
from sandbox.apple.musickit import add_musickit_routes
from sandbox.apple.resources import album_resource, iso, playlist_resource, slug, song_resource
from sandbox.entries import Entry
from sandbox.gate import CALLER, Caller, Reply, Scope
from sandbox.markets import is_market, market_zone
from sandbox.routing import ServiceErrors, ServiceRouter

if TYPE_CHECKING:
    from sandbox.state import Sandbox

JSON = "application/json;charset=utf-8"
LIBRARY_TYPES = ("albums", "songs", "playlists", "music-videos")
MAX_IDS = 100


def ok(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body, separators=(",", ":")).encode(), status_code=status, media_type=JSON)


def _header(scope: Scope, name: bytes) -> str | None:
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return None


class AppleAdapter:
    """Rate limited per developer token; calls without a valid one are logged but not counted."""

    name = "apple"

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def identify(self, scope: Scope) -> Caller:
        sandbox = self.sandbox
        authorization = _header(scope, b"authorization") or ""
        token = authorization[7:].strip() if authorization[:7].lower() == "bearer " else None
        developer: Developer | DeveloperTokenError | None = None
        if token:
            try:
                developer = sandbox.apple_tokens.check(token, sandbox.clock.time(), _header(scope, b"origin"))
            except DeveloperTokenError as exc:
                developer = exc
        fan = sandbox.apple.fan_for(_header(scope, b"music-user-token"))
        valid = isinstance(developer, Developer)
        config = sandbox.config.apple
        return Caller(
            client_id=developer.client_id if isinstance(developer, Developer) else None,
            user=fan.id if fan else None,
            limit_key=("apple", developer.client_id) if isinstance(developer, Developer) else None,
            budget=config.rate_budget,
            window_s=config.rate_window_s,
            credential=(developer if valid else None, developer if not valid else None, fan),
        )

    def too_many(self, retry_after: int) -> Reply:  # noqa: ARG002 - the ServiceAdapter protocol's signature
        body = errors_body(429, "Too Many Requests", "Rate limit exceeded", "42900")
        return Reply(429, body, [(b"content-type", JSON.encode())])

    def server_error(self, status: int) -> Reply:
        title = {500: "Internal Server Error", 503: "Service Unavailable"}.get(status, "Upstream Error")
        return Reply(
            status,
            errors_body(status, title, "The request could not be completed", f"{status}00"),
            [(b"content-type", JSON.encode())],
        )

    def revoke(self, caller: Caller) -> None:
        if caller.user is not None:
            self.sandbox.apple.revoke(caller.user)


class AppleApi:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    # who is calling -------------------------------------------------------------------------------
    def developer(self, request: Request) -> Developer:
        credential: tuple[Developer | None, str | None, AppleFan | None] = request.scope[CALLER].credential
        developer, problem, _ = credential
        if developer is None:
            detail = (
                f"Developer token is missing or invalid ({problem})" if problem else "Developer token missing"
            )
            raise unauthorized(detail)
        return developer

    def fan(self, request: Request) -> AppleFan:
        self.developer(request)
        credential: tuple[Developer | None, str | None, AppleFan | None] = request.scope[CALLER].credential
        _, _, fan = credential
        if fan is None:
            if request.headers.get("music-user-token") is None:
                raise forbidden("Music-User-Token header is missing")
            raise forbidden("Invalid Music-User-Token")
        self.sandbox.apple.settle_pre_adds(fan, self.sandbox.catalog)
        return fan

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.sandbox.clock.time(), UTC)

    @staticmethod
    def storefront(code: str) -> str:
        if not is_market(code.upper()) or code != code.lower():
            raise bad_parameter(f"Storefront '{code}' is not supported")
        return code

    # catalogue ------------------------------------------------------------------------------------------
    async def catalog_album(self, request: Request, storefront: str, album_id: str) -> Response:
        self.developer(request)
        storefront = self.storefront(storefront)
        now = self.now()
        release = self.sandbox.catalog.albums_by_apple.get(album_id)
        if release is None or not album_visible(release, now, market_zone(storefront.upper())):
            raise not_found()
        return ok({"data": [album_resource(storefront, release, with_tracks=True, now=now)]})

    async def catalog_albums(self, request: Request, storefront: str) -> Response:
        self.developer(request)
        storefront = self.storefront(storefront)
        now, zone = self.now(), market_zone(storefront.upper())
        catalog = self.sandbox.catalog
        params = request.query_params
        if "filter[upc]" in params:
            wanted = _split(params["filter[upc]"], "filter[upc]")
            releases = [catalog.releases.get(upc) for upc in wanted]
        elif "ids" in params:
            releases = [catalog.albums_by_apple.get(i) for i in _split(params["ids"], "ids")]
        else:
            raise AppleError(400, "Parameter Missing", "One of ids or filter[upc] is required", "40006")
        data = [
            album_resource(storefront, r, with_tracks=True, now=now)
            for r in releases
            if r is not None and album_visible(r, now, zone)
        ]
        return ok({"data": data})

    async def catalog_song(self, request: Request, storefront: str, song_id: str) -> Response:
        self.developer(request)
        storefront = self.storefront(storefront)
        now = self.now()
        track = self.sandbox.catalog.tracks_by_apple.get(song_id)
        if track is None or not song_visible(track, now, market_zone(storefront.upper())):
            raise not_found()
        return ok({"data": [song_resource(storefront, track)]})

    async def catalog_songs(self, request: Request, storefront: str) -> Response:
        self.developer(request)
        storefront = self.storefront(storefront)
        now, zone = self.now(), market_zone(storefront.upper())
        catalog = self.sandbox.catalog
        params = request.query_params
        if "filter[isrc]" in params:
            tracks = [
                t
                for isrc in _split(params["filter[isrc]"], "filter[isrc]")
                for t in catalog.tracks_by_isrc.get(isrc, [])
            ]
        elif "ids" in params:
            tracks = [
                t
                for i in _split(params["ids"], "ids", limit=300)
                if (t := catalog.tracks_by_apple.get(i)) is not None
            ]
        else:
            raise AppleError(400, "Parameter Missing", "One of ids or filter[isrc] is required", "40006")
        data = [song_resource(storefront, t) for t in tracks if song_visible(t, now, zone)]
        return ok({"data": data})

    async def catalog_artist(self, request: Request, storefront: str, artist_id: str) -> Response:
        self.developer(request)
        storefront = self.storefront(storefront)
        artist = self.sandbox.catalog.artists_by_apple.get(artist_id)
        if artist is None:
            raise not_found()
        return ok(
            {
                "data": [
                    {
                        "id": artist.apple_id,
                        "type": "artists",
                        "href": f"/v1/catalog/{storefront}/artists/{artist.apple_id}",
                        "attributes": {
                            "name": artist.name,
                            "genreNames": list(artist.genres) or ["Music"],
                            "url": f"https://music.apple.com/{storefront}/artist/{slug(artist.name)}/{artist.apple_id}",
                        },
                    }
                ]
            }
        )

    # the fan ------------------------------------------------------------------------------------------
    async def storefront_of_fan(self, request: Request) -> Response:
        fan = self.fan(request)
        return ok(
            {
                "data": [
                    {
                        "id": fan.storefront,
                        "type": "storefronts",
                        "href": f"/v1/storefronts/{fan.storefront}",
                        "attributes": {"name": fan.storefront.upper(), "defaultLanguageTag": "en-US"},
                    }
                ]
            }
        )

    def _require_subscription(self, fan: AppleFan) -> None:
        if not fan.subscribed:
            raise AppleError(
                400,
                "Insufficient Privileges",
                "User's subscription tier does not have access to privilege: Library",
                "40015",
            )

    async def library_add(self, request: Request) -> Response:
        fan = self.fan(request)
        wanted = self._typed_ids(request)
        self._require_subscription(fan)
        now_ts = self.sandbox.clock.time()
        now, catalog, apple = self.now(), self.sandbox.catalog, self.sandbox.apple
        with apple.lock:
            for kind, catalog_id in wanted:
                if kind == "albums":
                    release = catalog.albums_by_apple.get(catalog_id)
                    if release is None:
                        continue
                    if release.is_live(now, fan.zone):
                        fan.add("albums", catalog_id, now_ts)
                        for track in release.tracks:
                            fan.add("songs", track.apple_id, now_ts)
                    elif album_visible(release, now, fan.zone):  # a pre-order: lands at release
                        pre_add = fan.pre_adds.get(catalog_id)
                        if pre_add is None:
                            fan.pre_adds[catalog_id] = Entry(f"albums:{catalog_id}", now_ts)
                        else:
                            pre_add.requests += 1
                elif kind == "songs":
                    song = catalog.tracks_by_apple.get(catalog_id)
                    if song is not None and song_visible(song, now, fan.zone):
                        fan.add("songs", catalog_id, now_ts)
                # playlists and music videos: the sandbox has none, so they are silently ignored
        return Response(b"", status_code=202)

    async def favorites_add(self, request: Request) -> Response:
        fan = self.fan(request)
        wanted = self._typed_ids(request)
        self._require_subscription(fan)
        now_ts, now, catalog = self.sandbox.clock.time(), self.now(), self.sandbox.catalog
        with self.sandbox.apple.lock:
            for kind, catalog_id in wanted:
                release = catalog.albums_by_apple.get(catalog_id) if kind == "albums" else None
                track = catalog.tracks_by_apple.get(catalog_id) if kind == "songs" else None
                if (release and release.is_live(now, fan.zone)) or (
                    track and song_visible(track, now, fan.zone)
                ):
                    fan.add(kind, catalog_id, now_ts, store=fan.favorites)
        return Response(b"", status_code=202)

    def _typed_ids(self, request: Request) -> list[tuple[str, str]]:
        wanted = []
        for name, value in request.query_params.multi_items():
            match = re.fullmatch(r"ids\[([a-z-]+)\]", name)
            if match is None:
                continue
            kind = match.group(1)
            if kind not in LIBRARY_TYPES:
                raise bad_parameter(f"Invalid resource type '{kind}' in {name}")
            wanted += [(kind, i) for i in _split(value, name)]
        if not wanted:
            raise AppleError(
                400, "Parameter Missing", "No ids were given (ids[albums], ids[songs], …)", "40006"
            )
        return wanted

    async def library_albums(self, request: Request) -> Response:
        fan = self.fan(request)
        return ok({"data": self._library(fan, "albums"), "meta": {"total": self._count(fan, "albums")}})

    async def library_songs(self, request: Request) -> Response:
        fan = self.fan(request)
        return ok({"data": self._library(fan, "songs"), "meta": {"total": self._count(fan, "songs")}})

    @staticmethod
    def _count(fan: AppleFan, kind: str) -> int:
        return sum(1 for key in fan.library if key.startswith(f"{kind}:"))

    def _library(self, fan: AppleFan, kind: str) -> list[dict[str, Any]]:
        catalog = self.sandbox.catalog
        items = []
        for key, entry in list(fan.library.items()):
            if not key.startswith(f"{kind}:"):
                continue
            catalog_id = key.split(":", 1)[1]
            source = (
                catalog.albums_by_apple.get(catalog_id)
                if kind == "albums"
                else catalog.tracks_by_apple.get(catalog_id)
            )
            name = source.title if source is not None else ""
            prefix = "l." if kind == "albums" else "i."
            library_id = prefix + ids.spotify_id("apple-library", fan.id, key)[:14]
            items.append(
                {
                    "id": library_id,
                    "type": f"library-{kind}",
                    "href": f"/v1/me/library/{kind}/{library_id}",
                    "attributes": {
                        "name": name,
                        "dateAdded": iso(entry.added_at),
                        "playParams": {
                            "id": library_id,
                            "kind": kind[:-1],
                            "isLibrary": True,
                            "catalogId": catalog_id,
                        },
                    },
                }
            )
        return items

    async def playlist_create(self, request: Request) -> Response:
        fan = self.fan(request)
        self._require_subscription(fan)
        body = await _json(request)
        attributes = body.get("attributes") if isinstance(body, dict) else None
        if not isinstance(attributes, dict):
            attributes = {}
        name = attributes.get("name")
        if not isinstance(name, str) or not name:
            raise AppleError(400, "Invalid Request Body", "attributes.name is required", "40007")
        now = self.sandbox.clock.time()
        with self.sandbox.apple.lock:
            playlist_id = "p." + ids.spotify_id("apple-playlist", fan.id, len(fan.playlists), now)[:15]
            playlist = LibraryPlaylist(playlist_id, name, str(attributes.get("description") or ""), now)
            fan.playlists[playlist_id] = playlist
            tracks = (body.get("relationships") or {}).get("tracks", {}).get("data", [])
            self._append(fan, playlist, tracks if isinstance(tracks, list) else [])
        return ok({"data": [playlist_resource(playlist)]}, status=201)

    async def playlist_add_tracks(self, request: Request, playlist_id: str) -> Response:
        fan = self.fan(request)
        self._require_subscription(fan)
        playlist = fan.playlists.get(playlist_id)
        if playlist is None:
            raise not_found(f"No library playlist with id '{playlist_id}'")
        body = await _json(request)
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list) or not data:
            raise AppleError(400, "Invalid Request Body", "data must be a non-empty array of songs", "40007")
        for item in data:
            if (
                not isinstance(item, dict)
                or item.get("type") not in ("songs", "library-songs")
                or not item.get("id")
            ):
                raise AppleError(400, "Invalid Request Body", "each item needs an id and type songs", "40007")
        with self.sandbox.apple.lock:
            self._append(fan, playlist, data)
        return Response(b"", status_code=204)

    def _append(self, fan: AppleFan, playlist: LibraryPlaylist, data: list[Any]) -> None:
        now_ts, now, catalog = self.sandbox.clock.time(), self.now(), self.sandbox.catalog
        for item in data:
            track = catalog.tracks_by_apple.get(str(item.get("id"))) if isinstance(item, dict) else None
            if track is not None and song_visible(track, now, fan.zone):
                playlist.tracks.append(PlaylistTrack(track.apple_id, now_ts))

    async def playlists(self, request: Request) -> Response:
        fan = self.fan(request)
        return ok({"data": [playlist_resource(p) for p in fan.playlists.values()]})

    async def playlist_tracks(self, request: Request, playlist_id: str) -> Response:
        """A library playlist's songs, each carrying its catalog id in `playParams.catalogId`."""
        fan = self.fan(request)
        playlist = fan.playlists.get(playlist_id)
        if playlist is None:
            raise not_found(f"No library playlist with id '{playlist_id}'")
        catalog = self.sandbox.catalog
        data = []
        for position, entry in enumerate(list(playlist.tracks)):
            track = catalog.tracks_by_apple.get(entry.song_id)
            library_id = "i." + ids.spotify_id("apple-playlist-item", playlist.id, position)[:14]
            data.append(
                {
                    "id": library_id,
                    "type": "library-songs",
                    "href": f"/v1/me/library/songs/{library_id}",
                    "attributes": {
                        "name": track.title if track is not None else "",
                        "playParams": {
                            "id": library_id,
                            "kind": "song",
                            "isLibrary": True,
                            "catalogId": entry.song_id,
                        },
                    },
                }
            )
        return ok({"data": data, "meta": {"total": len(data)}})


def _split(value: str, name: str, limit: int = MAX_IDS) -> list[str]:
    parts = [p.strip() for p in value.split(",") if p.strip()]
    if len(parts) > limit:
        raise bad_parameter(f"{name} takes at most {limit} values")
    return parts


async def _json(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw) if raw.strip() else None
    except ValueError:
        raise AppleError(400, "Invalid Request Body", "The body is not valid JSON", "40007") from None


def apple_errors() -> ServiceErrors:
    def answer(status: int, title: str, detail: str, code: str) -> Response:
        return Response(errors_body(status, title, detail, code), status, media_type=JSON)

    return ServiceErrors(
        AppleError,
        render=lambda exc: answer(exc.status, exc.title, exc.detail, exc.code),
        not_found=lambda: answer(404, "Resource Not Found", "No such resource", "40400"),
        method_not_allowed=lambda: answer(405, "Method Not Allowed", "Not allowed here", "40500"),
        server_error=lambda: answer(500, "Internal Server Error", "The request failed", "50000"),
    )


def build_apple(sandbox: Sandbox) -> Any:
    """The `/apple` app: the API under `/v1`, the MusicKit shim beside it; CORS open, as Apple's is."""
    api = AppleApi(sandbox)
    router = ServiceRouter(apple_errors())
    route = router.add
    route("/v1/catalog/{storefront}/albums/{album_id}", api.catalog_album, ["GET"])
    route("/v1/catalog/{storefront}/albums", api.catalog_albums, ["GET"])
    route("/v1/catalog/{storefront}/songs/{song_id}", api.catalog_song, ["GET"])
    route("/v1/catalog/{storefront}/songs", api.catalog_songs, ["GET"])
    route("/v1/catalog/{storefront}/artists/{artist_id}", api.catalog_artist, ["GET"])
    route("/v1/me/storefront", api.storefront_of_fan, ["GET"])
    route("/v1/me/library", api.library_add, ["POST"])
    route("/v1/me/favorites", api.favorites_add, ["POST"])
    route("/v1/me/library/albums", api.library_albums, ["GET"])
    route("/v1/me/library/songs", api.library_songs, ["GET"])
    route("/v1/me/library/playlists", api.playlist_create, ["POST"])
    route("/v1/me/library/playlists", api.playlists, ["GET"])
    route("/v1/me/library/playlists/{playlist_id}/tracks", api.playlist_add_tracks, ["POST"])
    route("/v1/me/library/playlists/{playlist_id}/tracks", api.playlist_tracks, ["GET"])
    add_musickit_routes(router, sandbox)
    return CORSMiddleware(
        router,
        allow_origins=["*"],
        allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
        allow_headers=["Authorization", "Music-User-Token", "Content-Type"],
    )
