"""Admin and inspection JSON under `/sandbox/...`: seed the catalogue and fans, read what happened, change
the configuration and the clock of a running sandbox.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sandbox import ids
from sandbox.apple.keys import developer_token
from sandbox.apple.music import AppleFan, AppleFanSpec
from sandbox.catalog import ArtistSpec, CatalogError, ReleaseSpec
from sandbox.deezer.state import DeezerFan, DeezerFanSpec, DeezerPlaylist
from sandbox.spotify.library import Fan, FanSpec, Playlist
from sandbox.spotify.objects import iso

if TYPE_CHECKING:
    from sandbox.state import Sandbox

SERVICES: dict[str, dict[str, str]] = {
    "spotify": {"api": "spotify", "accounts": "spotify_accounts"},
    "apple": {"api": "apple"},
    "deezer": {"api": "deezer", "connect": "deezer_connect"},
}


class PlaylistSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    id: str | None = None
    owner: str = "spotify"
    public: bool = True
    description: str = ""


class ClockUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    now: datetime | None = None
    advance_s: float | None = None
    frozen: bool | None = None


def _since(raw: str | None) -> tuple[int | None, float | None]:
    """`since` is a call's sequence number (calls after it) or an ISO-8601 time (calls at or after it)."""
    if raw is None or raw == "":
        return None, None
    if raw.isdigit():
        return int(raw), None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise HTTPException(
            400, f"since: {raw!r} is neither a sequence number nor an ISO-8601 time"
        ) from None
    if moment.tzinfo is None:
        raise HTTPException(400, "since: an ISO-8601 time needs a time zone")
    return None, moment.timestamp()


def fan_json(sandbox: Sandbox, fan: Fan) -> dict[str, Any]:
    accounts = sandbox.spotify
    with accounts.lock:
        playlists = [accounts.playlists[p] for p in fan.playlists]
        grants = [g for g in accounts.grants.values() if g.fan_id == fan.id]
        return {
            "id": fan.id,
            "account_id": fan.account_id,
            "display_name": fan.display_name,
            "country": fan.country,
            "timezone": fan.timezone or str(fan.zone),
            "product": fan.product,
            "declines": fan.declines,
            "library_full": fan.library_full,
            "library": [
                {"uri": e.uri, "added_at": iso(e.added_at), "requests": e.requests}
                for e in fan.library.values()
            ],
            "follows": [
                {"uri": e.uri, "followed_at": iso(e.added_at), "requests": e.requests}
                for e in fan.follows.values()
            ],
            "playlists": [
                {
                    "id": p.id,
                    "uri": p.uri,
                    "name": p.name,
                    "public": p.public,
                    "collaborative": p.collaborative,
                    "snapshot_id": p.snapshot_id,
                    "items": [
                        {"uri": i.uri, "added_at": iso(i.added_at), "added_by": i.added_by} for i in p.items
                    ],
                }
                for p in playlists
            ],
            "grants": [
                {
                    "client_id": g.client_id,
                    "scopes": sorted(g.scopes),
                    "granted_at": iso(g.granted_at),
                    "revoked_at": iso(g.revoked_at) if g.revoked_at is not None else None,
                    "refreshes": g.refreshes,
                    "pkce": g.pkce,
                }
                for g in grants
            ],
        }


def apple_fan_json(sandbox: Sandbox, fan: AppleFan) -> dict[str, Any]:
    sandbox.apple.settle_pre_adds(fan, sandbox.catalog)
    with sandbox.apple.lock:

        def entries(store: dict[str, Any]) -> list[dict[str, Any]]:
            return [
                {
                    "type": e.uri.split(":")[0],
                    "id": e.uri.split(":")[1],
                    "added_at": iso(e.added_at),
                    "requests": e.requests,
                }
                for e in store.values()
            ]

        return {
            "id": fan.id,
            "storefront": fan.storefront,
            "subscribed": fan.subscribed,
            "declines": fan.declines,
            "library": entries(fan.library),
            "pre_adds": entries(fan.pre_adds),
            "favorites": entries(fan.favorites),
            "playlists": [
                {
                    "id": p.id,
                    "name": p.name,
                    "created_at": iso(p.created_at),
                    "tracks": [{"id": t.song_id, "added_at": iso(t.added_at)} for t in p.tracks],
                }
                for p in fan.playlists.values()
            ],
            "user_tokens": sum(1 for f in sandbox.apple.user_tokens.values() if f == fan.id),
        }


