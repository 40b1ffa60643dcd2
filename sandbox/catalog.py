"""The music the three services know: artists and releases with their tracks, and when each goes live where.

A release carries its id on every service. Before its release moment it is invisible: search finds
nothing and its ids answer 404. A `local` release goes live at the same wall-clock time in each
market's own time zone, so Tokyo hears it hours before Los Angeles.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sandbox import ids
from sandbox.markets import EARLIEST_ZONE, MARKETS, market_zone, zone

ReleaseMode = Literal["global", "local"]


class ArtistSpec(BaseModel):
    """An artist as the admin routes take it."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    spotify_id: str | None = None
    apple_id: str | None = None
    deezer_id: str | None = None
    genres: list[str] = Field(default_factory=list)
    followers: int = Field(default=0, ge=0)
    popularity: int = Field(default=20, ge=0, le=100)

    @field_validator("spotify_id")
    @classmethod
    def _base62(cls, value: str | None) -> str | None:
        if value is not None and not ids.is_spotify_id(value):
            raise ValueError("a Spotify id is 22 base-62 characters")
        return value


class TrackSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1)
    isrc: str = Field(pattern=r"^[A-Z]{2}[A-Z0-9]{3}\d{7}$")
    duration_ms: int = Field(default=180_000, gt=0)
    explicit: bool = False
    spotify_id: str | None = None


