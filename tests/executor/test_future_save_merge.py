"""A fan's second grant, stored before the service said whose it is, opted in to future saves and was
carried over to the artist's next release while still provisional; then release day learns whose it is
and folds it into the fan's first grant. The carried-over future save takes the account and comes from
the surviving grant: the next release is saved once. Sandbox over HTTP, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from campaigns.future_saves import FUTURE_MARK, FUTURE_SCOPE, plan_future_saves
from campaigns.identity import provisional_id
from campaigns.ledger import PROFILE_TARGET, AtGrant, GrantRef, record_at_grant
from campaigns.models import ActionKind, Campaign, ConsentRecord, Grant, OwedAction
from tests.executor.conftest import Harness, ago

FAN = "fan-kit"
FIRST_UPC, NEXT_UPC = "198880045581", "198880045582"


def _provisional_grant(harness: Harness, campaign_id: int) -> int:
    """What the landing app stores when `/me` fails after the exchange: the account id unknown, the
    identify action queued; the fan ticked future saves on the done page."""
    tokens = harness.spotify_tokens(FAN)
    with harness.store.session() as session:
        grant = Grant(
            campaign_id=campaign_id,
            service="spotify",
            service_user_id=provisional_id("nonce-of-the-second-authorization"),
            fan_key=harness.vault.pseudonym("spotify", "pending"),
            access_token=harness.vault.seal(tokens["access_token"]),
            refresh_token=harness.vault.seal(tokens["refresh_token"]),
            token_expires_at=datetime.now(UTC) + timedelta(seconds=tokens["expires_in"]),
            scopes=tokens["scope"],
            granted_at=datetime.now(UTC),
            choices={},
        )
        session.add(grant)
        session.flush()
        session.add(
            ConsentRecord(
                campaign_id=campaign_id,
                grant_id=grant.id,
                scope=FUTURE_SCOPE,
                text_version="v1",
                text="Also save Nova Lane's next releases.",
                given_at=datetime.now(UTC),
            )
        )
        record_at_grant(
            session, GrantRef.of(grant), ActionKind.IDENTIFY, PROFILE_TARGET, AtGrant(delivered=False)
        )
        return grant.id


def test_a_future_save_carried_over_from_a_grant_merged_later_is_delivered_once_via_the_survivor(
    harness: Harness,
) -> None:
    harness.add_release(NEXT_UPC, ago(60))
    harness.add_release(FIRST_UPC, ago(7200))
    first_campaign = harness.add_campaign("first-single", FIRST_UPC, ago(7200))
    next_campaign = harness.add_campaign("next-single", NEXT_UPC, ago(60))
    first = harness.spotify_grant(first_campaign, FAN)
    second = _provisional_grant(harness, first_campaign)
    with harness.store.session() as session:
        later = session.get(Campaign, next_campaign)
        assert plan_future_saves(session, later, datetime.now(UTC)) == 1  # carried over while provisional

    harness.run("first-single")  # identify: the second grant is the fan's, folded into the first
    with harness.store.session() as session:
        assert session.get(Grant, second) is None
        [carried] = session.scalars(select(Grant).where(Grant.campaign_id == next_campaign)).all()
        assert carried.service_user_id == FAN
        assert carried.choices[FUTURE_MARK] == first

    report = harness.run("next-single")
    assert report.releases["spotify"] is not None
    with harness.store.session() as session:
        saves = session.execute(
            select(OwedAction.grant_id, OwedAction.outcome).where(
                OwedAction.campaign_id == next_campaign, OwedAction.kind == ActionKind.SAVE_RELEASE
            )
        ).all()
    assert saves == [(carried.id, "delivered")]
    assert report.releases["spotify"] is not None
    kept = [e for e in harness.fan(FAN)["library"] if e["uri"] == report.releases["spotify"]]
    assert [entry["requests"] for entry in kept] == [1]  # the next release saved once
