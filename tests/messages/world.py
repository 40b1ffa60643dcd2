"""A campaign with fans who consented (or not) to email, on a real operational store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from campaigns.campaign_file import parse_campaign
from campaigns.message_ledger import EMAIL_SCOPE
from campaigns.models import ActionKind, Campaign, ConsentRecord, Grant, GrantStatus, Outcome, OwedAction
from campaigns.registry import create_campaign
from campaigns.store import Store
from campaigns.vault import TokenVault
from pipelines.messages.send import Links, SendReport, plan_messages, send_due
from services.email import Mailer, Pacer, parse_smtp_url

RELEASE = datetime(2026, 12, 4, 0, 0, tzinfo=UTC)  # midnight in London (UTC in December)
LINKS = Links("https://presave.label.example")
SENDER = "news@label.example"


def campaign_document(**changes: Any) -> dict[str, Any]:
    return {
        "slug": "midnight-drive",
        "artist": "Nova Lane",
        "title": "Midnight Drive",
        "upc": "198880045560",
        "release_at": "2026-12-04T00:00",
        "timezone": "Europe/London",
        "services": {
            "spotify": {"artist": "spotify:artist:4Z8W4fKeB5YxbusRsdQVPb"},
            "deezer": {"artist_id": "27"},
        },
        **changes,
    }


def make_campaign(store: Store, **changes: Any) -> int:
    with store.session() as session:
        return create_campaign(session, parse_campaign(campaign_document(**changes))).id


def add_fan(
    store: Store,
    vault: TokenVault,
    campaign_id: int,
    user: str,
    *,
    email: str | None = None,
    consent: bool = True,
    service: str = "spotify",
    granted_at: datetime = RELEASE - timedelta(days=10),
    fan_timezone: str | None = None,
) -> int:
    """A fan's grant; with `consent`, a live email consent record and their sealed address."""
    with store.session() as session:
        grant = Grant(
            campaign_id=campaign_id,
            service=service,
            service_user_id=user,
            fan_key=vault.pseudonym(service, user),
            access_token=vault.seal("access"),
            scopes="",
            granted_at=granted_at,
            status=GrantStatus.ACTIVE,
            fan_timezone=fan_timezone,
            email=vault.seal(email) if email else None,
        )
        session.add(grant)
        session.flush()
        if consent:
            session.add(
                ConsentRecord(
                    campaign_id=campaign_id,
                    grant_id=grant.id,
                    scope=EMAIL_SCOPE,
                    text_version="1-test",
                    text="Yes, email me news.",
                    given_at=granted_at,
                )
            )
        return grant.id


def mark_live(store: Store, vault: TokenVault, campaign_id: int, service: str) -> None:
    """The release is live on `service`: one fan's save of it was delivered there."""
    grant_id = add_fan(store, vault, campaign_id, f"saver-{service}", consent=False, service=service)
    with store.session() as session:
        session.add(
            OwedAction(
                campaign_id=campaign_id,
                grant_id=grant_id,
                service=service,
                kind=ActionKind.SAVE_RELEASE,
                target="release",
                due_at=RELEASE,
                outcome=Outcome.DELIVERED,
                done_at=RELEASE,
            )
        )


def send_run(store: Store, vault: TokenVault, smtp_url: str, now: datetime) -> SendReport:
    """One scheduled run: plan, then send what is due, as the Dagster asset does."""
    report = SendReport(planned=plan_messages(store, vault, now))
    with Mailer(parse_smtp_url(smtp_url), None, pacer=Pacer(1000.0)) as mailer:
        return send_due(store, vault, mailer, sender=SENDER, links=LINKS, clock=lambda: now, report=report)


def campaign_row(store: Store, slug: str = "midnight-drive") -> Campaign:
    with store.session() as session:
        return session.query(Campaign).filter_by(slug=slug).one()
