"""The ledger's claims and outcomes, and the run locks, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from campaigns import ledger
from campaigns.ledger import Finished, Shard
from campaigns.models import Campaign, Grant, OwedAction
from campaigns.store import Store
from executor.locks import CampaignBusy, run_lock, worker_lock

NOW = datetime(2026, 12, 4, 0, 5, tzinfo=UTC)


def _seed(store: Store, grants: int, kinds: tuple[str, ...] = ("save_release", "follow_artist")) -> int:
    with store.session() as session:
        campaign = Campaign(
            slug="c", artist="a", title="t", upc="1" * 12, release_at=NOW, timezone="UTC", spec={}
        )
        session.add(campaign)
        session.flush()
        for n in range(grants):
            grant = Grant(
                campaign_id=campaign.id,
                service="spotify",
                service_user_id=f"u{n}",
                fan_key=f"k{n}",
                access_token="x",
            )
            session.add(grant)
            session.flush()
            ledger.plan(
                session,
                [
                    {
                        "campaign_id": campaign.id,
                        "grant_id": grant.id,
                        "service": "spotify",
                        "kind": kind,
                        "target": "release",
                        "due_at": NOW - timedelta(minutes=1),
                    }
                    for kind in kinds
                ],
            )
        return campaign.id


def _claim(store: Store, campaign_id: int, attempt: str, **kwargs: object) -> tuple[list, int | None]:
    with store.session() as session:
        return ledger.claim(session, campaign_id, now=NOW, attempt_id=attempt, **kwargs)  # type: ignore[arg-type]


def test_a_claim_takes_whole_grants_and_marks_them_in_flight(store: Store) -> None:
    campaign = _seed(store, 5)
    claimed, cursor = _claim(store, campaign, "run-a", limit=5)
    grants = {a.grant_id for a in claimed}
    assert len(claimed) == 4  # the third grant would be cut by the limit: left whole for the next claim
    assert len(grants) == 2
    assert cursor == max(grants)
    with store.session() as session:
        flying = session.scalars(select(OwedAction).where(OwedAction.attempt_id == "run-a")).all()
    assert {a.id for a in flying} == {a.id for a in claimed}
    assert all(a.started_at == NOW for a in flying)
    rest, end = _claim(store, campaign, "run-a", after_grant=cursor, limit=100)
    assert len(rest) == 6
    assert not {a.grant_id for a in rest} & grants
    assert _claim(store, campaign, "run-a", after_grant=end, limit=100) == ([], None)


def test_a_later_run_sees_what_a_crashed_one_left_in_flight(store: Store) -> None:
    campaign = _seed(store, 2)
    first, _ = _claim(store, campaign, "crashed")
    assert not any(a.interrupted for a in first)
    again, _ = _claim(store, campaign, "next")
    assert {a.id for a in again} == {a.id for a in first}
    assert all(a.interrupted for a in again)


def test_outcomes_are_recorded_only_for_the_attempt_that_holds_the_claim(store: Store) -> None:
    campaign = _seed(store, 2, kinds=("save_release",))
    old, _ = _claim(store, campaign, "old")
    new, _ = _claim(store, campaign, "new")
    with store.session() as session:
        assert ledger.finish(session, "old", [Finished(old[0].id, "delivered", 1, 200, done_at=NOW)]) == 0
        assert ledger.finish(session, "new", [Finished(new[0].id, "delivered", 1, 200, done_at=NOW)]) == 1
        assert (
            ledger.finish(
                session,
                "new",
                [Finished(new[1].id, "queued", 1, 404, "not yet", retry_at=NOW + timedelta(minutes=1))],
            )
            == 1
        )
    with store.session() as session:
        rows = {a.id: a for a in session.scalars(select(OwedAction))}
    assert rows[new[0].id].outcome == "delivered"
    assert rows[new[0].id].attempt_id == "new"
    later = rows[new[1].id]
    assert (later.outcome, later.started_at, later.attempt_id) == ("queued", None, None)
    assert _claim(store, campaign, "new")[0] == []  # not before its retry moment
    with store.session() as session:
        assert ledger.next_due(session, campaign, NOW) == NOW + timedelta(minutes=1)
        assert ledger.outcome_counts(session, campaign) == {
            "queued": 1,
            "delivered": 1,
            "pending_source": 0,
            "undeliverable": 0,
            "failed": 0,
            "ignored": 0,
        }


def test_shards_split_grants_without_overlap(store: Store) -> None:
    campaign = _seed(store, 9)
    seen = []
    for index in range(3):
        claimed, _ = _claim(store, campaign, f"shard-{index}", shard=Shard(index, 3), limit=100)
        assert {a.grant_id % 3 for a in claimed} == {index}
        seen += [a.id for a in claimed]
    assert len(seen) == len(set(seen)) == 18


def test_busy_grants_and_unresolved_kinds_are_left_alone(store: Store) -> None:
    campaign = _seed(store, 3)
    with store.session() as session:
        first = session.scalars(select(Grant.id).order_by(Grant.id)).first()
    claimed, _ = _claim(
        store, campaign, "r", busy_grants=[first], unresolved_kinds=[("spotify", "save_release")], limit=100
    )
    assert {a.kind for a in claimed} == {"follow_artist"}
    assert first not in {a.grant_id for a in claimed}


def test_pending_source_actions_come_back_when_the_campaign_is_corrected(store: Store) -> None:
    campaign = _seed(store, 2)
    with store.session() as session:
        moved = ledger.set_aside(
            session,
            campaign,
            service="spotify",
            kinds=["save_release"],
            outcome="pending_source",
            reason="x",
            now=NOW,
        )
        assert moved == 2
        assert ledger.requeue_pending_source(session, campaign, changed_since=NOW - timedelta(seconds=1)) == 0
        assert ledger.requeue_pending_source(session, campaign, changed_since=NOW + timedelta(seconds=1)) == 2


@pytest.mark.parametrize("holder", ["run", "workers"])
def test_one_run_per_campaign_and_no_run_while_old_workers_live(store: Store, holder: str) -> None:
    with run_lock(store.engine, 1):
        with pytest.raises(CampaignBusy), run_lock(store.engine, 1):
            pass
        with run_lock(store.engine, 2):  # another campaign is free
            pass
    if holder == "workers":
        with (
            worker_lock(store.engine, 1),
            worker_lock(store.engine, 1),  # shared between the workers of a run
            pytest.raises(CampaignBusy, match="still alive"),
            run_lock(store.engine, 1, workers_wait_s=0.2),
        ):
            pass
    with run_lock(store.engine, 1):  # released when its holder leaves
        pass
