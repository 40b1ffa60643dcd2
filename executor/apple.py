"""Apple Music: the developer token (ES256 JWT from the label's .p8), library adds for each fan.

Apple has no OAuth: the grant holds the fan's Music User Token (no refresh token). Library adds answer
202 and silently ignore what cannot be added, so a crash-interrupted add is checked in the fan's
library albums before it is sent again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
import requests

from campaigns.ledger import Claimed
from campaigns.models import ActionKind, GrantStatus
from campaigns.settings import Settings
from campaigns.vault import Secret
from services.pacing import PacingPolicy
from executor.playlists import FanPlaylists
from executor.services import (
    Failure,
    GrantLost,
    GrantTokens,
    Lookup,
    Release,
    ResolvedNote,
    ServiceFailure,
    TokenSink,
    resolved,
)

DEVELOPER_TOKEN_LIFETIME_S = 12 * 3600  # well under Apple's six-month maximum
APPLE_PACING = PacingPolicy(window_s=60.0, default_pause_s=2.0)  # 429s carry no Retry-After


@dataclass
class AppleApp:
    team_id: str
    key_id: str
    private_key: Secret  # the .p8's PEM text
    api_url: str
    storefront: str = "us"
    timeout: float = 10.0
    pacing: PacingPolicy = field(default_factory=lambda: APPLE_PACING)
    name: str = "apple"
    _token: tuple[str, float] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> AppleApp | None:
        if not (settings.apple_team_id and settings.apple_key_id and settings.apple_private_key):
            return None
        try:
            pem = Path(settings.apple_private_key).read_text()
        except OSError as exc:
            raise ValueError(
                f"PRESAVE_APPLE_PRIVATE_KEY: cannot read {settings.apple_private_key}: {exc.strerror}"
            ) from None
        return cls(settings.apple_team_id, settings.apple_key_id, Secret(pem), settings.apple_api_url)

    def developer_token(self, *, renew: bool = False) -> str:
        with self._lock:
            now = time.time()
            if renew or self._token is None or self._token[1] < now + 300:
                token = jwt.encode(
                    {"iss": self.team_id, "iat": int(now), "exp": int(now + DEVELOPER_TOKEN_LIFETIME_S)},
                    self.private_key.reveal(),
                    algorithm="ES256",
                    headers={"kid": self.key_id},
                )
                self._token = (token, now + DEVELOPER_TOKEN_LIFETIME_S)
            return self._token[0]

    def request(
        self,
        http: requests.Session,
        method: str,
        path: str,
        what: str,
        *,
        user_token: Secret | None = None,
        params: Any = None,
        body: Any = None,
    ) -> Any:
        """One call; raises ServiceFailure (or GrantLost for a refused Music User Token)."""
        for renewed in (False, True):
            headers = {"Authorization": f"Bearer {self.developer_token(renew=renewed)}"}
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
            except requests.Timeout:
                raise ServiceFailure(Failure.TRANSIENT, f"apple {what}: timed out") from None
            except requests.RequestException as exc:
                raise ServiceFailure(Failure.TRANSIENT, f"apple {what}: {type(exc).__name__}") from None
            status = response.status_code
            if status == 401 and not renewed:
                continue  # the developer token: mint a new one, once
            break
        if status < 300:
            return response.json() if response.content else None
        detail = _error_detail(response)
        if status == 429:
            raise ServiceFailure(Failure.THROTTLED, f"apple {what}: 429 {detail}", status=429)
        if status == 403 and user_token is not None:
            raise GrantLost(GrantStatus.REVOKED, f"apple refused the Music User Token ({detail})")
        if status == 400 and "subscription" in detail.lower():
            raise ServiceFailure(Failure.FORBIDDEN, f"apple {what}: no Apple Music subscription", status=400)
        if status in (401, 403):
            raise ServiceFailure(Failure.FORBIDDEN, f"apple {what}: {status} {detail}", status=status)
        if status == 404:
            raise ServiceFailure(Failure.NOT_FOUND, f"apple {what}: 404 {detail}", status=404)
        if status >= 500:
            raise ServiceFailure(Failure.TRANSIENT, f"apple {what}: {status} {detail}", status=status)
        raise ServiceFailure(Failure.REFUSED, f"apple {what}: {status} {detail}", status=status)

    def resolve(self, lookup: Lookup, http: requests.Session) -> Release | None:
        """The album live in the storefront (by id, UPC, or a single's ISRC), with its songs."""
        base = f"/v1/catalog/{self.storefront}"
        try:
            if lookup.album_id:
                found = self.request(http, "GET", f"{base}/albums/{lookup.album_id}", "album")
            elif lookup.upc:
                found = self.request(
                    http, "GET", f"{base}/albums", "album", params={"filter[upc]": lookup.upc}
                )
            else:
                found = None
            album = _live(found)
            if album is not None:
                return _release(album, lookup.key)
            for isrc in lookup.isrcs:
                songs = self.request(http, "GET", f"{base}/songs", "songs", params={"filter[isrc]": isrc})
                data = (songs or {}).get("data") or []
                if data:
                    return Release("apple", None, (str(data[0]["id"]),), f"isrc:{isrc}")
        except ServiceFailure as failure:
            if failure.kind == Failure.NOT_FOUND:
                return None
            raise
        return None

    def fan_session(self, tokens: GrantTokens, http: requests.Session, on_tokens: TokenSink) -> AppleFan:
        return AppleFan(self, tokens, http)


def _error_detail(response: requests.Response) -> str:
    try:
        errors = response.json().get("errors") or [{}]
        return str(errors[0].get("detail") or errors[0].get("title") or "")[:160]
    except (ValueError, AttributeError):
        return ""


def _live(found: Any) -> dict[str, Any] | None:
    for album in (found or {}).get("data") or []:
        if (album.get("attributes") or {}).get("playParams"):  # pre-orders have none until release
            return album
    return None


def _release(album: dict[str, Any], found_by: str) -> Release:
    songs = ((album.get("relationships") or {}).get("tracks") or {}).get("data") or []
    return Release("apple", str(album["id"]), tuple(str(s["id"]) for s in songs), found_by)


class AppleFan:
    def __init__(self, app: AppleApp, tokens: GrantTokens, http: requests.Session) -> None:
        self.app = app
        self.tokens = tokens
        self.http = http
        self.playlists = FanPlaylists(self)

    def refresh(self) -> None:
        raise GrantLost(GrantStatus.EXPIRED, "apple Music User Tokens cannot be refreshed")

    def _album_for(self, action: Claimed, release: Release | None) -> tuple[str, str]:
        if action.kind == ActionKind.PREADD:
            return "albums", action.target
        if action.kind != ActionKind.SAVE_RELEASE:
            raise ServiceFailure(Failure.REFUSED, f"apple: no such action as {action.kind!r}")
        release = resolved(release, "apple")
        if release.album:
            return "albums", release.album
        return "songs", ",".join(release.tracks)

    def perform(self, action: Claimed, release: Release | None, note: ResolvedNote) -> str | None:
        if action.kind == ActionKind.ADD_TO_PLAYLIST:
            return self.playlists.add(action, resolved(release, "apple").tracks, note)
        kind, ids = self._album_for(action, release)
        self.app.request(
            self.http,
            "POST",
            "/v1/me/library",
            "library add",
            user_token=self.tokens.access_token,
            params={f"ids[{kind}]": ids},
        )
        return f"apple:{kind}:{ids}"

    def verify(self, action: Claimed, release: Release | None) -> bool:
        if action.kind == ActionKind.ADD_TO_PLAYLIST:
            return self.playlists.verify(action, resolved(release, "apple").tracks)
        kind, ids = self._album_for(action, release)
        return set(ids.split(",")) <= _catalog_ids(self._pages(f"/v1/me/library/{kind}", "library"))

    # the playlist calls (FanPlaylists does the bookkeeping): library playlists take catalog song ids
    def create_playlist(self, name: str, marker: str) -> str:
        created = self.app.request(
            self.http,
            "POST",
            "/v1/me/library/playlists",
            "create playlist",
            user_token=self.tokens.access_token,
            body={"attributes": {"name": name, "description": marker}},
        )
        data = (created or {}).get("data") or [{}]
        if not data[0].get("id"):
            raise ServiceFailure(Failure.REFUSED, "apple create playlist: no playlist id in the answer")
        return str(data[0]["id"])

    def find_playlist(self, name: str, marker: str) -> str | None:
        for item in self._pages("/v1/me/library/playlists", "list playlists"):
            description = ((item.get("attributes") or {}).get("description") or {}).get("standard") or ""
            if marker in description:
                return str(item["id"])
        return None

    def playlist_tracks(self, playlist: str) -> set[str]:
        return _catalog_ids(self._pages(f"/v1/me/library/playlists/{playlist}/tracks", "check playlist"))

    def add_to_playlist(self, playlist: str, tracks: list[str]) -> None:
        self.app.request(
            self.http,
            "POST",
            f"/v1/me/library/playlists/{playlist}/tracks",
            "playlist add",
            user_token=self.tokens.access_token,
            body={"data": [{"id": song, "type": "songs"} for song in tracks]},
        )

    def _pages(self, path: str | None, what: str) -> Iterator[dict[str, Any]]:
        while path:
            page = self.app.request(self.http, "GET", path, what, user_token=self.tokens.access_token)
            yield from (page or {}).get("data") or []
            path = (page or {}).get("next")


def _catalog_ids(items: Iterator[dict[str, Any]]) -> set[str]:
    """The catalog ids of library items (a library song or album names its catalog original)."""
    found = set()
    for item in items:
        catalog_id = ((item.get("attributes") or {}).get("playParams") or {}).get("catalogId")
        if catalog_id:
            found.add(str(catalog_id))
    return found
