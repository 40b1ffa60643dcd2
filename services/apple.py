"""Apple Music: the developer token (one minting rule), and every call made with it or a Music User Token.

Apple has no OAuth: MusicKit JS gives the fan's Music User Token (MUT) in the browser, and that is the
grant (no refresh token). The developer token is an ES256 JWT signed with the label's MusicKit key
(`AuthKey_<KEYID>.p8`): minted for twelve hours, renewed an hour before it ends, and limited to the landing
app's origin when the app is built for pages (`origin`). Library adds answer 202 and silently ignore what
they cannot add. A 429 carries no Retry-After.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from campaigns.campaign_file import CampaignSpec
from campaigns.choices import preadded
from campaigns.models import ActionKind, GrantStatus
from campaigns.settings import Settings
from campaigns.vault import Secret
from services.errors import Failure, GrantLost, ServiceError, ServiceFailure, by_status, network, throttled
from services.http import ThreadSessions
from services.model import FanPlaylist, Lookup, Profile, Release, Tokens, TokenSink, country_of
from services.owed import (
    RELEASE_TARGET,
    BaseActions,
    Due,
    GrantAction,
    OwedCall,
    PlannedAction,
    ResolvedNote,
    no_such,
    playlist_owed,
    resolved,
)
from services.pacing import PacedApp, PacingPolicy, RateController

SERVICE = "apple"
TOKEN_LIFETIME_S = 12 * 60 * 60  # well under Apple's six-month maximum
RENEW_BEFORE_S = 60 * 60
MUT_MAX_LENGTH = 4096
APPLE_PACING = PacingPolicy(window_s=60.0, default_pause_s=2.0)  # 429s carry no Retry-After
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


def valid_user_token(value: str | None) -> bool:
    """What MusicKit returns: a base64-like token of a sane length (it goes into an HTTP header)."""
    return bool(value) and _USER_TOKEN.fullmatch(value or "") is not None


class DeveloperToken:
    """Mints and caches the developer token (thread-safe): the one minting rule."""

    def __init__(
        self, team_id: str, key_id: str, key: ec.EllipticCurvePrivateKey, origin: str | None = None
    ) -> None:
        self.team_id = team_id
        self.key_id = key_id
        self._key = key
        self.origin = origin
        self._lock = threading.Lock()
        self._token = ""
        self._expires = 0.0

    def current(self, now: float | None = None, *, renew: bool = False) -> str:
        now = time.time() if now is None else now
        with self._lock:
            if renew or now > self._expires - RENEW_BEFORE_S:
                issued = int(now)
                claims: dict[str, Any] = {
                    "iss": self.team_id,
                    "iat": issued,
                    "exp": issued + TOKEN_LIFETIME_S,
                }
                if self.origin:
                    claims["origin"] = [self.origin]
                self._token = jwt.encode(claims, self._key, algorithm="ES256", headers={"kid": self.key_id})
                self._expires = issued + TOKEN_LIFETIME_S
            return self._token

    def pem(self) -> str:
        """The signing key as PKCS#8 PEM text (for a shard process; never logged)."""
        return self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()