def deezer_fan_json(sandbox: Sandbox, fan: DeezerFan) -> dict[str, Any]:
    deezer = sandbox.deezer
    with deezer.lock:
        return {
            "id": fan.id,
            "user_id": fan.user_id,
            "name": fan.name,
            "country": fan.country,
            "declines": fan.declines,
            "favourites": [
                {
                    "type": e.uri.split(":")[0],
                    "id": e.uri.split(":")[1],
                    "added_at": iso(e.added_at),
                    "requests": e.requests,
                }
                for e in fan.favourites.values()
            ],
            "playlists": [
                {
                    "id": p.id,
                    "title": p.title,
                    "tracks": [{"id": t.uri.split(":")[1], "added_at": iso(t.added_at)} for t in p.tracks],
                }
                for p in (deezer.playlists[i] for i in fan.playlists)
            ],
            "tokens": [
                {"perms": sorted(t.perms), "expires": t.expires_at is not None, "revoked": t.revoked}
                for t in deezer.tokens.values()
                if t.fan_id == fan.id
            ],
        }


class DeezerPlaylistSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1)
    owner: str = "deezer-editor"


def build_admin(sandbox: Sandbox) -> FastAPI:
    app = FastAPI(
        title="presave sandbox admin", openapi_url="/openapi.json", docs_url="/docs", redoc_url=None
    )

    for add_routes in (
        _catalogue_routes,
        _spotify_fan_routes,
        _spotify_playlist_routes,
        _call_routes,
        _apple_routes,
        _deezer_routes,
        _config_routes,
    ):
        add_routes(app, sandbox)
    return app


def _catalogue_routes(app: FastAPI, sandbox: Sandbox) -> None:
    """Health, releases and artists."""

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/releases", status_code=201)
    def add_release(spec: ReleaseSpec) -> dict[str, Any]:
        try:
            release = sandbox.add_release(spec)
        except CatalogError as exc:
            raise HTTPException(409, str(exc)) from None
        return sandbox.release_ids(release)

    @app.get("/releases")
    def list_releases() -> list[dict[str, Any]]:
        return [
            {
                **sandbox.release_ids(r),
                "title": r.title,
                "artist": r.artist.name,
                "release_at": iso(r.release_at.timestamp()),
                "release_mode": r.release_mode,
                "timezone": r.timezone,
            }
            for r in list(sandbox.catalog.releases.values())
        ]

    @app.post("/artists", status_code=201)
    def add_artist(spec: ArtistSpec) -> dict[str, Any]:
        try:
            artist = sandbox.add_artist(spec)
        except CatalogError as exc:
            raise HTTPException(409, str(exc)) from None
        return sandbox.artist_ids(artist)


def _spotify_fan_routes(app: FastAPI, sandbox: Sandbox) -> None:
    """Spotify fans: seed, read, their calls, revoke their grants."""

    @app.post("/spotify/fans", status_code=201)
    def add_fan(spec: FanSpec) -> dict[str, Any]:
        return fan_json(sandbox, sandbox.spotify.register_fan(spec))

    @app.get("/spotify/fans")
    def list_fans() -> list[str]:
        return list(sandbox.spotify.fans)

    @app.get("/spotify/fans/{fan_id}")
    def get_fan(fan_id: str) -> dict[str, Any]:
        fan = sandbox.spotify.fans.get(fan_id)
        if fan is None:
            raise HTTPException(404, f"no Spotify fan {fan_id!r}")
        return fan_json(sandbox, fan)

    @app.get("/spotify/fans/{fan_id}/calls")
    def fan_calls(fan_id: str) -> dict[str, Any]:
        if fan_id not in sandbox.spotify.fans:
            raise HTTPException(404, f"no Spotify fan {fan_id!r}")
        calls = sorted(
            sandbox.calls.calls_of("spotify", fan_id) + sandbox.calls.calls_of("spotify_accounts", fan_id),
            key=lambda c: c.seq,
        )
        return {"fan": fan_id, "calls": [c.as_json() for c in calls]}

    @app.post("/spotify/fans/{fan_id}/revoke")
    def revoke(fan_id: str, client_id: str | None = None) -> dict[str, Any]:
        if fan_id not in sandbox.spotify.fans:
            raise HTTPException(404, f"no Spotify fan {fan_id!r}")
        return {"revoked": sandbox.spotify.revoke(fan_id, client_id)}


