"""Typed resources: every outside system an asset touches is passed in as one of these."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import dagster as dg
from pydantic import PrivateAttr

from campaigns.settings import Settings
from campaigns.store import Store
from campaigns.vault import Secret, TokenVault
from collectors.snapshots import ArtistStatsSource
from pipelines.warehouse import Warehouse
from services import ServiceApp
from services.apple import AppleApp, DeveloperToken, load_private_key
from services.deezer import DeezerApp
from services.shared_pacing import Paced, share_pacing
from services.spotify import SpotifyApp

PacedT = TypeVar("PacedT", bound=Paced)


def _default(variable: str) -> str:
    """A setting's default (`campaigns.settings.Settings`): the services' URLs are written once, there."""
    value = Settings.model_fields[variable].default
    assert isinstance(value, str)
    return value


class OperationalStore(dg.ConfigurableResource):
    """The operational store (SQLAlchemy URL) and the token vault that opens its sealed tokens."""

    database_url: str  # from dg.EnvVar when PRESAVE_DATABASE_URL is set (it may hold a password)
    secret_key: str | None = None  # comma-separated Fernet keys, newest first; from dg.EnvVar
    secret_key_file: str | None = None  # the embedded default keeps its key in <data dir>/secret.key
    pseudonym_key: str | None = None  # from dg.EnvVar
    pseudonym_key_file: str | None = None  # the embedded default's <data dir>/pseudonym.key

    _store: Store | None = PrivateAttr(default=None)

    def store(self) -> Store:
        if self._store is None:
            self._store = Store.connect(self.database_url)
        return self._store

    def vault(self) -> TokenVault:
        return TokenVault.of(vault_keys(self), pseudonym_secret(self))

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:  # noqa: ARG002 - Dagster's teardown hook signature
        if self._store is not None:
            self._store.dispose()


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse file; writers publish a read-only snapshot for the dashboard."""

    path: str

    def warehouse(self) -> Warehouse:
        return Warehouse(Path(self.path))


def _shared(app: PacedT, pacing_url: str) -> PacedT:
    """`app` paced by the deployment's shared state at `pacing_url` (empty: this process alone)."""
    if pacing_url:
        share_pacing([app], pacing_url)
    return app


class SpotifyResource(dg.ConfigurableResource):
    """The label's Spotify app (in tests and the demo, the sandbox's); its client is `services.spotify`."""

    client_id: str
    client_secret: str
    accounts_url: str = _default("spotify_accounts_url")
    api_url: str = _default("spotify_api_url")
    pacing_url: str = ""  # where the app's shared pacing lives (Redis or the operational store)

    def app(self) -> SpotifyApp:
        return _shared(
            SpotifyApp(self.client_id, Secret(self.client_secret), self.accounts_url, self.api_url),
            self.pacing_url,
        )

    def configured_app(self) -> SpotifyApp | None:
        """The app, or None when Spotify is not configured (no client id)."""
        return self.app() if self.client_id else None


class InboxResource(dg.ConfigurableResource):
    """Where export files are dropped, and where refused ones are moved with their reason."""

    inbox_dir: str
    quarantine_dir: str


def resources_from_settings(settings: Settings) -> dict[str, dg.ConfigurableResource]:
    """Resources for the configured deployment; secrets stay environment variables (dg.EnvVar)."""
    settings.vault()  # the embedded default creates its key files here, once
    key_from_env = settings.secret_key is not None
    # the shared pacing: Redis, or the operational store; by EnvVar where the URL may hold a password
    pacing: Any = (
        dg.EnvVar("PRESAVE_REDIS_URL")
        if settings.redis_url
        else dg.EnvVar("PRESAVE_DATABASE_URL")
        if settings.database_url
        else settings.resolved_database_url
    )
    spotify_secret: Any = dg.EnvVar("PRESAVE_SPOTIFY_CLIENT_SECRET") if settings.spotify_client_secret else ""
    pseudonym_from_env = settings.pseudonym_key is not None
    spotify = SpotifyResource(
        client_id=settings.spotify_client_id or "",
        client_secret=spotify_secret,
        accounts_url=settings.spotify_accounts_url,
        api_url=settings.spotify_api_url,
        pacing_url=pacing,
    )
    deezer = DeezerResource(
        app_id=settings.deezer_app_id or "", api_url=settings.deezer_api_url, pacing_url=pacing
    )
    return {
        "operational_store": OperationalStore(
            database_url=dg.EnvVar("PRESAVE_DATABASE_URL")
            if settings.database_url
            else settings.resolved_database_url,
            secret_key=dg.EnvVar("PRESAVE_SECRET_KEY") if key_from_env else None,
            secret_key_file=None if key_from_env else str((settings.data_dir / "secret.key").resolve()),
            pseudonym_key=dg.EnvVar("PRESAVE_PSEUDONYM_KEY") if pseudonym_from_env else None,
            pseudonym_key_file=None if pseudonym_from_env else str(settings.pseudonym_key_file.resolve()),
        ),
        "warehouse": WarehouseResource(path=str(settings.warehouse_path)),
        "spotify": spotify,
        "inbox": InboxResource(
            inbox_dir=str(settings.inbox_dir.resolve()), quarantine_dir=str(settings.quarantine_dir.resolve())
        ),
        "apple": AppleResource(
            team_id=settings.apple_team_id or "",
            key_id=settings.apple_key_id or "",
            private_key_path=str(settings.apple_private_key or ""),
            api_url=settings.apple_api_url,
            pacing_url=pacing,
        ),
        "deezer": deezer,
        "artist_stats": ArtistStatsResource(spotify=spotify, deezer=deezer),
    }


