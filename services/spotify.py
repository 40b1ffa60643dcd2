"""Spotify: the label's app, its one token endpoint, and every call the project makes, through spotipy.

- Authorization: the authorization-code flow with PKCE (`authorize_url`, `exchange`), the refresh (a new
  refresh token may or may not come back: the old one is kept if not), the app's own client-credentials
  token for catalogue calls. `/api/token` is called here and nowhere else.
- Calls: spotipy's small verbs over this module's HTTP sessions (one per thread, retries off: a 429 comes
  back at once with its `Retry-After`). One spotipy client per thread, its bearer set per call, so no
  client outlives or closes the session it was given.
- Errors: `classify` turns spotipy's and requests' exceptions into the one scheme (`services.errors`);
  a 429 whose body says `QUOTA_EXCEEDED` (Spotify's 2026 quota) is `QUOTA_SPENT`.
- Pacing: the app's `pacer`, shared by every process using the label's credentials. Every call is refused
  at once, unsent, while the app is told to wait; the executor paces its fan calls itself (`paced=False`:
  it waits its turn and reports the answers).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlencode

import requests
import spotipy

from campaigns.campaign_file import CampaignSpec, SpotifyService
from campaigns.choices import parse_choices
from campaigns.models import ActionKind, GrantStatus
from campaigns.settings import Settings
from campaigns.vault import Secret
from services.errors import (
    Failure,
    GrantLost,
    ServiceError,
    ServiceFailure,
    by_status,
    network,
    parse_retry_after,
    throttled,
)
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
    FOLLOWS,
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

SERVICE = "spotify"
LIBRARY_MAX = 40  # URIs per PUT /me/library
REFRESH_MARGIN = timedelta(seconds=60)  # refresh an access token this close to its expiry
LIBRARY_SCOPES = ("user-library-modify",)
FOLLOW_SCOPE = "user-follow-modify"
# Reading follows back: the 2026 artist follow may be answered and ignored (reference H), so each one is
# checked with GET /me/library/contains, which needs this scope for artists and users.
FOLLOW_CHECK_SCOPE = "user-follow-read"
PLAYLIST_FOLLOW_SCOPE = "playlist-modify-public"
PLAYLIST_CHOICE_SCOPES = ("playlist-read-private", "playlist-modify-private", "playlist-modify-public")
EMAIL_SCOPE = "user-read-email"
T = TypeVar("T")


def answer_proves_nothing(kind: str, target: str) -> bool:
    """Whether an answered call may still not have happened: an artist follow through `PUT /me/library`
    (2026) is accepted and silently ignored by some apps (reference H), so only `GET /me/library/contains`
    tells whether it was delivered. `target` is the action's URI: only Spotify's start `spotify:`, so the
    rule holds whatever service the caller acts for (a Deezer artist is an id, Apple has no follows)."""
    return kind in (ActionKind.FOLLOW_ARTIST, ActionKind.FOLLOW) and target.startswith("spotify:artist:")


# The scope `GET /me/library/contains` needs to read back each kind of URI.
READ_BACK_SCOPES = {
    "album": "user-library-read",
    "track": "user-library-read",
    "artist": FOLLOW_CHECK_SCOPE,
    "user": FOLLOW_CHECK_SCOPE,
    "playlist": "playlist-read-private",
}


def can_read_back(uri_kind: str, scopes: frozenset[str] | None) -> bool:
    """Whether a grant with these scopes may ask `GET /me/library/contains` about a URI of this kind
    (`album`, `artist`, …). Scopes not known: assume it may; the service's 403 then says otherwise."""
    return scopes is None or READ_BACK_SCOPES.get(uri_kind, "") in scopes


