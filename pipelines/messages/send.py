"""One sending run: claim due messages, check each fan's consent again, send, record the answer at once.

Each answer is committed right after the server gives it, so a run that stops (a crash, a server that
hangs up for good) leaves every message either recorded or back in the queue: nobody is sent a message
twice and nobody is skipped.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns import message_ledger
from campaigns.message_ledger import ClaimedMessage, MessageResult
from campaigns.models import Campaign, Grant, MessageKind, Outcome
from campaigns.reminders import click_token, defer, release_link
from campaigns.store import Store
from campaigns.vault import TokenVault, VaultError
from pipelines.messages.compose import Letter, compose
from pipelines.messages.plan import (
    campaigns_to_message,
    live_releases,
    plan_reask,
    plan_release_day,
    regranted_since,
)
from pipelines.messages.reminders import plan_reminders
from services.email import Answer, Sent

RETRY_BASE = timedelta(minutes=5)


class Sender(Protocol):
    def send(self, message: EmailMessage) -> Sent: ...


@dataclass(frozen=True, slots=True)
class Links:
    """Where the messages point: the landing app's public URL."""

    public_url: str

    def campaign(self, slug: str, medium: str) -> str:
        return f"{self.public_url}/{slug}?utm_source=email&utm_medium={medium}"

    def unsubscribe(self, token: str) -> str:
        return f"{self.public_url}/unsubscribe/{token}"

    def reminder(self, token: str) -> str:
        """A reminder's tracked link: counted on the landing app, then on to the release."""
        return f"{self.public_url}/r/{token}"


@dataclass
class SendReport:
    planned: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)  # this run's answers: delivered, refused...
    stopped: str | None = None  # why the run stopped early (the server stayed unreachable)

    def count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1


def retry_moment(now: datetime, attempts_so_far: int) -> datetime:
    """Back off: 5, 10, 20, 40 minutes after each failed attempt."""
    doublings: int = 2**attempts_so_far
    return now + RETRY_BASE * doublings


@dataclass(frozen=True)
class Skip:
    """Why a claimed message is not sent: it ends undeliverable with this reason."""

    counted_as: str
    reason: str


NOT_NEEDED = Skip("not_needed", "not needed: the fan pre-saved again")
NO_CONSENT = Skip("no_consent", "no live consent to email (withdrawn, or the fan was erased)")


LINK_NOT_KNOWN = "waiting for the release's link on the fan's service (never sent broken)"


def _prepare(
    session: Session, vault: TokenVault, message: ClaimedMessage, sender: str, links: Links
) -> Letter | Skip | None:
    """The letter to send, or why none is sent (a re-ask the fan answered already, no live consent);
    None: a reminder whose link is not known yet (it waits)."""
    if message.kind == MessageKind.REASK and regranted_since(session, message.grant_id, message.created_at):
        return NOT_NEEDED
    if (
        message.kind == MessageKind.REMINDER
        and release_link(session, message.campaign_id, message.service) is None
    ):
        return None
    letter = _letter(session, vault, message, sender, links)
    return NO_CONSENT if letter is None else letter


def _letter(
    session: Session, vault: TokenVault, claimed: ClaimedMessage, sender: str, links: Links
) -> Letter | None:
    """The letter for a claimed message, or None when the fan may no longer be written to."""
    if not message_ledger.may_message(session, claimed.grant_id):
        return None
    sealed, slug, artist, title, release_at = session.execute(
        select(Grant.email, Campaign.slug, Campaign.artist, Campaign.title, Campaign.release_at)
        .join(Campaign, Campaign.id == Grant.campaign_id)
        .where(Grant.id == claimed.grant_id)
    ).one()
    if sealed is None:
        return None
    try:
        address = vault.open(sealed).reveal()
    except VaultError:
        return None
    medium = "reask" if claimed.kind == "reask" else "release_day"
    link = (
        links.reminder(click_token(vault, claimed.id))
        if claimed.kind == MessageKind.REMINDER
        else links.campaign(slug, medium)
    )
    return Letter(
        kind=claimed.kind,
        message_id=claimed.id,
        to=address,
        sender=sender,
        artist=artist,
        title=title,
        service=claimed.service,
        link=link,
        unsubscribe_url=links.unsubscribe(message_ledger.unsubscribe_token(vault, claimed.id)),
        release_date=release_at.strftime("%-d %B %Y"),
    )


def _record(store: Store, claimed: ClaimedMessage, attempt_id: str, sent: Sent, now: datetime) -> str:
    if sent.answer == Answer.DELIVERED:
        outcome = Outcome.DELIVERED.value
    elif sent.answer == Answer.REFUSED:
        outcome = Outcome.UNDELIVERABLE.value
    elif claimed.attempts + 1 >= message_ledger.MAX_ATTEMPTS:
        outcome = Outcome.FAILED.value
    else:
        outcome = Outcome.QUEUED.value
    retry_at = retry_moment(now, claimed.attempts) if outcome == Outcome.QUEUED else None
    result = MessageResult(outcome, sent.status, sent.reason or None, retry_at)
    with store.session() as session:
        message_ledger.finish(session, claimed.id, attempt_id, result, now)
    return outcome


def plan_messages(store: Store, vault: TokenVault, now: datetime) -> int:
    """Plan the release-day messages and re-asks of every campaign that may still owe some."""
    planned = 0
    with store.session() as session:
        campaigns = campaigns_to_message(session, now)
    for campaign in campaigns:
        with store.session() as session:
            planned += plan_release_day(session, vault, campaign, now)
        with store.session() as session:
            planned += plan_reminders(session, vault, campaign, now)
        planned += plan_reask(store, vault, campaign, now)
    return planned


def send_due(
    store: Store,
    vault: TokenVault,
    mailer: Sender,
    *,
    sender: str,
    links: Links,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    batch: int = 200,
    report: SendReport | None = None,
) -> SendReport:
    """Send every message due now; stops early (putting the rest back) when the server is unreachable."""
    report = report or SendReport()
    attempt_id = f"messages-{uuid.uuid4().hex[:16]}"
    while True:
        now = clock()
        with store.session() as session:
            claimed = message_ledger.claim(
                session, now=now, attempt_id=attempt_id, live=live_releases(session, now), limit=batch
            )
        if not claimed:
            return report
        for index, message in enumerate(claimed):
            with store.session() as session:
                prepared = _prepare(session, vault, message, sender, links)
                if prepared is None:
                    defer(session, message.id, attempt_id, LINK_NOT_KNOWN, clock())
                    report.count("waiting_for_link")
                    continue
                if isinstance(prepared, Skip):
                    skipped = MessageResult(Outcome.UNDELIVERABLE.value, reason=prepared.reason)
                    message_ledger.finish(session, message.id, attempt_id, skipped, clock())
                    report.count(prepared.counted_as)
                    continue
                letter = prepared
            sent = mailer.send(compose(letter))
            outcome = _record(store, message, attempt_id, sent, clock())
            report.count(sent.answer.value if outcome != Outcome.FAILED else "failed")
            if sent.server_down:
                with store.session() as session:
                    message_ledger.release(session, [m.id for m in claimed[index + 1 :]], attempt_id)
                report.stopped = sent.reason
                return report
