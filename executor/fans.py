"""The owed actions on each service: which calls of its client (`services/`) each action kind makes.

- Spotify: saves and follows through `PUT /me/library` (40 URIs a call), checked by
  `GET /me/library/contains` (an artist follow always, right after: the service may ignore it); the
  access token refreshed a minute before it ends.
- Apple Music: library adds answer 202 and silently ignore what cannot be added, so a crash-interrupted
  add is checked in the fan's library before it is sent again; a pre-order album is a pre-add.
- Deezer: album (or a single's track) saves and artist follows in the fan's library collections.
The playlist action is the same bookkeeping on every service (`executor.playlists.FanPlaylists`).
"""

from __future__ import annotations

from typing import Any

from campaigns.ledger import Claimed
from campaigns.models import ActionKind
from executor.playlists import FanPlaylists
from executor.services import FanSession, ResolvedNote, resolved
from services import ServiceApp
from services.apple import AppleApp, AppleFan
from services.deezer import DeezerApp, DeezerFan
from services.errors import Failure, ServiceFailure
from services.model import GrantTokens, Profile, Release, TokenSink
from services.spotify import SpotifyApp, SpotifyFan, answer_proves_nothing, can_read_back

FOLLOWS = (ActionKind.FOLLOW_ARTIST, ActionKind.FOLLOW)


def fan_session(app: ServiceApp, tokens: GrantTokens, on_tokens: TokenSink) -> FanSession:
    """Acting for one grant on its service; the executor paces each call itself (`perform_action`)."""
    if isinstance(app, SpotifyApp):
        return SpotifyActions(app.fan(tokens, on_tokens, paced=False))
    if isinstance(app, AppleApp):
        return AppleActions(app.fan(tokens, paced=False))
    if isinstance(app, DeezerApp):
        return DeezerActions(app.fan(tokens), id_prefix="deezer:playlist:")
    raise TypeError(f"no owed actions for {type(app).__name__}")


def _no_such(service: str, kind: str) -> ServiceFailure:
    return ServiceFailure(Failure.REFUSED, f"{service}: no such action as {kind!r}", service=service)


class _Actions:
    """A fan's client and their playlist bookkeeping; `refresh` is the client's own."""

    def __init__(self, fan: Any, *, id_prefix: str = "") -> None:
        self.fan = fan
        self.playlists = FanPlaylists(fan, id_prefix=id_prefix)
        self.identified: Profile | None = None  # what an `identify` action read (`/me`)

    def identify(self) -> None:
        """The `identify` action: the fan's account, for the worker to give the grant (never stored in
        the ledger: it is personal data)."""
        self.identified = self.fan.me()

    def refresh(self) -> None:
        self.fan.refresh()

    def checkable(self, action: Claimed) -> bool:
        return action.kind != ActionKind.IDENTIFY  # reading the profile again is harmless

    def unconfirmed(self, action: Claimed) -> bool:
        return False


class SpotifyActions(_Actions):
    fan: SpotifyFan

    def _uris(self, action: Claimed, release: Release | None) -> list[str]:
        if action.kind == ActionKind.SAVE_RELEASE:
            release = resolved(release, "spotify")
            return [release.album] if release.album else list(release.tracks)
        if action.kind in FOLLOWS:
            return [action.target]
        raise _no_such("spotify", action.kind)

    def perform(self, action: Claimed, release: Release | None, note: ResolvedNote) -> str | None:
        self.fan.ensure_fresh()
        if action.kind == ActionKind.IDENTIFY:
            self.identify()
            return None
        if action.kind == ActionKind.ADD_TO_PLAYLIST:
            return self.playlists.add(action, resolved(release, "spotify").tracks, note)
        what = "follow" if action.kind in FOLLOWS else "save"
        self.fan.library_add(self._uris(action, release), what)
        return resolved(release, "spotify").label if action.kind == ActionKind.SAVE_RELEASE else action.target

    def unconfirmed(self, action: Claimed) -> bool:
        return answer_proves_nothing(action.kind, action.target)

    def checkable(self, action: Claimed) -> bool:
        """What the grant's scopes let it read back: landing grants ask `user-follow-read` (the artist
        follow proves nothing until checked) but not `user-library-read`, so a save that may have happened
        is sent again, which `PUT /me/library` takes as a no-op, rather than spending a call on a 403."""
        if action.kind == ActionKind.ADD_TO_PLAYLIST:
            return True
        if action.kind == ActionKind.SAVE_RELEASE:
            return can_read_back("album", self.fan.tokens.scopes)
        return action.kind in FOLLOWS and can_read_back(action.target.split(":")[1], self.fan.tokens.scopes)

    def verify(self, action: Claimed, release: Release | None) -> bool:
        self.fan.ensure_fresh()
        if action.kind == ActionKind.ADD_TO_PLAYLIST:
            return self.playlists.verify(action, resolved(release, "spotify").tracks)
        return all(self.fan.library_contains(self._uris(action, release)))