def pkce_pair() -> tuple[str, str]:
    """A code verifier and its S256 challenge (RFC 7636)."""
    verifier = secrets.token_urlsafe(64)[:96]
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def scopes_for(service: SpotifyService, *, playlist_choice: bool, with_email: bool = False) -> list[str]:
    """The least scopes a campaign needs: library always; follow and playlist scopes only when used.

    The campaign's artist (always present) and any extra artist or user need `user-follow-modify`, and
    `user-follow-read` to check the follow was kept;
    an extra playlist needs `playlist-modify-public`; offering the playlist choice needs reading the
    fan's playlists and adding to them; the email only when the fan opts in.
    """
    scopes = list(LIBRARY_SCOPES)
    kinds = {"artist"} | {uri.split(":")[1] for uri in service.follow}
    if kinds & {"artist", "user"}:
        scopes += [FOLLOW_SCOPE, FOLLOW_CHECK_SCOPE]
    if "playlist" in kinds:
        scopes.append(PLAYLIST_FOLLOW_SCOPE)
    if playlist_choice:
        scopes += [s for s in PLAYLIST_CHOICE_SCOPES if s not in scopes]
    if with_email:
        scopes.append(EMAIL_SCOPE)
    return scopes


def quiet_spotipy() -> None:
    """spotipy logs every HTTP error (callers report their own) and, at debug level, the bearer header:
    keep its logger above both."""
    logging.getLogger("spotipy").setLevel(logging.CRITICAL)


def classify(exc: Exception, what: str) -> ServiceFailure:
    """A spotipy or requests exception in the one error scheme (other exceptions are re-raised)."""
    if isinstance(exc, spotipy.SpotifyException):
        status = exc.http_status
        if status == 429:
            quota = str(getattr(exc, "reason", "") or "").upper() == "QUOTA_EXCEEDED"
            return throttled(
                SERVICE, what, parse_retry_after((exc.headers or {}).get("Retry-After")), quota=quota
            )
        return by_status(SERVICE, what, status, _message(exc))
    if isinstance(exc, requests.RequestException):
        return network(SERVICE, what, exc)
    raise exc


NOT_REGISTERED = "user not registered in the developer dashboard"


def refused_as_unregistered(exc: Exception) -> bool:
    return (
        isinstance(exc, spotipy.SpotifyException)
        and exc.http_status == 403
        and NOT_REGISTERED in _message(exc).lower()
    )


def not_registered(what: str) -> GrantLost:
    """A development-mode app's answer for an account not on its allowlist: the app can never act for
    this fan (`GrantStatus.UNREGISTERED`), so nothing is retried for them."""
    return GrantLost(
        GrantStatus.UNREGISTERED,
        f"the label's Spotify app is in development mode and this account is not on its allowlist "
        f"({what}: 403 User not registered in the Developer Dashboard)",
        service=SERVICE,
    )


def _message(exc: spotipy.SpotifyException) -> str:
    text = str(exc.msg or "")
    return text.split(":\n", 1)[-1].strip()[:160]


