"""The done page's future-save opt-in: unticked by default, recorded as a versioned consent record."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from campaigns.future_saves import (
    FUTURE_MARK,
    FUTURE_SCOPE,
    future_consent_text,
    is_future_save,
    withdraw_future_saves,
)
from campaigns.models import ConsentRecord, Grant
from collectors.landing.consent import text_version
from collectors.landing.records import give_consent, has_live_consent

_YES = {"yes", "on", "1", "true"}


def ticked(value: str | None) -> bool:
    return (value or "").strip().lower() in _YES


def is_opted_in(session: Session, grant_id: int) -> bool:
    return has_live_consent(session, grant_id, FUTURE_SCOPE)


def record_future_choice(session: Session, grant: Grant, opted_in: bool, artist: str, now: datetime) -> None:
    """Give the consent (the same words again add nothing), or end it and withdraw the saves carried
    over from this grant to releases still to come."""
    if opted_in:
        text = future_consent_text(artist)
        give_consent(session, grant, scope=FUTURE_SCOPE, text=text, version=text_version(text), at=now)
        return
    ended = session.execute(
        update(ConsentRecord)
        .where(
            ConsentRecord.grant_id == grant.id,
            ConsentRecord.scope == FUTURE_SCOPE,
            ConsentRecord.withdrawn_at.is_(None),
        )
        .values(withdrawn_at=now)
        .execution_options(synchronize_session=False)
    )
    if ended.rowcount:  # type: ignore[attr-defined]
        withdraw_future_saves(session, carried_from(session, grant), now)


def carried_from(session: Session, grant: Grant) -> list[int]:
    """Grants carried over from this one (future saves), on any campaign."""
    return [
        carried_id
        for carried_id, choices in session.execute(
            select(Grant.id, Grant.choices).where(Grant.fan_key == grant.fan_key, Grant.id != grant.id)
        )
        if is_future_save(choices) and choices.get(FUTURE_MARK) == grant.id
    ]