class AppleActions(_Actions):
    fan: AppleFan

    def _items(self, action: Claimed, release: Release | None) -> tuple[str, str]:
        """(catalog kind, comma-separated ids) the action adds."""
        if action.kind == ActionKind.PREADD:
            return "albums", action.target
        if action.kind != ActionKind.SAVE_RELEASE:
            raise _no_such("apple", action.kind)
        release = resolved(release, "apple")
        if release.album:
            return "albums", release.album
        return "songs", ",".join(release.tracks)

    def identify(self) -> None:
        """Apple's `identify`: the storefront answers 200 only for a Music User Token Apple issued (the
        grant's id is its token's pseudonym already; the storefront gives the country)."""
        self.identified = Profile(user_id="", country=self.fan.storefront())

    def perform(self, action: Claimed, release: Release | None, note: ResolvedNote) -> str | None:
        if action.kind == ActionKind.IDENTIFY:
            self.identify()
            return None
        if action.kind == ActionKind.ADD_TO_PLAYLIST:
            return self.playlists.add(action, resolved(release, "apple").tracks, note)
        kind, ids = self._items(action, release)
        self.fan.library_add(kind, ids)
        return f"apple:{kind}:{ids}"

    def verify(self, action: Claimed, release: Release | None) -> bool:
        if action.kind == ActionKind.ADD_TO_PLAYLIST:
            return self.playlists.verify(action, resolved(release, "apple").tracks)
        kind, ids = self._items(action, release)
        return set(ids.split(",")) <= self.fan.library_ids(kind)


class DeezerActions(_Actions):
    fan: DeezerFan

    def _target(self, action: Claimed, release: Release | None) -> tuple[str, str, str]:
        """(collection, parameter, id) for the action."""
        if action.kind == ActionKind.SAVE_RELEASE:
            release = resolved(release, "deezer")
            if release.album:
                return "albums", "album_id", release.album
            return "tracks", "track_id", release.tracks[0]
        if action.kind == ActionKind.FOLLOW_ARTIST:
            return "artists", "artist_id", action.target.removeprefix("deezer:artist:")
        raise _no_such("deezer", action.kind)

    def perform(self, action: Claimed, release: Release | None, note: ResolvedNote) -> str | None:
        if action.kind == ActionKind.IDENTIFY:
            self.identify()
            return None
        if action.kind == ActionKind.ADD_TO_PLAYLIST:
            return self.playlists.add(action, resolved(release, "deezer").tracks, note)
        collection, parameter, item = self._target(action, release)
        self.fan.library_add(collection, parameter, item)
        return f"deezer:{collection[:-1]}:{item}"

    def verify(self, action: Claimed, release: Release | None) -> bool:
        if action.kind == ActionKind.ADD_TO_PLAYLIST:
            return self.playlists.verify(action, resolved(release, "deezer").tracks)
        collection, _, item = self._target(action, release)
        return item in self.fan.library_ids(collection)