@dataclass
class SpotifyApp(PacedApp):
    """The label's Spotify app (client id and secret), where its services are, and its pacing."""

    URLS = ("accounts_url", "api_url")
    client_id: str
    client_secret: Secret
    accounts_url: str
    api_url: str
    redirect_uri: str = ""  # the landing app's callback; only the authorization flow needs it
    timeout: float = 10.0
    pacing: PacingPolicy = field(default_factory=PacingPolicy)
    name: str = SERVICE
    pacer: RateController = field(init=False, repr=False)
    sessions: ThreadSessions = field(default_factory=ThreadSessions, repr=False)
    _app_token: tuple[Secret, float] | None = field(default=None, repr=False)
    _token_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _local: threading.local = field(default_factory=threading.local, repr=False)

    @property
    def pacing_key(self) -> str:
        return f"{SERVICE}:{self.client_id}"

    @classmethod
    def from_settings(cls, settings: Settings) -> SpotifyApp:
        """The configured app; ValueError naming the variables when Spotify is not configured."""
        if not settings.spotify_client_id or settings.spotify_client_secret is None:
            raise ValueError("Spotify is not configured: set PRESAVE_SPOTIFY_CLIENT_ID and _SECRET")
        return cls(
            client_id=settings.spotify_client_id,
            client_secret=Secret(settings.spotify_client_secret.get_secret_value()),
            accounts_url=settings.spotify_accounts_url,
            api_url=settings.spotify_api_url,
            redirect_uri=f"{settings.public_url}/oauth/spotify/callback",
        )

    def to_config(self) -> dict[str, Any]:
        """What a shard process needs to build the same app (it travels on stdin, never argv)."""
        return {
            "client_id": self.client_id,
            "client_secret": self.client_secret.reveal(),
            "accounts_url": self.accounts_url,
            "api_url": self.api_url,
            "redirect_uri": self.redirect_uri,
            "timeout": self.timeout,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> SpotifyApp:
        return cls(**{**config, "client_secret": Secret(config["client_secret"])})

    def close(self) -> None:
        """Close every thread's HTTP session."""
        self.sessions.close()
        self._local = threading.local()

    # authorization -------------------------------------------------------------------------------
    def authorize_url(self, state: str, challenge: str, scopes: list[str]) -> str:
        """Where the fan authorizes the app (PKCE, S256)."""
        query = {
            "client_id": self.client_id,
            "response_type": "code",
            "redirect_uri": self.redirect_uri,
            "scope": " ".join(scopes),
            "state": state,
            "code_challenge_method": "S256",
            "code_challenge": challenge,
        }
        return f"{self.accounts_url}/authorize?{urlencode(query)}"

    def exchange(self, code: str, verifier: str) -> Tokens:
        """The fan's tokens for an authorization code; REFUSED (code: Spotify's error) for a bad code."""
        body = self._token(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self.redirect_uri,
                "code_verifier": verifier,
            },
            "token",
        )
        refresh = body.get("refresh_token")
        return Tokens(
            access_token=Secret(str(body["access_token"])),
            refresh_token=Secret(refresh) if isinstance(refresh, str) and refresh else None,
            expires_at=_expires_at(body),
            scope=str(body.get("scope", ""))[:400],
        )

    def refresh(self, refresh_token: Secret) -> Tokens:
        """A new access token; `refresh_token` is None in the answer when Spotify kept the old one.
        GrantLost when Spotify says `invalid_grant` (revoked, or past its six months)."""
        try:
            body = self._token(
                {"grant_type": "refresh_token", "refresh_token": refresh_token.reveal()}, "refresh"
            )
        except ServiceFailure as failure:
            if failure.code == "invalid_grant":
                revoked = "revoked" in failure.detail.lower()
                raise GrantLost(
                    GrantStatus.REVOKED if revoked else GrantStatus.EXPIRED,
                    f"spotify refused the refresh token: invalid_grant ({failure.detail})",
                    service=SERVICE,
                ) from None
            raise
        rotated = body.get("refresh_token")
        return Tokens(
            access_token=Secret(str(body["access_token"])),
            refresh_token=Secret(rotated) if isinstance(rotated, str) and rotated else None,
            expires_at=_expires_at(body) or datetime.now(UTC) + timedelta(hours=1),
        )

    def app_token(self, *, renew: bool = False) -> Secret:
        """A client-credentials token (catalogue calls need no fan), cached until near its expiry."""
        with self._token_lock:
            if not renew and self._app_token is not None and self._app_token[1] > time.monotonic() + 60:
                return self._app_token[0]
            body = self._token({"grant_type": "client_credentials"}, "app token", gated=True)
            token = Secret(str(body["access_token"]))
            self._app_token = (token, time.monotonic() + _lifetime(body))
            return token

    def _token(self, data: dict[str, str], what: str, *, gated: bool = False) -> dict[str, Any]:
        """The accounts service's token endpoint: the one place it is called. It is not the rate-limited
        Web API (reference A.4: the limit is the Web API's, per app), so a fan's code exchange and refresh
        pass no pacing gate: a fan who authorizes while the app is told to wait gets a stored grant, and
        its calls are owed. `gated`: the app token, wanted only for a Web API call that would be refused
        too. A 429 from it (not documented) holds back only this call."""
        if gated:
            self.gate(what)
        try:
            response = self.sessions.session().post(
                f"{self.accounts_url}/api/token",
                data=data,
                auth=(self.client_id, self.client_secret.reveal()),
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise network(SERVICE, what, exc) from None
        try:
            body = response.json()
        except ValueError:
            body = None
        body = body if isinstance(body, dict) else {}
        status = response.status_code
        if status == 429:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            raise throttled(SERVICE, what, retry_after, app_wide=False)
        if status >= 500:
            raise by_status(SERVICE, what, status)
        if status != 200 or not isinstance(body.get("access_token"), str):
            error = str(body.get("error") or f"{what.replace(' ', '_')}_{status}")
            detail = str(body.get("error_description", ""))[:160]
            raise ServiceFailure(
                Failure.REFUSED,
                f"spotify {what}: {error} ({detail})",
                service=SERVICE,
                code=error,
                detail=detail,
                status=status,
            )
        return body

    # pacing ------------------------------------------------------------------------------------------
    def call(
        self, what: str, token: Secret, verb: Callable[[spotipy.Spotify], T], *, paced: bool = True
    ) -> T:
        """One spotipy verb with `token` as the bearer, in the one error scheme. Every call first passes the
        app's gate (no call while any process was told to wait); `paced` reports its answer to the pacer
        (the executor reports its own)."""
        self.gate(what)
        client = self._client()
        client.set_auth(token.reveal())
        try:
            result = verb(client)
        except (spotipy.SpotifyException, requests.RequestException) as exc:
            if refused_as_unregistered(exc):
                raise not_registered(what) from None
            failure = classify(exc, what)
            if paced and failure.must_wait:
                self.pacer.on_throttled(failure.retry_after, quota=failure.kind == Failure.QUOTA_SPENT)
            raise failure from None
        if paced:
            self.pacer.on_success()
        return result

    def _client(self) -> spotipy.Spotify:
        """This thread's spotipy client over this thread's session (spotipy's own retrying is never on:
        it is given a session without retries)."""
        client: spotipy.Spotify | None = getattr(self._local, "client", None)
        if client is None:
            client = spotipy.Spotify(requests_session=self.sessions.session(), requests_timeout=self.timeout)
            client.prefix = f"{self.api_url}/"
            self._local.client = client
        return client

    def _app_call(self, what: str, verb: Callable[[spotipy.Spotify], T]) -> T:
        """A catalogue call with the app token; renewed once if Spotify refuses it (401)."""
        try:
            return self.call(what, self._app_token_or_refused(), verb)
        except ServiceFailure as failure:
            if failure.kind != Failure.UNAUTHORIZED:
                raise
        return self.call(what, self._app_token_or_refused(renew=True), verb)

    def _app_token_or_refused(self, *, renew: bool = False) -> Secret:
        try:
            return self.app_token(renew=renew)
        except ServiceFailure as failure:
            if failure.kind != Failure.REFUSED:
                raise
            raise ServiceFailure(
                Failure.REFUSED,
                f"spotify: the app's credentials were refused ({failure.code})",
                service=SERVICE,
                code="app_refused",
                status=failure.status,
            ) from None

    # the catalogue -----------------------------------------------------------------------------------
    def resolve(self, lookup: Lookup) -> Release | None:
        """The release by its Spotify id, else by `upc:` search, else by `isrc:` (singles); with its
        tracks. None while Spotify does not show it (not live yet, or not delivered)."""
        try:
            if lookup.album_id:
                return self._album(lookup.album_id, f"id:{lookup.album_id}")
            if lookup.upc:
                found = self._app_call(
                    "search", lambda sp: sp.search(q=f"upc:{lookup.upc}", type="album", limit=1)
                )
                items = (found or {}).get("albums", {}).get("items") or []
                if items:
                    return self._album(items[0]["id"], f"upc:{lookup.upc}")
            for isrc in lookup.isrcs:
                found = self._app_call("search", _search(f"isrc:{isrc}", "track"))
                items = (found or {}).get("tracks", {}).get("items") or []
                if items:
                    album = items[0].get("album") or {}
                    if album.get("id"):
                        return self._album(album["id"], f"isrc:{isrc}")
                    return Release(SERVICE, None, (items[0]["uri"],), f"isrc:{isrc}")
        except ServiceFailure as failure:
            if failure.kind == Failure.NOT_FOUND:
                return None
            raise
        return None

    def _album(self, album_id: str, found_by: str) -> Release:
        album = self._app_call("album", lambda sp: sp.album(album_id))
        tracks = [
            t["uri"] for t in self._pages("album tracks", lambda sp: sp.album_tracks(album_id, limit=50))
        ]
        return Release(SERVICE, album["uri"], tuple(tracks), found_by)

    def _pages(self, what: str, first: Callable[[spotipy.Spotify], Any]) -> Iterator[dict[str, Any]]:
        page = self._app_call(what, first)
        while page:
            yield from page.get("items") or []
            page = self._app_call(what, _next(page)) if page.get("next") else None

    def artist_stats(self, artist_id: str) -> ArtistStats:
        """Followers and popularity with the app token; a field the answer lacks (development-mode apps
        since February 2026) reads "not available", never zero."""
        body = self._app_call("artist", lambda sp: sp.artist(artist_id)) or {}
        followers = body.get("followers")
        total = followers.get("total") if isinstance(followers, dict) else None
        return ArtistStats.of(SERVICE, artist_id, body, total, body.get("popularity"))

    # one fan ------------------------------------------------------------------------------------------
    def fan(self, tokens: Tokens, on_tokens: TokenSink | None = None, *, paced: bool = True) -> SpotifyFan:
        """Acting for one fan. `on_tokens` stores a refresh's tokens (a rotated refresh token before
        any use); `paced=False` when the caller paces each call itself (the executor). A refresh updates
        `tokens` in place."""
        return SpotifyFan(self, tokens, on_tokens, paced)


class SpotifyFan:
    """One fan's calls: profile, library (saves and follows through `PUT /me/library`), playlists."""

    def __init__(self, app: SpotifyApp, tokens: Tokens, on_tokens: TokenSink | None, paced: bool) -> None:
        self.app = app
        self.tokens = tokens
        self.on_tokens = on_tokens
        self.paced = paced

    def _call(self, what: str, verb: Callable[[spotipy.Spotify], T]) -> T:
        return self.app.call(what, self.tokens.access_token, verb, paced=self.paced)

    # tokens ----------------------------------------------------------------------------------------
    def ensure_fresh(self, now: datetime | None = None) -> None:
        """Refresh the access token if it ends within a minute."""
        now = now or datetime.now(UTC)
        if self.tokens.expires_at is None or self.tokens.expires_at - now < REFRESH_MARGIN:
            self.refresh()

    def refresh(self) -> None:
        """A new access token now (after a 401); GrantLost if the grant is gone."""
        if self.tokens.refresh_token is None:
            raise GrantLost(
                GrantStatus.EXPIRED, "no refresh token and the access token expired", service=SERVICE
            )
        refreshed = self.app.refresh(self.tokens.refresh_token)
        if self.on_tokens is not None:
            self.on_tokens(refreshed)  # a rotated refresh token is stored before use
        self.tokens.access_token = refreshed.access_token
        self.tokens.expires_at = refreshed.expires_at
        if refreshed.refresh_token is not None:
            self.tokens.refresh_token = refreshed.refresh_token

    # profile -----------------------------------------------------------------------------------------
    def me(self) -> Profile:
        body = self._call("me", lambda sp: sp.me()) or {}
        user_id = body.get("id")
        if not isinstance(user_id, str) or not 0 < len(user_id) <= 128:
            raise ServiceFailure(
                Failure.REFUSED, "spotify me: no user id", service=SERVICE, code="me_without_id"
            )
        email = body.get("email")
        return Profile(
            user_id=user_id,
            country=country_of(body.get("country")),
            email=Secret(email) if isinstance(email, str) and email else None,
        )

    # the library: saves and follows (artists, users, playlists) ----------------------------------------
    def library_add(self, uris: list[str], what: str = "library") -> None:
        """Save or follow `uris` (albums, tracks, artists, users, playlists), 40 a call."""
        for chunk in chunks(uris, LIBRARY_MAX):
            self._call(what, _library_put(chunk))

    def library_contains(self, uris: list[str], what: str = "library check") -> list[bool]:
        found: list[bool] = []
        for chunk in chunks(uris, LIBRARY_MAX):
            found += self._call(what, _library_contains(chunk)) or []
        return found

    # playlists ----------------------------------------------------------------------------------------
    def playlists(self, user_id: str) -> list[FanPlaylist]:
        """The fan's playlists they may add to (their own, or collaborative), first page of 50."""
        page = self._call("playlists", lambda sp: sp.current_user_playlists(limit=50)) or {}
        found = []
        for item in page.get("items") or []:
            if not isinstance(item, dict):
                continue
            owner = item.get("owner")
            owned = isinstance(owner, dict) and owner.get("id") == user_id
            if (owned or item.get("collaborative")) and isinstance(item.get("id"), str):
                found.append(FanPlaylist(item["id"], str(item.get("name") or item["id"])[:100]))
        return found

    def entity_name(self, uri: str) -> str | None:
        """The display name of an artist, user or playlist (None if Spotify does not give it)."""
        kind, entity_id = uri.split(":")[1:3]
        verbs: dict[str, Callable[[spotipy.Spotify], Any]] = {
            "artist": lambda sp: sp.artist(entity_id),
            "playlist": lambda sp: sp.playlist(entity_id, fields="name"),
            "user": lambda sp: sp.user(entity_id),
        }
        try:
            body = self._call("name", verbs[kind]) or {}
        except ServiceError:
            return None
        name = body.get("display_name") if kind == "user" else body.get("name")
        return str(name)[:100] if isinstance(name, str) and name else None

    def create_playlist(self, name: str, marker: str) -> str:
        created = self._call(
            "create playlist",
            lambda sp: sp.current_user_playlist_create(name, public=False, description=marker),
        )
        return str(created["id"])

    def find_playlist(self, name: str, marker: str) -> str | None:  # noqa: ARG002 - the PlaylistCalls protocol's signature
        """The fan's playlist whose description carries `marker` (one made for them earlier)."""
        for playlist in self._pages("list playlists", lambda sp: sp.current_user_playlists(limit=50)):
            if marker in (playlist.get("description") or ""):
                return str(playlist["id"])
        return None

    def add_to_playlist(self, playlist: str, tracks: list[str]) -> None:
        self._call("playlist add", lambda sp: sp.playlist_add_items(playlist, tracks))

    def playlist_tracks(self, playlist: str) -> set[str]:
        present: set[str] = set()
        for entry in self._pages("check playlist", lambda sp: sp.playlist_items(playlist, limit=50)):
            item = entry.get("item") or entry.get("track") or {}
            if item.get("uri"):
                present.add(item["uri"])
        return present

    def _pages(self, what: str, first: Callable[[spotipy.Spotify], Any]) -> Iterator[dict[str, Any]]:
        page = self._call(what, first)
        while page:
            yield from page.get("items") or []
            page = self._call(what, _next(page)) if page.get("next") else None


Verb = Callable[[spotipy.Spotify], Any]  # one spotipy call, made with the bearer the caller sets


def _search(query: str, kind: str) -> Verb:
    return lambda sp: sp.search(q=query, type=kind, limit=1)


def _next(page: dict[str, Any]) -> Verb:
    return lambda sp: sp.next(page)


def _library_put(uris: list[str]) -> Verb:
    return lambda sp: sp._put("me/library", uris=",".join(uris))


def _library_contains(uris: list[str]) -> Verb:
    return lambda sp: sp.current_user_saved_items(uris)


def chunks(items: Any, size: int) -> list[list[str]]:
    items = list(items)
    return [items[i : i + size] for i in range(0, len(items), size)]


def _lifetime(body: dict[str, Any]) -> int:
    try:
        return int(body.get("expires_in", 3600))
    except (TypeError, ValueError):
        return 3600


def _expires_at(body: dict[str, Any]) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=_lifetime(body))


