"""Reminder pre-saves on release day, over a real SMTP server on loopback (aiosmtpd): one message at the
fan's release moment with a tracked link to the release on their service, sent once its link is known
(never broken), with one-click unsubscribe; the link counts the click and opens the release."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import select

from campaigns.models import ActionKind, EventKind, FanMessage, LandingEvent, Outcome, OwedAction
from campaigns.reminders import Reason, Signup, sign_up
from campaigns.settings import Settings
from campaigns.store import Store
from campaigns.vault import TokenVault
from collectors.landing.app import create_app as create_landing
from pipelines.messages.reminders import resolve_links
from presave.servers import LoopbackServer
from tests.messages.smtp_server import LoopbackSmtp
from tests.messages.world import RELEASE, add_fan, make_campaign, send_run

AFTER = RELEASE + timedelta(minutes=5)
TIDAL = "https://tidal.com/browse/album/123456"
SERVICES = {
    "spotify": {"artist": "spotify:artist:4Z8W4fKeB5YxbusRsdQVPb"},
    "tidal": {"link": TIDAL},
    "amazon_music": {},  # no link, and Amazon has no public lookup: never resolvable
}


@pytest.fixture
def smtp() -> Iterator[LoopbackSmtp]:
    with LoopbackSmtp() as server:
        yield server


def remind(store: Store, vault: TokenVault, campaign: int, service: str, address: str) -> int:
    with store.session() as session:
        grant, _ = sign_up(
            session,
            vault,
            Signup(campaign, service, address, "Email me once when it is out.", "1-test", Reason.LINK_ONLY),
        )
        return grant


def sent_to(smtp: LoopbackSmtp) -> dict[str, str]:
    return {m["To"]: m.get_payload(decode=True).decode() for m in smtp.inbox.received}


def test_a_reminder_waits_for_its_link_then_goes_once_with_a_tracked_link(
    store: Store, vault: TokenVault, smtp: LoopbackSmtp
) -> None:
    campaign = make_campaign(store, services=SERVICES)
    remind(store, vault, campaign, "tidal", "tidal-fan@mail.example")
    remind(store, vault, campaign, "amazon_music", "amazon-fan@mail.example")
    before = send_run(store, vault, smtp.url, RELEASE - timedelta(hours=1))
    assert (before.planned, smtp.inbox.received) == (2, [])  # planned for the release moment

    unresolved = send_run(store, vault, smtp.url, AFTER)
    assert smtp.inbox.received == []  # no link known yet: nothing sent broken
    assert unresolved.outcomes == {"waiting_for_link": 2}

    assert resolve_links(store, {}, AFTER) == 1  # TIDAL by the campaign file's link; Amazon has none
    sent = send_run(store, vault, smtp.url, AFTER + timedelta(minutes=20))
    again = send_run(store, vault, smtp.url, AFTER + timedelta(hours=2))
    assert sent.outcomes == {"delivered": 1, "waiting_for_link": 1}
    assert again.outcomes == {"waiting_for_link": 1}
    [message] = smtp.inbox.received
    assert message["To"] == "tidal-fan@mail.example"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = message.get_payload(decode=True).decode()
    assert "opens it on TIDAL" in text
    assert "https://presave.label.example/r/" in text
    assert TIDAL not in text  # the link goes through the tracked redirect
    with store.session() as session:
        outcomes = dict(session.execute(select(FanMessage.service, FanMessage.outcome)).all())
    assert outcomes == {"tidal": "delivered", "amazon_music": "queued"}


def test_a_spotify_reminder_takes_the_release_the_executor_found(
    store: Store, vault: TokenVault, smtp: LoopbackSmtp
) -> None:
    campaign = make_campaign(store, services=SERVICES)
    remind(store, vault, campaign, "spotify", "capped@mail.example")
    send_run(store, vault, smtp.url, AFTER)
    assert resolve_links(store, {}, AFTER) == 0  # no app asked, nothing found yet: it waits
    saver = add_fan(store, vault, campaign, "allowlisted", consent=False)
    with store.session() as session:
        session.add(
            OwedAction(
                campaign_id=campaign,
                grant_id=saver,
                service="spotify",
                kind=ActionKind.SAVE_RELEASE,
                target="release",
                due_at=RELEASE,
                outcome=Outcome.DELIVERED,
                done_at=RELEASE,
                resolved_target="spotify:album:1A2GTWGtFfWp7KSQTwWOyo",
            )
        )
    assert resolve_links(store, {}, AFTER) == 1
    send_run(store, vault, smtp.url, AFTER + timedelta(minutes=20))
    assert list(sent_to(smtp)) == ["capped@mail.example"]


def test_the_tracked_link_counts_the_click_and_opens_the_release(
    settings: Settings, store: Store, vault: TokenVault, smtp: LoopbackSmtp
) -> None:
    campaign = make_campaign(store, services=SERVICES)
    grant = remind(store, vault, campaign, "tidal", "tidal-fan@mail.example")
    send_run(store, vault, smtp.url, AFTER)
    resolve_links(store, {}, AFTER)
    send_run(store, vault, smtp.url, AFTER + timedelta(minutes=20))
    link = next(word for word in sent_to(smtp)["tidal-fan@mail.example"].split() if "/r/" in word)
    app = create_landing(settings, store)
    with LoopbackServer(app) as server, httpx.Client(base_url=server.url) as client:
        followed = client.get(urlsplit(link).path)
        forged = client.get(urlsplit(link).path[:-3] + "abc")
    assert followed.status_code == 302
    assert followed.headers["location"] == TIDAL
    assert forged.status_code == 404
    assert app.state.landing.events.flush()
    with store.session() as session:
        clicks = session.execute(
            select(LandingEvent.kind, LandingEvent.service, LandingEvent.grant_id).where(
                LandingEvent.kind == EventKind.REMINDER_CLICK
            )
        ).all()
    assert clicks == [("reminder_click", "tidal", grant)]
