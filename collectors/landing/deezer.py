"""Deezer's connect flow (OAuth 2.0 without PKCE or refresh tokens) and the calls made while the fan waits.

Deezer answers errors with HTTP 200 and `{"error": {...}}`; its token goes in the `access_token` query
parameter, so no URL of an API call is ever logged or kept. `offline_access` makes the token last until
the fan removes the app, which release day (weeks later) needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from campaigns.campaign_file import CampaignSpec
from campaigns.settings import Settings
from campaigns.vault import Secret
from collectors.landing.connectors import (
    Authorization,
    ConnectError,
    FanPlaylist,
    GrantAction,
    NoExtraCalls,
    Profile,
    Purpose,
    Tokens,
    country_of,
)
from collectors.landing.page import CampaignView
from collectors.landing.transport import Transport

SERVICE = "deezer"
BASE_PERMS = ("basic_access", "manage_library", "offline_access")
EMAIL_PERM = "email"
FORGET_PERMS = ("basic_access",)


def perms_for(*, with_email: bool = False) -> list[str]:
    """Saving the album, following the artist and playlists all need `manage_library`; email on opt-in."""
    return [*BASE_PERMS, EMAIL_PERM] if with_email else list(BASE_PERMS)


class DeezerConnect(NoExtraCalls):
    """No PKCE: the permissions asked for are remembered with the state, for the exchange to record."""

    service = SERVICE

    def __init__(self, settings: Settings, http: Transport) -> None:
        if not settings.deezer_app_id or settings.deezer_secret is None:
            raise ConnectError(SERVICE, "not_configured")
        self._app_id = settings.deezer_app_id
        self._secret = settings.deezer_secret
        self._connect = settings.deezer_connect_url
        self._api = settings.deezer_api_url
        self.redirect_uri = f"{settings.public_url}/oauth/deezer/callback"
        self._http = http

    def start(self, purpose: Purpose, view: CampaignView | None) -> Authorization:
        perms = FORGET_PERMS if purpose == "forget" else tuple(perms_for(with_email=purpose == "email"))
        return Authorization(None, "", perms, {"scopes": ",".join(perms)})

    def authorize_url(self, state: str, authorization: Authorization) -> str:
        query = {
            "app_id": self._app_id,
            "redirect_uri": self.redirect_uri,
            "perms": ",".join(authorization.scopes),
            "state": state,
        }
        return f"{self._connect}/oauth/auth.php?{urlencode(query)}"

    def sign_in(
        self, code: str, verifier: str | None, remembered: Mapping[str, Any]
    ) -> tuple[Tokens, Profile]:
        tokens = self.exchange(code, str(remembered.get("scopes") or "basic_access").split(","))
        return tokens, self.profile(tokens)

    def grant_actions(self, spec: CampaignSpec) -> list[GrantAction]:
        """None: the artist follow is owed at release, with the album."""
        return []

    def perform(self, tokens: Tokens, action: GrantAction) -> None:
        raise ConnectError(SERVICE, f"{action.kind}_unsupported")

    def exchange(self, code: str, perms: list[str]) -> Tokens:
        response = self._http.request(
            SERVICE,
            "GET",
            f"{self._connect}/oauth/access_token.php",
            params={
                "app_id": self._app_id,
                "secret": self._secret.get_secret_value(),
                "code": code,
                "output": "json",
            },
        )
        body = response.json_object()
        token = body.get("access_token")
        if response.status_code != 200 or not isinstance(token, str) or not token:
            # Deezer refuses a bad code with HTTP 200 and an error (or plain "wrong code")
            raise ConnectError(
                SERVICE,
                _error_code(body, f"token_{response.status_code}"),
                refused=response.status_code < 500,
            )
        try:
            expires = int(body.get("expires", 0))
        except (TypeError, ValueError):
            expires = 0
        return Tokens(
            access_token=Secret(token),
            refresh_token=None,
            expires_at=None if expires <= 0 else datetime.now(UTC) + timedelta(seconds=expires),
            scope=",".join(perms),
        )

    def profile(self, tokens: Tokens) -> Profile:
        body = self._get("/user/me", tokens)
        user_id = body.get("id")
        if not isinstance(user_id, int | str) or isinstance(user_id, bool) or not str(user_id):
            raise ConnectError(SERVICE, "me_without_id")
        email = body.get("email")
        return Profile(
            user_id=str(user_id)[:128],
            country=country_of(body.get("country")),
            email=Secret(email) if isinstance(email, str) and email else None,
        )

    def playlists(self, tokens: Tokens, user_id: str) -> list[FanPlaylist]:
        data = self._get("/user/me/playlists", tokens).get("data")
        found = []
        for item in data if isinstance(data, list) else []:
            if not isinstance(item, dict) or item.get("id") is None:
                continue
            creator = item.get("creator")
            if isinstance(creator, dict) and str(creator.get("id")) != user_id:
                continue
            found.append(FanPlaylist(str(item["id"]), str(item.get("title") or item["id"])[:100]))
        return found

    def _get(self, path: str, tokens: Tokens) -> dict[str, object]:
        response = self._http.request(
            SERVICE,
            "GET",
            f"{self._api}{path}",
            params={"access_token": tokens.access_token.reveal()},
        )
        body = response.json_object()
        if response.status_code != 200 or "error" in body:
            code = _error_code(body, f"api_{response.status_code}")
            raise ConnectError(SERVICE, code, refused=code in ("error_200", "error_300"))
        return body


def _error_code(body: dict[str, object], fallback: str) -> str:
    error = body.get("error")
    if isinstance(error, dict) and error.get("code") is not None:
        return f"error_{error.get('code')}"
    return fallback