# What a Spotify grant is owed, and the calls each action kind makes -------------------------------------
def app_from_settings(settings: Settings, *, origin: str | None = None) -> SpotifyApp | None:  # noqa: ARG001 - the ServiceModule protocol's signature
    """The label's app, None without a client id; ValueError when its secret is missing."""
    return SpotifyApp.from_settings(settings) if settings.spotify_enabled else None


def app_from_config(config: dict[str, Any]) -> SpotifyApp:
    return SpotifyApp.from_config(config)


def owed_actions(spec: CampaignSpec, choices: Any) -> list[PlannedAction]:
    """The release saved at the fan's release moment; the artist, and the follows the fan kept among the
    campaign's, at the grant (the landing app makes them then); the playlist the fan chose."""
    offer = spec.services.spotify
    if offer is None:
        return []
    follows = [
        PlannedAction(ActionKind.FOLLOW, uri, Due.AT_GRANT)
        for uri in parse_choices(choices).follows
        if uri in offer.follow and uri != offer.artist
    ]
    return [
        PlannedAction(ActionKind.SAVE_RELEASE, RELEASE_TARGET, Due.AT_RELEASE),
        PlannedAction(ActionKind.FOLLOW_ARTIST, offer.artist, Due.AT_GRANT),
        *follows,
        *playlist_owed(choices),
    ]


