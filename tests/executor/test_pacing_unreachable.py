"""Release day while the app's shared pacing cannot be read (Redis at an address where nothing answers):
whether the app is told to wait is unknown, so nothing is sent; every action stays queued (none failed),
the run says why, and a run once the pacing answers again delivers each action once. Sandbox over HTTP,
SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from campaigns.ledger import Shard
from campaigns.models import Campaign, OwedAction
from executor.plan import plan_campaign
from executor.worker import ShardJob, ShardWorker
from presave.processes import free_port
from services.shared_pacing import share_pacing
from tests.executor.conftest import Harness, ago
from tests.executor.test_quota_spent import release_run

pytestmark = pytest.mark.timeout(180)
ROOT = Path(__file__).resolve().parents[2]
FANS = [f"unpaced-fan-{n}" for n in range(3)]


def nowhere() -> str:
    """A Redis URL where nothing listens."""
    return f"redis://127.0.0.1:{free_port(0)}/0"


def ledger(harness: Harness) -> list[tuple[str, str | None]]:
    with harness.store.session() as session:
        return list(session.execute(select(OwedAction.outcome, OwedAction.reason).order_by(OwedAction.id)))


def web_api_calls(harness: Harness) -> int:
    """Calls that reached Spotify's Web API (the accounts service is not counted)."""
    return len(harness.calls("spotify"))


def test_a_run_whose_pacing_cannot_be_read_sends_nothing_leaves_all_queued_and_says_why(
    harness: Harness,
) -> None:
    harness.add_release("198880045571", ago(60))
    campaign = harness.add_campaign("unpaced", "198880045571", ago(60))
    for fan in FANS:
        harness.spotify_grant(campaign, fan)
    before = web_api_calls(harness)

    answer, _ = release_run(harness, "unpaced", redis_url=nowhere())
    assert answer.returncode == 1, answer.stdout + answer.stderr  # not done: an operator must notice
    assert "Traceback" not in answer.stderr, answer.stderr
    assert "not sent on spotify: spotify: the app's pacing could not be read (Redis" in answer.stdout
    assert "its actions stay queued" in answer.stdout
    assert web_api_calls(harness) == before  # whether the app must wait was unknown: no call
    assert {outcome for outcome, _ in ledger(harness)} == {"queued"}
    assert len(ledger(harness)) == 2 * len(FANS)  # the follow and the save of each fan

    with harness.store.session() as session:  # what was held back is due again soon, not hours later
        session.execute(OwedAction.__table__.update().values(retry_at=None))
    again, _ = release_run(harness, "unpaced")
    assert again.returncode == 0, again.stdout + again.stderr
    assert {outcome for outcome, _ in ledger(harness)} == {"delivered"}
    for fan in FANS:
        document = harness.fan(fan)
        kept = document["library"] + document["follows"]
        assert kept, document
        assert all(entry["requests"] == 1 for entry in kept), document


def test_an_action_claimed_while_the_pacing_cannot_be_read_goes_back_to_the_queue_not_failed(
    harness: Harness,
) -> None:
    """The worker itself (the pacing went away after the run started): its claimed actions are given
    back queued, each with the reason, and nothing reaches the service."""
    campaign = harness.add_campaign("unpaced-worker", "198880045572", ago(-3600))  # released in an hour
    for fan in FANS:
        harness.spotify_grant(campaign, fan)
    with harness.store.session() as session:
        plan_campaign(harness.store, session.get(Campaign, campaign))
    spotify = harness.spotify()
    share_pacing([spotify], nowhere())
    before = web_api_calls(harness)
    job = ShardJob(campaign_id=campaign, attempt_id=f"{uuid.uuid4().hex[:8]}:0/1", shard=Shard(), linger_s=0)
    tally = ShardWorker(harness.store, harness.vault, {"spotify": spotify}, job).run()

    assert tally.by_outcome == {"queued": len(FANS)}  # the artist follow of each fan, due now
    assert list(tally.held_back) == ["spotify"]  # what the run reports: why these were not sent
    rows = ledger(harness)
    assert {outcome for outcome, _ in rows} == {"queued"}
    given_back = [reason for _, reason in rows if reason]
    assert len(given_back) == len(FANS)
    assert all("pacing could not be read" in reason for reason in given_back), rows
    assert web_api_calls(harness) == before
