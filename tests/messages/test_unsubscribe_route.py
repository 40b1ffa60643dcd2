"""The landing app's one-click unsubscribe (RFC 8058), over real HTTP on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from campaigns import message_ledger
from campaigns.models import ConsentRecord, FanMessage, Grant, Outcome
from campaigns.settings import Settings
from campaigns.store import Store
from campaigns.vault import TokenVault
from collectors.landing.app import create_app as create_landing
from presave.servers import LoopbackServer
from tests.messages.smtp_server import LoopbackSmtp
from tests.messages.world import RELEASE, add_fan, make_campaign, mark_live, send_run


@pytest.fixture
def landing(settings: Settings, store: Store) -> Iterator[httpx.Client]:
    with (
        LoopbackServer(create_landing(settings, store)) as server,
        httpx.Client(base_url=server.url) as client,
    ):
        yield client


def planned_message(store: Store, vault: TokenVault) -> tuple[int, int]:
    campaign = make_campaign(store)
    mark_live(store, vault, campaign, "spotify")
    grant = add_fan(store, vault, campaign, "fan", email="fan@mail.example")
    with LoopbackSmtp() as smtp:
        send_run(store, vault, smtp.url, RELEASE - timedelta(hours=1))  # planned, not yet due
    with store.session() as session:
        message_id = session.scalar(select(FanMessage.id).where(FanMessage.grant_id == grant))
    assert message_id is not None
    return grant, message_id


def live_consents(store: Store, grant: int) -> int:
    with store.session() as session:
        return len(
            session.scalars(
                select(ConsentRecord.id).where(
                    ConsentRecord.grant_id == grant, ConsentRecord.withdrawn_at.is_(None)
                )
            ).all()
        )


def test_following_the_link_only_asks_and_the_one_click_post_unsubscribes(
    landing: httpx.Client, store: Store, vault: TokenVault
) -> None:
    grant, message_id = planned_message(store, vault)
    token = message_ledger.unsubscribe_token(vault, message_id)

    page = landing.get(f"/unsubscribe/{token}")
    assert page.status_code == 200
    assert 'id="unsubscribe"' in page.text
    assert live_consents(store, grant) == 1
    # what a mail provider sends (RFC 8058): no cookie, no origin, no form token
    done = landing.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
    twice = landing.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})

    assert done.status_code == 200
    assert 'id="unsubscribed"' in done.text
    assert twice.status_code == 200
    assert live_consents(store, grant) == 0
    with store.session() as session:
        assert session.scalar(select(Grant.email).where(Grant.id == grant)) is None
        assert (
            session.scalar(select(FanMessage.outcome).where(FanMessage.id == message_id))
            == Outcome.UNDELIVERABLE
        )
    with LoopbackSmtp() as smtp:
        send_run(store, vault, smtp.url, RELEASE + timedelta(minutes=5))
        assert smtp.inbox.received == []


@pytest.mark.parametrize("forged", ["1-0000000000000000000000", "nothing", "99-", "-abc"])
def test_a_link_we_did_not_sign_unsubscribes_nobody(
    landing: httpx.Client, store: Store, vault: TokenVault, forged: str
) -> None:
    grant, _ = planned_message(store, vault)

    assert landing.get(f"/unsubscribe/{forged}").status_code == 404
    assert landing.post(f"/unsubscribe/{forged}").status_code == 404
    assert live_consents(store, grant) == 1
