"""The landing app's Deezer connector: a thin adapter over `services.deezer.DeezerApp`.

OAuth 2.0 without PKCE or refresh tokens: the permissions asked for are remembered with the state, for the
exchange to record. `offline_access` makes the token last until the fan removes the app, which release day
(weeks later) needs. The artist follow is owed at release, with the album.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from collectors.landing.connectors import Authorization, NoExtraCalls, Purpose
from collectors.landing.page import CampaignView
from services.deezer import DeezerApp, perms_for
from services.model import FanPlaylist, Profile, Tokens

SERVICE = "deezer"
FORGET_PERMS = ("basic_access",)


class DeezerConnect(NoExtraCalls):
    service = SERVICE

    def __init__(self, app: DeezerApp) -> None:
        self.app = app
        self.redirect_uri = app.redirect_uri

    def start(self, purpose: Purpose, view: CampaignView | None) -> Authorization:  # noqa: ARG002 - the OAuthConnector protocol's signature
        perms = FORGET_PERMS if purpose == "forget" else tuple(perms_for(with_email=purpose == "email"))
        return Authorization(None, "", perms, {"scopes": ",".join(perms)})

    def authorize_url(self, state: str, authorization: Authorization) -> str:
        return self.app.authorize_url(state, list(authorization.scopes))

    def exchange(self, code: str, verifier: str | None, remembered: Mapping[str, Any]) -> Tokens:  # noqa: ARG002 - the OAuthConnector protocol's signature
        return self.app.exchange(code, str(remembered.get("scopes") or "basic_access").split(","))

    def profile(self, tokens: Tokens) -> Profile:
        return self.app.fan(tokens).me()

    def playlists(self, tokens: Tokens, user_id: str) -> list[FanPlaylist]:
        return self.app.fan(tokens).playlists(user_id)

    def close(self) -> None:
        self.app.close()
