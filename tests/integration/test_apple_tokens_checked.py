"""A Music User Token is a pre-save only once Apple accepted it (`GET /v1/me/storefront` answered 200).

Forged tokens posted through the real landing app against the sandbox's Apple stand-in (which knows only
the tokens it issued) are counted nowhere: not in the store's counts, not in `campaign show --json`, not
in the warehouse after the pipeline. When Apple cannot be asked at once, the grant is held unverified and
the executor asks: accepted, it counts; refused, it never does."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from campaigns.models import Grant, OwedAction
from campaigns.registry import summarise
from executor.release import run_release
from pipelines.warehouse import Warehouse
from presave.cli import app as cli
from services.apple import AppleApp
from tests.conftest import PSEUDONYM_KEY
from tests.integration.conftest import System, add_release, soon
from tests.integration.landing_helpers import Fan, add_campaign, events, grants, hidden
from tests.warehouse_job import run_warehouse_job

SLUG = "midnight-drive"
UPC = "198880045560"
FORGED = "x" * 4000  # well-formed: it passes the shape check, Apple never issued it


def _post_token(fan: Fan, token: str) -> int:
    page = fan.http.get(f"/{SLUG}/connect/apple")
    answer = fan.http.post(
        f"/{SLUG}/connect/apple",
        data={"state": hidden(page.text, "state"), "music_user_token": token},
        headers={"Origin": fan.system.settings.public_url},
    )
    return answer.status_code


def _apple_answers(system: System, status: int | None) -> None:
    faults = (
        {"services": ["apple"], "error_share": 1.0, "error_statuses": [status]}
        if status
        else {"error_share": 0.0}
    )
    system.admin.put("/sandbox/config", json={"faults": faults}).raise_for_status()


def _warehouse_grants(system: System, monkeypatch: pytest.MonkeyPatch) -> tuple[int, int]:
    """(grants, grant events) in the warehouse after the pipeline's warehouse job."""
    settings = system.settings
    monkeypatch.setenv("PRESAVE_SECRET_KEY", settings.secret_key.get_secret_value())  # type: ignore[union-attr]
    monkeypatch.setenv("PRESAVE_PSEUDONYM_KEY", PSEUDONYM_KEY)
    monkeypatch.setenv("PRESAVE_DATABASE_URL", settings.resolved_database_url)
    run_warehouse_job(settings)
    with Warehouse(settings.warehouse_path).reader() as connection:
        stored = connection.execute("SELECT count(*) FROM grants").fetchone()
        granted = connection.execute("SELECT count(*) FROM landing_events WHERE kind = 'grant'").fetchone()
    return (stored[0] if stored else 0), (granted[0] if granted else 0)


def test_forged_music_user_tokens_are_counted_nowhere(
    system: System, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_campaign(system, SLUG, soon(seconds=3 * 86400))
    with Fan(system) as fan:
        answers = [_post_token(fan, FORGED[: 4000 - n]) for n in range(5)]
    assert answers == [400] * 5
    assert grants(system) == []
    refusals = events(system, kind="error", service="apple")
    assert [e.detail for e in refusals] == ["presave:user_token_refused"] * 5
    with system.store.session() as session:
        summary = summarise(session, SLUG)
    assert summary.grants["apple"] == 0
    assert sum(summary.outcomes.values()) == 0
    monkeypatch.setenv("PRESAVE_DATABASE_URL", system.settings.resolved_database_url)
    shown = CliRunner().invoke(cli, ["campaign", "show", SLUG, "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["grants"]["apple"] == 0
    assert _warehouse_grants(system, monkeypatch) == (0, 0)


def test_a_token_apple_could_not_check_is_held_unverified_and_counts_once_apple_accepts_it(
    system: System,
) -> None:
    release_at = soon(seconds=2)
    add_release(system, UPC, release_at)
    add_campaign(system, SLUG, release_at)
    _apple_answers(system, 503)
    with Fan(system) as fan:
        assert fan.apple(SLUG, "ada").status_code == 303
        done = fan.done(SLUG)
    assert "Apple Music has not confirmed your sign-in yet" in done.text
    [held] = grants(system)
    assert held.status == "unverified"
    with system.store.session() as session:
        assert summarise(session, SLUG).grants["apple"] == 0
    assert [e.detail for e in events(system, kind="grant")] == ["unverified"]
    _apple_answers(system, None)
    while datetime.now(UTC) < release_at:
        time.sleep(0.1)
    apps = {"apple": AppleApp.from_settings(system.settings)}
    run_release(system.store, system.settings.vault(), apps, SLUG)  # type: ignore[arg-type]
    run_release(system.store, system.settings.vault(), apps, SLUG)  # type: ignore[arg-type]
    [grant] = grants(system)
    assert grant.status == "active"
    with system.store.session() as session:
        assert summarise(session, SLUG).grants["apple"] == 1
    assert [e.detail for e in events(system, kind="grant")] == [None]


def test_a_forged_token_held_unverified_is_refused_by_the_executor_and_never_counted(system: System) -> None:
    release_at = soon(seconds=2)
    add_release(system, UPC, release_at)
    add_campaign(system, SLUG, release_at)
    _apple_answers(system, 503)
    with Fan(system) as fan:
        assert _post_token(fan, FORGED) == 303
    _apple_answers(system, None)
    while datetime.now(UTC) < release_at:
        time.sleep(0.1)
    apps = {"apple": AppleApp.from_settings(system.settings)}
    run_release(system.store, system.settings.vault(), apps, SLUG)  # type: ignore[arg-type]
    [grant] = grants(system)
    assert grant.status == "refused"
    with system.store.session() as session:
        summary = summarise(session, SLUG)
        queued = session.scalars(select(OwedAction.outcome).where(OwedAction.grant_id == grant.id)).all()
        assert session.scalar(select(Grant.status)) == "refused"
    assert summary.grants["apple"] == 0
    assert sum(summary.outcomes.values()) == 0
    assert "queued" not in queued
    assert events(system, kind="grant") == []
    assert [e.detail for e in events(system, kind="error")] == ["presave:user_token_refused"]