class ReleaseSpec(BaseModel):
    """A release as `POST /sandbox/releases` takes it."""

    model_config = ConfigDict(extra="forbid")
    upc: str = Field(pattern=r"^\d{12,14}$")
    title: str = Field(min_length=1)
    artist: ArtistSpec
    release_at: datetime
    release_mode: ReleaseMode = "global"
    timezone: str = Field(
        default="UTC", description="For local releases: the zone whose wall-clock time every market follows."
    )
    tracks: list[TrackSpec] = Field(min_length=1)
    label: str = "Sandbox Records"
    spotify_id: str | None = None
    apple_id: str | None = None
    deezer_id: str | None = None
    apple_preorder: bool = Field(
        default=False,
        description="Listed on Apple as a pre-order (with an instant-gratification track) before release, "
        "so fans can pre-add it.",
    )
    markets: list[str] = Field(default_factory=lambda: list(MARKETS))

    @field_validator("release_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("release_at needs a time zone (ISO-8601 with Z or an offset)")
        return value.astimezone(UTC)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (KeyError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("spotify_id")
    @classmethod
    def _base62(cls, value: str | None) -> str | None:
        if value is not None and not ids.is_spotify_id(value):
            raise ValueError("a Spotify id is 22 base-62 characters")
        return value


@dataclass(eq=False)
class Artist:
    name: str
    spotify_id: str
    apple_id: str
    deezer_id: str
    genres: list[str] = field(default_factory=list)
    followers: int = 0
    popularity: int = 20


@dataclass(eq=False)
class Track:
    title: str
    isrc: str
    duration_ms: int
    explicit: bool
    number: int
    spotify_id: str
    apple_id: str
    deezer_id: str
    release: Release = field(repr=False)


@dataclass(eq=False)
class Release:
    upc: str
    title: str
    artist: Artist
    release_at: datetime
    release_mode: ReleaseMode
    timezone: str
    label: str
    spotify_id: str
    apple_id: str
    deezer_id: str
    apple_preorder: bool
    markets: list[str]
    tracks: list[Track] = field(default_factory=list)

    @property
    def album_type(self) -> str:
        """Spotify's rule: up to six tracks under 30 minutes (a single or an EP) is a `single`."""
        minutes = sum(t.duration_ms for t in self.tracks) / 60_000
        return "single" if len(self.tracks) <= 6 and minutes < 30 else "album"

    def live_at(self, where: ZoneInfo | None = None) -> datetime:
        """The moment the release goes live for a listener in `where` (None: the first place on Earth)."""
        if self.release_mode == "global":
            return self.release_at
        wall = self.release_at.astimezone(zone(self.timezone)).replace(tzinfo=None)
        return wall.replace(tzinfo=where or zone(EARLIEST_ZONE)).astimezone(UTC)

    def is_live(self, now: datetime, where: ZoneInfo | None = None) -> bool:
        return now >= self.live_at(where)

    def live_markets(self, now: datetime) -> list[str]:
        return [m for m in self.markets if self.is_live(now, market_zone(m))]

    @property
    def release_date(self) -> str:
        """The date the services show: the release's own calendar day."""
        return self.release_at.astimezone(zone(self.timezone)).date().isoformat()


class CatalogError(ValueError):
    """A release or an artist cannot be added; the message says which field clashes."""


class Catalog:
    """Every artist and release, indexed by each service's ids, by UPC and by ISRC.

    Not synchronised: the sandbox holds its lock around writes.
    """

    def __init__(self) -> None:
        self.artists: dict[str, Artist] = {}  # by Spotify id
        self.releases: dict[str, Release] = {}  # by UPC
        self.albums_by_spotify: dict[str, Release] = {}
        self.albums_by_apple: dict[str, Release] = {}
        self.albums_by_deezer: dict[str, Release] = {}
        self.tracks_by_spotify: dict[str, Track] = {}
        self.tracks_by_apple: dict[str, Track] = {}
        self.tracks_by_deezer: dict[str, Track] = {}
        self.tracks_by_isrc: dict[str, list[Track]] = {}
        self.artists_by_apple: dict[str, Artist] = {}
        self.artists_by_deezer: dict[str, Artist] = {}

    def add_artist(self, spec: ArtistSpec) -> Artist:
        spotify_id = spec.spotify_id or ids.spotify_id("artist", spec.name)
        existing = self.artists.get(spotify_id)
        if existing is not None:
            if existing.name != spec.name:
                raise CatalogError(
                    f"artist.spotify_id {spotify_id} already belongs to {existing.name!r}, not {spec.name!r}"
                )
            return existing
        artist = Artist(
            name=spec.name,
            spotify_id=spotify_id,
            apple_id=spec.apple_id or ids.numeric_id("apple-artist", spec.name, digits=10),
            deezer_id=spec.deezer_id or ids.numeric_id("deezer-artist", spec.name, digits=7),
            genres=list(spec.genres),
            followers=spec.followers,
            popularity=spec.popularity,
        )
        self.artists[artist.spotify_id] = artist
        self.artists_by_apple[artist.apple_id] = artist
        self.artists_by_deezer[artist.deezer_id] = artist
        return artist

    def add_release(self, spec: ReleaseSpec) -> Release:
        if spec.upc in self.releases:
            raise CatalogError(f"upc {spec.upc} is already in the catalogue")
        spotify_id = spec.spotify_id or ids.spotify_id("album", spec.upc)
        if spotify_id in self.albums_by_spotify:
            raise CatalogError(f"spotify_id {spotify_id} already names another release")
        artist = self.add_artist(spec.artist)
        release = Release(
            upc=spec.upc,
            title=spec.title,
            artist=artist,
            release_at=spec.release_at,
            release_mode=spec.release_mode,
            timezone=spec.timezone,
            label=spec.label,
            spotify_id=spotify_id,
            apple_id=spec.apple_id or ids.numeric_id("apple-album", spec.upc, digits=10),
            deezer_id=spec.deezer_id or ids.numeric_id("deezer-album", spec.upc, digits=9),
            apple_preorder=spec.apple_preorder,
            markets=list(spec.markets),
        )
        for number, track_spec in enumerate(spec.tracks, start=1):
            track = Track(
                title=track_spec.title,
                isrc=track_spec.isrc,
                duration_ms=track_spec.duration_ms,
                explicit=track_spec.explicit,
                number=number,
                spotify_id=track_spec.spotify_id or ids.spotify_id("track", spec.upc, track_spec.isrc),
                apple_id=ids.numeric_id("apple-song", spec.upc, track_spec.isrc, digits=10),
                deezer_id=ids.numeric_id("deezer-track", spec.upc, track_spec.isrc, digits=10),
                release=release,
            )
            if track.spotify_id in self.tracks_by_spotify:
                raise CatalogError(f"tracks[{number - 1}].spotify_id {track.spotify_id} is already taken")
            release.tracks.append(track)
        self.releases[release.upc] = release
        self.albums_by_spotify[release.spotify_id] = release
        self.albums_by_apple[release.apple_id] = release
        self.albums_by_deezer[release.deezer_id] = release
        for track in release.tracks:
            self.tracks_by_spotify[track.spotify_id] = track
            self.tracks_by_apple[track.apple_id] = track
            self.tracks_by_deezer[track.deezer_id] = track
            self.tracks_by_isrc.setdefault(track.isrc, []).append(track)
        return release

    def releases_by(self, artist: Artist) -> list[Release]:
        return [r for r in self.releases.values() if r.artist is artist]
