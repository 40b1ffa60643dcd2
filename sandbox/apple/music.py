"""Apple Music state: simulated fans (with their Music User Tokens), libraries, pre-adds, playlists.

A pre-add is an album a fan added while it was a pre-order; Apple puts it into their library when it
is released (settled lazily, whenever the library is read).
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sandbox import ids
from sandbox.catalog import Catalog, Release, Track
from sandbox.entries import Entry
from sandbox.markets import is_market, market_zone

if TYPE_CHECKING:
    from sandbox.clock import Clock
    from sandbox.config import AppleConfig


class AppleFanSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    storefront: str = "us"
    subscribed: bool | None = Field(default=None, description="None: drawn from `apple.subscribed_share`.")
    declines: bool = False

    @field_validator("storefront")
    @classmethod
    def _storefront(cls, value: str) -> str:
        if not is_market(value.upper()):
            raise ValueError(f"{value!r} is not a storefront the sandbox knows")
        return value.lower()


@dataclass(slots=True)
class PlaylistTrack:
    song_id: str
    added_at: float


@dataclass(eq=False)
class LibraryPlaylist:
    id: str
    name: str
    description: str
    created_at: float
    tracks: list[PlaylistTrack] = field(default_factory=list)


@dataclass(eq=False)
class AppleFan:
    id: str
    storefront: str
    subscribed: bool
    declines: bool
    created_at: float
    library: dict[str, Entry] = field(default_factory=dict)  # "albums:<id>" / "songs:<id>"
    pre_adds: dict[str, Entry] = field(default_factory=dict)  # pre-order album id -> when pre-added
    favorites: dict[str, Entry] = field(default_factory=dict)
    playlists: dict[str, LibraryPlaylist] = field(default_factory=dict)

    @property
    def zone(self) -> ZoneInfo:
        return market_zone(self.storefront.upper())

    def add(self, kind: str, catalog_id: str, at: float, store: dict[str, Entry] | None = None) -> None:
        entries = self.library if store is None else store
        key = f"{kind}:{catalog_id}"
        entry = entries.get(key)
        if entry is None:
            entries[key] = Entry(key, at)
        else:
            entry.requests += 1


def preorderable(release: Release) -> bool:
    """Apple pre-adds need an iTunes pre-order with at least one instant-gratification track."""
    return release.apple_preorder and len(release.tracks) > 1


def album_visible(release: Release, now: datetime, zone: ZoneInfo) -> bool:
    """Live in the storefront, or listed as a pre-order."""
    return release.is_live(now, zone) or preorderable(release)


def song_visible(track: Track, now: datetime, zone: ZoneInfo) -> bool:
    """Live, or the instant-gratification (first) track of a pre-order."""
    return track.release.is_live(now, zone) or (preorderable(track.release) and track.number == 1)


class AppleMusic:
    def __init__(self, config: AppleConfig, clock: Clock, seed: int) -> None:
        self.config = config
        self.clock = clock
        self.seed = seed
        self.lock = threading.RLock()
        self.fans: dict[str, AppleFan] = {}
        self.user_tokens: dict[str, str] = {}  # Music User Token -> fan id
        self._numbers = 0

    def _subscribed(self, fan_id: str) -> bool:
        share = self.config.subscribed_share
        return int(ids.numeric_id("apple-subscribed", self.seed, fan_id)) % 10_000 < share * 10_000

    def register(self, spec: AppleFanSpec) -> AppleFan:
        with self.lock:
            subscribed = spec.subscribed if spec.subscribed is not None else self._subscribed(spec.id)
            fan = self.fans.get(spec.id)
            if fan is None:
                fan = AppleFan(spec.id, spec.storefront, subscribed, spec.declines, self.clock.time())
                self.fans[fan.id] = fan
            else:
                fan.storefront, fan.subscribed, fan.declines = spec.storefront, subscribed, spec.declines
            return fan

    def fan(self, fan_id: str | None) -> AppleFan:
        """The fan with this id (created on first sight), or a fresh one."""
        with self.lock:
            if fan_id is None:
                while True:
                    self._numbers += 1
                    fan_id = f"apple-fan-{ids.numeric_id('apple-fan', self.seed, self._numbers, digits=8)}"
                    if fan_id not in self.fans:
                        break
            fan = self.fans.get(fan_id)
            if fan is None:
                fan = self.register(AppleFanSpec(id=fan_id, storefront=self.config.storefront))
            return fan

    def issue_user_token(self, fan: AppleFan) -> str:
        token = "Am" + secrets.token_urlsafe(150)
        with self.lock:
            self.user_tokens[token] = fan.id
        return token

    def fan_for(self, token: str | None) -> AppleFan | None:
        fan_id = self.user_tokens.get(token or "")
        return self.fans.get(fan_id) if fan_id else None

    def revoke(self, fan_id: str) -> int:
        """The fan removes the app's access: every Music User Token of theirs stops working."""
        with self.lock:
            gone = [t for t, f in self.user_tokens.items() if f == fan_id]
            for token in gone:
                del self.user_tokens[token]
        return len(gone)

    def settle_pre_adds(self, fan: AppleFan, catalog: Catalog) -> None:
        """Pre-added albums whose release has come land in the library, dated at their release."""
        now = datetime.fromtimestamp(self.clock.time(), UTC)
        with self.lock:
            for album_id, entry in list(fan.pre_adds.items()):
                release = catalog.albums_by_apple.get(album_id)
                if release is None or not release.is_live(now, fan.zone):
                    continue
                landed = release.live_at(fan.zone).timestamp()
                fan.add("albums", album_id, landed)
                fan.library[f"albums:{album_id}"].requests = entry.requests
                for track in release.tracks:
                    fan.add("songs", track.apple_id, landed)
                del fan.pre_adds[album_id]
