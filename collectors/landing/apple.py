"""The landing app's Apple Music connector: a thin adapter over `services.apple.AppleApp`.

Apple has no OAuth and no account id: MusicKit JS on our page gets the fan's Music User Token (MUT) and
posts it back; the MUT is the grant, sealed like any token. The page needs the developer token (limited to
the landing app's origin) and MusicKit's script URL.
"""

from __future__ import annotations

from dataclasses import dataclass

from campaigns.vault import Secret
from collectors.landing.connectors import NoExtraCalls
from services.apple import AppleApp, valid_user_token
from services.errors import GrantLost, ServiceError
from services.model import FanPlaylist, Tokens

__all__ = ["AppleConnect", "TokenCheck", "valid_user_token"]
SERVICE = "apple"


@dataclass(frozen=True)
class TokenCheck:
    """What Apple said of a Music User Token (`GET /v1/me/storefront`): `accepted` (200, with the fan's
    country), `refused` (Apple does not know it: forged, or dead), or neither (Apple could not be asked
    now: the grant is held unverified and the executor asks again)."""

    accepted: bool
    refused: bool = False
    country: str | None = None


class AppleConnect(NoExtraCalls):
    service = SERVICE

    def __init__(self, app: AppleApp) -> None:
        self.app = app
        self.musickit_js_url = app.musickit_js_url

    def developer_token(self) -> str:
        return self.app.developer_token()

    def storefront(self, user_token: Secret) -> str | None:
        """The fan's storefront as a country code; also proves the token works."""
        return self.app.fan(user_token).storefront()

    def check(self, user_token: Secret) -> TokenCheck:
        """Whether Apple accepts the token: only an accepted token makes a pre-save."""
        try:
            country = self.storefront(user_token)
        except GrantLost:
            return TokenCheck(accepted=False, refused=True)
        except ServiceError:
            return TokenCheck(accepted=False)
        return TokenCheck(accepted=True, country=country)

    def playlists(self, tokens: Tokens, user_id: str) -> list[FanPlaylist]:  # noqa: ARG002 - the Connector protocol's signature
        return self.app.fan(tokens.access_token).playlists()

    def close(self) -> None:
        self.app.close()
