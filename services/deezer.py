"""Deezer: the connect flow (OAuth 2.0 without PKCE or refresh tokens) and every call the project makes.

Deezer answers most errors with HTTP 200 and `{"error": {"type", "message", "code"}}`, parsed here once
(`failure_of`): code 4 is its quota (about 50 calls per 5 s per user, no Retry-After), 300 an invalid
token, 200 a missing permission, 800 "no data", 700 a service error. The fan's token goes in the
`access_token` query parameter, so no URL of an API call is ever logged, raised or kept. `offline_access`
makes the token last until the fan removes the app, which release day (weeks later) needs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import requests

from campaigns.campaign_file import CampaignSpec
from campaigns.models import ActionKind, GrantStatus
from campaigns.settings import Settings
from campaigns.vault import Secret
from services.errors import Failure, GrantLost, ServiceError, ServiceFailure, network, throttled
from services.http import ThreadSessions
from services.model import (
    ArtistStats,
    FanPlaylist,
    Lookup,
    Profile,
    Release,
    Tokens,
    TokenSink,
    country_of,
)
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

SERVICE = "deezer"
BASE_PERMS = ("basic_access", "manage_library", "offline_access")
EMAIL_PERM = "email"
QUOTA_PAUSE_S = 1.0  # a user's quota window is 5 s; come back a little later
DEEZER_PACING = PacingPolicy(window_s=5.0, default_pause_s=QUOTA_PAUSE_S)


def perms_for(*, with_email: bool = False) -> list[str]:
    """Saving the album, following the artist and playlists all need `manage_library`; email on opt-in."""
    return [*BASE_PERMS, EMAIL_PERM] if with_email else list(BASE_PERMS)


def failure_of(error: Any, what: str, *, status: int = 200, with_token: bool) -> ServiceError:
    """Deezer's `error` object in the one scheme."""
    code = error.get("code") if isinstance(error, dict) else None
    message = str(error.get("message", "") if isinstance(error, dict) else error)[:160]
    text = f"deezer {what}: code {code} {message}"
    short = f"error_{code}"
    if code == 4:  # a quota of this fan's token, not of the app
        return throttled(SERVICE, what, QUOTA_PAUSE_S, app_wide=False)
    if code == 300 and with_token:
        return GrantLost(GrantStatus.REVOKED, f"deezer refused the access token ({message})", service=SERVICE)
    kind = {700: Failure.TRANSIENT, 200: Failure.FORBIDDEN, 800: Failure.NOT_FOUND}.get(
        code if isinstance(code, int) else -1, Failure.REFUSED
    )
    return ServiceFailure(kind, text, service=SERVICE, code=short, detail=message, status=status)


