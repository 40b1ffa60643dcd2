"""Apple Music API resources (albums, songs, library playlists) as the API shapes them."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from sandbox.apple.music import LibraryPlaylist, song_visible
from sandbox.catalog import Release, Track
from sandbox.markets import market_zone


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "untitled"


def album_resource(storefront: str, release: Release, *, with_tracks: bool, now: datetime) -> dict[str, Any]:
    zone = market_zone(storefront.upper())
    live = release.is_live(now, zone)
    attributes: dict[str, Any] = {
        "artistName": release.artist.name,
        "artwork": {
            "width": 3000,
            "height": 3000,
            "url": f"https://is1-ssl.mzstatic.com/image/thumb/sandbox/{release.apple_id}/{{w}}x{{h}}bb.jpg",
        },
        "copyright": f"℗ {release.release_at.year} {release.label}",
        "genreNames": list(release.artist.genres) or ["Music"],
        "isCompilation": False,
        "isComplete": live,
        "isMasteredForItunes": False,
        "isSingle": len(release.tracks) == 1,
        "name": release.title,
        "recordLabel": release.label,
        "releaseDate": release.release_date,
        "trackCount": len(release.tracks),
        "upc": release.upc,
        "url": f"https://music.apple.com/{storefront}/album/{slug(release.title)}/{release.apple_id}",
    }
    if live:
        attributes["playParams"] = {"id": release.apple_id, "kind": "album"}
    href = f"/v1/catalog/{storefront}/albums/{release.apple_id}"
    resource: dict[str, Any] = {
        "id": release.apple_id,
        "type": "albums",
        "href": href,
        "attributes": attributes,
    }
    if with_tracks:
        songs = [song_resource(storefront, t) for t in release.tracks if song_visible(t, now, zone)]
        resource["relationships"] = {
            "tracks": {"href": f"{href}/tracks", "data": songs},
            "artists": {
                "href": f"{href}/artists",
                "data": [
                    {
                        "id": release.artist.apple_id,
                        "type": "artists",
                        "href": f"/v1/catalog/{storefront}/artists/{release.artist.apple_id}",
                    }
                ],
            },
        }
    return resource


def song_resource(storefront: str, track: Track) -> dict[str, Any]:
    release = track.release
    return {
        "id": track.apple_id,
        "type": "songs",
        "href": f"/v1/catalog/{storefront}/songs/{track.apple_id}",
        "attributes": {
            "albumName": release.title,
            "artistName": release.artist.name,
            "discNumber": 1,
            "durationInMillis": track.duration_ms,
            "genreNames": list(release.artist.genres) or ["Music"],
            "isrc": track.isrc,
            "name": track.title,
            "playParams": {"id": track.apple_id, "kind": "song"},
            "releaseDate": release.release_date,
            "trackNumber": track.number,
            "url": f"https://music.apple.com/{storefront}/album/{slug(release.title)}/{release.apple_id}?i={track.apple_id}",
        },
    }


def playlist_resource(playlist: LibraryPlaylist) -> dict[str, Any]:
    return {
        "id": playlist.id,
        "type": "library-playlists",
        "href": f"/v1/me/library/playlists/{playlist.id}",
        "attributes": {
            "canEdit": True,
            "dateAdded": iso(playlist.created_at),
            "description": {"standard": playlist.description},
            "hasCatalog": False,
            "isPublic": False,
            "name": playlist.name,
            "playParams": {"id": playlist.id, "kind": "playlist", "isLibrary": True},
        },
    }
