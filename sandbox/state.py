"""The whole sandbox in one object: configuration, clock, catalogue, the services' state, limits, faults, log.

One process, in memory. Every part guards its own state with a short lock, so the app is safe under
uvicorn's thread pool and when tests reach into it from another thread.
"""

from __future__ import annotations

import threading
from typing import Any

from sandbox.apple.keys import DeveloperTokens
from sandbox.apple.music import AppleMusic
from sandbox.calllog import CallLog
from sandbox.catalog import Artist, ArtistSpec, Catalog, Release, ReleaseSpec
from sandbox.clock import Clock
from sandbox.config import SandboxConfig
from sandbox.deezer.state import Deezer
from sandbox.faults import FaultInjector
from sandbox.ratelimit import RateLimiter
from sandbox.spotify.accounts import SpotifyAccounts


class Sandbox:
    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config = config or SandboxConfig()
        self.clock = Clock(config.start_at)
        self.lock = threading.RLock()
        self.catalog = Catalog()
        self.spotify = SpotifyAccounts(config.spotify, self.clock, config.seed)
        self.apple = AppleMusic(config.apple, self.clock, config.seed)
        self.apple_tokens = DeveloperTokens(config.apple)
        self.deezer = Deezer(config.deezer, self.clock, config.seed)
        self.limiter = RateLimiter()
        self.quotas = RateLimiter()  # Spotify's daily quota per developer account (refused calls uncounted)
        self.faults = FaultInjector(config.faults)
        self.calls = CallLog(config.inspection.call_log_limit)

    def reconfigure(self, config: SandboxConfig) -> None:
        """Swap in a new configuration; state (fans, tokens, catalogue, log) is kept."""
        with self.lock:
            if config.start_at is not None and config.start_at != self.config.start_at:
                self.clock.set(config.start_at)
            self.config = config
            self.spotify.config = config.spotify
            self.apple.config = config.apple
            self.deezer.config = config.deezer
            if config.apple != self.apple_tokens.config:
                self.apple_tokens = DeveloperTokens(config.apple)
            if config.faults != self.faults.config:
                self.faults = FaultInjector(config.faults)
            self.calls.limit = config.inspection.call_log_limit

    def add_release(self, spec: ReleaseSpec) -> Release:
        with self.lock:
            return self.catalog.add_release(spec)

    def add_artist(self, spec: ArtistSpec) -> Artist:
        with self.lock:
            return self.catalog.add_artist(spec)

    def artist_ids(self, artist: Artist) -> dict[str, Any]:
        return {
            "name": artist.name,
            "spotify": {"artist_id": artist.spotify_id, "uri": f"spotify:artist:{artist.spotify_id}"},
            "apple": {"artist_id": artist.apple_id},
            "deezer": {"artist_id": artist.deezer_id},
        }

    def release_ids(self, release: Release) -> dict[str, Any]:
        return {
            "upc": release.upc,
            "spotify": {
                "album_id": release.spotify_id,
                "uri": f"spotify:album:{release.spotify_id}",
                "artist_id": release.artist.spotify_id,
                "artist_uri": f"spotify:artist:{release.artist.spotify_id}",
                "tracks": [
                    {"isrc": t.isrc, "id": t.spotify_id, "uri": f"spotify:track:{t.spotify_id}"}
                    for t in release.tracks
                ],
            },
            "apple": {
                "album_id": release.apple_id,
                "artist_id": release.artist.apple_id,
                "preorder": release.apple_preorder and len(release.tracks) > 1,
                "songs": [{"isrc": t.isrc, "id": t.apple_id} for t in release.tracks],
            },
            "deezer": {
                "album_id": release.deezer_id,
                "artist_id": release.artist.deezer_id,
                "tracks": [{"isrc": t.isrc, "id": t.deezer_id} for t in release.tracks],
            },
        }
