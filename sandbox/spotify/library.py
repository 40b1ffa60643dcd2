"""A simulated Spotify user (a fan): profile, library, follows and playlists, each entry with its time."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sandbox import ids
from sandbox.entries import Entry
from sandbox.markets import is_market, market_zone, zone

LIBRARY_TYPES = frozenset({"track", "album", "episode", "show", "audiobook"})
FOLLOW_TYPES = frozenset({"artist", "user", "playlist"})


class FanSpec(BaseModel):
    """A fan's attributes as `POST /sandbox/spotify/fans` takes them."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    display_name: str | None = None
    country: str = "US"
    email: str | None = None
    declines: bool = False
    timezone: str | None = Field(default=None, description="Default: the zone of the fan's market.")
    product: Literal["premium", "free"] = "premium"
    library_full: bool = False

    @field_validator("country")
    @classmethod
    def _market(cls, value: str) -> str:
        if not is_market(value):
            raise ValueError(f"{value!r} is not a market the sandbox knows (ISO 3166-1 alpha-2)")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (KeyError, ValueError) as exc:
                raise ValueError(f"unknown time zone {value!r}") from exc
        return value


@dataclass(slots=True)
class PlaylistItem:
    uri: str
    added_at: float
    added_by: str


@dataclass(eq=False)
class Playlist:
    id: str
    name: str
    owner_id: str
    public: bool = True
    collaborative: bool = False
    description: str = ""
    items: list[PlaylistItem] = field(default_factory=list)
    followers: set[str] = field(default_factory=set)
    version: int = 1

    @property
    def uri(self) -> str:
        return f"spotify:playlist:{self.id}"

    @property
    def snapshot_id(self) -> str:
        digest = hashlib.sha256(f"{self.id}:{self.version}".encode()).hexdigest()[:24]
        return f"{self.version:08d}{digest}"


@dataclass(eq=False)
class Fan:
    id: str
    display_name: str
    country: str
    email: str
    declines: bool
    timezone: str | None
    product: str
    library_full: bool
    account_id: str
    created_at: float
    library: dict[str, Entry] = field(default_factory=dict)
    follows: dict[str, Entry] = field(default_factory=dict)
    playlists: list[str] = field(default_factory=list)  # ids of the playlists the fan owns

    @classmethod
    def from_spec(cls, spec: FanSpec, *, created_at: float, seed: int) -> Fan:
        return cls(
            id=spec.id,
            display_name=spec.display_name or f"Fan {spec.id[:8]}",
            country=spec.country,
            email=spec.email or f"{spec.id}@fans.sandbox.invalid",
            declines=spec.declines,
            timezone=spec.timezone,
            product=spec.product,
            library_full=spec.library_full,
            account_id=ids.spotify_id("account", seed, spec.id),
            created_at=created_at,
        )

    def update(self, spec: FanSpec) -> None:
        for name in ("country", "declines", "timezone", "product", "library_full"):
            setattr(self, name, getattr(spec, name))
        if spec.display_name:
            self.display_name = spec.display_name
        if spec.email:
            self.email = spec.email

    @property
    def uri(self) -> str:
        return f"spotify:user:{self.id}"

    @property
    def zone(self) -> ZoneInfo:
        return zone(self.timezone) if self.timezone else market_zone(self.country)

    def add(self, uri: str, now: float) -> bool:
        """Save or follow `uri`; True if it was not there yet (a repeat keeps the first time)."""
        kind = uri.split(":")[1]
        entries = self.library if kind in LIBRARY_TYPES else self.follows
        entry = entries.get(uri)
        if entry is None:
            entries[uri] = Entry(uri, now)
            return True
        entry.requests += 1
        return False

    def remove(self, uri: str) -> bool:
        """Unsave or unfollow `uri`; True if it was there."""
        kind = uri.split(":")[1]
        return (self.library if kind in LIBRARY_TYPES else self.follows).pop(uri, None) is not None

    def has(self, uri: str) -> bool:
        kind = uri.split(":")[1]
        return uri in (self.library if kind in LIBRARY_TYPES else self.follows)
