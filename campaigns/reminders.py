"""Reminder pre-saves: the kind of pre-save for a service the label cannot write to.

A fan leaves an email address (with consent) and a service: Spotify past its development-mode places or
without an app, Deezer without an app, or a link-only service of the campaign (Amazon Music, YouTube
Music, TIDAL, SoundCloud). The reminder is a grant row with status `reminder` and no token (its
`service_user_id` a keyed hash of the address), so erasure, consent, unsubscribe and the message ledger
treat it like any fan. At the fan's release moment one `reminder` message carries a tracked link
(`/r/<token>` on the landing app) that opens the release on their service: the link is resolved by UPC
or ISRC where the service allows (kept in `release_links`), else the campaign file's link; a message
whose link is not known yet waits, never sent broken.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from campaigns.message_ledger import EMAIL_SCOPE, recipient_key
from campaigns.models import (
    ConsentRecord,
    FanMessage,
    Grant,
    GrantStatus,
    MessageKind,
    Outcome,
    ReleaseLink,
    utcnow,
)
from campaigns.vault import TokenVault

REMINDER_PREFIX = "reminder:"
LINK_WAIT = timedelta(minutes=15)  # a reminder whose link is not known yet is tried again after this


class Reason:
    """Why a fan was offered a reminder rather than a direct save (kept in the grant's choices)."""

    LINK_ONLY = "link_only"  # the service has no library API a label can write to
    NO_APP = "no_app"  # the campaign offers the service, the label has no app for it here
    SPOTIFY_FULL = "spotify_full"  # the Spotify app's development-mode places are taken
    TURNED_AWAY = "turned_away"  # the fan authorized, the development-mode app refused them


@dataclass(frozen=True)
class Signup:
    campaign_id: int
    service: str
    address: str
    consent_text: str
    consent_version: str
    reason: str
    country: str | None = None
    fan_timezone: str | None = None


def sign_up(session: Session, vault: TokenVault, signup: Signup) -> tuple[int, bool]:
    """Store the reminder (one per address, campaign and service) with its consent record; returns the
    grant id and whether it is new. Signing up again renews the consent and keeps one reminder."""
    address = signup.address.strip()
    user_id = f"{REMINDER_PREFIX}{recipient_key(vault, address)}"
    now = utcnow()
    grant = session.scalar(
        select(Grant).where(
            Grant.campaign_id == signup.campaign_id,
            Grant.service == signup.service,
            Grant.service_user_id == user_id,
        )
    )
    new = grant is None
    if grant is None:
        grant = Grant(
            campaign_id=signup.campaign_id,
            service=signup.service,
            service_user_id=user_id,
            fan_key=vault.pseudonym(signup.service, user_id),
            access_token=vault.seal(""),
            refresh_token=None,
            scopes="",
            granted_at=now,
            status=GrantStatus.REMINDER.value,
            country=signup.country,
            fan_timezone=signup.fan_timezone,
            choices={"reminder": signup.reason},
        )
        session.add(grant)
    grant.email = vault.seal(address)
    session.flush()
    session.add(
        ConsentRecord(
            campaign_id=signup.campaign_id,
            grant_id=grant.id,
            scope=EMAIL_SCOPE,
            text_version=signup.consent_version,
            text=signup.consent_text,
            given_at=now,
        )
    )
    return grant.id, new


def is_reminder(grant: Any) -> bool:
    return str(getattr(grant, "status", "")) == GrantStatus.REMINDER.value


# the tracked link ----------------------------------------------------------------------------------------
def click_token(vault: TokenVault, message_id: int) -> str:
    """The tracked link's token: the message id, signed (pseudonymous: no address, no account)."""
    return f"{message_id}-{vault.pseudonym('reminder-link', str(message_id))[:20]}"


def read_click_token(vault: TokenVault, token: str) -> int | None:
    head, _, signature = token.partition("-")
    if not head.isdigit() or len(head) > 18:
        return None
    expected = vault.pseudonym("reminder-link", head)[:20]
    return int(head) if hmac.compare_digest(expected, signature) else None


@dataclass(frozen=True)
class Click:
    campaign_id: int
    grant_id: int
    service: str
    url: str


def click_target(session: Session, message_id: int) -> Click | None:
    """Where a reminder message's link leads: the release on the fan's service (None: no such message,
    or its link is gone)."""
    row = session.execute(
        select(FanMessage.campaign_id, FanMessage.grant_id, FanMessage.service, ReleaseLink.url)
        .join(
            ReleaseLink,
            (ReleaseLink.campaign_id == FanMessage.campaign_id) & (ReleaseLink.service == FanMessage.service),
        )
        .where(FanMessage.id == message_id, FanMessage.kind == MessageKind.REMINDER)
    ).first()
    return Click(*row) if row else None


# the release's link on each service --------------------------------------------------------------------
def release_link(session: Session, campaign_id: int, service: str) -> str | None:
    return session.scalar(
        select(ReleaseLink.url).where(ReleaseLink.campaign_id == campaign_id, ReleaseLink.service == service)
    )


def keep_link(session: Session, campaign_id: int, service: str, url: str, source: str) -> None:
    if release_link(session, campaign_id, service) is None:
        session.add(ReleaseLink(campaign_id=campaign_id, service=service, url=url[:500], source=source))
        session.flush()


def waiting_links(session: Session, now: datetime) -> list[tuple[int, str]]:
    """(campaign, service) pairs with a reminder due (or soon due) and no link yet."""
    rows = session.execute(
        select(FanMessage.campaign_id, FanMessage.service)
        .where(
            FanMessage.kind == MessageKind.REMINDER,
            FanMessage.outcome == Outcome.QUEUED,
            FanMessage.due_at <= now + LINK_WAIT,
        )
        .distinct()
    ).all()
    return [(c, s) for c, s in rows if release_link(session, c, s) is None]


_MESSAGES: Table = FanMessage.__table__  # type: ignore[assignment]


def defer(session: Session, message_id: int, attempt_id: str, reason: str, now: datetime) -> None:
    """A claimed reminder whose link is not known yet goes back to the queue unsent (no attempt spent)."""
    session.execute(
        update(_MESSAGES)
        .where(_MESSAGES.c.id == message_id, _MESSAGES.c.attempt_id == attempt_id)
        .values(started_at=None, attempt_id=None, retry_at=now + LINK_WAIT, reason=reason[:300])
    )
