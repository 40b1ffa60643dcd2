"""Future saves ("forever save"): a fan who opted in on the done page has the artist's next releases
saved too.

The opt-in is a consent record of scope `future_saves` (versioned text, like the email opt-in). For each
later campaign of the same artist, the fan's newest opted-in grant on a service the campaign offers is
carried over as a grant of that campaign: the same sealed tokens, the same `granted_at` (a Spotify
refresh token lives six months from the fan's authorization, so token health stays true), the choices
document marked `future_from`. The executor then plans and performs it like any pre-save, through the
same ledger: one grant per fan, service and campaign, so one save, whatever the reruns.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Table, delete, exists, select
from sqlalchemy.orm import Session

from campaigns.choices import CHOICES_VERSION
from campaigns.ledger import insert_ignoring_duplicates
from campaigns.models import Campaign, ConsentRecord, Grant, GrantStatus
from campaigns.registry import campaign_spec

FUTURE_SCOPE = "future_saves"
FUTURE_MARK = "future_from"  # in a carried-over grant's choices: the grant it came from

_GRANTS: Table = Grant.__table__  # type: ignore[assignment]


def future_consent_text(artist: str) -> str:
    return (
        f"Also save {artist}'s next releases to my library when they come out. I can stop this at any time."
    )


def is_future_save(choices: Any) -> bool:
    """True for a grant carried over from an earlier campaign (a future pre-save, counted apart)."""
    return isinstance(choices, dict) and choices.get(FUTURE_MARK) is not None


def _opted_in() -> Any:
    return exists().where(
        ConsentRecord.grant_id == Grant.id,
        ConsentRecord.scope == FUTURE_SCOPE,
        ConsentRecord.withdrawn_at.is_(None),
    )


def plan_future_saves(session: Session, campaign: Campaign, now: datetime) -> int:
    """Carry opted-in fans of the artist's earlier campaigns over to `campaign`; returns how many grants
    were new (a fan who already pre-saved it, or was carried over before, is left as is)."""
    offered = campaign_spec(campaign).services.offered()
    earlier = select(Campaign.id).where(
        Campaign.artist == campaign.artist,
        Campaign.release_at < campaign.release_at,
        Campaign.id != campaign.id,
    )
    sources = session.execute(
        select(_GRANTS)
        .where(
            Grant.campaign_id.in_(earlier.scalar_subquery()),
            Grant.service.in_(offered),
            Grant.status == GrantStatus.ACTIVE,
            _opted_in(),
        )
        .order_by(Grant.granted_at.desc(), Grant.id.desc())
    ).all()
    carried: dict[tuple[str, str], dict[str, Any]] = {}
    for source in sources:
        carried.setdefault((source.service, source.service_user_id), _carried_over(source, campaign.id, now))
    return insert_ignoring_duplicates(session, _GRANTS, list(carried.values()))


def _carried_over(source: Any, campaign_id: int, now: datetime) -> dict[str, Any]:
    return {
        "campaign_id": campaign_id,
        "service": source.service,
        "service_user_id": source.service_user_id,
        "fan_key": source.fan_key,
        "access_token": source.access_token,
        "refresh_token": source.refresh_token,
        "token_expires_at": source.token_expires_at,
        "scopes": source.scopes,
        "granted_at": source.granted_at,
        "status": GrantStatus.ACTIVE.value,
        "country": source.country,
        "fan_timezone": source.fan_timezone,
        "choices": {"v": CHOICES_VERSION, FUTURE_MARK: source.id},
        "email": None,
        "created_at": now,
        "updated_at": now,
    }


def upcoming_campaigns(session: Session, now: datetime) -> list[Campaign]:
    """Campaigns not released yet: the releases future saves can still be planned for."""
    return list(
        session.scalars(select(Campaign).where(Campaign.release_at > now).order_by(Campaign.release_at))
    )


def withdraw_future_saves(session: Session, grant_ids: list[int], now: datetime) -> int:
    """The fan stopped future saves: those of `grant_ids` carried over to campaigns not released yet are
    deleted (their owed actions with them); returns how many."""
    carried = [
        grant_id
        for grant_id, choices in session.execute(
            select(Grant.id, Grant.choices)
            .join(Campaign, Campaign.id == Grant.campaign_id)
            .where(Grant.id.in_(grant_ids), Campaign.release_at > now)
        )
        if is_future_save(choices)
    ]
    if carried:
        session.execute(
            delete(Grant).where(Grant.id.in_(carried)).execution_options(synchronize_session=False)
        )
    return len(carried)
