"""The Spotify Web API routes (mounted at `/spotify/v1`): the 2026 ones and the older ones extended-quota
apps keep. Deprecated routes answer 403 for development-mode apps, which Spotify removed them for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from sandbox.routing import Handler, ServiceErrors, ServiceRouter
from sandbox.spotify import errors
from sandbox.spotify.catalog_routes import CatalogRoutes
from sandbox.spotify.errors import SpotifyError
from sandbox.spotify.library_routes import LibraryRoutes
from sandbox.spotify.playlist_routes import PlaylistRoutes

if TYPE_CHECKING:
    from sandbox.state import Sandbox


class WebApi(CatalogRoutes, LibraryRoutes, PlaylistRoutes):
    """Every route handler over the sandbox's state; each method is one route."""


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

    def typed(handler: Handler, kind: str) -> Handler:
        async def endpoint(request: Request) -> Response:
            return await handler(request, kind)

        return endpoint

    def deprecated(handler: Handler) -> Handler:
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