@dataclass
class DeezerApp(PacedApp):
    """The label's Deezer app, where Deezer's services are, and its pacing."""

    URLS = ("api_url", "connect_url")
    app_id: str
    api_url: str
    secret: Secret | None = None  # only the connect flow's code exchange needs it
    connect_url: str = "https://connect.deezer.com"
    redirect_uri: str = ""
    timeout: float = 10.0
    pacing: PacingPolicy = field(default_factory=lambda: DEEZER_PACING)
    name: str = SERVICE
    pacer: RateController = field(init=False, repr=False)
    sessions: ThreadSessions = field(default_factory=ThreadSessions, repr=False)

    @property
    def pacing_key(self) -> str:
        return f"{SERVICE}:{self.app_id}"

    @classmethod
    def from_settings(cls, settings: Settings) -> DeezerApp | None:
        """The configured app, or None when Deezer is off."""
        if not settings.deezer_app_id:
            return None
        secret = settings.deezer_secret
        return cls(
            settings.deezer_app_id,
            settings.deezer_api_url,
            secret=Secret(secret.get_secret_value()) if secret is not None else None,
            connect_url=settings.deezer_connect_url,
            redirect_uri=f"{settings.public_url}/oauth/deezer/callback",
        )

    def to_config(self) -> dict[str, Any]:
        """What a shard process needs to build the same app (it travels on stdin, never argv)."""
        return {
            "app_id": self.app_id,
            "api_url": self.api_url,
            "secret": self.secret.reveal() if self.secret is not None else None,
            "connect_url": self.connect_url,
            "redirect_uri": self.redirect_uri,
            "timeout": self.timeout,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> DeezerApp:
        secret = config.get("secret")
        return cls(**{**config, "secret": Secret(secret) if secret else None})

    def close(self) -> None:
        self.sessions.close()

    # authorization -------------------------------------------------------------------------------
    def authorize_url(self, state: str, perms: list[str]) -> str:
        query = {
            "app_id": self.app_id,
            "redirect_uri": self.redirect_uri,
            "perms": ",".join(perms),
            "state": state,
        }
        return f"{self.connect_url}/oauth/auth.php?{urlencode(query)}"

    def exchange(self, code: str, perms: list[str]) -> Tokens:
        """The fan's token for a connect code; REFUSED for a bad code (Deezer says so with HTTP 200)."""
        if self.secret is None:
            raise ServiceFailure(
                Failure.REFUSED, "deezer: no app secret configured", service=SERVICE, code="not_configured"
            )
        try:
            response = self.sessions.session().get(
                f"{self.connect_url}/oauth/access_token.php",
                params={
                    "app_id": self.app_id,
                    "secret": self.secret.reveal(),
                    "code": code,
                    "output": "json",
                },
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise network(SERVICE, "token", exc) from None
        body = _json(response)
        token = body.get("access_token")
        if response.status_code != 200 or not isinstance(token, str) or not token:
            error = body.get("error")
            kind = Failure.TRANSIENT if response.status_code >= 500 else Failure.REFUSED
            short = (
                f"error_{error.get('code')}" if isinstance(error, dict) else f"token_{response.status_code}"
            )
            raise ServiceFailure(
                kind, f"deezer token: {short}", service=SERVICE, code=short, status=response.status_code
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

    # calls ---------------------------------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        what: str,
        *,
        token: Secret | None = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        """One API call; Deezer's errors (on HTTP 200 or not) in the one scheme. Deezer's quota is per fan,
        so a throttle pauses nobody else."""
        query = dict(params or {})
        if token is not None:
            query["access_token"] = token.reveal()
        try:
            response = self.sessions.session().request(
                method, f"{self.api_url}{path}", params=query, timeout=self.timeout
            )
        except requests.RequestException as exc:
            raise network(SERVICE, what, exc) from None
        status = response.status_code
        if status >= 500 or status == 429:
            raise ServiceFailure(
                Failure.TRANSIENT,
                f"deezer {what}: HTTP {status}",
                service=SERVICE,
                code=f"api_{status}",
                status=status,
            )
        try:
            body = response.json()
        except ValueError:
            raise ServiceFailure(
                Failure.TRANSIENT,
                f"deezer {what}: HTTP {status}, not JSON",
                service=SERVICE,
                code=f"api_{status}",
            ) from None
        error = body.get("error") if isinstance(body, dict) else None
        if error:
            raise failure_of(error, what, status=status, with_token=token is not None)
        if status >= 400:
            raise ServiceFailure(
                Failure.REFUSED,
                f"deezer {what}: HTTP {status}",
                service=SERVICE,
                code=f"api_{status}",
                status=status,
            )
        return body

    def resolve(self, lookup: Lookup) -> Release | None:
        """The album by its Deezer id or `upc:`, else a single's track by `isrc:`; None until live."""
        try:
            if lookup.album_id or lookup.upc:
                ref = lookup.album_id or f"upc:{lookup.upc}"
                album = self.request("GET", f"/album/{ref}", "album")
                tracks = (album.get("tracks") or {}).get("data") or []
                return Release(SERVICE, str(album["id"]), tuple(str(t["id"]) for t in tracks), lookup.key)
            for isrc in lookup.isrcs:
                track = self.request("GET", f"/track/isrc:{isrc}", "track")
                album_id = (track.get("album") or {}).get("id")
                return Release(
                    SERVICE, str(album_id) if album_id else None, (str(track["id"]),), f"isrc:{isrc}"
                )
        except ServiceFailure as failure:
            if failure.kind == Failure.NOT_FOUND:
                return None
            raise
        return None

    def artist_stats(self, artist_id: str) -> ArtistStats:
        """The artist's fan count (`nb_fan`, public); Deezer has no popularity figure."""
        body = self.request("GET", f"/artist/{artist_id}", "artist")
        return ArtistStats.of(SERVICE, artist_id, body, body.get("nb_fan"), None)

    def fan(self, tokens: Tokens) -> DeezerFan:
        """Acting for one fan with their access token."""
        return DeezerFan(self, tokens.access_token)


class DeezerFan:
    """One fan's calls: profile, library adds and lists, playlists."""

    def __init__(self, app: DeezerApp, token: Secret) -> None:
        self.app = app
        self.token = token

    def refresh(self) -> None:
        raise GrantLost(GrantStatus.EXPIRED, "deezer access tokens cannot be refreshed", service=SERVICE)

    def _request(self, method: str, path: str, what: str, params: dict[str, Any] | None = None) -> Any:
        return self.app.request(method, path, what, token=self.token, params=params)

    def me(self) -> Profile:
        body = self._request("GET", "/user/me", "me")
        user_id = body.get("id")
        if not isinstance(user_id, int | str) or isinstance(user_id, bool) or not str(user_id):
            raise ServiceFailure(
                Failure.REFUSED, "deezer me: no user id", service=SERVICE, code="me_without_id"
            )
        email = body.get("email")
        return Profile(
            user_id=str(user_id)[:128],
            country=country_of(body.get("country")),
            email=Secret(email) if isinstance(email, str) and email else None,
        )

    def library_add(self, collection: str, parameter: str, item: str) -> None:
        """Add to the fan's `albums`, `tracks` or `artists` (a follow)."""
        self._request("POST", f"/user/me/{collection}", f"add to {collection}", {parameter: item})

    def library_ids(self, collection: str) -> set[str]:
        return {str(e.get("id")) for e in self.pages(f"/user/me/{collection}", f"list {collection}")}

    def playlists(self, user_id: str) -> list[FanPlaylist]:
        """The fan's own playlists (first page)."""
        data = self._request("GET", "/user/me/playlists", "playlists").get("data")
        found = []
        for item in data if isinstance(data, list) else []:
            if not isinstance(item, dict) or item.get("id") is None:
                continue
            creator = item.get("creator")
            if isinstance(creator, dict) and str(creator.get("id")) != user_id:
                continue
            found.append(FanPlaylist(str(item["id"]), str(item.get("title") or item["id"])[:100]))
        return found

    def pages(self, path: str, what: str) -> Iterator[dict[str, Any]]:
        """Every item of a listing, following Deezer's `next` links (which carry their own index)."""
        following: str | None = path
        params: dict[str, Any] = {"limit": 100}
        while following:
            page = self._request("GET", following, what, params)
            yield from page.get("data") or []
            link = page.get("next")
            if not link or not link.startswith(self.app.api_url):
                return
            parts = urlsplit(link)
            following = parts.path.removeprefix(urlsplit(self.app.api_url).path)
            params = {k: v for k, v in parse_qsl(parts.query) if k != "access_token"}

    # the playlist calls. Deezer creates a playlist from a title alone, so one created for an action is
    # found again by its title among the fan's own, newest first.
    def create_playlist(self, name: str, marker: str) -> str:  # noqa: ARG002 - the PlaylistCalls protocol's signature
        created = self._request("POST", "/user/me/playlists", "create playlist", {"title": name})
        if not isinstance(created, dict) or not created.get("id"):
            raise ServiceFailure(
                Failure.REFUSED, "deezer create playlist: no playlist id in the answer", service=SERVICE
            )
        return str(created["id"])

    def find_playlist(self, name: str, marker: str) -> str | None:  # noqa: ARG002 - the PlaylistCalls protocol's signature
        me = self._request("GET", "/user/me", "profile")
        own = [
            p
            for p in self.pages("/user/me/playlists", "list playlists")
            if p.get("title") == name and (p.get("creator") or {}).get("id") == (me or {}).get("id")
        ]
        newest = max(own, key=lambda p: int(p.get("time_add") or 0), default=None)
        return str(newest["id"]) if newest else None

    def playlist_tracks(self, playlist: str) -> set[str]:
        return {str(t.get("id")) for t in self.pages(f"/playlist/{playlist}/tracks", "check playlist")}

    def add_to_playlist(self, playlist: str, tracks: list[str]) -> None:
        self._request("POST", f"/playlist/{playlist}/tracks", "playlist add", {"songs": ",".join(tracks)})


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


# What a Deezer grant is owed, and the calls each action kind makes --------------------------------------
def app_from_settings(settings: Settings, *, origin: str | None = None) -> DeezerApp | None:  # noqa: ARG001 - the ServiceModule protocol's signature
    """The label's app, None without an app id (its secret is needed only for the code exchange)."""
    return DeezerApp.from_settings(settings)


def app_from_config(config: dict[str, Any]) -> DeezerApp:
    return DeezerApp.from_config(config)


def owed_actions(spec: CampaignSpec, choices: Any) -> list[PlannedAction]:
    """The release saved, and the artist followed with it, at the fan's release moment; the playlist the
    fan chose."""
    offer = spec.services.deezer
    if offer is None:
        return []
    follow = (
        [PlannedAction(ActionKind.FOLLOW_ARTIST, offer.artist_id, Due.AT_RELEASE)] if offer.artist_id else []
    )
    return [
        PlannedAction(ActionKind.SAVE_RELEASE, RELEASE_TARGET, Due.AT_RELEASE),
        *follow,
        *playlist_owed(choices),
    ]


def grant_actions(spec: CampaignSpec) -> list[GrantAction]:  # noqa: ARG001 - the ServiceModule protocol's signature
    """Nothing at grant time: the artist follow is owed at release, with the album."""
    return []


def grant_call(app: DeezerApp, tokens: Tokens, action: GrantAction) -> None:  # noqa: ARG001 - the ServiceModule protocol's signature
    raise ServiceFailure(
        Failure.REFUSED, f"deezer: no {action.kind} at grant time", service=SERVICE, code="unsupported"
    )


def fan_actions(app: DeezerApp, tokens: Tokens, on_tokens: TokenSink) -> DeezerActions:  # noqa: ARG001 - the ServiceModule protocol's signature
    return DeezerActions(app.fan(tokens), id_prefix="deezer:playlist:")


def _target(action: OwedCall, release: Release | None) -> tuple[str, str, str]:
    """(collection, parameter, id) for the action."""
    if action.kind == ActionKind.SAVE_RELEASE:
        release = resolved(release, SERVICE)
        if release.album:
            return "albums", "album_id", release.album
        return "tracks", "track_id", release.tracks[0]
    if action.kind == ActionKind.FOLLOW_ARTIST:
        return "artists", "artist_id", action.target.removeprefix("deezer:artist:")
    raise no_such(SERVICE, action.kind)


class DeezerActions(BaseActions):
    """Album (or a single's track) saves and artist follows in the fan's library collections."""

    fan: DeezerFan

    def perform(self, action: OwedCall, release: Release | None, note: ResolvedNote) -> str | None:
        if action.kind == ActionKind.IDENTIFY:
            self.identify()
            return None
        if action.kind == ActionKind.ADD_TO_PLAYLIST:
            return self.playlists.add(action, resolved(release, SERVICE).tracks, note)
        collection, parameter, item = _target(action, release)
        self.fan.library_add(collection, parameter, item)
        return f"deezer:{collection[:-1]}:{item}"

    def verify(self, action: OwedCall, release: Release | None) -> bool:
        if action.kind == ActionKind.ADD_TO_PLAYLIST:
            return self.playlists.verify(action, resolved(release, SERVICE).tracks)
        collection, _, item = _target(action, release)
        return item in self.fan.library_ids(collection)
