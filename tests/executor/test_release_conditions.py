"""Release day when the world is not kind: rate limits, failing servers, a release that is not there,
fans in other time zones, several shard processes."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote

import yaml
from sqlalchemy import select
from typer.testing import CliRunner

from campaigns.models import Campaign, OwedAction
from executor.release import ReleaseOptions, campaigns_with_work_due
from executor.retry import RetryPolicy
from executor.shards import ShardLauncher, WorkerSetup
from presave.cli import app
from services.pacing import PacingPolicy
from tests.executor.conftest import ARTIST_ID, Harness, ago
from tests.sandbox.openapi import assert_calls_match_spec


def _album_writes(harness: Harness, album: str) -> Counter[str]:
    writes: Counter[str] = Counter()
    for call in harness.calls("spotify"):
        if call["route"] == "PUT /me/library" and call["status"] == 200 and album in unquote(call["query"]):
            writes[call["user"]] += 1
    return writes


def _outcomes(harness: Harness) -> Counter[str]:
    with harness.store.session() as session:
        return Counter(session.scalars(select(OwedAction.outcome)))


def _time(call: dict) -> float:
    return datetime.fromisoformat(call["time"].replace("Z", "+00:00")).timestamp()


def test_a_429_pauses_every_worker_for_its_retry_after_and_everything_is_delivered(harness: Harness) -> None:
    release = harness.add_release("198880045570", ago(10))
    campaign = harness.add_campaign("limited", "198880045570", ago(10))
    fans = [f"fan-{n:02d}" for n in range(20)]
    for fan in fans:
        harness.spotify_grant(campaign, fan)
    harness.admin.delete("/sandbox/calls")
    harness.configure({"spotify": {"rate_budget": 15, "rate_window_s": 1.0}})

    report = harness.run("limited", pacing=PacingPolicy(window_s=1.0))  # the window the sandbox uses here

    assert report.outcomes["delivered"] == 40
    writes = _album_writes(harness, release["spotify"]["uri"])
    assert all(writes[fan] == 1 for fan in fans)
    api = [c for c in harness.calls("spotify") if c["service"] == "spotify"]
    refused = [c for c in api if c["status"] == 429]
    assert refused  # the limit was met…
    assert len(refused) < len(api) / 3  # …and the pacing kept refusals rare
    first = _time(refused[0])
    # Retry-After is at least one second: calls already in flight land at once, then nothing until it ends.
    quiet = [c for c in api if first + 0.2 < _time(c) < first + 0.9]
    assert quiet == []


def test_failing_servers_and_dropped_answers_still_give_exactly_one_save_each(harness: Harness) -> None:
    release = harness.add_release("198880045571", ago(10))
    campaign = harness.add_campaign("faulty", "198880045571", ago(10))
    fans = [f"fan-{n:02d}" for n in range(20)]
    for fan in fans:
        harness.spotify_grant(campaign, fan)
    harness.configure(
        {"faults": {"seed": 5, "error_share": 0.2, "drop_share": 0.15, "after_processing_share": 0.5}}
    )

    report = harness.run(
        "faulty", options=ReleaseOptions(retry=RetryPolicy(base_s=0.01, cap_s=0.05, max_transient=12))
    )

    assert report.outcomes["delivered"] == 40, report
    faults = Counter(c["fault"] for c in harness.calls("spotify") if c["fault"])
    assert faults["drop_after"]
    assert any(k.startswith("error_") for k in faults)
    writes = _album_writes(harness, release["spotify"]["uri"])
    assert {fan: writes[fan] for fan in fans} == dict.fromkeys(fans, 1)
    with harness.store.session() as session:
        reasons = [a.reason or "" for a in session.scalars(select(OwedAction))]
    assert any("found done at the service" in reason for reason in reasons)  # a lost answer was checked


def test_a_missing_release_becomes_pending_source_and_resumes_once_the_campaign_is_corrected(
    harness: Harness,
) -> None:
    release = harness.add_release("198880045572", ago(60))
    campaign = harness.add_campaign("wrong-upc", "198880045579", ago(60))  # a typo in the UPC
    harness.spotify_grant(campaign, "fan-a")

    early = harness.run("wrong-upc")
    assert early.outcomes["queued"] == 1
    assert "not live on spotify yet" in early.waiting["spotify"]
    assert early.undone == 0  # waiting for the release is not a failure

    late = harness.run("wrong-upc", now=datetime.now(UTC) + timedelta(hours=73))
    assert late.outcomes["pending_source"] == 1
    with harness.store.session() as session:
        pending = session.scalars(select(OwedAction).where(OwedAction.outcome == "pending_source")).one()
        assert "upc:198880045579" in (pending.reason or "")
        assert "72 h" in (pending.reason or "")
        fixed = session.scalars(select(Campaign)).one()
        fixed.upc = "198880045572"
        fixed.spec = {**fixed.spec, "upc": "198880045572"}

    resumed = harness.run("wrong-upc")
    assert resumed.outcomes["delivered"] == 2
    assert resumed.outcomes["pending_source"] == 0
    assert release["spotify"]["uri"] in [i["uri"] for i in harness.fan("fan-a")["library"]]


def test_local_midnight_serves_each_fan_at_their_own_midnight(harness: Harness) -> None:
    wall = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    release = harness.add_release("198880045573", wall, release_mode="local", timezone="UTC")
    campaign = harness.add_campaign("local", "198880045573", wall, release_mode="local")
    east = harness.spotify_grant(campaign, "fan-east", timezone="Etc/GMT-2")  # UTC+2: midnight has passed
    west = harness.spotify_grant(campaign, "fan-west", timezone="Etc/GMT+2")  # UTC-2: in 90 minutes

    first = harness.run("local")
    with harness.store.session() as session:
        saves = {
            a.grant_id: a
            for a in session.scalars(select(OwedAction).where(OwedAction.kind == "save_release"))
        }
    assert saves[east].outcome == "delivered"
    assert saves[west].outcome == "queued"
    assert saves[west].due_at == wall + timedelta(hours=2)
    assert first.undone == 0  # the west fan's midnight is still to come
    with harness.store.session() as session:
        assert campaigns_with_work_due(session, datetime.now(UTC)) == []
        assert campaigns_with_work_due(session, wall + timedelta(hours=2, seconds=1)) == ["local"]

    later = datetime.now(UTC) + timedelta(hours=2)
    harness.admin.put("/sandbox/clock", json={"now": later.isoformat()}).raise_for_status()
    second = harness.run("local", now=later)  # the sandbox's tokens have expired meanwhile: refreshed once
    assert second.outcomes["delivered"] == 4
    assert release["spotify"]["uri"] in [i["uri"] for i in harness.fan("fan-west")["library"]]
    assert_calls_match_spec(harness.calls("spotify", bodies="true"), check_params=True)


def test_shard_processes_split_the_work_and_do_each_action_once(harness: Harness) -> None:
    release = harness.add_release("198880045574", ago(10))
    campaign = harness.add_campaign("sharded", "198880045574", ago(10))
    fans = [f"fan-{n:02d}" for n in range(16)]
    for fan in fans:
        harness.spotify_grant(campaign, fan)
    app = harness.spotify()
    setup = WorkerSetup(harness.settings.resolved_database_url, tuple(harness.vault_keys()), {"spotify": app})

    report = harness.run(
        "sharded", options=ReleaseOptions(shards=2, threads=4), launcher=ShardLauncher(setup)
    )

    assert report.outcomes["delivered"] == 32
    assert report.performed == 32  # the save and the artist follow (no landing app here)
    with harness.store.session() as session:
        attempts = {
            a.attempt_id for a in session.scalars(select(OwedAction).where(OwedAction.kind == "save_release"))
        }
    assert {attempt.rsplit(":", 1)[1] for attempt in attempts if attempt} == {"0/2", "1/2"}
    writes = _album_writes(harness, release["spotify"]["uri"])
    assert {fan: writes[fan] for fan in fans} == dict.fromkeys(fans, 1)


def test_presave_campaign_update_with_the_right_upc_brings_pending_saves_back_and_restarts_the_window(
    harness: Harness, tmp_path: Path
) -> None:
    release = harness.add_release("198880045575", ago(60))
    document = {
        "slug": "typo",
        "artist": "Nova Lane",
        "title": "Release",
        "upc": "198880045579",  # a typo in the UPC
        "release_at": ago(60).replace(tzinfo=None).isoformat(timespec="seconds"),
        "timezone": "UTC",
        "services": {"spotify": {"artist": f"spotify:artist:{ARTIST_ID}"}},
    }
    campaign = harness.add_campaign("typo", "198880045579", ago(60))
    harness.spotify_grant(campaign, "fan-a")
    assert harness.run("typo", now=datetime.now(UTC) + timedelta(hours=73)).outcomes["pending_source"] == 1
    runner = CliRunner(
        env={
            "PRESAVE_DATA_DIR": str(tmp_path / "data"),
            "PRESAVE_DATABASE_URL": harness.settings.resolved_database_url,
            "PRESAVE_SECRET_KEY": harness.settings.secret_key.get_secret_value(),  # type: ignore[union-attr]
        }
    )

    def update(upc: str) -> None:
        path = tmp_path / f"{upc}.yaml"
        path.write_text(yaml.safe_dump({**document, "upc": upc}))
        result = runner.invoke(app, ["campaign", "update", str(path)])
        assert result.exit_code == 0, result.output

    update("198880045578")  # another typo: looked up again, waiting from now, not set aside at once
    still_wrong = harness.run("typo")
    assert still_wrong.outcomes["queued"] == 1
    assert "not live on spotify yet (looked up by upc:198880045578)" in still_wrong.waiting["spotify"]

    update("198880045575")
    fixed = harness.run("typo")
    assert fixed.outcomes["pending_source"] == 0
    assert fixed.outcomes["delivered"] == 2
    assert release["spotify"]["uri"] in [i["uri"] for i in harness.fan("fan-a")["library"]]


def _interrupt_every_save(harness: Harness) -> None:
    """As a run killed after sending the saves would leave them: in flight."""
    with harness.store.session() as session:
        for action in session.scalars(select(OwedAction).where(OwedAction.kind == "save_release")):
            action.outcome, action.done_at = "queued", None
            action.started_at, action.attempt_id = datetime.now(UTC) - timedelta(minutes=10), "killed"


def _library_checks(harness: Harness, album: str) -> list[int]:
    return [
        call["status"]
        for call in harness.calls("spotify")
        if call["route"] == "GET /me/library/contains" and album in unquote(call["query"])
    ]


def test_an_interrupted_save_is_checked_when_the_grant_may_read_the_library_and_sent_again_when_not(
    harness: Harness,
) -> None:
    release = harness.add_release("198880045579", ago(10))
    album = release["spotify"]["uri"]
    campaign = harness.add_campaign("interrupted", "198880045579", ago(10))
    harness.spotify_grant(campaign, "fan-reads")  # every scope, user-library-read among them
    # what the landing app asks: no user-library-read, so the library cannot be read back
    landing_scopes = "user-library-modify user-follow-modify user-follow-read"
    harness.spotify_grant(campaign, "fan-landing", scope=landing_scopes)
    harness.run("interrupted")
    _interrupt_every_save(harness)
    before = Counter(_album_writes(harness, album))

    harness.run("interrupted")

    writes = _album_writes(harness, album) - before
    assert writes == Counter(
        {"fan-landing": 1}
    )  # found done for the reader; sent again, a no-op, for the other
    assert _library_checks(harness, album) == [200]  # no call spent on a 403
    assert _outcomes(harness)["delivered"] == 4
