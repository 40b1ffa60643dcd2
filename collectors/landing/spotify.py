"""The landing app's Spotify connector: a thin adapter over `services.spotify.SpotifyApp`.

The authorization-code flow with PKCE and the least scopes a campaign needs; the artist follow at grant
time and the extra follows go through the 2026 `PUT /me/library` route; the fan's playlists are those they
may add to (their own, or collaborative).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from collectors.landing.connectors import Authorization, Purpose
from collectors.landing.page import CampaignView
from services.errors import Failure, ServiceFailure
from services.model import FanPlaylist, Profile, Tokens
from services.spotify import SpotifyApp, pkce_pair, quiet_spotipy, scopes_for

__all__ = ["SpotifyConnect", "pkce_pair", "scopes_for"]
SERVICE = "spotify"


class SpotifyConnect:
    service = SERVICE

    def __init__(self, app: SpotifyApp) -> None:
        quiet_spotipy()  # spotipy logs the bearer header at debug level
        self.app = app
        self.redirect_uri = app.redirect_uri
        self._names: dict[str, str] = {}
        self._names_lock = threading.Lock()

    def start(self, purpose: Purpose, view: CampaignView | None) -> Authorization:
        """PKCE always; the campaign's least scopes, plus the email for the opt-in, none to be forgotten."""
        verifier, challenge = pkce_pair()
        if purpose == "forget" or view is None or view.spec.services.spotify is None:
            return Authorization(verifier, challenge, ())
        scopes = scopes_for(
            view.spec.services.spotify,
            playlist_choice=view.offers_playlist_choice(SERVICE),
            with_email=purpose == "email",
        )
        return Authorization(verifier, challenge, tuple(scopes))

    def authorize_url(self, state: str, authorization: Authorization) -> str:
        return self.app.authorize_url(state, authorization.challenge, list(authorization.scopes))

    def exchange(self, code: str, verifier: str | None, remembered: Mapping[str, Any]) -> Tokens:  # noqa: ARG002 - the OAuthConnector protocol's signature
        if not verifier:
            raise ServiceFailure(
                Failure.REFUSED, "spotify: no PKCE verifier", service=SERVICE, code="no_verifier"
            )
        return self.app.exchange(code, verifier)

    def profile(self, tokens: Tokens) -> Profile:
        return self.app.fan(tokens).me()

    def follow(self, tokens: Tokens, targets: Sequence[str]) -> None:
        """Artists, users and playlists (the 2026 library route takes all three)."""
        self.app.fan(tokens).library_add(list(targets))

    def playlists(self, tokens: Tokens, user_id: str) -> list[FanPlaylist]:
        return self.app.fan(tokens).playlists(user_id)

    def entity_name(self, tokens: Tokens, uri: str) -> str | None:
        """Kept once found: the same few campaign entities are asked for by every fan."""
        known = self._names.get(uri)
        if known is None:
            known = self.app.fan(tokens).entity_name(uri)
            if known:
                with self._names_lock:
                    self._names[uri] = known
        return known

    def close(self) -> None:
        self.app.close()
