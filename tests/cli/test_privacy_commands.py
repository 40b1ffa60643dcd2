"""`presave keys rotate` (killed half-way, then resumed), `presave dashboard --host`, and user text
with Rich markup in it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from cryptography.fernet import Fernet
from sqlalchemy import insert, select
from typer.testing import CliRunner

from campaigns.models import AuthorizationAttempt, Campaign, Grant
from campaigns.store import Store
from campaigns.vault import TokenVault, VaultError
from presave.cli import app

GRANTS = 1500


def _sealed_store(url: str, old: str) -> None:
    vault = TokenVault([old])
    store = Store.connect(url)
    now = datetime.now(UTC)
    with store.session() as session:
        session.execute(
            insert(Campaign),
            [
                {
                    "slug": "midnight-drive",
                    "artist": "Nova Lane",
                    "title": "Midnight Drive",
                    "release_at": now,
                    "timezone": "UTC",
                    "spec": {},
                }
            ],
        )
        session.execute(
            insert(Grant),
            [
                {
                    "campaign_id": 1,
                    "service": "spotify",
                    "service_user_id": f"fan-{i}",
                    "fan_key": f"{i:032d}",
                    "access_token": vault.seal(f"BQ-access-{i}"),
                    "refresh_token": vault.seal(f"AQ-refresh-{i}") if i % 2 else None,
                    "email": vault.seal(f"fan{i}@example.com") if i % 3 == 0 else None,
                    "choices": {},
                }
                for i in range(GRANTS)
            ],
        )
        session.execute(
            insert(AuthorizationAttempt),
            [
                {
                    "nonce": f"n{i}",
                    "service": "spotify",
                    "code_verifier": vault.seal(f"verifier-{i}"),
                    "visit": {},
                }
                for i in range(200)
            ],
        )
    store.dispose()


def _current(url: str, new: str) -> tuple[int, int]:
    """(values that open with the new key alone, values that do not)."""
    only_new = TokenVault([new])
    store = Store.connect(url, upgrade=False)
    with store.session() as session:
        values = [
            v
            for row in session.execute(select(Grant.access_token, Grant.refresh_token, Grant.email))
            for v in row
            if v
        ]
        values += [v for (v,) in session.execute(select(AuthorizationAttempt.code_verifier)) if v]
    store.dispose()
    opened = sum(only_new.is_current(v) for v in values)
    return opened, len(values) - opened


def test_rotation_killed_half_way_resumes_and_then_the_old_key_can_be_removed(tmp_path: Path) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    url = f"sqlite:///{tmp_path / 'presave.db'}"
    _sealed_store(url, old)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRESAVE_")}
    env |= {
        "PRESAVE_DATABASE_URL": url,
        "PRESAVE_SECRET_KEY": f"{new},{old}",
        "PRESAVE_DATA_DIR": str(tmp_path),
    }
    command = [sys.executable, "-m", "presave", "keys", "rotate", "--batch-size", "25", "--pause", "0.05"]

    first = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while _current(url, new)[0] < 300 and time.monotonic() < deadline and first.poll() is None:
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    done, left = _current(url, new)
    assert done >= 300, "the first run re-sealed some values before it was killed"
    assert left > 0, "and was killed before the end"

    second = subprocess.run(
        command[:5], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False
    )
    assert second.returncode == 0, second.stderr
    assert "re-sealing" in second.stderr  # the progress bar
    assert "the older keys can now be removed" in second.stdout
    assert f"{done} already current" in second.stdout, "nothing sealed twice"
    assert _current(url, new)[1] == 0

    only_new = TokenVault([new])
    store = Store.connect(url, upgrade=False)
    with store.session() as session:
        grant = session.scalars(select(Grant).where(Grant.service_user_id == "fan-3")).one()
        verifier = session.scalar(
            select(AuthorizationAttempt.code_verifier).where(AuthorizationAttempt.nonce == "n7")
        )
    store.dispose()
    assert only_new.open(grant.access_token).reveal() == "BQ-access-3"
    assert only_new.open(grant.refresh_token or "").reveal() == "AQ-refresh-3"
    assert only_new.open(grant.email or "").reveal() == "fan3@example.com"
    assert only_new.open(verifier or "").reveal() == "verifier-7"
    with pytest.raises(VaultError):
        TokenVault([old]).open(grant.access_token)


def test_rotation_reports_values_no_key_opens_and_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lost, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    url = f"sqlite:///{tmp_path / 'presave.db'}"
    _sealed_store(url, lost)
    monkeypatch.chdir(tmp_path)
    result = CliRunner(env={"PRESAVE_DATABASE_URL": url, "PRESAVE_SECRET_KEY": new}).invoke(
        app, ["keys", "rotate"]
    )
    assert result.exit_code == 1
    assert (
        "could not be opened with any key (authorization_attempts.code_verifier 200, grants.access_token 1500"
        in (result.stdout)
    )
    assert "keep every key" in result.stderr


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::"])  # noqa: S104 - what is refused
def test_the_dashboard_refuses_to_listen_beyond_loopback_without_a_login(
    host: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner(env={"PRESAVE_DATA_DIR": str(tmp_path)}).invoke(app, ["dashboard", "--host", host])
    assert result.exit_code == 2
    assert "PRESAVE_DASHBOARD_PASSWORD_HASH" in result.stderr


def test_a_password_that_is_not_a_hash_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    env = {"PRESAVE_DATA_DIR": str(tmp_path), "PRESAVE_DASHBOARD_PASSWORD_HASH": "hunter2"}
    result = CliRunner(env=env).invoke(app, ["dashboard", "--host", "0.0.0.0"])  # noqa: S104
    assert result.exit_code == 2
    assert "not an argon2 or bcrypt hash" in result.stderr


def test_a_title_with_rich_markup_is_printed_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner(env={"PRESAVE_DATA_DIR": str(tmp_path / "data")})
    campaign = {
        "slug": "odd-title",
        "artist": "[bold]Nova[/] Lane",
        "title": "Midnight [/bold] Drive [link=x]",
        "upc": "198880045560",
        "release_at": "2026-12-04T00:00",
        "timezone": "Europe/London",
        "services": {"spotify": {"artist": "spotify:artist:4Z8W4fKeB5YxbusRsdQVPb"}},
    }
    (tmp_path / "odd.yaml").write_text(yaml.safe_dump(campaign))
    created = runner.invoke(app, ["campaign", "create", str(tmp_path / "odd.yaml")])
    assert created.exit_code == 0, created.output
    assert "[bold]Nova[/] Lane — Midnight [/bold] Drive [link=x]" in " ".join(created.stdout.split())
    shown = runner.invoke(app, ["campaign", "show", "odd-title"])
    assert shown.exit_code == 0, shown.output
    assert "Midnight [/bold] Drive [link=x]" in " ".join(shown.stdout.split())


def test_keygen_makes_a_pseudonym_secret_apart_from_fernet_keys() -> None:
    result = CliRunner().invoke(app, ["keygen", "--pseudonym"])
    assert result.exit_code == 0
    secret = result.stdout.strip()
    assert len(secret) >= 40
    with pytest.raises(ValueError, match="Fernet key"):
        Fernet(secret.encode())
