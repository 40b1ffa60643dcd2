"""A campaign's fans for the label (consented fields only), and erasing a fan's grants and personal data.

The export holds no token and no service user id: each fan appears under their pseudonym (`fan_key`),
with the email address only where a live consent record covers it.

Erasure deletes the grants (tokens, email, choices), their ledger rows, consent records and every
authorization attempt of the fan (by grant, visitor cookie id or IP hash), and strips the landing events
that could point back at the person (visitor cookie id, IP hash, grant link); the events themselves
stay, anonymous, so the campaign's counts do not change.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TextIO

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from campaigns.models import AuthorizationAttempt, ConsentRecord, Grant, LandingEvent, OwedAction
from campaigns.registry import get_campaign
from campaigns.vault import TokenVault, VaultError
from collectors.landing.consent import EMAIL_SCOPE

EXPORT_COLUMNS = (
    "fan_key",
    "service",
    "granted_at",
    "country",
    "completed",
    "email",
    "email_consent_version",
    "email_consent_given_at",
)


def export_fans(session: Session, vault: TokenVault, slug: str, out: TextIO) -> int:
    """Write the campaign's fan CSV; returns the number of fans written."""
    campaign = get_campaign(session, slug)
    consents = {
        record.grant_id: record
        for record in session.scalars(
            select(ConsentRecord)
            .where(
                ConsentRecord.campaign_id == campaign.id,
                ConsentRecord.scope == EMAIL_SCOPE,
                ConsentRecord.withdrawn_at.is_(None),
            )
            .order_by(ConsentRecord.given_at)
        )
    }
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    count = 0
    for grant in session.scalars(
        select(Grant).where(Grant.campaign_id == campaign.id).order_by(Grant.granted_at, Grant.id)
    ):
        consent = consents.get(grant.id)
        email = _open(vault, grant.email) if consent and grant.email else None
        writer.writerow(
            [
                grant.fan_key,
                grant.service,
                grant.granted_at.isoformat(),
                grant.country or "",
                "yes" if (grant.choices or {}).get("completed_at") else "no",
                email or "",
                consent.text_version if email and consent else "",
                consent.given_at.isoformat() if email and consent else "",
            ]
        )
        count += 1
    return count


def _open(vault: TokenVault, sealed: str) -> str | None:
    try:
        return vault.open(sealed).reveal()
    except VaultError:
        return None


@dataclass
class Erasure:
    grants: int = 0
    actions: int = 0
    consents: int = 0
    events: int = 0
    attempts: int = 0

    def describe(self) -> str:
        return (
            f"erased {self.grants} grant(s), {self.actions} ledger row(s), {self.consents} consent record(s), "
            f"{self.attempts} authorization attempt(s); {self.events} landing event(s) made anonymous"
        )


def forget_fan(session: Session, service: str, user: str, fan_key: str | None = None) -> Erasure:
    """Erase every grant of this service account: by its user id, or its pseudonym `fan_key` (given, or
    computed from the user id by the caller, which finds grants whose user id retention already deleted)."""
    keys = {user, fan_key} - {None}
    grant_ids = list(
        session.scalars(
            select(Grant.id).where(
                Grant.service == service, or_(Grant.service_user_id == user, Grant.fan_key.in_(keys))
            )
        )
    )
    return erase_grants(session, grant_ids)


def erase_grants(session: Session, grant_ids: list[int]) -> Erasure:
    erasure = Erasure()
    if not grant_ids:
        return erasure
    traces = session.execute(
        select(LandingEvent.visitor_id, LandingEvent.ip_hash).where(LandingEvent.grant_id.in_(grant_ids))
    ).all()
    attempts = session.execute(
        select(AuthorizationAttempt.id, AuthorizationAttempt.visit).where(
            AuthorizationAttempt.grant_id.in_(grant_ids)
        )
    ).all()
    visits = [visit or {} for _, visit in attempts]
    visitors = {str(v) for v in [*(v for v, _ in traces), *(v.get("visitor_id") for v in visits)] if v}
    ip_hashes = {str(h) for h in [*(h for _, h in traces), *(v.get("ip_hash") for v in visits)] if h}
    # Events by IP hash stay: a hash is shared by everyone behind one address (and hashes only a day).
    linked = or_(LandingEvent.grant_id.in_(grant_ids), LandingEvent.visitor_id.in_(visitors))
    erasure.events = _count(
        session.execute(
            update(LandingEvent).where(linked).values(visitor_id=None, ip_hash=None, grant_id=None)
        )
    )
    erasure.attempts = _erase_attempts(session, grant_ids, visitors, ip_hashes)
    erasure.actions = _count(session.execute(delete(OwedAction).where(OwedAction.grant_id.in_(grant_ids))))
    erasure.consents = _count(
        session.execute(delete(ConsentRecord).where(ConsentRecord.grant_id.in_(grant_ids)))
    )
    erasure.grants = _count(session.execute(delete(Grant).where(Grant.id.in_(grant_ids))))
    return erasure


def _erase_attempts(session: Session, grant_ids: list[int], visitors: set[str], ip_hashes: set[str]) -> int:
    """The fan's authorizations: those of the grants, and any whose visit carries the fan's visitor id
    or IP hash (an unfinished pre-save, a forget authorization). The visit is JSON, so it is read here:
    the table holds a day of attempts at most (`purge_attempts`)."""
    doomed = [
        attempt_id
        for attempt_id, grant_id, visit in session.execute(
            select(AuthorizationAttempt.id, AuthorizationAttempt.grant_id, AuthorizationAttempt.visit)
        )
        if grant_id in grant_ids
        or (visit or {}).get("visitor_id") in visitors
        or (visit or {}).get("ip_hash") in ip_hashes
    ]
    for start in range(0, len(doomed), 500):
        session.execute(
            delete(AuthorizationAttempt).where(AuthorizationAttempt.id.in_(doomed[start : start + 500]))
        )
    return len(doomed)


def purge_attempts(session: Session, older_than: timedelta = timedelta(days=1)) -> int:
    """Authorizations are only needed until they come back (15 minutes): keep a day, then delete them,
    with the visit context they hold."""
    cutoff = datetime.now(UTC) - older_than
    return _count(
        session.execute(delete(AuthorizationAttempt).where(AuthorizationAttempt.created_at < cutoff))
    )


def _count(result: object) -> int:
    return max(getattr(result, "rowcount", 0) or 0, 0)
