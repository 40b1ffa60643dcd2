"""Spotify's authorization-code flow (with PKCE) and the calls made while the fan waits.

Follows go through the 2026 `PUT /me/library` route (40 URIs a call); the fan's playlists come from
`GET /me/playlists`, keeping those they may add to (their own, or collaborative).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from campaigns.campaign_file import CampaignSpec, SpotifyService
from campaigns.models import ActionKind
from campaigns.settings import Settings
from campaigns.vault import Secret
from collectors.landing.connectors import (
    Authorization,
    ConnectError,
    FanPlaylist,
    GrantAction,
    Profile,
    Purpose,
    Tokens,
    country_of,
)
from collectors.landing.page import CampaignView
from collectors.landing.transport import Transport

SERVICE = "spotify"
LIBRARY_SCOPES = ("user-library-modify",)
FOLLOW_SCOPE = "user-follow-modify"
PLAYLIST_FOLLOW_SCOPE = "playlist-modify-public"
PLAYLIST_CHOICE_SCOPES = ("playlist-read-private", "playlist-modify-private", "playlist-modify-public")
EMAIL_SCOPE = "user-read-email"
LIBRARY_BATCH = 40


def pkce_pair() -> tuple[str, str]:
    """A code verifier and its S256 challenge (RFC 7636)."""
    verifier = secrets.token_urlsafe(64)[:96]
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def scopes_for(service: SpotifyService, *, playlist_choice: bool, with_email: bool = False) -> list[str]:
    """The least scopes a campaign needs: library always; follow and playlist scopes only when used.

    The campaign's artist (always present) and any extra artist or user need `user-follow-modify`;
    an extra playlist needs `playlist-modify-public`; offering the playlist choice needs reading the
    fan's playlists and adding to them; the email only when the fan opts in.
    """
    scopes = list(LIBRARY_SCOPES)
    kinds = {"artist"} | {uri.split(":")[1] for uri in service.follow}
    if kinds & {"artist", "user"}:
        scopes.append(FOLLOW_SCOPE)
    if "playlist" in kinds:
        scopes.append(PLAYLIST_FOLLOW_SCOPE)
    if playlist_choice:
        scopes += [s for s in PLAYLIST_CHOICE_SCOPES if s not in scopes]
    if with_email:
        scopes.append(EMAIL_SCOPE)
    return scopes


class SpotifyConnect:
    def __init__(self, settings: Settings, http: Transport) -> None:
        if not settings.spotify_client_id or settings.spotify_client_secret is None:
            raise ConnectError(SERVICE, "not_configured")
        self._client_id = settings.spotify_client_id
        self._client_secret = settings.spotify_client_secret
        self._accounts = settings.spotify_accounts_url
        self._api = settings.spotify_api_url
        self.redirect_uri = f"{settings.public_url}/oauth/spotify/callback"
        self._http = http
        self._names: dict[str, str] = {}
        self._names_lock = threading.Lock()

    service = SERVICE

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
        query = {
            "client_id": self._client_id,
            "response_type": "code",
            "redirect_uri": self.redirect_uri,
            "scope": " ".join(authorization.scopes),
            "state": state,
            "code_challenge_method": "S256",
            "code_challenge": authorization.challenge,
        }
        return f"{self._accounts}/authorize?{urlencode(query)}"

    def sign_in(
        self, code: str, verifier: str | None, remembered: Mapping[str, Any]
    ) -> tuple[Tokens, Profile]:
        if not verifier:
            raise ConnectError(SERVICE, "no_verifier")
        tokens = self.exchange(code, verifier)
        return tokens, self.profile(tokens)

    def grant_actions(self, spec: CampaignSpec) -> list[GrantAction]:
        """The campaign's artist is followed at once."""
        artist = spec.services.spotify.artist if spec.services.spotify else None
        return [GrantAction(ActionKind.FOLLOW_ARTIST.value, artist)] if artist else []

    def perform(self, tokens: Tokens, action: GrantAction) -> None:
        self.follow(tokens, [action.target])

    def exchange(self, code: str, verifier: str) -> Tokens:
        response = self._http.request(
            SERVICE,
            "POST",
            f"{self._accounts}/api/token",
            form={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self.redirect_uri,
                "code_verifier": verifier,
            },
            basic=(self._client_id, self._client_secret.get_secret_value()),
        )
        body = response.json_object()
        if response.status_code != 200 or not isinstance(body.get("access_token"), str):
            raise ConnectError(
                SERVICE,
                str(body.get("error") or f"token_{response.status_code}"),
                refused=400 <= response.status_code < 500,
            )
        refresh = body.get("refresh_token")
        try:
            lifetime = int(body.get("expires_in", 3600))
        except (TypeError, ValueError):
            lifetime = 3600
        return Tokens(
            access_token=Secret(str(body["access_token"])),
            refresh_token=Secret(refresh) if isinstance(refresh, str) and refresh else None,
            expires_at=datetime.now(UTC) + timedelta(seconds=lifetime),
            scope=str(body.get("scope", ""))[:400],
        )

    def profile(self, tokens: Tokens) -> Profile:
        response = self._http.request(SERVICE, "GET", f"{self._api}/me", headers=_bearer(tokens))
        body = response.json_object()
        user_id = body.get("id")
        if response.status_code != 200 or not isinstance(user_id, str) or not 0 < len(user_id) <= 128:
            raise ConnectError(
                SERVICE, f"me_{response.status_code}", refused=response.status_code in (401, 403)
            )
        email = body.get("email")
        return Profile(
            user_id=user_id,
            country=country_of(body.get("country")),
            email=Secret(email) if isinstance(email, str) and email else None,
        )

    def follow(self, tokens: Tokens, uris: Sequence[str]) -> None:
        """Follow artists, users and playlists (the 2026 library route takes all three)."""
        for start in range(0, len(uris), LIBRARY_BATCH):
            batch = ",".join(uris[start : start + LIBRARY_BATCH])
            response = self._http.request(
                SERVICE,
                "PUT",
                f"{self._api}/me/library",
                params={"uris": batch},
                headers=_bearer(tokens),
            )
            if response.status_code not in (200, 201, 204):
                raise ConnectError(SERVICE, f"library_{response.status_code}")

    def playlists(self, tokens: Tokens, user_id: str) -> list[FanPlaylist]:
        response = self._http.request(
            SERVICE,
            "GET",
            f"{self._api}/me/playlists",
            params={"limit": 50},
            headers=_bearer(tokens),
        )
        if response.status_code != 200:
            raise ConnectError(SERVICE, f"playlists_{response.status_code}")
        items = response.json_object().get("items")
        found = []
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict):
                continue
            owner = item.get("owner")
            owned = isinstance(owner, dict) and owner.get("id") == user_id
            if (owned or item.get("collaborative")) and isinstance(item.get("id"), str):
                found.append(FanPlaylist(item["id"], str(item.get("name") or item["id"])[:100]))
        return found

    def entity_name(self, tokens: Tokens, uri: str) -> str | None:
        """The display name of an artist, user or playlist, for the done page's follow list (kept once
        found: the same few campaign entities are asked for by every fan)."""
        known = self._names.get(uri)
        if known is None:
            known = self._fetch_name(tokens, uri)
            if known:
                with self._names_lock:
                    self._names[uri] = known
        return known

    def _fetch_name(self, tokens: Tokens, uri: str) -> str | None:
        kind, entity_id = uri.split(":")[1:3]
        path = {"artist": "artists", "playlist": "playlists", "user": "users"}[kind]
        response = self._http.request(
            SERVICE, "GET", f"{self._api}/{path}/{entity_id}", headers=_bearer(tokens)
        )
        if response.status_code != 200:
            return None
        body = response.json_object()
        name = body.get("display_name") if kind == "user" else body.get("name")
        return str(name)[:100] if isinstance(name, str) and name else None


def _bearer(tokens: Tokens) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens.access_token.reveal()}"}
