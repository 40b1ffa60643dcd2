"""The release-day message over a real SMTP server on loopback (aiosmtpd), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from campaigns import message_ledger
from campaigns.models import ConsentRecord, FanMessage, Grant, Outcome
from campaigns.store import Store
from campaigns.vault import TokenVault
from collectors.landing.fans import erase_grants
from tests.messages.smtp_server import LoopbackSmtp
from tests.messages.world import RELEASE, add_fan, make_campaign, mark_live, send_run

AFTER = RELEASE + timedelta(minutes=5)


@pytest.fixture
def smtp() -> Iterator[LoopbackSmtp]:
    with LoopbackSmtp() as server:
        yield server


def fans(store: Store, vault: TokenVault, campaign_id: int, count: int) -> list[str]:
    addresses = [f"fan{index}@mail.example" for index in range(count)]
    for index, address in enumerate(addresses):
        add_fan(store, vault, campaign_id, f"user-{index}", email=address)
    return addresses


def outcomes(store: Store) -> Counter[str]:
    with store.session() as session:
        return Counter(session.scalars(select(FanMessage.outcome)))


def test_each_consenting_fan_gets_one_message_with_the_listen_link_and_one_click_unsubscribe(
    store: Store, vault: TokenVault, smtp: LoopbackSmtp
) -> None:
    campaign = make_campaign(store)
    mark_live(store, vault, campaign, "spotify")
    addresses = fans(store, vault, campaign, 5)

    report = send_run(store, vault, smtp.url, AFTER)
    again = send_run(store, vault, smtp.url, AFTER + timedelta(hours=1))

    assert sorted(smtp.inbox.to()) == sorted(addresses)
    assert report.outcomes == {"delivered": 5}
    assert again.planned == 0
    assert again.outcomes == {}
    message = smtp.inbox.received[0]
    assert message["Subject"] == "Midnight Drive by Nova Lane is out now"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe_url = message["List-Unsubscribe"].strip().strip("<>")
    assert unsubscribe_url.startswith("https://presave.label.example/unsubscribe/")
    text = message.get_payload(decode=True).decode()
    assert "https://presave.label.example/midnight-drive?utm_source=email" in text
    assert unsubscribe_url in text
    token = unsubscribe_url.rsplit("/", 1)[1]
    assert message_ledger.read_unsubscribe_token(vault, token) is not None


def test_no_message_without_a_live_consent_and_none_to_an_erased_fan(
    store: Store, vault: TokenVault, smtp: LoopbackSmtp
) -> None:
    campaign = make_campaign(store)
    mark_live(store, vault, campaign, "spotify")
    add_fan(store, vault, campaign, "keeps", email="keeps@mail.example")
    add_fan(store, vault, campaign, "never", email="never@mail.example", consent=False)
    withdrawn = add_fan(store, vault, campaign, "withdraws", email="withdraws@mail.example")
    erased = add_fan(store, vault, campaign, "erased", email="erased@mail.example")
    assert send_run(store, vault, smtp.url, RELEASE - timedelta(hours=1)).planned == 3  # planned, not due
    with store.session() as session:  # what unticking on the done page does; erasure as `presave forget`
        session.execute(
            update(ConsentRecord)
            .where(ConsentRecord.grant_id == withdrawn)
            .values(withdrawn_at=RELEASE - timedelta(minutes=30))
        )
        session.execute(update(Grant).where(Grant.id == withdrawn).values(email=None))
        erase_grants(session, [erased])

    report = send_run(store, vault, smtp.url, AFTER)

    assert smtp.inbox.to() == ["keeps@mail.example"]
    assert report.outcomes == {"delivered": 1, "no_consent": 1}
    with store.session() as session:
        rows = dict(session.execute(select(FanMessage.grant_id, FanMessage.outcome)).all())
    assert rows[withdrawn] == Outcome.UNDELIVERABLE
    assert erased not in rows  # erasure took the fan's messages with the grant


def test_a_fan_on_two_services_with_one_address_gets_one_message(
    store: Store, vault: TokenVault, smtp: LoopbackSmtp
) -> None:
    campaign = make_campaign(store)
    mark_live(store, vault, campaign, "spotify")
    mark_live(store, vault, campaign, "deezer")
    add_fan(store, vault, campaign, "sp", email="Both@Mail.example", service="spotify")
    add_fan(store, vault, campaign, "dz", email="both@mail.example ", service="deezer")

    send_run(store, vault, smtp.url, AFTER)

    assert len(smtp.inbox.received) == 1


def test_a_message_waits_until_the_release_is_live_on_the_fans_service(
    store: Store, vault: TokenVault, smtp: LoopbackSmtp
) -> None:
    campaign = make_campaign(store)
    mark_live(store, vault, campaign, "spotify")
    add_fan(store, vault, campaign, "sp", email="sp@mail.example", service="spotify")
    add_fan(store, vault, campaign, "dz", email="dz@mail.example", service="deezer")

    send_run(store, vault, smtp.url, AFTER)
    assert smtp.inbox.to() == ["sp@mail.example"]
    mark_live(store, vault, campaign, "deezer")
    send_run(store, vault, smtp.url, AFTER + timedelta(minutes=5))

    assert smtp.inbox.to() == ["sp@mail.example", "dz@mail.example"]


def test_in_local_mode_each_fan_hears_at_their_own_midnight(
    store: Store, vault: TokenVault, smtp: LoopbackSmtp
) -> None:
    campaign = make_campaign(store, release_mode="local")
    mark_live(store, vault, campaign, "spotify")
    add_fan(store, vault, campaign, "tokyo", email="tokyo@mail.example", fan_timezone="Asia/Tokyo")
    add_fan(store, vault, campaign, "ny", email="ny@mail.example", fan_timezone="America/New_York")

    send_run(store, vault, smtp.url, RELEASE - timedelta(hours=8))  # 01:00 in Tokyo, 19:00 in New York
    assert smtp.inbox.to() == ["tokyo@mail.example"]
    send_run(store, vault, smtp.url, RELEASE + timedelta(hours=5, minutes=1))  # 00:01 in New York

    assert smtp.inbox.to() == ["tokyo@mail.example", "ny@mail.example"]


def test_refused_recipients_are_recorded_and_nobody_is_sent_twice(
    store: Store, vault: TokenVault, smtp: LoopbackSmtp
) -> None:
    campaign = make_campaign(store)
    mark_live(store, vault, campaign, "spotify")
    addresses = fans(store, vault, campaign, 20)
    for address in addresses[:3]:
        smtp.inbox.refuse[f"{address}"] = "550 5.1.1 No such mailbox"
    for address in addresses[3:5]:
        smtp.inbox.refuse[address] = "450 4.2.1 Mailbox busy, try later"

    first = send_run(store, vault, smtp.url, AFTER)
    smtp.inbox.refuse = {a: r for a, r in smtp.inbox.refuse.items() if r.startswith("550")}
    too_soon = send_run(store, vault, smtp.url, AFTER + timedelta(minutes=1))
    later = send_run(store, vault, smtp.url, AFTER + timedelta(minutes=10))

    assert first.outcomes == {"delivered": 15, "refused": 3, "retry": 2}
    assert too_soon.outcomes == {}
    assert later.outcomes == {"delivered": 2}
    received = Counter(smtp.inbox.to())
    assert set(received) == set(addresses[3:])
    assert max(received.values()) == 1
    with store.session() as session:
        refused = session.execute(
            select(FanMessage.last_status, FanMessage.reason).where(
                FanMessage.outcome == Outcome.UNDELIVERABLE
            )
        ).all()
    assert [status for status, _ in refused] == [550, 550, 550]
    assert all("No such mailbox" in reason and "@" not in reason for _, reason in refused)


def test_a_connection_dropped_mid_batch_skips_nobody_and_repeats_nobody(
    store: Store, vault: TokenVault, smtp: LoopbackSmtp
) -> None:
    campaign = make_campaign(store)
    mark_live(store, vault, campaign, "spotify")
    addresses = fans(store, vault, campaign, 12)
    smtp.inbox.hang_up_on_message = {4, 9}

    report = send_run(store, vault, smtp.url, AFTER)

    assert Counter(smtp.inbox.to()) == Counter(addresses)
    assert report.outcomes == {"delivered": 12}
    assert smtp.inbox.connections == 3  # the first one, and one after each hang-up
    assert outcomes(store) == {Outcome.DELIVERED: 12}


def test_a_server_that_goes_away_mid_batch_leaves_the_rest_for_the_next_run(
    store: Store, vault: TokenVault, smtp: LoopbackSmtp
) -> None:
    campaign = make_campaign(store)
    mark_live(store, vault, campaign, "spotify")
    addresses = fans(store, vault, campaign, 30)
    smtp.inbox.hang_up_after = 5

    first = send_run(store, vault, smtp.url, AFTER)
    assert first.outcomes == {"delivered": 5, "retry": 1}
    assert first.stopped is not None
    assert "connection lost" in first.stopped
    assert outcomes(store) == {Outcome.DELIVERED: 5, Outcome.QUEUED: 25}
    smtp.inbox.hang_up_after = None
    second = send_run(store, vault, smtp.url, AFTER + timedelta(minutes=10))

    assert second.outcomes == {"delivered": 25}
    assert Counter(smtp.inbox.to()) == Counter(addresses)
    assert outcomes(store) == {Outcome.DELIVERED: 30}


def test_a_message_left_in_flight_by_a_crash_is_never_sent_again(
    store: Store, vault: TokenVault, smtp: LoopbackSmtp
) -> None:
    campaign = make_campaign(store)
    mark_live(store, vault, campaign, "spotify")
    fans(store, vault, campaign, 2)
    send_run(store, vault, smtp.url, RELEASE - timedelta(minutes=1))  # planned, not yet due
    with store.session() as session:
        crashed = message_ledger.claim(
            session, now=AFTER, attempt_id="crashed-run", live=[(campaign, "spotify")], limit=1
        )
    assert len(crashed) == 1

    send_run(store, vault, smtp.url, AFTER + timedelta(minutes=1))  # the crashed run may still be sending
    assert len(smtp.inbox.received) == 1
    send_run(store, vault, smtp.url, AFTER + timedelta(minutes=30))

    assert len(smtp.inbox.received) == 1
    with store.session() as session:
        left = session.execute(
            select(FanMessage.outcome, FanMessage.reason).where(FanMessage.id == crashed[0].id)
        ).one()
    assert left.outcome == Outcome.FAILED
    assert "not sent again" in left.reason


def test_one_click_unsubscribe_stops_every_message_to_the_fan(
    store: Store, vault: TokenVault, smtp: LoopbackSmtp
) -> None:
    campaign = make_campaign(store)
    mark_live(store, vault, campaign, "spotify")
    grant = add_fan(store, vault, campaign, "leaver", email="leaver@mail.example")
    send_run(store, vault, smtp.url, RELEASE - timedelta(hours=1))
    with store.session() as session:
        message_id = session.scalar(select(FanMessage.id).where(FanMessage.grant_id == grant))
    assert message_id is not None
    token = message_ledger.unsubscribe_token(vault, message_id)
    assert (
        message_ledger.read_unsubscribe_token(vault, token[:-1] + ("0" if token[-1] != "0" else "1")) is None
    )

    with store.session() as session:
        ended = message_ledger.unsubscribe(
            session, message_ledger.read_unsubscribe_token(vault, token) or 0, now=RELEASE
        )
    send_run(store, vault, smtp.url, AFTER)

    assert ended == 1
    assert smtp.inbox.received == []
    with store.session() as session:
        assert session.scalar(select(Grant.email).where(Grant.id == grant)) is None
        assert (
            session.scalar(select(FanMessage.outcome).where(FanMessage.id == message_id))
            == Outcome.UNDELIVERABLE
        )
        assert not message_ledger.may_message(session, grant)
