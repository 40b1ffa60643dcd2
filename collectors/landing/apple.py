"""Apple Music through MusicKit JS: the developer token the page needs, and the calls made with the
Music User Token (MUT) the page posts back.

Apple has no OAuth and no account id: the MUT is the grant, and it is sealed like any token. The
developer token is an ES256 JWT signed with the label's MusicKit key (`AuthKey_<KEYID>.p8`), limited to
the landing app's origin, minted for twelve hours and renewed an hour before it ends.
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from campaigns.campaign_file import CampaignSpec
from campaigns.models import ActionKind
from campaigns.settings import Settings
from campaigns.vault import Secret
from collectors.landing.connectors import (
    ConnectError,
    FanPlaylist,
    GrantAction,
    NoExtraCalls,
    Tokens,
    country_of,
)
from collectors.landing.transport import Transport

SERVICE = "apple"
TOKEN_LIFETIME_S = 12 * 60 * 60
RENEW_BEFORE_S = 60 * 60
MUT_MAX_LENGTH = 4096
_USER_TOKEN = re.compile(rf"[A-Za-z0-9+/=._~:-]{{16,{MUT_MAX_LENGTH}}}")


class AppleKeyError(ValueError):
    """The MusicKit key cannot sign developer tokens; the message names the file, never its contents."""


def load_private_key(path: Path) -> ec.EllipticCurvePrivateKey:
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise AppleKeyError(f"PRESAVE_APPLE_PRIVATE_KEY {path}: {exc.strerror or 'cannot be read'}") from None
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        raise AppleKeyError(f"PRESAVE_APPLE_PRIVATE_KEY {path}: not a PEM private key (.p8)") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise AppleKeyError(f"PRESAVE_APPLE_PRIVATE_KEY {path}: not a P-256 (ES256) key")
    return key


class DeveloperToken:
    """Mints and caches the developer token (thread-safe)."""

    def __init__(self, team_id: str, key_id: str, key: ec.EllipticCurvePrivateKey, origin: str) -> None:
        self._team_id = team_id
        self._key_id = key_id
        self._key = key
        self._origin = origin
        self._lock = threading.Lock()
        self._token = ""
        self._expires = 0.0

    def current(self, now: float | None = None) -> str:
        now = time.time() if now is None else now
        with self._lock:
            if now > self._expires - RENEW_BEFORE_S:
                issued = int(now)
                self._token = jwt.encode(
                    {
                        "iss": self._team_id,
                        "iat": issued,
                        "exp": issued + TOKEN_LIFETIME_S,
                        "origin": [self._origin],
                    },
                    self._key,
                    algorithm="ES256",
                    headers={"kid": self._key_id},
                )
                self._expires = issued + TOKEN_LIFETIME_S
            return self._token


def valid_user_token(value: str | None) -> bool:
    """What MusicKit returns: a base64-like token of a sane length (it goes into an HTTP header)."""
    return bool(value) and _USER_TOKEN.fullmatch(value or "") is not None


class AppleConnect(NoExtraCalls):
    """No OAuth: the MusicKit page hands over the fan's Music User Token, which is the grant."""

    service = SERVICE

    def __init__(self, settings: Settings, http: Transport, developer: DeveloperToken) -> None:
        self._api = settings.apple_api_url
        self._http = http
        self.developer = developer
        self.musickit_js_url = settings.musickit_js_url

    def _headers(self, user_token: Secret) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.developer.current()}",
            "Music-User-Token": user_token.reveal(),
        }

    def storefront(self, user_token: Secret) -> str | None:
        """The fan's storefront as a country code; also proves the token works."""
        response = self._http.request(
            SERVICE, "GET", f"{self._api}/v1/me/storefront", headers=self._headers(user_token)
        )
        if response.status_code != 200:
            raise ConnectError(
                SERVICE, f"storefront_{response.status_code}", refused=response.status_code == 403
            )
        data = response.json_object().get("data")
        first = data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else {}
        return country_of(first.get("id"))

    def grant_actions(self, spec: CampaignSpec) -> list[GrantAction]:
        """A pre-add of the pre-order album, when the campaign names one."""
        album = spec.services.apple.album_id if spec.services.apple else None
        return [GrantAction(ActionKind.PREADD.value, album)] if album else []

    def perform(self, tokens: Tokens, action: GrantAction) -> None:
        if action.kind != ActionKind.PREADD:
            raise ConnectError(SERVICE, f"{action.kind}_unsupported")
        self.add_album(tokens.access_token, action.target)

    def add_album(self, user_token: Secret, album_id: str) -> None:
        """A pre-add when the album is a pre-order: Apple answers 202 and adds it on release day."""
        response = self._http.request(
            SERVICE,
            "POST",
            f"{self._api}/v1/me/library",
            params={"ids[albums]": album_id},
            headers=self._headers(user_token),
        )
        if response.status_code not in (200, 202, 204):
            raise ConnectError(SERVICE, f"library_{response.status_code}")

    def playlists(self, tokens: Tokens, user_id: str) -> list[FanPlaylist]:
        response = self._http.request(
            SERVICE,
            "GET",
            f"{self._api}/v1/me/library/playlists",
            params={"limit": 100},
            headers=self._headers(tokens.access_token),
        )
        if response.status_code != 200:
            raise ConnectError(SERVICE, f"playlists_{response.status_code}")
        data = response.json_object().get("data")
        found = []
        for item in data if isinstance(data, list) else []:
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                continue
            attributes = item.get("attributes")
            if not isinstance(attributes, dict):
                attributes = {}
            if attributes.get("canEdit") is False:
                continue
            name = attributes.get("name")
            found.append(FanPlaylist(item["id"], str(name or item["id"])[:100]))
        return found
