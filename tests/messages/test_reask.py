"""The re-ask: fans whose Spotify grant will be older than six months at release are asked once to
pre-save again; granting again replaces the old grant, and the release is saved once, never twice."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from campaigns.models import ActionKind, FanMessage, Grant, MessageKind, Outcome, OwedAction
from campaigns.store import Store
from campaigns.vault import Secret, TokenVault
from collectors.landing.connectors import Tokens
from collectors.landing.records import save_grant
from executor.health import unservable_spotify_grants
from executor.plan import plan_campaign
from pipelines.messages.plan import REASK_LEAD, reask_moment
from tests.messages.smtp_server import LoopbackSmtp
from tests.messages.world import add_fan, campaign_row, make_campaign, send_run

RELEASE = datetime(2027, 3, 5, 0, 0, tzinfo=UTC)  # midnight in London
NOW = datetime.now(UTC)
LONG_AGO = RELEASE - timedelta(days=200)  # more than six months before release
RECENTLY = RELEASE - timedelta(days=100)


@pytest.fixture
def smtp() -> Iterator[LoopbackSmtp]:
    with LoopbackSmtp() as server:
        yield server


@pytest.mark.parametrize(
    ("release_at", "now", "expected"),
    [
        (RELEASE, RELEASE - timedelta(days=90), RELEASE - REASK_LEAD),  # far off: a month before
        (RELEASE, RELEASE - timedelta(days=10), RELEASE - timedelta(days=10)),  # close: now
    ],
)
def test_the_reask_goes_a_month_before_release_or_now_if_later(
    release_at: datetime, now: datetime, expected: datetime
) -> None:
    assert reask_moment(release_at, now) == expected


def test_only_consenting_fans_with_a_grant_too_old_at_release_are_asked_once(
    store: Store, vault: TokenVault, smtp: LoopbackSmtp
) -> None:
    campaign = make_campaign(store, release_at="2027-03-05T00:00")
    add_fan(store, vault, campaign, "old", email="old@mail.example", granted_at=LONG_AGO)
    add_fan(store, vault, campaign, "old-silent", email=None, consent=False, granted_at=LONG_AGO)
    add_fan(store, vault, campaign, "fresh", email="fresh@mail.example", granted_at=RECENTLY)
    add_fan(
        store, vault, campaign, "old-deezer", email="dz@mail.example", service="deezer", granted_at=LONG_AGO
    )
    due = RELEASE - REASK_LEAD

    early = send_run(store, vault, smtp.url, due - timedelta(days=1))
    first = send_run(store, vault, smtp.url, due)
    again = send_run(store, vault, smtp.url, due + timedelta(days=2))

    assert early.planned == 4  # the three release-day messages, and one re-ask
    assert early.outcomes == {}
    with store.session() as session:
        kinds = session.scalars(select(FanMessage.kind).where(FanMessage.kind == MessageKind.REASK)).all()
    assert len(kinds) == 1
    assert first.outcomes == {"delivered": 1}
    assert again.outcomes == {}
    assert smtp.inbox.to() == ["old@mail.example"]
    message = smtp.inbox.received[0]
    assert message["Subject"].startswith("Pre-save Midnight Drive again")
    assert "utm_medium=reask" in message.get_content()


def test_granting_again_replaces_the_old_grant_and_the_release_is_saved_once(
    store: Store, vault: TokenVault, smtp: LoopbackSmtp
) -> None:
    campaign = make_campaign(store, release_at="2027-03-05T00:00")
    grant = add_fan(store, vault, campaign, "old", email="old@mail.example", granted_at=LONG_AGO)
    planned_before = plan_campaign(store, campaign_row(store))
    send_run(store, vault, smtp.url, NOW)  # planned; due a month before release
    with store.session() as session:
        again = save_grant(
            session,
            vault,
            campaign,
            service="spotify",
            user_id="old",
            tokens=Tokens(Secret("new-access"), Secret("new-refresh"), None, "user-library-modify"),
            country="GB",
            fan_timezone=None,
            choices={},
        )
    report = send_run(store, vault, smtp.url, RELEASE - REASK_LEAD)
    plan_campaign(store, campaign_row(store))

    assert again.id == grant
    assert again.again  # the account had granted this campaign before
    assert report.outcomes == {"not_needed": 1}
    assert smtp.inbox.received == []
    assert unservable_spotify_grants(store, now=NOW, slug="midnight-drive").empty
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(Grant)) == 1
        saves = session.scalar(
            select(func.count()).select_from(OwedAction).where(OwedAction.kind == ActionKind.SAVE_RELEASE)
        )
        reask = session.execute(
            select(FanMessage.outcome, FanMessage.kind).where(FanMessage.kind == MessageKind.REASK)
        ).one()
    assert planned_before >= 1
    assert saves == 1
    assert reask == (Outcome.UNDELIVERABLE, MessageKind.REASK)
