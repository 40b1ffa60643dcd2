"""Web API routes that save and follow: `/me/library` (2026) and the older type-specific routes."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from sandbox.spotify import objects
from sandbox.spotify.errors import SpotifyError
from sandbox.spotify.handlers import (
    LIBRARY_MAX,
    MODIFY_SCOPE,
    READ_SCOPE,
    Handlers,
    empty,
    int_param,
    json_body,
    ok,
    parse_ids,
    parse_uris,
)


class LibraryRoutes(Handlers):
    # library (2026) -------------------------------------------------------------------------------
    async def library_put(self, request: Request) -> Response:
        session = self.session(request)
        items = parse_uris(request.query_params.get("uris"), LIBRARY_MAX)
        session.require(*{MODIFY_SCOPE[kind] for kind, _, _ in items})
        artists = self.accounts.config.library_artist_follow
        if artists != "kept" and any(kind == "artist" for kind, _, _ in items):
            if artists == "rejected":
                raise SpotifyError(400, "Unsupported URI type: artist")
            items = [item for item in items if item[0] != "artist"]  # answered 200, silently dropped
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
