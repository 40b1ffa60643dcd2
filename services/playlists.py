"""The playlist action on any service: add the release's tracks to the fan's playlist, or to one created
for them, once.

Adding to a playlist is not idempotent (a track sent twice is there twice), and creating one takes two
steps. So the new playlist's id is committed (`note`) before any track goes in, it carries a marker that
finds it again after a crash that came in between, and only the tracks not yet seen there are sent, in
chunks, each remembered as soon as the service took it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from campaigns.choices import NEW_PLAYLIST_PREFIX, PLAYLIST_MARKER

if TYPE_CHECKING:
    from services.owed import OwedCall, ResolvedNote

CHUNK = 100  # Spotify's most per call; Apple and Deezer take as many


class PlaylistCalls(Protocol):
    """The four calls a service makes for the playlist action."""

    def create_playlist(self, name: str, marker: str) -> str: ...

    def find_playlist(self, name: str, marker: str) -> str | None: ...

    def playlist_tracks(self, playlist: str) -> set[str]: ...

    def add_to_playlist(self, playlist: str, tracks: list[str]) -> None: ...


class FanPlaylists:
    """One fan's playlist actions in this run: which playlist each action made or found, and which
    tracks were seen in each."""

    def __init__(self, calls: PlaylistCalls, *, id_prefix: str = "") -> None:
        self.calls = calls
        self.id_prefix = id_prefix  # stripped from a chosen playlist's id ("deezer:playlist:123")
        self._present: dict[str, set[str]] = {}
        self._made: dict[int, str] = {}

    def add(self, action: OwedCall, tracks: Sequence[str], note: ResolvedNote) -> str:
        playlist = self._known(action) or self._create(action, note)
        missing = [t for t in tracks if t not in self._present.get(playlist, set())]
        for start in range(0, len(missing), CHUNK):
            chunk = missing[start : start + CHUNK]
            self.calls.add_to_playlist(playlist, chunk)
            self._present.setdefault(playlist, set()).update(chunk)
        return playlist

    def verify(self, action: OwedCall, tracks: Sequence[str]) -> bool:
        """True when every track is in the playlist; what is there is remembered for `add`."""
        playlist = self._known(action) or self._find(action)
        if playlist is None:
            return False
        self._present[playlist] = self.calls.playlist_tracks(playlist)
        return all(t in self._present[playlist] for t in tracks)

    def _known(self, action: OwedCall) -> str | None:
        if not action.target.startswith(NEW_PLAYLIST_PREFIX):
            return action.target.removeprefix(self.id_prefix)
        return self._made.get(action.id) or action.resolved_target

    def _create(self, action: OwedCall, note: ResolvedNote) -> str:
        name = action.target.removeprefix(NEW_PLAYLIST_PREFIX)
        playlist = self.calls.create_playlist(name, PLAYLIST_MARKER.format(action_id=action.id))
        note(playlist)  # committed before the tracks go in: a crash now finds this playlist
        self._made[action.id] = playlist
        self._present[playlist] = set()
        return playlist

    def _find(self, action: OwedCall) -> str | None:
        name = action.target.removeprefix(NEW_PLAYLIST_PREFIX)
        found = self.calls.find_playlist(name, PLAYLIST_MARKER.format(action_id=action.id))
        if found is not None:
            self._made[action.id] = found
        return found