def _spotify_playlist_routes(app: FastAPI, sandbox: Sandbox) -> None:
    """Spotify playlists that fans can choose."""

    @app.post("/spotify/playlists", status_code=201)
    def add_playlist(spec: PlaylistSpec) -> dict[str, Any]:
        playlist_id = spec.id or ids.spotify_id("playlist", spec.owner, spec.name)
        if not ids.is_spotify_id(playlist_id):
            raise HTTPException(422, "id: a Spotify id is 22 base-62 characters")
        with sandbox.spotify.lock:
            if playlist_id in sandbox.spotify.playlists:
                raise HTTPException(409, f"playlist {playlist_id} exists")
            playlist = Playlist(
                id=playlist_id,
                name=spec.name,
                owner_id=spec.owner,
                public=spec.public,
                description=spec.description,
            )
            sandbox.spotify.playlists[playlist_id] = playlist
        return {"id": playlist.id, "uri": playlist.uri}


def _call_routes(app: FastAPI, sandbox: Sandbox) -> None:
    """The calls a service received, per service and in sum; clearing them."""

    def parts_of(service: str) -> dict[str, str]:
        if service not in SERVICES:
            raise HTTPException(404, f"no service {service!r} (spotify, apple, deezer)")
        return SERVICES[service]

    @app.get("/{service}/calls")
    def calls(
        service: str,
        client_id: str | None = None,
        since: str | None = None,
        bodies: bool = Query(default=False),
    ) -> dict[str, Any]:
        since_seq, since_time = _since(since)
        found = sandbox.calls.calls(
            services=tuple(parts_of(service).values()),
            client_id=client_id,
            since_seq=since_seq,
            since_time=since_time,
        )
        return {"calls": [c.as_json(bodies=bodies) for c in found], "trimmed": sandbox.calls.trimmed}

    @app.get("/{service}/calls/summary")
    def summary(service: str, client_id: str | None = None) -> dict[str, Any]:
        return {part: sandbox.calls.summary((name,), client_id) for part, name in parts_of(service).items()}

    @app.delete("/calls", status_code=204)
    def clear_calls() -> None:
        sandbox.calls.clear()


def _apple_routes(app: FastAPI, sandbox: Sandbox) -> None:
    """Apple Music fans, their user tokens, and developer tokens."""

    def apple_fan(fan_id: str) -> AppleFan:
        fan = sandbox.apple.fans.get(fan_id)
        if fan is None:
            raise HTTPException(404, f"no Apple Music fan {fan_id!r}")
        return fan

    @app.post("/apple/fans", status_code=201)
    def add_apple_fan(spec: AppleFanSpec) -> dict[str, Any]:
        return apple_fan_json(sandbox, sandbox.apple.register(spec))

    @app.get("/apple/fans")
    def list_apple_fans() -> list[str]:
        return list(sandbox.apple.fans)

    @app.get("/apple/fans/{fan_id}")
    def get_apple_fan(fan_id: str) -> dict[str, Any]:
        return apple_fan_json(sandbox, apple_fan(fan_id))

    @app.get("/apple/fans/{fan_id}/calls")
    def apple_fan_calls(fan_id: str) -> dict[str, Any]:
        apple_fan(fan_id)
        return {"fan": fan_id, "calls": [c.as_json() for c in sandbox.calls.calls_of("apple", fan_id)]}

    @app.post("/apple/fans/{fan_id}/user-token", status_code=201)
    def apple_user_token(fan_id: str) -> dict[str, str]:
        """A Music User Token for the fan, as MusicKit's authorize() gives (for tests without a browser)."""
        return {"music_user_token": sandbox.apple.issue_user_token(sandbox.apple.fan(fan_id))}

    @app.post("/apple/fans/{fan_id}/revoke")
    def apple_revoke(fan_id: str) -> dict[str, int]:
        apple_fan(fan_id)
        return {"revoked": sandbox.apple.revoke(fan_id)}

    @app.get("/apple/developer-token")
    def apple_developer_token(lifetime_s: float = 3600) -> dict[str, str]:
        """A developer token signed with the trusted key (the project mints its own from the .p8)."""
        config = sandbox.config.apple
        return {
            "developer_token": developer_token(config, issued_at=sandbox.clock.time(), lifetime_s=lifetime_s)
        }


