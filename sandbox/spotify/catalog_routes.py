"""Web API routes for the profile and the catalogue: `/me`, `/search`, albums, artists, tracks."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from sandbox.spotify import objects
from sandbox.spotify.errors import SpotifyError
from sandbox.spotify.handlers import Handlers, int_param, ok, parse_ids
from sandbox.spotify.search import search
from sandbox.spotify.session import check_market


class CatalogRoutes(Handlers):
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
