"""Deezer state: simulated fans, their authorization codes and access tokens (no refresh tokens), and
their favourites (albums, tracks, artists, playlists) and own playlists.
"""

from __future__ import annotations

import secrets
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sandbox import ids
from sandbox.entries import Entry
from sandbox.markets import is_market

if TYPE_CHECKING:
    from sandbox.clock import Clock
    from sandbox.config import DeezerConfig

PERMS = frozenset(
    {
        "basic_access",
        "email",
        "offline_access",
        "manage_library",
        "manage_community",
        "delete_library",
        "listening_history",
    }
)


class DeezerFanSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    name: str | None = None
    country: str = "FR"
    email: str | None = None
    declines: bool = False

    @field_validator("country")
    @classmethod
    def _market(cls, value: str) -> str:
        if not is_market(value):
            raise ValueError(f"{value!r} is not a market the sandbox knows")
        return value


@dataclass(eq=False)
class DeezerPlaylist:
    id: str
    title: str
    owner: str
    created_at: float
    tracks: list[Entry] = field(default_factory=list)


@dataclass(eq=False)
class DeezerFan:
    id: str  # the sandbox's name for the fan
    user_id: int  # Deezer's numeric user id
    name: str
    country: str
    email: str
    declines: bool
    created_at: float
    favourites: dict[str, Entry] = field(default_factory=dict)  # "album:<id>", "track:…", "artist:…"
    playlists: list[str] = field(default_factory=list)

    def add(self, key: str, at: float) -> bool:
        """Add a favourite; True if it was not there yet."""
        entry = self.favourites.get(key)
        if entry is None:
            self.favourites[key] = Entry(key, at)
            return True
        entry.requests += 1
        return False


@dataclass(eq=False, slots=True)
class DeezerCode:
    code: str
    app_id: str
    fan_id: str
    perms: frozenset[str]
    expires_at: float
    used: bool = False


@dataclass(eq=False, slots=True)
class DeezerToken:
    token: str
    app_id: str
    fan_id: str
    perms: frozenset[str]
    expires_at: float | None  # None: offline_access, never expires
    revoked: bool = False


class Deezer:
    def __init__(self, config: DeezerConfig, clock: Clock, seed: int) -> None:
        self.config = config
        self.clock = clock
        self.seed = seed
        self.lock = threading.RLock()
        self.fans: dict[str, DeezerFan] = {}
        self.codes: dict[str, DeezerCode] = {}
        self.tokens: dict[str, DeezerToken] = {}
        self.playlists: dict[str, DeezerPlaylist] = {}
        self.fan_counts: Counter[str] = Counter()  # "album:<id>" / "artist:<id>" -> fans who added it
        self._numbers = 0

    def register(self, spec: DeezerFanSpec) -> DeezerFan:
        with self.lock:
            fan = self.fans.get(spec.id)
            if fan is None:
                fan = DeezerFan(
                    id=spec.id,
                    user_id=int(ids.numeric_id("deezer-user", self.seed, spec.id, digits=10)),
                    name=spec.name or f"fan{spec.id[:10]}",
                    country=spec.country,
                    email=spec.email or f"{spec.id}@fans.sandbox.invalid",
                    declines=spec.declines,
                    created_at=self.clock.time(),
                )
                self.fans[fan.id] = fan
            else:
                fan.country, fan.declines = spec.country, spec.declines
                fan.name = spec.name or fan.name
                fan.email = spec.email or fan.email
            return fan

    def fan(self, fan_id: str | None) -> DeezerFan:
        with self.lock:
            if fan_id is None:
                while True:
                    self._numbers += 1
                    fan_id = f"deezer-fan-{ids.numeric_id('deezer-fan', self.seed, self._numbers, digits=8)}"
                    if fan_id not in self.fans:
                        break
            return self.fans.get(fan_id) or self.register(DeezerFanSpec(id=fan_id))

    def issue_code(self, app_id: str, fan: DeezerFan, perms: frozenset[str]) -> str:
        code = "fr" + secrets.token_hex(16)
        with self.lock:
            self.codes[code] = DeezerCode(code, app_id, fan.id, perms, self.clock.time() + 600)
        return code

    def exchange(self, app_id: str, code: str) -> DeezerToken | None:
        now = self.clock.time()
        with self.lock:
            issued = self.codes.get(code)
            if issued is None or issued.used or issued.app_id != app_id or now >= issued.expires_at:
                return None
            issued.used = True
            offline = "offline_access" in issued.perms
            token = DeezerToken(
                token=secrets.token_urlsafe(40),
                app_id=app_id,
                fan_id=issued.fan_id,
                perms=issued.perms,
                expires_at=None if offline else now + self.config.token_lifetime_s,
            )
            self.tokens[token.token] = token
            return token

    def revoke(self, fan_id: str) -> int:
        with self.lock:
            gone = [t for t in self.tokens.values() if t.fan_id == fan_id and not t.revoked]
            for token in gone:
                token.revoked = True
        return len(gone)