def _deezer_routes(app: FastAPI, sandbox: Sandbox) -> None:
    """Deezer fans and playlists."""

    def deezer_fan(fan_id: str) -> DeezerFan:
        fan = sandbox.deezer.fans.get(fan_id)
        if fan is None:
            raise HTTPException(404, f"no Deezer fan {fan_id!r}")
        return fan

    @app.post("/deezer/fans", status_code=201)
    def add_deezer_fan(spec: DeezerFanSpec) -> dict[str, Any]:
        return deezer_fan_json(sandbox, sandbox.deezer.register(spec))

    @app.get("/deezer/fans")
    def list_deezer_fans() -> list[str]:
        return list(sandbox.deezer.fans)

    @app.get("/deezer/fans/{fan_id}")
    def get_deezer_fan(fan_id: str) -> dict[str, Any]:
        return deezer_fan_json(sandbox, deezer_fan(fan_id))

    @app.get("/deezer/fans/{fan_id}/calls")
    def deezer_fan_calls(fan_id: str) -> dict[str, Any]:
        deezer_fan(fan_id)
        calls = sorted(
            sandbox.calls.calls_of("deezer", fan_id) + sandbox.calls.calls_of("deezer_connect", fan_id),
            key=lambda c: c.seq,
        )
        return {"fan": fan_id, "calls": [c.as_json() for c in calls]}

    @app.post("/deezer/fans/{fan_id}/revoke")
    def deezer_revoke(fan_id: str) -> dict[str, int]:
        deezer_fan(fan_id)
        return {"revoked": sandbox.deezer.revoke(fan_id)}

    @app.post("/deezer/playlists", status_code=201)
    def add_deezer_playlist(spec: DeezerPlaylistSpec) -> dict[str, Any]:
        with sandbox.deezer.lock:
            playlist_id = ids.numeric_id("deezer-playlist", spec.owner, spec.title)
            sandbox.deezer.playlists[playlist_id] = DeezerPlaylist(
                playlist_id, spec.title, spec.owner, sandbox.clock.time()
            )
            owner = sandbox.deezer.fans.get(spec.owner)
            if owner is not None and playlist_id not in owner.playlists:
                owner.playlists.append(playlist_id)
        return {"id": playlist_id}


def _config_routes(app: FastAPI, sandbox: Sandbox) -> None:
    """The running sandbox's configuration and clock."""

    @app.get("/config")
    def get_config() -> dict[str, Any]:
        return sandbox.config.model_dump(mode="json")

    @app.put("/config")
    def put_config(patch: dict[str, Any]) -> dict[str, Any]:
        try:
            config = sandbox.config.merged(patch)
        except ValidationError as exc:
            raise HTTPException(422, exc.errors(include_url=False, include_context=False)) from None
        sandbox.reconfigure(config)
        return config.model_dump(mode="json")

    @app.get("/clock")
    def get_clock() -> dict[str, Any]:
        return {"now": iso(sandbox.clock.time()), "frozen": sandbox.clock.frozen}

    @app.put("/clock")
    def put_clock(update: ClockUpdate) -> dict[str, Any]:
        clock = sandbox.clock
        if update.now is not None:
            if update.now.tzinfo is None:
                raise HTTPException(422, "now: needs a time zone (ISO-8601 with Z or an offset)")
            clock.set(update.now, frozen=bool(update.frozen))
        elif update.frozen is not None:
            clock.freeze(update.frozen)
        if update.advance_s is not None:
            clock.advance(update.advance_s)
        return {"now": iso(clock.time()), "frozen": clock.frozen}
