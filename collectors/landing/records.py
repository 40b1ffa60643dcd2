"""What the landing app writes in a transaction: grants (one per service account and campaign), consent
records, and the events that belong with them (the ledger's grant-time actions: `campaigns.ledger`).

Writes that can race (two callbacks for the same account, a double-clicked form) insert-or-ignore on
the unique key first and then update, so concurrent requests never fail on a duplicate.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Table, func, select
from sqlalchemy.orm import Session

from campaigns.ledger import DELIVERED_AT_GRANT, AtGrant, GrantRef, StoredUpsert
from campaigns.models import ConsentRecord, Grant, GrantStatus, LandingEvent, OwedAction
from campaigns.vault import TokenVault
from collectors.landing.events import EVENT_COLUMNS, INSERT_EVENT
from services.model import Tokens
from services.spotify import answer_proves_nothing

GRANTS: Table = Grant.__table__  # type: ignore[assignment]  # declared as a FromClause


def record_event(bind: Session | Connection, row: dict[str, Any]) -> None:
    """An event (an `event_row`) written with the transaction it belongs to (authorize start, grant,
    denial, error)."""
    bind.execute(INSERT_EVENT, [row])


# the same service account granting again updates its one grant
_GRANT_UPSERT = StoredUpsert(
    GRANTS,
    ("campaign_id", "service", "service_user_id"),
    lambda new: {
        "access_token": new.access_token,
        "refresh_token": new.refresh_token,
        "token_expires_at": new.token_expires_at,
        "scopes": new.scopes,
        "granted_at": new.granted_at,
        "status": new.status,
        "status_reason": None,
        "country": func.coalesce(new.country, GRANTS.c.country),
        "fan_timezone": func.coalesce(new.fan_timezone, GRANTS.c.fan_timezone),
        "updated_at": new.updated_at,
    },
    returning=(GRANTS.c.id, GRANTS.c.created_at),
)


def save_grant(
    bind: Session | Connection,
    vault: TokenVault,
    campaign_id: int,
    *,
    service: str,
    user_id: str,
    tokens: Tokens,
    country: str | None,
    fan_timezone: str | None,
    choices: dict[str, Any],
    status: GrantStatus = GrantStatus.ACTIVE,
) -> GrantRef:
    """Store the grant sealed, in one statement; the same service account granting again updates its one
    grant (new tokens and scopes; country and zone only when known now; its choices stay theirs)."""
    now = datetime.now(UTC)
    row = bind.execute(
        _GRANT_UPSERT.statement(bind),
        {
            "campaign_id": campaign_id,
            "service": service,
            "service_user_id": user_id,
            "fan_key": vault.pseudonym(service, user_id),
            "access_token": vault.seal(tokens.access_token),
            "refresh_token": vault.seal(tokens.refresh_token) if tokens.refresh_token else None,
            "token_expires_at": tokens.expires_at,
            "scopes": tokens.scope,
            "granted_at": now,
            "status": status.value,
            "status_reason": None,
            "country": country,
            "fan_timezone": fan_timezone,
            "choices": choices,
            "email": None,
            "created_at": now,
            "updated_at": now,
        },
    ).one()
    return GrantRef(row.id, campaign_id, service, again=row.created_at != now)


# Spotify's 2026 artist follow may be answered and ignored (reference H): the executor checks it.
UNCONFIRMED_FOLLOW = "answered; to be checked at the service (GET /me/library/contains)"


def at_grant(kind: str, target: str, problem: str | None) -> AtGrant:
    """What a call made while the fan waited counts as: queued for the executor with its `problem` (a
    service error code), queued to be checked first when its answer proves nothing, else delivered."""
    if problem is not None:
        return AtGrant(delivered=False, reason=problem)
    if answer_proves_nothing(kind, target):
        return AtGrant(delivered=False, reason=UNCONFIRMED_FOLLOW, check_first=True)
    return DELIVERED_AT_GRANT


def replace_tokens(vault: TokenVault, grant: Grant, tokens: Tokens) -> None:
    """A second authorization of the same account (the email opt-in) brings tokens with more scopes."""
    grant.access_token = vault.seal(tokens.access_token)
    if tokens.refresh_token:
        grant.refresh_token = vault.seal(tokens.refresh_token)
    grant.token_expires_at = tokens.expires_at
    grant.scopes = tokens.scope


def give_consent(
    session: Session, grant: Grant, *, scope: str, text: str, version: str, at: datetime
) -> None:
    """Record an opt-in; one live record per grant and scope (a changed text gets a new record)."""
    live = _live_consents(session, grant.id, scope)
    if any(record.text_version == version for record in live):
        return
    for record in live:
        record.withdrawn_at = at
    session.add(
        ConsentRecord(
            campaign_id=grant.campaign_id,
            grant_id=grant.id,
            scope=scope,
            text_version=version,
            text=text,
            given_at=at,
        )
    )


def withdraw_consent(session: Session, grant: Grant, *, scope: str, at: datetime) -> int:
    """The fan unticked the box: live records end now, and the address they gave is dropped."""
    live = _live_consents(session, grant.id, scope)
    for record in live:
        record.withdrawn_at = at
    grant.email = None
    return len(live)


def _live_consents(session: Session, grant_id: int, scope: str) -> list[ConsentRecord]:
    """A grant's consent records for a scope that are not withdrawn."""
    return list(
        session.scalars(
            select(ConsentRecord).where(
                ConsentRecord.grant_id == grant_id,
                ConsentRecord.scope == scope,
                ConsentRecord.withdrawn_at.is_(None),
            )
        )
    )


def has_live_consent(session: Session, grant_id: int, scope: str) -> bool:
    return bool(_live_consents(session, grant_id, scope))


def ledger_of(session: Session, grant_id: int) -> list[OwedAction]:
    return list(
        session.scalars(select(OwedAction).where(OwedAction.grant_id == grant_id).order_by(OwedAction.id))
    )


def attribution_of(session: Session, grant_id: int) -> dict[str, Any] | None:
    """The visit behind a grant (its latest grant event), so later events of the fan keep its UTM tags."""
    event = session.scalars(
        select(LandingEvent)
        .where(LandingEvent.grant_id == grant_id, LandingEvent.kind == "grant")
        .order_by(LandingEvent.id.desc())
        .limit(1)
    ).first()
    return {key: getattr(event, key) for key in EVENT_COLUMNS} if event else None
