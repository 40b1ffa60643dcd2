"""Spotify Web API objects (AlbumObject, TrackObject, PrivateUserObject, paging …) in the spec's shapes.

`View` carries what changes an object between callers: the base URL the caller used (every `href` and
`next` points back at the sandbox), whether the app is in development mode (deprecated fields are
removed, per the February 2026 changes), and the moment of the call.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from sandbox.catalog import Artist, Release, Track
from sandbox.spotify.library import Fan, Playlist

OPEN = "https://open.spotify.com"


@dataclass(frozen=True, slots=True)
class View:
    base: str  # e.g. http://127.0.0.1:8765/spotify/v1
    dev_mode: bool
    now: datetime


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _images(kind: str, spotify_id: str) -> list[dict[str, Any]]:
    return [
        {"url": f"https://i.scdn.co/image/sandbox-{kind}-{spotify_id}-{size}", "height": size, "width": size}
        for size in (640, 300, 64)
    ]


def artist_simplified(view: View, artist: Artist) -> dict[str, Any]:
    return {
        "external_urls": {"spotify": f"{OPEN}/artist/{artist.spotify_id}"},
        "href": f"{view.base}/artists/{artist.spotify_id}",
        "id": artist.spotify_id,
        "name": artist.name,
        "type": "artist",
        "uri": f"spotify:artist:{artist.spotify_id}",
    }


def artist(view: View, artist: Artist, followers: int) -> dict[str, Any]:
    obj = artist_simplified(view, artist)
    obj["images"] = _images("artist", artist.spotify_id)
    if not view.dev_mode:
        obj["followers"] = {"href": None, "total": followers}
        obj["genres"] = list(artist.genres)
        obj["popularity"] = artist.popularity
    return obj


def album_simplified(view: View, release: Release) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "album_type": release.album_type,
        "total_tracks": len(release.tracks),
        "external_urls": {"spotify": f"{OPEN}/album/{release.spotify_id}"},
        "href": f"{view.base}/albums/{release.spotify_id}",
        "id": release.spotify_id,
        "images": _images("album", release.spotify_id),
        "name": release.title,
        "release_date": release.release_date,
        "release_date_precision": "day",
        "type": "album",
        "uri": f"spotify:album:{release.spotify_id}",
        "artists": [artist_simplified(view, release.artist)],
    }
    if not view.dev_mode:
        obj["available_markets"] = release.live_markets(view.now)
    return obj


def album(view: View, release: Release) -> dict[str, Any]:
    obj = album_simplified(view, release)
    obj["tracks"] = paging(
        view,
        f"/albums/{release.spotify_id}/tracks",
        [track_simplified(view, t) for t in release.tracks[:50]],
        total=len(release.tracks),
        limit=50,
        offset=0,
    )
    obj["copyrights"] = [
        {"text": f"© {release.release_at.year} {release.label}", "type": "C"},
        {"text": f"℗ {release.release_at.year} {release.label}", "type": "P"},
    ]
    obj["external_ids"] = {"upc": release.upc}
    if not view.dev_mode:
        obj["genres"] = []
        obj["label"] = release.label
        obj["popularity"] = release.artist.popularity
    return obj


def track_simplified(view: View, track: Track) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "artists": [artist_simplified(view, track.release.artist)],
        "disc_number": 1,
        "duration_ms": track.duration_ms,
        "explicit": track.explicit,
        "external_urls": {"spotify": f"{OPEN}/track/{track.spotify_id}"},
        "href": f"{view.base}/tracks/{track.spotify_id}",
        "id": track.spotify_id,
        "is_playable": True,
        "name": track.title,
        "track_number": track.number,
        "type": "track",
        "uri": f"spotify:track:{track.spotify_id}",
        "is_local": False,
    }
    if not view.dev_mode:
        obj["available_markets"] = track.release.live_markets(view.now)
        obj["preview_url"] = None
    return obj


def track(view: View, track: Track) -> dict[str, Any]:
    obj = track_simplified(view, track)
    obj["album"] = album_simplified(view, track.release)
    obj["external_ids"] = {"isrc": track.isrc}
    if not view.dev_mode:
        obj["popularity"] = track.release.artist.popularity
    return obj


def private_user(view: View, fan: Fan, scopes: frozenset[str], followers: int) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "account_id": fan.account_id,
        "display_name": fan.display_name,
        "external_urls": {"spotify": f"{OPEN}/user/{fan.id}"},
        "href": f"{view.base}/users/{fan.id}",
        "id": fan.id,
        "images": [],
        "type": "user",
        "uri": fan.uri,
    }
    if not view.dev_mode:
        obj["followers"] = {"href": None, "total": followers}
        if "user-read-private" in scopes:
            obj["country"] = fan.country
            obj["product"] = fan.product
            obj["explicit_content"] = {"filter_enabled": False, "filter_locked": False}
        if "user-read-email" in scopes:
            obj["email"] = fan.email
    return obj


def playlist_owner(view: View, owner_id: str, display_name: str | None) -> dict[str, Any]:
    return {
        "external_urls": {"spotify": f"{OPEN}/user/{owner_id}"},
        "href": f"{view.base}/users/{owner_id}",
        "id": owner_id,
        "type": "user",
        "uri": f"spotify:user:{owner_id}",
        "display_name": display_name,
    }


def playlist(view: View, playlist: Playlist, owner_name: str | None) -> dict[str, Any]:
    items_page = paging(view, f"/playlists/{playlist.id}/items", [], total=len(playlist.items), limit=100)
    obj: dict[str, Any] = {
        "collaborative": playlist.collaborative,
        "description": playlist.description,
        "external_urls": {"spotify": f"{OPEN}/playlist/{playlist.id}"},
        "href": f"{view.base}/playlists/{playlist.id}",
        "id": playlist.id,
        "images": [],
        "name": playlist.name,
        "owner": playlist_owner(view, playlist.owner_id, owner_name),
        "public": playlist.public,
        "snapshot_id": playlist.snapshot_id,
        "items": items_page,
        "type": "playlist",
        "uri": playlist.uri,
        "followers": {"href": None, "total": len(playlist.followers)},
    }
    if not view.dev_mode:
        obj["tracks"] = items_page
    return obj


def paging(
    view: View,
    path: str,
    items: list[Any],
    *,
    total: int,
    limit: int,
    offset: int = 0,
    params: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A paging object whose `href`, `next` and `previous` point at the sandbox."""

    def link(at: int) -> str:
        query = urlencode({**(params or {}), "offset": at, "limit": limit})
        return f"{view.base}{path}?{query}"

    return {
        "href": link(offset),
        "items": items,
        "limit": limit,
        "next": link(offset + limit) if offset + limit < total else None,
        "offset": offset,
        "previous": link(max(0, offset - limit)) if offset > 0 else None,
        "total": total,
    }


def error(status: int, message: str) -> dict[str, Any]:
    return {"error": {"status": status, "message": message}}
