"""What the landing app writes in a transaction: grants (one per service account and campaign), the
ledger's grant-time actions, consent records, and the events that belong with them.

Writes that can race (two callbacks for the same account, a double-clicked form) insert-or-ignore on
the unique key first and then update, so concurrent requests never fail on a duplicate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from campaigns.models import ConsentRecord, Grant, GrantStatus, LandingEvent, Outcome, OwedAction
from campaigns.vault import TokenVault
from collectors.landing.connectors import Tokens
from collectors.landing.events import EVENT_COLUMNS, event_row


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
    """An event written with the transaction it belongs to (authorize start, grant, denial, error)."""
    row = event_row(campaign_id, kind, visit, service=service, grant_id=grant_id, detail=detail)
    session.execute(insert(LandingEvent), [row])


def insert_if_new(session: Session, model: type[Grant] | type[OwedAction], row: dict[str, Any]) -> bool:
    """Insert one row unless its unique key exists; True when it was inserted (RETURNING says so
    reliably on both SQLite and PostgreSQL, where a row count of a skipped insert is not)."""
    dialect = session.get_bind().dialect.name
    statement: Any = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)
    inserted = session.execute(statement.values(**row).on_conflict_do_nothing().returning(model.id))
    return inserted.scalar() is not None


@dataclass(frozen=True)
class SavedGrant:
    grant: Grant
    new: bool  # False: the same account granted before, and this grant replaced its tokens


def save_grant(
    session: Session,
    vault: TokenVault,
    campaign_id: int,
    *,
    service: str,
    user_id: str,
    tokens: Tokens,
    country: str | None,
    fan_timezone: str | None,
    choices: Any,
) -> SavedGrant:
    """Store the grant sealed; the same service account granting again updates its one grant.

    `choices` is called with the previous choices (None for a new grant) and returns the new document.
    """
    now = datetime.now(UTC)
    sealed = vault.seal(tokens.access_token)
    created = insert_if_new(
        session,
        Grant,
        {
            "campaign_id": campaign_id,
            "service": service,
            "service_user_id": user_id,
            "fan_key": vault.pseudonym(service, user_id),
            "access_token": sealed,
            "scopes": tokens.scope,
            "granted_at": now,
            "status": GrantStatus.ACTIVE.value,
            "choices": {},
            "created_at": now,
            "updated_at": now,
        },
    )
    grant = session.scalars(
        select(Grant)
        .where(Grant.campaign_id == campaign_id, Grant.service == service, Grant.service_user_id == user_id)
        .with_for_update()
    ).one()
    grant.access_token = sealed
    grant.refresh_token = vault.seal(tokens.refresh_token) if tokens.refresh_token else None
    grant.token_expires_at = tokens.expires_at
    grant.scopes = tokens.scope
    grant.granted_at = now
    grant.status = GrantStatus.ACTIVE
    grant.status_reason = None
    grant.country = country or grant.country
    grant.fan_timezone = fan_timezone or grant.fan_timezone
    grant.choices = choices(None if created else dict(grant.choices or {}))
    session.flush()
    return SavedGrant(grant, bool(created))


def replace_tokens(session: Session, vault: TokenVault, grant: Grant, tokens: Tokens) -> None:
    """A second authorization of the same account (the email opt-in) brings tokens with more scopes."""
    grant.access_token = vault.seal(tokens.access_token)
    if tokens.refresh_token:
        grant.refresh_token = vault.seal(tokens.refresh_token)
    grant.token_expires_at = tokens.expires_at
    grant.scopes = tokens.scope


def record_action(
    session: Session, grant: Grant, kind: str, target: str, *, delivered: bool, reason: str | None = None
) -> None:
    """A grant-time action in the ledger: delivered, or queued for the executor to retry."""
    now = datetime.now(UTC)
    insert_if_new(
        session,
        OwedAction,
        {
            "campaign_id": grant.campaign_id,
            "grant_id": grant.id,
            "service": grant.service,
            "kind": str(kind),
            "target": target,
            "due_at": now,
            "outcome": Outcome.QUEUED.value,
            "attempts": 0,
            "created_at": now,
        },
    )
    action = session.scalars(
        select(OwedAction)
        .where(OwedAction.grant_id == grant.id, OwedAction.kind == kind, OwedAction.target == target)
        .with_for_update()
    ).one()
    if action.outcome == Outcome.DELIVERED:
        return  # done before (the fan granted again): the ledger keeps the first delivery
    action.attempts = (action.attempts or 0) + 1
    action.outcome = Outcome.DELIVERED if delivered else Outcome.QUEUED
    action.done_at = now if delivered else None
    action.reason = reason[:300] if reason else None


def give_consent(
    session: Session, grant: Grant, *, scope: str, text: str, version: str, at: datetime
) -> None:
    """Record an opt-in; one live record per grant and scope (a changed text gets a new record)."""
    live = session.scalars(
        select(ConsentRecord).where(
            ConsentRecord.grant_id == grant.id,
            ConsentRecord.scope == scope,
            ConsentRecord.withdrawn_at.is_(None),
        )
    ).all()
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
    live = session.scalars(
        select(ConsentRecord).where(
            ConsentRecord.grant_id == grant.id,
            ConsentRecord.scope == scope,
            ConsentRecord.withdrawn_at.is_(None),
        )
    ).all()
    for record in live:
        record.withdrawn_at = at
    grant.email = None
    return len(live)


def has_live_consent(session: Session, grant_id: int, scope: str) -> bool:
    return (
        session.scalar(
            select(ConsentRecord.id).where(
                ConsentRecord.grant_id == grant_id,
                ConsentRecord.scope == scope,
                ConsentRecord.withdrawn_at.is_(None),
            )
        )
        is not None
    )


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
