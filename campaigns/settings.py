"""Typed configuration, read once from the environment (and a `.env` file) at an entry point."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from cryptography.fernet import Fernet
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from campaigns.rules import SERVICES
from campaigns.store import StoreTimeouts
from campaigns.vault import TokenVault, VaultError

DEFAULT_TOKEN_RETENTION_DAYS = 30


class SettingsError(RuntimeError):
    """The configuration cannot serve this run; the message names the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PRESAVE_", env_file=".env", extra="ignore", validate_default=True
    )

    data_dir: Path = Path("./data")
    database_url: str | None = None
    warehouse: Path | None = None
    secret_key: SecretStr | None = None
    pseudonym_key: SecretStr | None = None
    # Days after a grant's last owed action is final before its tokens (and email) are deleted.
    token_retention_days: int = Field(default=DEFAULT_TOKEN_RETENTION_DAYS, ge=0)
    dashboard_password_hash: SecretStr | None = None
    # How long the operational store may keep a caller waiting (seconds; README "Store timeouts").
    store_connect_timeout_s: float = Field(default=10.0, gt=0)  # PostgreSQL: connecting
    store_statement_timeout_s: float = Field(default=30.0, ge=0)  # PostgreSQL: one statement; 0: none
    store_busy_timeout_s: float = Field(default=10.0, ge=0)  # SQLite: another writer's lock
    public_url: str = "http://127.0.0.1:8000"
    landing_rate_limit: int = Field(default=120, ge=0)
    # Comma-separated addresses/CIDRs whose X-Forwarded-For is believed (unset: none).
    trusted_proxies: str | None = None
    redis_url: str | None = None  # shared state across processes (the landing app's rate limits)
    country_header: str | None = None
    landing_threads: int = Field(default=12, ge=1, le=256)  # per landing process, for synchronous routes

    spotify_client_id: str | None = None
    spotify_client_secret: SecretStr | None = None
    spotify_accounts_url: str = "https://accounts.spotify.com"
    spotify_api_url: str = "https://api.spotify.com/v1"
    # development: the app admits only its allowlisted accounts (five at most; a 403 "User not registered"
    # also reveals it); the rest of the fans are offered reminder pre-saves (`campaigns.capacity`)
    spotify_mode: Literal["extended", "development"] = "extended"
    spotify_dev_users: str | None = None  # comma-separated allowlisted Spotify user ids; unset: learnt

    @property
    def spotify_allowlist(self) -> tuple[str, ...]:
        return tuple(u.strip() for u in (self.spotify_dev_users or "").split(",") if u.strip())

    apple_team_id: str | None = None
    apple_key_id: str | None = None
    apple_private_key: Path | None = None
    apple_api_url: str = "https://api.music.apple.com"
    musickit_js_url: str = "https://js-cdn.music.apple.com/musickit/v3/musickit.js"

    deezer_app_id: str | None = None
    deezer_secret: SecretStr | None = None
    deezer_connect_url: str = "https://connect.deezer.com"
    deezer_api_url: str = "https://api.deezer.com"

    # beyond one machine (docs/operations.md): where Dagster runs release-day steps
    dagster_executor: Literal["multiprocess", "celery", "k8s"] = "multiprocess"
    celery_broker_url: SecretStr | None = None  # unset: the machine's RabbitMQ as guest
    celery_backend_url: str = "rpc://"

    # Fan messages (release day, re-ask): unset smtp_url means no message is ever sent.
    smtp_url: str | None = None  # smtp+starttls://user@host:587, smtps://user@host:465, smtp://host:25
    smtp_password: SecretStr | None = None
    smtp_from: str | None = None  # From: address; defaults to noreply@<the public URL's host>
    smtp_rate: float = Field(default=5.0, gt=0)  # messages per second, across one sending run

    @model_validator(mode="after")
    def _strip_trailing_slashes(self) -> Settings:
        for name in (
            "public_url",
            "spotify_accounts_url",
            "spotify_api_url",
            "apple_api_url",
            "deezer_connect_url",
            "deezer_api_url",
        ):
            setattr(self, name, getattr(self, name).rstrip("/"))
        return self

    @property
    def embedded(self) -> bool:
        """True when the operational store is the embedded SQLite default (demo and development)."""
        return self.database_url is None

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'presave.db').resolve()}"

    @property
    def store_timeouts(self) -> StoreTimeouts:
        return StoreTimeouts(
            connect_s=self.store_connect_timeout_s,
            statement_s=self.store_statement_timeout_s,
            busy_s=self.store_busy_timeout_s,
        )

    @property
    def warehouse_path(self) -> Path:
        return (self.warehouse or self.data_dir / "warehouse.duckdb").resolve()

    @property
    def warehouse_snapshot_path(self) -> Path:
        """The read-only copy the dashboard reads, replaced atomically after each warehouse write."""
        return snapshot_path(self.warehouse_path)

    @property
    def inbox_dir(self) -> Path:
        return self.data_dir / "inbox"

    @property
    def quarantine_dir(self) -> Path:
        return self.data_dir / "quarantine"

    @property
    def spotify_enabled(self) -> bool:
        return bool(self.spotify_client_id)

    @property
    def message_sender(self) -> str:
        """The From: address of fan messages."""
        if self.smtp_from:
            return self.smtp_from
        host = urlsplit(self.public_url).hostname or "localhost"
        return f"noreply@{host}"

    def enabled_services(self) -> list[str]:
        """The services whose credentials are set, in the one order (`campaigns.models.SERVICES`):
        Spotify (client id), Apple Music (team id, key id and .p8 path), Deezer (app id)."""
        configured = {
            "spotify": self.spotify_enabled,
            "apple": bool(self.apple_team_id and self.apple_key_id and self.apple_private_key),
            "deezer": bool(self.deezer_app_id),
        }
        return [str(name) for name in SERVICES if configured[name]]

    def secret_keys(self) -> list[str]:
        """Fernet keys, newest first.

        Embedded (dev/demo) runs generate one into `<data dir>/secret.key` (mode 0600) the first time;
        a run against any other store refuses to start without `PRESAVE_SECRET_KEY`.
        """
        if self.secret_key is not None:
            keys = [k.strip() for k in self.secret_key.get_secret_value().split(",") if k.strip()]
            if not keys:
                raise SettingsError("PRESAVE_SECRET_KEY is set but holds no key")
            return keys
        key_file = self.data_dir / "secret.key"
        if key_file.exists():
            return [key_file.read_text().strip()]
        if not self.embedded:
            raise SettingsError(
                "PRESAVE_SECRET_KEY is required when PRESAVE_DATABASE_URL is set "
                "(generate one with `presave keygen`)"
            )
        return [_create_key_file(key_file)]

    @property
    def pseudonym_key_file(self) -> Path:
        return self.data_dir / "pseudonym.key"

    def pseudonym_secret(self) -> str:
        """The secret behind `fan_key`, visitor keys, IP hashes and the landing app's signatures.

        Embedded (dev/demo) runs generate one into `<data dir>/pseudonym.key` (mode 0600); a run against
        any other store refuses to start without `PRESAVE_PSEUDONYM_KEY`.
        """
        if self.pseudonym_key is not None:
            value = self.pseudonym_key.get_secret_value().strip()
            if not value:
                raise SettingsError("PRESAVE_PSEUDONYM_KEY is set but empty")
            return value
        if self.pseudonym_key_file.exists():
            return self.pseudonym_key_file.read_text().strip()
        if not self.embedded:
            raise SettingsError(
                "PRESAVE_PSEUDONYM_KEY is required when PRESAVE_DATABASE_URL is set "
                "(generate one with `presave keygen --pseudonym`; see docs/threat-model.md to keep "
                "the fan keys of an existing deployment)"
            )
        return _create_key_file(self.pseudonym_key_file, lambda: secrets.token_urlsafe(32))

    def configured_pseudonym_secret(self) -> str | None:
        """`pseudonym_secret`, or None where none is configured (outside the embedded store): release day
        needs it only to give a grant stored before `/me` its account, and a store the landing app never
        wrote to has no such grant."""
        try:
            return self.pseudonym_secret()
        except SettingsError:
            return None

    def vault(self) -> TokenVault:
        """The vault with every key this deployment has: Fernet keys and the pseudonym keys."""
        try:
            return TokenVault.of(self.secret_keys(), self.pseudonym_secret())
        except VaultError as exc:
            raise SettingsError(str(exc)) from None


def _create_key_file(key_file: Path, make: Callable[[], str] = lambda: Fernet.generate_key().decode()) -> str:
    """Write a new key with mode 0600; if a concurrent process won the race, use its key."""
    key_file.parent.mkdir(parents=True, exist_ok=True)
    draft = key_file.with_name(f".{key_file.name}.{os.getpid()}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(make())
    try:
        os.link(draft, key_file)  # atomic, and refuses to replace an existing key
    except FileExistsError:
        pass
    finally:
        draft.unlink()
    return key_file.read_text().strip()


def snapshot_path(warehouse: Path) -> Path:
    return warehouse.with_name(f"{warehouse.stem}.snapshot{warehouse.suffix or '.duckdb'}")


def load_settings(**overrides: object) -> Settings:
    """Read the configuration once; entry points pass the result down."""
    return Settings(**overrides)  # type: ignore[arg-type]
