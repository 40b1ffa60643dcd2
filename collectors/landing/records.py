"""What the landing app writes: landing events, grants (one per service account), grant-time actions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns.models import Campaign, Grant, GrantStatus, LandingEvent, Outcome, OwedAction
from campaigns.vault import Secret, TokenVault


def record_event(
    session: Session,
    campaign_id: int,
    kind: str,
    visit: dict[str, Any],
    *,
    service: str | None = None,
    grant_id: int | None = None,
    detail: str | None = None,
) -> None:
    session.add(
        LandingEvent(
            campaign_id=campaign_id,
            kind=kind,
            service=service,
            grant_id=grant_id,
            detail=detail,
            **{key: visit.get(key) for key in _VISIT_COLUMNS},
        )
    )


_VISIT_COLUMNS = (
    "visitor_id",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "referrer_domain",
    "device_class",
    "in_app_browser",
    "country",
    "ip_hash",
)


def save_grant(
    session: Session,
    vault: TokenVault,
    campaign: Campaign,
    *,
    service: str,
    user_id: str,
    access_token: Secret,
    refresh_token: Secret | None,
    expires_at: datetime | None,
    scopes: str,
    country: str | None,
) -> Grant:
    """Store the grant sealed; the same service account granting again updates its one grant."""
    grant = session.scalar(
        select(Grant).where(
            Grant.campaign_id == campaign.id, Grant.service == service, Grant.service_user_id == user_id
        )
    )
    if grant is None:
        grant = Grant(
            campaign_id=campaign.id,
            service=service,
            service_user_id=user_id,
            fan_key=vault.pseudonym(service, user_id),
        )
        session.add(grant)
    grant.access_token = vault.seal(access_token)
    grant.refresh_token = vault.seal(refresh_token) if refresh_token else None
    grant.token_expires_at = expires_at
    grant.scopes = scopes
    grant.granted_at = datetime.now(UTC)
    grant.status = GrantStatus.ACTIVE
    grant.status_reason = None
    grant.country = country or grant.country
    session.flush()
    return grant


def record_grant_time_action(
    session: Session, grant: Grant, kind: str, target: str, *, delivered: bool, reason: str | None = None
) -> None:
    """Actions done while the fan waits (the artist follow) go to the ledger like any other."""
    now = datetime.now(UTC)
    action = session.scalar(
        select(OwedAction).where(
            OwedAction.grant_id == grant.id, OwedAction.kind == kind, OwedAction.target == target
        )
    )
    if action is None:
        action = OwedAction(
            campaign_id=grant.campaign_id,
            grant_id=grant.id,
            service=grant.service,
            kind=kind,
            target=target,
            due_at=now,
            attempts=0,
        )
        session.add(action)
    action.attempts = (action.attempts or 0) + 1
    action.outcome = Outcome.DELIVERED if delivered else Outcome.QUEUED
    action.done_at = now if delivered else None
    action.reason = reason
