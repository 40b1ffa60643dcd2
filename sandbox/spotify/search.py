"""`GET /search`: free text and field filters over what the caller can see now.

Field filters follow Spotify's rules: `upc:` and `tag:new` only for albums, `isrc:` and `track:` only
for tracks (elsewhere they match nothing), `artist:` and `year:` (single or range) for albums, artists
and tracks, `album:` for albums and tracks. Unreleased releases are invisible.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sandbox.catalog import Artist, Release
from sandbox.spotify import objects
from sandbox.spotify.errors import SpotifyError

if TYPE_CHECKING:
    from sandbox.catalog import Catalog
    from sandbox.spotify.objects import View
    from sandbox.spotify.session import Session
    from sandbox.state import Sandbox

TYPES = ("album", "artist", "playlist", "track", "show", "episode", "audiobook")
FILTERS = ("album", "artist", "track", "year", "upc", "tag", "isrc", "genre")
TOKEN = re.compile(r'(\w+):"([^"]*)"|(\w+):(\S+)|"([^"]*)"|(\S+)')
ALBUM_ONLY = {"upc", "tag"}
TRACK_ONLY = {"isrc", "track"}


@dataclass
class Query:
    words: list[str] = field(default_factory=list)
    filters: dict[str, str] = field(default_factory=dict)


def parse_query(text: str) -> Query:
    query = Query()
    for quoted_key, quoted_value, key, value, phrase, word in TOKEN.findall(text):
        name = (quoted_key or key).lower()
        if name in FILTERS:
            query.filters[name] = (quoted_value or value).strip()
        elif name:  # "foo:bar" with an unknown field is plain text
            query.words.append(f"{name}:{quoted_value or value}".lower())
        else:
            query.words.append((phrase or word).lower())
    return query


def _contains(haystack: str, needle: str) -> bool:
    return needle.lower() in haystack.lower()


def _year_matches(year: int, spec: str) -> bool:
    try:
        if "-" in spec:
            low, high = spec.split("-", 1)
            return int(low) <= year <= int(high)
        return year == int(spec)
    except ValueError:
        return False


def _release_matches(release: Release, query: Query, *, new_since: Any) -> bool:
    filters = query.filters
    if "upc" in filters and filters["upc"] != release.upc:
        return False
    if "artist" in filters and not _contains(release.artist.name, filters["artist"]):
        return False
    if "album" in filters and not _contains(release.title, filters["album"]):
        return False
    if "year" in filters and not _year_matches(release.release_at.year, filters["year"]):
        return False
    if filters.get("tag") == "new" and release.release_at < new_since:
        return False
    if filters.get("tag") not in (None, "new", "hipster"):
        return False
    text = f"{release.title} {release.artist.name}".lower()
    return all(word in text for word in query.words)


def search(
    sandbox: Sandbox,
    session: Session,
    *,
    query: str,
    types: list[str],
    zone: ZoneInfo | None,
    limit: int,
    offset: int,
    market: str | None,
    artist_followers: Callable[[Artist], int],
) -> dict[str, Any]:
    for kind in types:
        if kind not in TYPES:
            raise SpotifyError(400, f"Bad search type field {kind}")
    parsed = parse_query(query)
    view = session.view
    releases = [r for r in _candidates(sandbox.catalog, parsed) if r.is_live(view.now, zone)]
    params = {"query": query, "type": ",".join(types)}
    if market:
        params["market"] = market
    result: dict[str, Any] = {}
    for kind in types:
        found, build = _matches(kind, sandbox, view, releases, parsed, artist_followers)
        result[f"{kind}s"] = objects.paging(
            view,
            "/search",
            [build(i) for i in found[offset : offset + limit]],
            total=len(found),
            limit=limit,
            offset=offset,
            params=params,
        )
    return result


def _candidates(catalog: Catalog, parsed: Query) -> Iterable[Release]:
    """The releases a search looks through: the indexes answer the code lookups without a scan."""
    if "upc" in parsed.filters:
        return [r] if (r := catalog.releases.get(parsed.filters["upc"])) else []
    if "isrc" in parsed.filters:
        tracks = catalog.tracks_by_isrc.get(parsed.filters["isrc"].upper(), [])
        return list({id(t.release): t.release for t in tracks}.values())
    return catalog.releases.values()


def _matches(
    kind: str,
    sandbox: Sandbox,
    view: View,
    releases: list[Release],
    parsed: Query,
    artist_followers: Callable[[Artist], int],
) -> tuple[list[Any], Callable[[Any], Any]]:
    """What matches the query among one kind of object, and how each is shown."""
    filters = set(parsed.filters)
    if kind == "album":
        new_since = view.now - timedelta(days=14)
        albums = (
            []
            if filters & TRACK_ONLY
            else [r for r in releases if _release_matches(r, parsed, new_since=new_since)]
        )
        return albums, lambda r: objects.album_simplified(view, r)
    if kind == "track":
        return ([] if filters & ALBUM_ONLY else _tracks(releases, parsed)), lambda t: objects.track(view, t)
    if kind == "artist":
        artists = [] if filters & (ALBUM_ONLY | TRACK_ONLY | {"album"}) else _artists(sandbox, parsed)
        return artists, lambda a: objects.artist(view, a, artist_followers(a))
    if kind == "playlist":
        return ([] if filters else _playlists(sandbox, parsed)), lambda p: _simplified_playlist(view, p)
    return [], lambda x: x


def _tracks(releases: list[Release], query: Query) -> list[Any]:
    filters = query.filters
    found = []
    for release in releases:
        if "artist" in filters and not _contains(release.artist.name, filters["artist"]):
            continue
        if "album" in filters and not _contains(release.title, filters["album"]):
            continue
        if "year" in filters and not _year_matches(release.release_at.year, filters["year"]):
            continue
        for track in release.tracks:
            if "isrc" in filters and filters["isrc"].upper() != track.isrc:
                continue
            if "track" in filters and not _contains(track.title, filters["track"]):
                continue
            text = f"{track.title} {release.title} {release.artist.name}".lower()
            if all(word in text for word in query.words):
                found.append(track)
    return found


def _artists(sandbox: Sandbox, query: Query) -> list[Artist]:
    wanted = query.filters.get("artist", "")
    found = []
    for artist in sandbox.catalog.artists.values():
        if wanted and not _contains(artist.name, wanted):
            continue
        if "genre" in query.filters and query.filters["genre"].lower() not in (
            g.lower() for g in artist.genres
        ):
            continue
        if all(word in artist.name.lower() for word in query.words):
            found.append(artist)
    return found


def _playlists(sandbox: Sandbox, query: Query) -> list[Any]:
    return [
        p
        for p in sandbox.spotify.playlists.values()
        if p.public and all(word in p.name.lower() for word in query.words)
    ]


def _simplified_playlist(view: objects.View, playlist: Any) -> dict[str, Any]:
    full = objects.playlist(view, playlist, None)
    ref = {"href": full["items"]["href"], "total": full["items"]["total"]}
    full["items"] = ref
    if "tracks" in full:
        full["tracks"] = ref
    return full
