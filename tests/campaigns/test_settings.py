from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from campaigns.settings import Settings, SettingsError


def _settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_defaults_follow_the_data_dir(tmp_path: Path) -> None:
    settings = _settings(data_dir=tmp_path)
    assert settings.resolved_database_url == f"sqlite:///{tmp_path.resolve() / 'presave.db'}"
    assert settings.warehouse_path == (tmp_path / "warehouse.duckdb").resolve()
    assert settings.warehouse_snapshot_path.name == "warehouse.snapshot.duckdb"
    assert settings.public_url == "http://127.0.0.1:8000"
    assert not settings.spotify_enabled


def test_environment_variables_are_read_with_the_presave_prefix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PRESAVE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PRESAVE_SPOTIFY_CLIENT_ID", "label-app")
    monkeypatch.setenv("PRESAVE_SPOTIFY_API_URL", "http://127.0.0.1:9/spotify/v1/")
    monkeypatch.setenv("PRESAVE_LANDING_RATE_LIMIT", "0")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.data_dir == tmp_path
    assert settings.spotify_enabled
    assert settings.spotify_api_url == "http://127.0.0.1:9/spotify/v1"
    assert settings.landing_rate_limit == 0


def test_a_dot_env_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("PRESAVE_PUBLIC_URL=https://presave.example.com\n")
    monkeypatch.chdir(tmp_path)
    assert Settings().public_url == "https://presave.example.com"


def test_the_embedded_default_generates_one_private_key(tmp_path: Path) -> None:
    settings = _settings(data_dir=tmp_path)
    first = settings.secret_keys()
    key_file = tmp_path / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert settings.secret_keys() == first
    Fernet(first[0].encode())  # a usable Fernet key


def test_a_production_store_refuses_to_start_without_a_key(tmp_path: Path) -> None:
    settings = _settings(data_dir=tmp_path, database_url="postgresql+psycopg://db/presave")
    with pytest.raises(SettingsError, match="PRESAVE_SECRET_KEY"):
        settings.secret_keys()
    assert not (tmp_path / "secret.key").exists()


def test_keys_are_comma_separated_newest_first(tmp_path: Path) -> None:
    new, old = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings = _settings(data_dir=tmp_path, secret_key=f"{new}, {old}")
    assert settings.secret_keys() == [new, old]
    assert new not in repr(settings)


def test_a_negative_rate_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="landing_rate_limit"):
        _settings(landing_rate_limit=-1)


def test_the_embedded_default_generates_a_private_pseudonym_key_apart_from_the_fernet_key(
    tmp_path: Path,
) -> None:
    settings = _settings(data_dir=tmp_path)
    vault = settings.vault()
    assert stat.S_IMODE((tmp_path / "pseudonym.key").stat().st_mode) == 0o600
    assert _settings(data_dir=tmp_path).vault().pseudonym("spotify", "u") == vault.pseudonym("spotify", "u")
    assert (tmp_path / "pseudonym.key").read_text() not in (tmp_path / "secret.key").read_text()


def test_a_production_store_refuses_to_start_without_a_pseudonym_key(tmp_path: Path) -> None:
    settings = _settings(
        data_dir=tmp_path,
        database_url="postgresql+psycopg://db/presave",
        secret_key=Fernet.generate_key().decode(),
    )
    with pytest.raises(SettingsError, match="PRESAVE_PSEUDONYM_KEY"):
        settings.vault()
    assert not (tmp_path / "pseudonym.key").exists()


def test_token_retention_has_a_documented_default() -> None:
    assert _settings().token_retention_days == 30
