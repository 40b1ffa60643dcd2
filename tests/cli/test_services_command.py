"""`presave services` says per campaign what each service can do and for how many fans; `campaign show`
counts direct saves and reminders apart and warns when the Spotify cap turned fans to reminders."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from campaigns.models import Campaign, Grant, GrantStatus
from campaigns.reminders import Reason, Signup, sign_up
from campaigns.settings import Settings
from campaigns.store import Store
from presave.cli import app

CAMPAIGN = {
    "slug": "midnight-drive",
    "artist": "Nova Lane",
    "title": "Midnight Drive",
    "upc": "198880045560",
    "release_at": "2026-12-04T00:00",
    "timezone": "Europe/London",
    "services": {
        "spotify": {"artist": "spotify:artist:4Z8W4fKeB5YxbusRsdQVPb"},
        "deezer": {"artist_id": "27"},
        "tidal": {"link": "https://tidal.com/browse/album/1"},
        "amazon_music": {},
    },
}


@pytest.fixture
def runner(tmp_path: Path, store_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)
    env = {
        "PRESAVE_DATA_DIR": str(tmp_path / "data"),
        "PRESAVE_DATABASE_URL": store_url,
        "PRESAVE_SPOTIFY_CLIENT_ID": "label-app",
        "PRESAVE_SPOTIFY_MODE": "development",
    }
    if not store_url.startswith("sqlite"):
        from cryptography.fernet import Fernet

        env["PRESAVE_SECRET_KEY"] = Fernet.generate_key().decode()
    path = tmp_path / "campaign.yaml"
    path.write_text(yaml.safe_dump(CAMPAIGN))
    created = CliRunner(env=env).invoke(app, ["campaign", "create", str(path)])
    assert created.exit_code == 0, created.output
    return CliRunner(env=env)


def _grant(store: Store, campaign_id: int, user: str, status: GrantStatus) -> None:
    with store.session() as session:
        session.add(
            Grant(
                campaign_id=campaign_id,
                service="spotify",
                service_user_id=user,
                fan_key=user,
                access_token="sealed",
                granted_at=datetime(2026, 11, 20, 12, tzinfo=UTC),
                status=status,
            )
        )


def _fans(store_url: str, tmp_path: Path, admitted: int, turned_away: int, reminders: int) -> None:
    store = Store.connect(store_url)
    vault = Settings(_env_file=None, data_dir=tmp_path / "data").vault()  # type: ignore[call-arg]
    with store.session() as session:
        campaign_id = session.query(Campaign.id).scalar()
    for n in range(admitted):
        _grant(store, campaign_id, f"fan-{n}", GrantStatus.ACTIVE)
    for n in range(turned_away):
        _grant(store, campaign_id, f"pending:{n}", GrantStatus.UNREGISTERED)
    with store.session() as session:
        for n in range(reminders):
            sign_up(
                session,
                vault,
                Signup(campaign_id, "spotify", f"r{n}@mail.example", "t", "1", Reason.SPOTIFY_FULL),
            )
        sign_up(session, vault, Signup(campaign_id, "tidal", "t@mail.example", "t", "1", Reason.LINK_ONLY))
    store.dispose()


@pytest.mark.parametrize(
    ("admitted", "turned_away", "spotify_line"),
    [
        (0, 0, "Spotify: development mode, 5 of 5 places left, then reminders"),
        (3, 0, "Spotify: development mode, 2 of 5 places left, then reminders"),
        (5, 0, "Spotify: development mode, all 5 places taken"),
        (2, 1, "Spotify: development mode, all 5 places taken since 2026-11-20 12:00 UTC"),
    ],
)
def test_services_says_how_many_spotify_places_are_left(
    runner: CliRunner, store_url: str, tmp_path: Path, admitted: int, turned_away: int, spotify_line: str
) -> None:
    _fans(store_url, tmp_path, admitted, turned_away, 0)
    shown = runner.invoke(app, ["services", "midnight-drive"])
    assert shown.exit_code == 0, shown.output
    lines = [line.strip() for line in shown.stdout.splitlines()]
    assert lines[0] == "midnight-drive"
    assert lines[1].startswith(spotify_line)
    assert lines[2] == "Deezer: no app (Deezer accepts no new applications): reminder pre-saves only"
    assert (
        lines[4] == "TIDAL: link-only: reminder pre-saves, the fan sent to https://tidal.com/browse/album/1"
    )
    assert lines[3].startswith("Amazon Music: link-only, but the campaign file gives no link")


def test_campaign_show_counts_direct_and_reminders_apart_and_warns_about_the_cap(
    runner: CliRunner, store_url: str, tmp_path: Path
) -> None:
    _fans(store_url, tmp_path, 5, 2, 3)
    document = json.loads(runner.invoke(app, ["campaign", "show", "midnight-drive", "--json"]).stdout)
    assert document["grants"] == {"spotify": 5, "deezer": 0}
    assert document["reminders"] == {"tidal": 1, "amazon_music": 0, "spotify": 3}
    assert document["presaves"] == {"direct": 5, "reminder": 4, "total": 9}
    assert document["turned_away"] == 2
    text = runner.invoke(app, ["campaign", "show", "midnight-drive"]).stdout
    assert "pre-saves: 9 in total = 5 direct + 4 reminders" in text
    assert (
        "since 2026-11-20 12:00 UTC 2 fans were turned away after authorizing and 3 took a reminder"
        in " ".join(text.split())
    )