def grant_actions(spec: CampaignSpec) -> list[GrantAction]:
    """The campaign's artist is followed at once."""
    artist = spec.services.spotify.artist if spec.services.spotify else None
    return [GrantAction(ActionKind.FOLLOW_ARTIST.value, artist)] if artist else []


def grant_call(app: SpotifyApp, tokens: Tokens, action: GrantAction) -> None:
    """A follow through `PUT /me/library` (its failures stored as `library_…`, as the landing app has)."""
    app.fan(tokens).library_add(_uris(action, None))


def fan_actions(app: SpotifyApp, tokens: Tokens, on_tokens: TokenSink) -> SpotifyActions:
    return SpotifyActions(app.fan(tokens, on_tokens, paced=False))


def _uris(action: OwedCall, release: Release | None) -> list[str]:
    if action.kind == ActionKind.SAVE_RELEASE:
        release = resolved(release, SERVICE)
        return [release.album] if release.album else list(release.tracks)
    if action.kind in FOLLOWS:
        return [action.target]
    raise no_such(SERVICE, action.kind)


def _library_call(fan: SpotifyFan, action: OwedCall, release: Release | None) -> str:
    """A save or a follow through `PUT /me/library`; what the target resolved to."""
    fan.library_add(_uris(action, release), "follow" if action.kind in FOLLOWS else "save")
    return resolved(release, SERVICE).label if action.kind == ActionKind.SAVE_RELEASE else action.target


