"""`presave fans export` and `presave forget` over grants made through the real landing flow."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from campaigns.models import ConsentRecord, LandingEvent
from presave.cli import app
from tests.conftest import PSEUDONYM_KEY
from tests.integration.conftest import System, soon
from tests.integration.landing_helpers import Fan, add_campaign, flush, grants


@pytest.fixture
def runner(system: System, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)  # no stray .env
    return CliRunner(
        env={
            "PRESAVE_DATA_DIR": str(tmp_path / "cli-data"),
            "PRESAVE_DATABASE_URL": system.settings.resolved_database_url,
            "PRESAVE_SECRET_KEY": system.settings.secret_keys()[0],
            "PRESAVE_PSEUDONYM_KEY": PSEUDONYM_KEY,
        }
    )


def _two_fans(system: System) -> None:
    system.admin.post(
        "/sandbox/spotify/fans", json={"id": "fan-em", "email": "em@example.com"}
    ).raise_for_status()
    add_campaign(system, "midnight-drive", soon())
    with Fan(system) as fan:
        fan.oauth("midnight-drive", "spotify", "fan-em")
        fan.authorize(fan.complete("midnight-drive", email_opt_in="yes").headers["location"], "fan-em")
    with Fan(system) as fan:
        fan.oauth("midnight-drive", "deezer", "fan-quiet")


def test_the_fan_csv_holds_consented_fields_only(system: System, runner: CliRunner, tmp_path: Path) -> None:
    _two_fans(system)
    result = runner.invoke(app, ["fans", "export", "midnight-drive"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 2
    by_service = {row["service"]: row for row in rows}
    assert by_service["spotify"]["email"] == "em@example.com"
    assert by_service["spotify"]["email_consent_version"].startswith("1-")
    assert by_service["deezer"]["email"] == ""
    assert all(len(row["fan_key"]) == 32 for row in rows)
    assert "fan-em" not in result.stdout
    assert "access_token" not in result.stdout
    written = runner.invoke(app, ["fans", "export", "midnight-drive", "--output", str(tmp_path / "fans.csv")])
    assert written.exit_code == 0
    assert (tmp_path / "fans.csv").read_text() == result.stdout


def test_exporting_an_unknown_campaign_fails_with_a_reason(system: System, runner: CliRunner) -> None:
    result = runner.invoke(app, ["fans", "export", "no-such-campaign"])
    assert result.exit_code == 1
    assert "no campaign 'no-such-campaign'" in result.stderr


def test_forget_erases_a_fans_grants_and_personal_data(system: System, runner: CliRunner) -> None:
    _two_fans(system)
    result = runner.invoke(app, ["forget", "--service", "spotify", "--user", "fan-em"])
    assert result.exit_code == 0, result.output
    assert "erased 1 grant(s), 2 ledger row(s), 1 consent record(s)" in result.stdout
    assert [g.service for g in grants(system)] == ["deezer"]
    flush(system)
    with system.store.session() as session:
        assert session.scalars(select(ConsentRecord)).all() == []
        spotify_events = session.scalars(select(LandingEvent).where(LandingEvent.service == "spotify")).all()
    assert spotify_events
    assert all(e.visitor_id is None and e.ip_hash is None and e.grant_id is None for e in spotify_events)
    again = runner.invoke(app, ["forget", "--service", "spotify", "--user", "fan-em"])
    assert "erased 0 grant(s)" in again.stdout


def test_forget_takes_the_pseudonym_too_for_apple_fans(system: System, runner: CliRunner) -> None:
    add_campaign(system, "midnight-drive", soon())
    with Fan(system) as fan:
        fan.apple("midnight-drive", "amy")
        reference = fan.done("midnight-drive").text.split('<code id="reference">')[1].split("<")[0]
    assert reference == grants(system)[0].fan_key
    result = runner.invoke(app, ["forget", "--service", "apple", "--user", reference])
    assert result.exit_code == 0
    assert grants(system) == []
    bad = runner.invoke(app, ["forget", "--service", "napster", "--user", "x"])
    assert bad.exit_code == 2
    assert "--service must be spotify, apple or deezer" in bad.stderr