class AppleResource(dg.ConfigurableResource):
    """The label's Apple Music developer key (team id, key id, the .p8 file); empty when Apple is off."""

    team_id: str = ""
    key_id: str = ""
    private_key_path: str = ""
    api_url: str = _default("apple_api_url")
    storefront: str = "us"
    pacing_url: str = ""

    def configured_app(self) -> AppleApp | None:
        if not (self.team_id and self.key_id and self.private_key_path):
            return None
        developer = DeveloperToken(self.team_id, self.key_id, load_private_key(Path(self.private_key_path)))
        return _shared(AppleApp(developer, self.api_url, storefront=self.storefront), self.pacing_url)


class DeezerResource(dg.ConfigurableResource):
    """The label's Deezer app; empty when Deezer is off."""

    app_id: str = ""
    api_url: str = _default("deezer_api_url")
    pacing_url: str = ""

    def configured_app(self) -> DeezerApp | None:
        return _shared(DeezerApp(self.app_id, self.api_url), self.pacing_url) if self.app_id else None


def vault_keys(resource: OperationalStore) -> list[str]:
    """The vault's keys, newest first, as the resource is configured (shard processes need them)."""
    if resource.secret_key:
        return [k.strip() for k in resource.secret_key.split(",") if k.strip()]
    if resource.secret_key_file:
        return [Path(resource.secret_key_file).read_text().strip()]
    raise dg.Failure("the operational store resource has no secret key configured")


def pseudonym_secret(resource: OperationalStore) -> str:
    """The secret the fans' pseudonyms are derived from, as the resource is configured."""
    if resource.pseudonym_key:
        return resource.pseudonym_key
    if resource.pseudonym_key_file:
        return Path(resource.pseudonym_key_file).read_text().strip()
    raise dg.Failure("the operational store resource has no pseudonym key configured")


class ArtistStatsResource(dg.ConfigurableResource):
    """The services' artist statistics (followers, popularity, Deezer fans) read with an app's own access:
    Spotify's with the client-credentials flow when it is configured, Deezer's public API when Deezer is.
    The snapshots draw on the same app budget (and quota) as release day: the same apps, the same pacing."""

    spotify: SpotifyResource
    deezer: DeezerResource

    def sources(self) -> list[ArtistStatsSource]:
        """The services' clients that read artist statistics, as configured."""
        found: list[ArtistStatsSource | None] = [self.spotify.configured_app(), self.deezer.configured_app()]
        return [source for source in found if source is not None]


def configured_services(spotify: SpotifyResource, apple: AppleResource, deezer: DeezerResource) -> list[str]:
    """The names of the services whose credentials are configured here."""
    apps = service_apps(spotify, apple, deezer)
    for app in apps.values():
        app.close()
    return list(apps)


def service_apps(
    spotify: SpotifyResource, apple: AppleResource, deezer: DeezerResource
) -> dict[str, ServiceApp]:
    """The configured services' apps by name, from their resources (an unconfigured one is absent)."""
    apps: dict[str, ServiceApp | None] = {
        "spotify": spotify.configured_app(),
        "apple": apple.configured_app(),
        "deezer": deezer.configured_app(),
    }
    return {name: app for name, app in apps.items() if app is not None}
