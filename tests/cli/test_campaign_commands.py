from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select
from typer.testing import CliRunner

from campaigns.models import Campaign
from campaigns.registry import campaign_history
from campaigns.store import Store
from presave.cli import app

CAMPAIGN = {
    "slug": "midnight-drive",
    "artist": "Nova Lane",
    "title": "Midnight Drive",
    "upc": "198880045560",
    "release_at": "2026-12-04T00:00",
    "timezone": "Europe/London",
    "services": {"spotify": {"artist": "spotify:artist:4Z8W4fKeB5YxbusRsdQVPb"}},
}


@pytest.fixture
def runner(tmp_path: Path, store_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)  # no stray .env
    env = {"PRESAVE_DATA_DIR": str(tmp_path / "data"), "PRESAVE_DATABASE_URL": store_url}
    if not store_url.startswith("sqlite"):
        from cryptography.fernet import Fernet

        env["PRESAVE_SECRET_KEY"] = Fernet.generate_key().decode()
    return CliRunner(env=env)


def _write(tmp_path: Path, document: dict, name: str = "campaign.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(document))
    return path


def test_create_list_and_show_a_campaign(runner: CliRunner, tmp_path: Path) -> None:
    created = runner.invoke(app, ["campaign", "create", str(_write(tmp_path, CAMPAIGN))])
    assert created.exit_code == 0, created.output
    assert "midnight-drive" in created.stdout

    listed = runner.invoke(app, ["campaign", "list"])
    assert listed.exit_code == 0
    assert listed.stdout.split("\t")[:3] == ["midnight-drive", "Nova Lane", "Midnight Drive"]

    shown = runner.invoke(app, ["campaign", "show", "midnight-drive", "--json"])
    assert shown.exit_code == 0, shown.output
    document = json.loads(shown.stdout)
    assert document["campaign"]["slug"] == "midnight-drive"
    assert document["campaign"]["upc"] == "198880045560"
    assert document["grants"] == {"spotify": 0}
    assert document["outcomes"] == {
        "queued": 0,
        "delivered": 0,
        "pending_source": 0,
        "undeliverable": 0,
        "failed": 0,
        "ignored": 0,
    }


def test_an_invalid_file_is_refused_with_the_field_and_reason(runner: CliRunner, tmp_path: Path) -> None:
    path = _write(tmp_path, {**CAMPAIGN, "timezone": "Mars/Olympus", "upc": "12"})
    result = runner.invoke(app, ["campaign", "create", str(path)])
    assert result.exit_code == 2
    assert result.stdout == ""
    line = result.stderr.strip()
    assert "\n" not in line
    assert "timezone: 'Mars/Olympus' is not an IANA time zone" in line
    assert "upc: must be 12 to 14 digits" in line
    assert runner.invoke(app, ["campaign", "list"]).stdout == ""


def test_a_duplicate_slug_is_refused(runner: CliRunner, tmp_path: Path) -> None:
    path = _write(tmp_path, CAMPAIGN)
    assert runner.invoke(app, ["campaign", "create", str(path)]).exit_code == 0
    again = runner.invoke(app, ["campaign", "create", str(path)])
    assert again.exit_code == 1
    assert "already exists" in again.stderr


def test_showing_an_unknown_campaign_fails_with_one_line(runner: CliRunner) -> None:
    result = runner.invoke(app, ["campaign", "show", "nope", "--json"])
    assert result.exit_code == 1
    assert result.stderr == "presave: no campaign 'nope'\n"


def test_a_missing_file_is_named(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["campaign", "create", str(tmp_path / "absent.yaml")])
    assert result.exit_code == 2
    assert "absent.yaml" in result.stderr


def test_keygen_prints_a_usable_key(runner: CliRunner) -> None:
    from cryptography.fernet import Fernet

    result = runner.invoke(app, ["keygen"])
    assert result.exit_code == 0
    Fernet(result.stdout.strip().encode())


def _campaign_row(store_url: str) -> tuple[datetime, str | None, str]:
    store = Store.connect(store_url)
    try:
        with store.session() as session:
            campaign = session.scalars(select(Campaign)).one()
            return campaign.updated_at, campaign.upc, campaign.title
    finally:
        store.dispose()


def _history(store_url: str) -> list[tuple[int, str, str | None]]:
    store = Store.connect(store_url)
    try:
        with store.session() as session:
            return [
                (v.version, v.changed_by, v.spec.get("upc"))
                for v in campaign_history(session, "midnight-drive")
            ]
    finally:
        store.dispose()


def test_update_keeps_every_version_and_moves_the_lookup_window_only_for_a_new_upc(
    runner: CliRunner, tmp_path: Path, store_url: str
) -> None:
    create = ["campaign", "create", str(_write(tmp_path, CAMPAIGN)), "--by", "ana"]
    assert runner.invoke(app, create).exit_code == 0
    created_at, _, _ = _campaign_row(store_url)

    retitled = _write(tmp_path, {**CAMPAIGN, "title": "Midnight Drive (Deluxe)"}, "v2.yaml")
    result = runner.invoke(app, ["campaign", "update", str(retitled), "--by", "ben"])
    assert result.exit_code == 0, result.output
    assert "version 2" in result.stdout
    assert "looked up again" not in result.stdout
    updated_at, upc, title = _campaign_row(store_url)
    assert (upc, title) == ("198880045560", "Midnight Drive (Deluxe)")
    assert updated_at == created_at  # the executor's "last correction": the release lookup did not change

    fixed = _write(
        tmp_path, {**CAMPAIGN, "title": "Midnight Drive (Deluxe)", "upc": "198880045577"}, "v3.yaml"
    )
    result = runner.invoke(app, ["campaign", "update", str(fixed), "--by", "ben"])
    assert result.exit_code == 0, result.output
    assert "version 3; the release is looked up again from now" in result.stdout
    updated_at, upc, _ = _campaign_row(store_url)
    assert upc == "198880045577"
    assert updated_at > created_at

    again = runner.invoke(app, ["campaign", "update", str(fixed)])
    assert again.exit_code == 0
    assert "unchanged" in again.stdout
    assert _history(store_url) == [
        (1, "ana", "198880045560"),
        (2, "ben", "198880045560"),
        (3, "ben", "198880045577"),
    ]
    shown = json.loads(runner.invoke(app, ["campaign", "show", "midnight-drive", "--json"]).stdout)
    assert shown["campaign"]["upc"] == "198880045577"


def test_updating_an_unknown_slug_is_refused_with_one_line(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["campaign", "update", str(_write(tmp_path, CAMPAIGN))])
    assert result.exit_code == 1
    assert (
        result.stderr == "presave: no campaign 'midnight-drive': create it with `presave campaign create`\n"
    )
    assert runner.invoke(app, ["campaign", "list"]).stdout == ""


def test_an_invalid_update_is_refused_and_the_campaign_kept(runner: CliRunner, tmp_path: Path) -> None:
    assert runner.invoke(app, ["campaign", "create", str(_write(tmp_path, CAMPAIGN))]).exit_code == 0
    broken = _write(tmp_path, {**CAMPAIGN, "upc": "12"}, "broken.yaml")
    result = runner.invoke(app, ["campaign", "update", str(broken)])
    assert result.exit_code == 2
    assert "upc: must be 12 to 14 digits" in result.stderr
    shown = json.loads(runner.invoke(app, ["campaign", "show", "midnight-drive", "--json"]).stdout)
    assert shown["campaign"]["upc"] == "198880045560"
