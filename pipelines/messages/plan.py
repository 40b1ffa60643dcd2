"""Which messages each fan is owed: planned into the message ledger, once per fan, campaign and kind.

Only grants holding an address under a live email consent are planned; the consent is checked again at
send time. Two grants with the same address (one fan on two services) get one message.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns import message_ledger
from campaigns.models import ActionKind, Campaign, Grant, GrantStatus, MessageKind, Outcome, OwedAction
from campaigns.store import Store
from campaigns.vault import TokenVault, VaultError
from executor.health import unservable_spotify_grants
from executor.plan import CampaignPlan, GrantFacts, release_moment

RECENT = timedelta(days=7)  # campaigns released longer ago than this get no release-day message
REASK_LEAD = timedelta(days=30)  # ask again a month before the fan's release moment (or now, if later)


def consented_grants(
    session: Session, campaign_id: int, service: str | None = None, *, reminders: bool = False
) -> list[Any]:
    """The campaign's grants with an address and live consent, in grant order: the reminder pre-saves
    (`reminders`), else the others (a reminder's message is its own, planned by `reminders`)."""
    kind = Grant.status == GrantStatus.REMINDER.value
    query = select(
        Grant.id,
        Grant.service,
        Grant.email,
        Grant.granted_at,
        Grant.choices,
        Grant.fan_timezone,
        Grant.country,
    ).where(
        Grant.campaign_id == campaign_id,
        kind if reminders else ~kind,
        Grant.email.is_not(None),
        message_ledger.live_consent(),
    )
    if service:
        query = query.where(Grant.service == service)
    return list(session.execute(query.order_by(Grant.id)))


def grant_facts(row: Any) -> GrantFacts:
    return GrantFacts(row.id, row.service, row.granted_at, row.choices, row.fan_timezone, row.country)


def messages_for(
    vault: TokenVault, campaign_id: int, kind: str, rows: Iterable[tuple[Any, datetime]], now: datetime
) -> list[dict[str, Any]]:
    """Ledger rows for (grant row, due moment) pairs: the first grant of each address wins."""
    planned: dict[str, dict[str, Any]] = {}
    for row, due in rows:
        try:
            address = vault.open(row.email).reveal()
        except VaultError:
            continue  # an address sealed under a removed key cannot be written to
        key = message_ledger.recipient_key(vault, address)
        planned.setdefault(
            key,
            {
                "campaign_id": campaign_id,
                "grant_id": row.id,
                "service": row.service,
                "kind": kind,
                "recipient_key": key,
                "due_at": due,
                "created_at": now,
            },
        )
    return list(planned.values())


def plan_release_day(session: Session, vault: TokenVault, campaign: Campaign, now: datetime) -> int:
    """One release-day message per consenting fan who pre-saved before their release moment, due then."""
    plan = CampaignPlan.of(campaign)
    pairs = []
    for row in consented_grants(session, campaign.id):
        due = release_moment(plan, grant_facts(row))
        if row.granted_at < due:
            pairs.append((row, due))
    return message_ledger.plan(session, messages_for(vault, campaign.id, MessageKind.RELEASE_DAY, pairs, now))


def campaigns_to_message(session: Session, now: datetime) -> list[Campaign]:
    """Campaigns whose release-day messages may still be owed (released within `RECENT`, or later)."""
    return list(session.scalars(select(Campaign).where(Campaign.release_at >= now - RECENT)))


def live_releases(session: Session, now: datetime) -> list[tuple[int, str]]:
    """(campaign, service) pairs where the release is live: a fan's save of it was delivered there."""
    return [
        (campaign_id, service)
        for campaign_id, service in session.execute(
            select(Campaign.id, OwedAction.service)
            .join(OwedAction, OwedAction.campaign_id == Campaign.id)
            .where(
                Campaign.release_at >= now - RECENT,
                OwedAction.kind == ActionKind.SAVE_RELEASE,
                OwedAction.outcome == Outcome.DELIVERED,
            )
            .distinct()
        )
    ]


def reask_moment(release_at: datetime, now: datetime) -> datetime:
    """When to ask a fan to pre-save again: a month before their release moment, or now if that has
    passed. Never earlier: a grant given sooner would itself be older than six months at release."""
    return max(now, release_at - REASK_LEAD)


def plan_reask(store: Store, vault: TokenVault, campaign: Campaign, now: datetime) -> int:
    """One re-ask per consenting fan whose Spotify grant will be older than six months at their release
    moment (before that moment only). Granting again replaces the old grant: one save, never two."""
    frame = unservable_spotify_grants(store, now=now, slug=campaign.slug)
    frame = frame[frame["release_moment"] > now]
    if frame.empty:
        return 0
    moments = dict(zip(frame["grant_id"].tolist(), frame["release_moment"].tolist(), strict=True))
    with store.session() as session:
        pairs = [
            (row, reask_moment(moments[row.id].to_pydatetime(), now))
            for row in consented_grants(session, campaign.id, "spotify")
            if row.id in moments
        ]
        return message_ledger.plan(session, messages_for(vault, campaign.id, MessageKind.REASK, pairs, now))


def regranted_since(session: Session, grant_id: int, planned_at: datetime) -> bool:
    """The fan granted again after the re-ask was planned: their new grant will live to the release."""
    granted_at = session.scalar(select(Grant.granted_at).where(Grant.id == grant_id))
    return granted_at is not None and granted_at > planned_at
