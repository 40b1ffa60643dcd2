"""The Deezer API (mounted at `/deezer/api`): the token in the `access_token` query parameter, errors on
HTTP 200 as `{"error": {"type", "message", "code"}}`: 4 quota (50 calls per 5 s), 200 permission,
300 invalid token, 500/501 parameters, 800 no data. Writes answer `true`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response

from sandbox import ids
from sandbox.catalog import Artist, Release, Track
from sandbox.deezer.state import DeezerFan, DeezerPlaylist, DeezerToken
from sandbox.entries import Entry
from sandbox.gate import CALLER, Caller, Reply, Scope
from sandbox.markets import market_zone
from sandbox.routing import Handler, ServiceErrors, ServiceRouter

if TYPE_CHECKING:
    from sandbox.state import Sandbox

JSON = "application/json; charset=utf-8"


class DeezerError(Exception):
    def __init__(self, code: int, kind: str, message: str) -> None:
        super().__init__(f"{code} {kind}: {message}")
        self.code, self.kind, self.message = code, kind, message

    def body(self) -> bytes:
        return json.dumps({"error": {"type": self.kind, "message": self.message, "code": self.code}}).encode()


QUOTA = DeezerError(4, "Exception", "Quota limit exceeded")
NO_DATA = DeezerError(800, "DataException", "no data")
INVALID_TOKEN = DeezerError(300, "OAuthException", "Invalid OAuth access token.")
NEEDS_TOKEN = DeezerError(
    200, "OAuthException", "An active access token must be used to query information about the current user"
)


def permission(perm: str) -> DeezerError:
    return DeezerError(200, "OAuthException", f"Permission denied: {perm} is needed")


def missing(name: str) -> DeezerError:
    return DeezerError(501, "MissingParameterException", f"Missing parameters: {name}")


def wrong(name: str) -> DeezerError:
    return DeezerError(500, "ParameterException", f"Wrong parameter: {name}")


def ok(body: Any) -> Response:
    return Response(json.dumps(body, separators=(",", ":")).encode(), media_type=JSON)


def _query(scope: Scope) -> dict[str, list[str]]:
    return parse_qs(scope.get("query_string", b"").decode("latin-1"))


class DeezerAdapter:
    """The quota is per app and user (or per client address without a token): code 4 on HTTP 200."""

    name = "deezer"

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def identify(self, scope: Scope) -> Caller:
        token_value = next(iter(_query(scope).get("access_token", [])), None)
        token = self.sandbox.deezer.tokens.get(token_value or "")
        client = scope.get("client") or ("unknown", 0)
        key = ("deezer", token.app_id, token.fan_id) if token else ("deezer", "address", client[0])
        config = self.sandbox.config.deezer
        return Caller(
            client_id=token.app_id if token else None,
            user=token.fan_id if token else None,
            limit_key=key,
            budget=config.quota_calls,
            window_s=config.quota_window_s,
            credential=(token_value, token),
        )

    def too_many(self, retry_after: int) -> Reply:  # noqa: ARG002 - the ServiceAdapter protocol's signature
        return Reply(200, QUOTA.body(), [(b"content-type", JSON.encode())])

    def server_error(self, status: int) -> Reply:
        text = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}.get(
            status, "Error"
        )
        return Reply(
            status,
            f"<html><body><h1>{status} {text}</h1></body></html>".encode(),
            [(b"content-type", b"text/html")],
        )

    def revoke(self, caller: Caller) -> None:
        if caller.user is not None:
            self.sandbox.deezer.revoke(caller.user)


class DeezerApi:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    # callers --------------------------------------------------------------------------------------------
    def token(self, request: Request, *, required: bool) -> DeezerToken | None:
        credential: tuple[str | None, DeezerToken | None] = request.scope[CALLER].credential
        value, token = credential
        if value is None:
            if required:
                raise NEEDS_TOKEN
            return None
        if token is None or token.revoked:
            raise INVALID_TOKEN
        if token.expires_at is not None and self.sandbox.clock.time() >= token.expires_at:
            raise INVALID_TOKEN
        return token

    def fan(self, request: Request, perm: str | None = None) -> DeezerFan:
        token = self.token(request, required=True)
        assert token is not None
        if perm is not None and perm not in token.perms:
            raise permission(perm)
        return self.sandbox.deezer.fans[token.fan_id]

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.sandbox.clock.time(), UTC)

    def base(self, request: Request) -> str:
        host = request.headers.get("host", "127.0.0.1")
        return f"{request.url.scheme}://{host}{request.scope.get('root_path', '')}"

    def visible(self, request: Request, release: Release) -> bool:
        token = self.token(request, required=False)
        fan = self.sandbox.deezer.fans.get(token.fan_id) if token else None
        return release.is_live(self.now(), market_zone(fan.country) if fan else None)

    @staticmethod
    def number(request: Request, name: str) -> str:
        value = request.query_params.get(name)
        if value is None or value == "":
            raise missing(name)
        if not value.isdigit():
            raise wrong(name)
        return value

    # objects --------------------------------------------------------------------------------------------
    def artist_obj(self, base: str, artist: Artist) -> dict[str, Any]:
        return {
            "id": int(artist.deezer_id),
            "name": artist.name,
            "link": f"https://www.deezer.com/artist/{artist.deezer_id}",
            "picture": f"{base}/artist/{artist.deezer_id}/image",
            "tracklist": f"{base}/artist/{artist.deezer_id}/top?limit=50",
            "type": "artist",
        }

    def album_obj(self, base: str, release: Release, *, full: bool) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "id": int(release.deezer_id),
            "title": release.title,
            "link": f"https://www.deezer.com/album/{release.deezer_id}",
            "cover": f"{base}/album/{release.deezer_id}/image",
            "md5_image": ids.spotify_id("deezer-cover", release.upc)[:32].lower(),
            "release_date": release.release_date,
            "record_type": "single"
            if len(release.tracks) <= 3
            else "ep"
            if len(release.tracks) <= 6
            else "album",
            "tracklist": f"{base}/album/{release.deezer_id}/tracks",
            "explicit_lyrics": any(t.explicit for t in release.tracks),
            "artist": self.artist_obj(base, release.artist),
            "type": "album",
        }
        if full:
            obj |= {
                "upc": release.upc,
                "label": release.label,
                "nb_tracks": len(release.tracks),
                "duration": sum(t.duration_ms for t in release.tracks) // 1000,
                "fans": self.sandbox.deezer.fan_counts[f"album:{release.deezer_id}"],
                "available": True,
                "tracks": {"data": [self.track_obj(base, t, full=False) for t in release.tracks]},
            }
        return obj

    def track_obj(self, base: str, track: Track, *, full: bool) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "id": int(track.deezer_id),
            "readable": True,
            "title": track.title,
            "link": f"https://www.deezer.com/track/{track.deezer_id}",
            "duration": track.duration_ms // 1000,
            "explicit_lyrics": track.explicit,
            "artist": self.artist_obj(base, track.release.artist),
            "album": {"id": int(track.release.deezer_id), "title": track.release.title, "type": "album"},
            "type": "track",
        }
        if full:
            obj |= {
                "isrc": track.isrc,
                "track_position": track.number,
                "disk_number": 1,
                "release_date": track.release.release_date,
            }
        return obj

    # catalogue ------------------------------------------------------------------------------------------
    async def album(self, request: Request, album_ref: str) -> Response:
        catalog = self.sandbox.catalog
        if album_ref.startswith("upc:"):
            release = catalog.releases.get(album_ref[4:])
        elif album_ref.isdigit():
            release = catalog.albums_by_deezer.get(album_ref)
        else:
            raise wrong("album id")
        if release is None or not self.visible(request, release):
            raise NO_DATA
        return ok(self.album_obj(self.base(request), release, full=True))

    async def track(self, request: Request, track_ref: str) -> Response:
        catalog = self.sandbox.catalog
        if track_ref.startswith("isrc:"):
            found = catalog.tracks_by_isrc.get(track_ref[5:], [])
            track = next((t for t in found if self.visible(request, t.release)), None)
        elif track_ref.isdigit():
            track = catalog.tracks_by_deezer.get(track_ref)
        else:
            raise wrong("track id")
        if track is None or not self.visible(request, track.release):
            raise NO_DATA
        return ok(self.track_obj(self.base(request), track, full=True))

    async def artist(self, request: Request, artist_id: str) -> Response:
        artist = self.sandbox.catalog.artists_by_deezer.get(artist_id)
        if artist is None:
            raise NO_DATA
        obj = self.artist_obj(self.base(request), artist)
        obj["nb_fan"] = artist.followers + self.sandbox.deezer.fan_counts[f"artist:{artist.deezer_id}"]
        return ok(obj)

    # the fan --------------------------------------------------------------------------------------------
    async def me(self, request: Request) -> Response:
        token = self.token(request, required=True)
        assert token is not None
        fan = self.sandbox.deezer.fans[token.fan_id]
        obj: dict[str, Any] = {
            "id": fan.user_id,
            "name": fan.name,
            "lastname": "",
            "firstname": "",
            "status": 0,
            "country": fan.country,
            "lang": "EN",
            "link": f"https://www.deezer.com/profile/{fan.user_id}",
            "type": "user",
        }
        if "email" in token.perms:
            obj["email"] = fan.email
        return ok(obj)

    async def favourite(self, request: Request, kind: str) -> Response:
        fan = self.fan(request, "manage_library")
        catalog, deezer = self.sandbox.catalog, self.sandbox.deezer
        if kind == "playlists" and "title" in request.query_params:
            return await self.playlist_create(request, fan)
        param = {
            "albums": "album_id",
            "tracks": "track_id",
            "artists": "artist_id",
            "playlists": "playlist_id",
        }[kind]
        item_id = self.number(request, param)
        if kind == "albums":
            release = catalog.albums_by_deezer.get(item_id)
            exists = release is not None and self.visible(request, release)
        elif kind == "tracks":
            track = catalog.tracks_by_deezer.get(item_id)
            exists = track is not None and self.visible(request, track.release)
        elif kind == "artists":
            exists = item_id in catalog.artists_by_deezer
        else:
            exists = item_id in deezer.playlists
        if not exists:
            raise NO_DATA
        with deezer.lock:
            key = f"{kind[:-1]}:{item_id}"
            if fan.add(key, self.sandbox.clock.time()):
                deezer.fan_counts[key] += 1
        return ok(True)

    async def unfavourite(self, request: Request, kind: str) -> Response:
        fan = self.fan(request, "delete_library")
        param = {
            "albums": "album_id",
            "tracks": "track_id",
            "artists": "artist_id",
            "playlists": "playlist_id",
        }[kind]
        item_id = self.number(request, param)
        with self.sandbox.deezer.lock:
            key = f"{kind[:-1]}:{item_id}"
            if fan.favourites.pop(key, None) is not None:
                self.sandbox.deezer.fan_counts[key] -= 1
        return ok(True)

    async def favourites(self, request: Request, kind: str) -> Response:
        fan = self.fan(request)
        base, catalog = self.base(request), self.sandbox.catalog
        data = []
        for key, entry in list(fan.favourites.items()):
            item_kind, item_id = key.split(":", 1)
            if item_kind != kind[:-1]:
                continue
            if kind == "albums":
                obj = self.album_obj(base, catalog.albums_by_deezer[item_id], full=False)
            elif kind == "tracks":
                obj = self.track_obj(base, catalog.tracks_by_deezer[item_id], full=False)
            elif kind == "artists":
                obj = self.artist_obj(base, catalog.artists_by_deezer[item_id])
            else:
                obj = self.playlist_obj(self.sandbox.deezer.playlists[item_id])
            obj["time_add"] = int(entry.added_at)
            data.append(obj)
        if kind == "playlists":  # the fan's own playlists come first, as Deezer lists them
            own = [self.sandbox.deezer.playlists[i] for i in list(fan.playlists)]
            data = [{**self.playlist_obj(p), "time_add": int(p.created_at)} for p in own] + data
        return ok({"data": data, "total": len(data)})

    def playlist_obj(self, playlist: DeezerPlaylist) -> dict[str, Any]:
        owner = self.sandbox.deezer.fans.get(playlist.owner)
        creator = {"id": owner.user_id, "name": owner.name, "type": "user"} if owner else {"type": "user"}
        return {
            "id": int(playlist.id),
            "title": playlist.title,
            "nb_tracks": len(playlist.tracks),
            "public": False,
            "creator": creator,
            "type": "playlist",
        }

    async def playlist(self, request: Request, playlist_id: str) -> Response:
        method = request.query_params.get("request_method", request.method).upper()
        if method == "POST":
            return await self.playlist_add(request, playlist_id)
        return await self.playlist_tracks(request, playlist_id)

    async def playlist_tracks(self, request: Request, playlist_id: str) -> Response:
        """The tracks of a playlist; a private one only for its owner."""
        fan = self.fan(request)
        playlist = self.sandbox.deezer.playlists.get(playlist_id)
        if playlist is None:
            raise NO_DATA
        if playlist.owner != fan.id:
            raise permission("ownership of the playlist")
        base, catalog = self.base(request), self.sandbox.catalog
        data = []
        for entry in list(playlist.tracks):
            track = catalog.tracks_by_deezer.get(entry.uri.removeprefix("track:"))
            if track is not None:
                data.append({**self.track_obj(base, track, full=False), "time_add": int(entry.added_at)})
        return ok({"data": data, "total": len(data)})

    async def playlist_create(self, request: Request, fan: DeezerFan) -> Response:
        title = request.query_params.get("title", "").strip()
        if not title:
            raise missing("title")
        deezer = self.sandbox.deezer
        with deezer.lock:
            playlist_id = ids.numeric_id(
                "deezer-playlist", fan.id, len(fan.playlists), self.sandbox.clock.time()
            )
            deezer.playlists[playlist_id] = DeezerPlaylist(
                playlist_id, title, fan.id, self.sandbox.clock.time()
            )
            fan.playlists.append(playlist_id)
        return ok({"id": int(playlist_id)})

    async def playlist_add(self, request: Request, playlist_id: str) -> Response:
        fan = self.fan(request, "manage_library")
        playlist = self.sandbox.deezer.playlists.get(playlist_id)
        if playlist is None:
            raise NO_DATA
        if playlist.owner != fan.id:
            raise permission("ownership of the playlist")
        raw = request.query_params.get("songs")
        if not raw:
            raise missing("songs")
        songs = [s.strip() for s in raw.split(",") if s.strip()]
        if not all(s.isdigit() for s in songs):
            raise wrong("songs")
        catalog = self.sandbox.catalog
        tracks = [catalog.tracks_by_deezer.get(s) for s in songs]
        if any(t is None or not self.visible(request, t.release) for t in tracks):
            raise NO_DATA
        now = self.sandbox.clock.time()
        with self.sandbox.deezer.lock:
            playlist.tracks += [Entry(f"track:{s}", now) for s in songs]
        return ok(True)


def deezer_errors() -> ServiceErrors:
    unknown = DeezerError(600, "InvalidQueryException", "Invalid query: unknown path")
    return ServiceErrors(
        DeezerError,
        render=lambda exc: Response(exc.body(), media_type=JSON),  # Deezer answers its errors with HTTP 200
        not_found=lambda: Response(unknown.body(), media_type=JSON),
        method_not_allowed=lambda: Response(unknown.body(), media_type=JSON),
        server_error=lambda: Response(
            DeezerError(700, "Exception", "Service busy").body(), status_code=500, media_type=JSON
        ),
    )


def build_deezer_api(sandbox: Sandbox) -> ServiceRouter:
    api = DeezerApi(sandbox)
    router = ServiceRouter(deezer_errors())

    def by_kind(handler: Handler, kind: str) -> Handler:
        async def endpoint(request: Request) -> Response:
            # Deezer lets a GET stand for another method with `request_method=post|delete`
            method = request.query_params.get("request_method", request.method).upper()
            if method == "POST":
                return await api.favourite(request, kind)
            if method == "DELETE":
                return await api.unfavourite(request, kind)
            return await handler(request, kind)

        return endpoint

    for kind in ("albums", "tracks", "artists", "playlists"):
        router.add(f"/user/me/{kind}", by_kind(api.favourites, kind), ["GET", "POST", "DELETE"])
    router.add("/user/me", api.me, ["GET"])
    router.add("/album/{album_ref}", api.album, ["GET"])
    router.add("/track/{track_ref}", api.track, ["GET"])
    router.add("/artist/{artist_id}", api.artist, ["GET"])
    router.add("/playlist/{playlist_id}/tracks", api.playlist, ["GET", "POST"])
    return router