@dataclass
class AppleApp(PacedApp):
    """The label's MusicKit key, where Apple's API is, and its pacing."""

    URLS = ("api_url",)
    developer: DeveloperToken
    api_url: str
    storefront: str = "us"
    timeout: float = 10.0
    pacing: PacingPolicy = field(default_factory=lambda: APPLE_PACING)
    name: str = SERVICE
    musickit_js_url: str = ""
    pacer: RateController = field(init=False, repr=False)
    sessions: ThreadSessions = field(default_factory=ThreadSessions, repr=False)

    @property
    def pacing_key(self) -> str:
        return f"{SERVICE}:{self.developer.team_id}.{self.developer.key_id}"

    @classmethod
    def from_settings(cls, settings: Settings, *, origin: str | None = None) -> AppleApp | None:
        """The configured app, or None when Apple is off; AppleKeyError when the key cannot sign.
        `origin` limits the developer token to a web origin (the landing app's pages)."""
        if not (settings.apple_team_id and settings.apple_key_id and settings.apple_private_key):
            return None
        key = load_private_key(settings.apple_private_key)
        return cls(
            DeveloperToken(settings.apple_team_id, settings.apple_key_id, key, origin),
            settings.apple_api_url,
            musickit_js_url=settings.musickit_js_url,
        )

    def to_config(self) -> dict[str, Any]:
        """What a shard process needs to build the same app (it travels on stdin, never argv)."""
        return {
            "team_id": self.developer.team_id,
            "key_id": self.developer.key_id,
            "private_key": self.developer.pem(),
            "origin": self.developer.origin,
            "api_url": self.api_url,
            "storefront": self.storefront,
            "timeout": self.timeout,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> AppleApp:
        key = serialization.load_pem_private_key(config["private_key"].encode(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise AppleKeyError("the Apple key handed to this process is not an EC key")
        developer = DeveloperToken(config["team_id"], config["key_id"], key, config.get("origin"))
        return cls(
            developer,
            config["api_url"],
            storefront=config.get("storefront", "us"),
            timeout=config.get("timeout", 10.0),
        )

    def close(self) -> None:
        self.sessions.close()

    def developer_token(self) -> str:
        return self.developer.current()

    def request(
        self,
        method: str,
        path: str,
        what: str,
        *,
        user_token: Secret | None = None,
        params: Any = None,
        body: Any = None,
        paced: bool = True,
    ) -> Any:
        """One call (the developer token renewed once on a 401); raises ServiceFailure, or GrantLost for
        a refused Music User Token."""
        self.gate(what)  # no call while any process was told to wait; `paced` reports the answer
        response = self._send(method, path, what, user_token=user_token, params=params, body=body)
        status = response.status_code
        if status < 300:
            if paced:
                self.pacer.on_success()
            return response.json() if response.content else None
        if status == 429:
            if paced:
                self.pacer.on_throttled(None)
            raise throttled(SERVICE, what, None)
        raise _refusal(what, status, _error_detail(response), fan_call=user_token is not None)

    def _send(
        self, method: str, path: str, what: str, *, user_token: Secret | None, params: Any, body: Any
    ) -> requests.Response:
        """The answer to one call, the developer token renewed once when it is refused."""
        http = self.sessions.session()
        for renewed in (False, True):
            headers = {"Authorization": f"Bearer {self.developer.current(renew=renewed)}"}
            if user_token is not None:
                headers["Music-User-Token"] = user_token.reveal()
            try:
                response = http.request(
                    method,
                    f"{self.api_url}{path}",
                    params=params,
                    json=body,
                    headers=headers,
                    timeout=self.timeout,
                )
            except requests.RequestException as exc:
                raise network(SERVICE, what, exc) from None
            if response.status_code != 401 or renewed:
                break  # on a first 401, the developer token: mint a new one, once
        return response

    # the catalogue -----------------------------------------------------------------------------------
    def resolve(self, lookup: Lookup) -> Release | None:
        """The album live in the storefront (by id, UPC, or a single's ISRC), with its songs."""
        base = f"/v1/catalog/{self.storefront}"
        try:
            if lookup.album_id:
                found = self.request("GET", f"{base}/albums/{lookup.album_id}", "album")
            elif lookup.upc:
                found = self.request("GET", f"{base}/albums", "album", params={"filter[upc]": lookup.upc})
            else:
                found = None
            album = _live(found)
            if album is not None:
                return _release(album, lookup.key)
            for isrc in lookup.isrcs:
                songs = self.request("GET", f"{base}/songs", "songs", params={"filter[isrc]": isrc})
                data = (songs or {}).get("data") or []
                if data:
                    return Release(SERVICE, None, (str(data[0]["id"]),), f"isrc:{isrc}")
        except ServiceFailure as failure:
            if failure.kind == Failure.NOT_FOUND:
                return None
            raise
        return None

    # one fan ------------------------------------------------------------------------------------------
    def fan(self, tokens: Tokens | Secret, *, paced: bool = True) -> AppleFan:
        """Acting for one fan with their Music User Token."""
        user_token = tokens if isinstance(tokens, Secret) else tokens.access_token
        return AppleFan(self, user_token, paced)


class AppleFan:
    """One fan's calls: storefront, library adds (and their check), library playlists."""

    def __init__(self, app: AppleApp, user_token: Secret, paced: bool) -> None:
        self.app = app
        self.user_token = user_token
        self.paced = paced

    def refresh(self) -> None:
        raise GrantLost(GrantStatus.EXPIRED, "apple Music User Tokens cannot be refreshed", service=SERVICE)

    def _request(self, method: str, path: str, what: str, *, params: Any = None, body: Any = None) -> Any:
        return self.app.request(
            method, path, what, user_token=self.user_token, params=params, body=body, paced=self.paced
        )

    def storefront(self) -> str | None:
        """The fan's storefront as a country code; also proves the token works."""
        answer = self._request("GET", "/v1/me/storefront", "storefront")
        data = (answer or {}).get("data")
        first = data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else {}
        return country_of(first.get("id"))

    def library_add(self, kind: str, ids: str) -> None:
        """Add catalog `albums` or `songs` (comma-separated ids); a pre-order album is added on release
        day (Apple answers 202)."""
        self._request("POST", "/v1/me/library", "library", params={f"ids[{kind}]": ids})

    def library_ids(self, kind: str) -> set[str]:
        """The catalog ids of the fan's library `albums` or `songs`."""
        return _catalog_ids(self._pages(f"/v1/me/library/{kind}", "library"))

    def playlists(self) -> list[FanPlaylist]:
        """The fan's library playlists they may edit (first 100)."""
        answer = self._request("GET", "/v1/me/library/playlists", "playlists", params={"limit": 100})
        found = []
        for item in (answer or {}).get("data") or []:
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                continue
            attributes = item.get("attributes")
            attributes = attributes if isinstance(attributes, dict) else {}
            if attributes.get("canEdit") is False:
                continue
            found.append(FanPlaylist(item["id"], str(attributes.get("name") or item["id"])[:100]))
        return found

    # the playlist calls: library playlists take catalog song ids
    def create_playlist(self, name: str, marker: str) -> str:
        created = self._request(
            "POST",
            "/v1/me/library/playlists",
            "create playlist",
            body={"attributes": {"name": name, "description": marker}},
        )
        data = (created or {}).get("data") or [{}]
        if not data[0].get("id"):
            raise ServiceFailure(
                Failure.REFUSED, "apple create playlist: no playlist id in the answer", service=SERVICE
            )
        return str(data[0]["id"])

    def find_playlist(self, name: str, marker: str) -> str | None:  # noqa: ARG002 - the PlaylistCalls protocol's signature
        for item in self._pages("/v1/me/library/playlists", "list playlists"):
            description = ((item.get("attributes") or {}).get("description") or {}).get("standard") or ""
            if marker in description:
                return str(item["id"])
        return None

    def playlist_tracks(self, playlist: str) -> set[str]:
        return _catalog_ids(self._pages(f"/v1/me/library/playlists/{playlist}/tracks", "check playlist"))

    def add_to_playlist(self, playlist: str, tracks: list[str]) -> None:
        self._request(
            "POST",
            f"/v1/me/library/playlists/{playlist}/tracks",
            "playlist add",
            body={"data": [{"id": song, "type": "songs"} for song in tracks]},
        )

    def _pages(self, path: str | None, what: str) -> Iterator[dict[str, Any]]:
        while path:
            page = self._request("GET", path, what)
            yield from (page or {}).get("data") or []
            path = (page or {}).get("next")


def _refusal(what: str, status: int, detail: str, *, fan_call: bool) -> ServiceError:
    """The failure an error answer (not a throttle) stands for."""
    if status == 403 and fan_call:
        return GrantLost(
            GrantStatus.REVOKED, f"apple refused the Music User Token ({detail})", service=SERVICE
        )
    if status == 400 and "subscription" in detail.lower():
        return ServiceFailure(
            Failure.FORBIDDEN,
            f"apple {what}: no Apple Music subscription",
            service=SERVICE,
            code="no_subscription",
            status=400,
        )
    failure = by_status(SERVICE, what, status, detail)
    if status == 401:
        failure.kind = Failure.FORBIDDEN  # the developer token, refused twice: not the fan's to fix
    return failure


def _error_detail(response: requests.Response) -> str:
    try:
        errors = response.json().get("errors") or [{}]
        return str(errors[0].get("detail") or errors[0].get("title") or "")[:160]
    except (ValueError, AttributeError):
        return ""


def _live(found: Any) -> dict[str, Any] | None:
    for album in (found or {}).get("data") or []:
        if (album.get("attributes") or {}).get("playParams"):  # pre-orders have none until release
            return dict(album)
    return None


def _release(album: dict[str, Any], found_by: str) -> Release:
    songs = ((album.get("relationships") or {}).get("tracks") or {}).get("data") or []
    return Release(SERVICE, str(album["id"]), tuple(str(s["id"]) for s in songs), found_by)


def _catalog_ids(items: Iterator[dict[str, Any]]) -> set[str]:
    """The catalog ids of library items (a library song or album names its catalog original)."""
    found = set()
    for item in items:
        catalog_id = ((item.get("attributes") or {}).get("playParams") or {}).get("catalogId")
        if catalog_id:
            found.add(str(catalog_id))
    return found


# What an Apple Music grant is owed, and the calls each action kind makes --------------------------------
def app_from_settings(settings: Settings, *, origin: str | None = None) -> AppleApp | None:
    """The label's app, None when Apple is off; AppleKeyError when the key cannot sign."""
    return AppleApp.from_settings(settings, origin=origin)


def app_from_config(config: dict[str, Any]) -> AppleApp:
    return AppleApp.from_config(config)


def owed_actions(spec: CampaignSpec, choices: Any) -> list[PlannedAction]:
    """The release saved at the fan's release moment, unless its pre-order album was pre-added at the
    grant (it fills in by itself on release day: adding it again would be a second request for the same
    promise); the playlist the fan chose."""
    if spec.services.apple is None:
        return []
    save = (
        [] if preadded(choices) else [PlannedAction(ActionKind.SAVE_RELEASE, RELEASE_TARGET, Due.AT_RELEASE)]
    )
    return [*save, *playlist_owed(choices)]


def grant_actions(spec: CampaignSpec) -> list[GrantAction]:
    """A pre-add of the pre-order album, when the campaign names one."""
    album = spec.services.apple.album_id if spec.services.apple else None
    return [GrantAction(ActionKind.PREADD.value, album)] if album else []


def grant_call(app: AppleApp, tokens: Tokens, action: GrantAction) -> None:
    """A pre-add: Apple answers 202 and adds the album on release day."""
    if action.kind != ActionKind.PREADD:
        raise ServiceFailure(
            Failure.REFUSED, f"apple: no {action.kind} at grant time", service=SERVICE, code="unsupported"
        )
    kind, ids = _items(action, None)
    app.fan(tokens.access_token).library_add(kind, ids)


def fan_actions(app: AppleApp, tokens: Tokens, on_tokens: TokenSink) -> AppleActions:  # noqa: ARG001 - the ServiceModule protocol's signature
    return AppleActions(app.fan(tokens, paced=False))


def _items(action: OwedCall, release: Release | None) -> tuple[str, str]:
    """(catalog kind, comma-separated ids) the action adds."""
    if action.kind == ActionKind.PREADD:
        return "albums", action.target
    if action.kind != ActionKind.SAVE_RELEASE:
        raise no_such(SERVICE, action.kind)
    release = resolved(release, SERVICE)
    if release.album:
        return "albums", release.album
    return "songs", ",".join(release.tracks)


class AppleActions(BaseActions):
    """Library adds answer 202 and silently ignore what cannot be added, so a crash-interrupted add is
    checked in the fan's library before it is sent again; a pre-order album is a pre-add."""

    fan: AppleFan

    def identify(self) -> None:
        """Apple's `identify`: the storefront answers 200 only for a Music User Token Apple issued (the
        grant's id is its token's pseudonym already; the storefront gives the country)."""
        self.identified = Profile(user_id="", country=self.fan.storefront())

    def perform(self, action: OwedCall, release: Release | None, note: ResolvedNote) -> str | None:
        if action.kind == ActionKind.IDENTIFY:
            self.identify()
            return None
        if action.kind == ActionKind.ADD_TO_PLAYLIST:
            return self.playlists.add(action, resolved(release, SERVICE).tracks, note)
        kind, ids = _items(action, release)
        self.fan.library_add(kind, ids)
        return f"apple:{kind}:{ids}"

    def verify(self, action: OwedCall, release: Release | None) -> bool:
        if action.kind == ActionKind.ADD_TO_PLAYLIST:
            return self.playlists.verify(action, resolved(release, SERVICE).tracks)
        kind, ids = _items(action, release)
        return set(ids.split(",")) <= self.fan.library_ids(kind)