class SpotifyActions(BaseActions):
    """Saves and follows through `PUT /me/library` (40 URIs a call), checked by `GET /me/library/contains`
    (an artist follow always, right after: the service may ignore it); the access token refreshed a minute
    before it ends."""

    fan: SpotifyFan

    def perform(self, action: OwedCall, release: Release | None, note: ResolvedNote) -> str | None:
        self.fan.ensure_fresh()
        if action.kind == ActionKind.IDENTIFY:
            self.identify()
            return None
        if action.kind == ActionKind.ADD_TO_PLAYLIST:
            return self.playlists.add(action, resolved(release, SERVICE).tracks, note)
        return _library_call(self.fan, action, release)

    def unconfirmed(self, action: OwedCall) -> bool:
        return answer_proves_nothing(action.kind, action.target)

    def checkable(self, action: OwedCall) -> bool:
        """What the grant's scopes let it read back: landing grants ask `user-follow-read` (the artist
        follow proves nothing until checked) but not `user-library-read`, so a save that may have happened
        is sent again, which `PUT /me/library` takes as a no-op, rather than spending a call on a 403."""
        if action.kind == ActionKind.ADD_TO_PLAYLIST:
            return True
        if action.kind == ActionKind.SAVE_RELEASE:
            return can_read_back("album", self.fan.tokens.scopes)
        return action.kind in FOLLOWS and can_read_back(action.target.split(":")[1], self.fan.tokens.scopes)

    def verify(self, action: OwedCall, release: Release | None) -> bool:
        self.fan.ensure_fresh()
        if action.kind == ActionKind.ADD_TO_PLAYLIST:
            return self.playlists.verify(action, resolved(release, SERVICE).tracks)
        return all(self.fan.library_contains(_uris(action, release)))
