"""The message ledger: fan messages planned once per fan, campaign and kind, claimed before the SMTP call,
finished once. Built like the action ledger (`campaigns.ledger`), in its own table so release-day runs
and `campaign show` never count an email as a library action.

A message's life: `queued` → claimed (`started_at`, `attempt_id`, committed before the call) → an outcome
(`delivered`, `undeliverable` when the server refused the address or the consent is gone, `failed` after
the retries) or back to `queued` with a `retry_at`. A message still in flight 15 minutes later may have
reached the server before its run stopped: it is marked failed, never sent again (nobody gets it twice).

A message is only ever sent to a grant that still exists, still holds an address and has a live consent
record for email: erasure deletes the grant (and its messages with it), and withdrawing ends the consent.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, exists, func, or_, select, update
from sqlalchemy.orm import Session

from campaigns.future_saves import FUTURE_SCOPE, withdraw_future_saves
from campaigns.ledger import insert_ignoring_duplicates
from campaigns.models import ConsentRecord, FanMessage, Grant, MessageKind, Outcome
from campaigns.vault import TokenVault

EMAIL_SCOPE = "email_updates"  # the consent record's scope that allows fan messages
MESSAGE_SCOPES = (EMAIL_SCOPE, FUTURE_SCOPE)  # every consent an unsubscribe ends
MAX_ATTEMPTS = 5
STALE_AFTER = timedelta(minutes=15)  # a claim this old belongs to a run that stopped (a send takes seconds)
INTERRUPTED = "interrupted while sending: not sent again, so that nobody gets it twice"

_MESSAGES: Table = FanMessage.__table__  # type: ignore[assignment]


def recipient_key(vault: TokenVault, address: str) -> str:
    """The address under a keyed hash: the same fan on two services gets one message."""
    return vault.pseudonym("email", address.strip().lower())


def plan(session: Session, messages: Iterable[Mapping[str, Any]]) -> int:
    """Write owed messages; planning a message the fan already has (same campaign and kind) adds nothing."""
    rows = [{"outcome": Outcome.QUEUED.value, "attempts": 0, **message} for message in messages]
    return insert_ignoring_duplicates(session, _MESSAGES, rows)


def live_consent() -> Any:
    """SQL condition: the grant holds an address and a live email consent record."""
    return exists().where(
        ConsentRecord.grant_id == Grant.id,
        ConsentRecord.scope == EMAIL_SCOPE,
        ConsentRecord.withdrawn_at.is_(None),
    )


def may_message(session: Session, grant_id: int) -> bool:
    """True when the grant exists, holds an address and its email consent is live (checked at send time)."""
    return bool(
        session.scalar(select(Grant.id).where(Grant.id == grant_id, Grant.email.is_not(None), live_consent()))
    )


@dataclass(frozen=True, slots=True)
class ClaimedMessage:
    id: int
    campaign_id: int
    grant_id: int
    service: str
    kind: str
    attempts: int
    created_at: datetime  # when it was planned


def claim(
    session: Session,
    *,
    now: datetime,
    attempt_id: str,
    live: Iterable[tuple[int, str]],
    limit: int = 200,
    stale_after: timedelta = STALE_AFTER,
) -> list[ClaimedMessage]:
    """Claim due, queued messages, marking them in flight; the caller commits before sending. A
    release-day message waits until its (campaign, service) pair is in `live`. Messages left in flight by
    an earlier run are finished as failed first (see the module's docstring)."""
    session.execute(
        update(FanMessage)
        .where(FanMessage.outcome == Outcome.QUEUED, FanMessage.started_at < now - stale_after)
        .values(outcome=Outcome.FAILED.value, reason=INTERRUPTED, done_at=now)
        .execution_options(synchronize_session=False)
    )
    pairs = [(FanMessage.campaign_id == c) & (FanMessage.service == s) for c, s in live]
    due = session.scalars(
        select(FanMessage.id)
        .where(
            FanMessage.outcome == Outcome.QUEUED,
            FanMessage.started_at.is_(None),
            FanMessage.due_at <= now,
            or_(FanMessage.retry_at.is_(None), FanMessage.retry_at <= now),
            or_(FanMessage.kind != MessageKind.RELEASE_DAY, *pairs),
        )
        .order_by(FanMessage.due_at, FanMessage.id)
        .limit(limit)
    ).all()
    if not due:
        return []
    session.execute(
        update(FanMessage)
        .where(FanMessage.id.in_(due), FanMessage.started_at.is_(None))  # another run may have won some
        .values(started_at=now, attempt_id=attempt_id)
        .execution_options(synchronize_session=False)
    )
    rows = session.execute(
        select(
            FanMessage.id,
            FanMessage.campaign_id,
            FanMessage.grant_id,
            FanMessage.service,
            FanMessage.kind,
            FanMessage.attempts,
            FanMessage.created_at,
        )
        .where(FanMessage.id.in_(due), FanMessage.attempt_id == attempt_id)
        .order_by(FanMessage.due_at, FanMessage.id)
    ).all()
    return [ClaimedMessage(*row) for row in rows]


@dataclass(frozen=True)
class MessageResult:
    """What became of one claimed message: its `outcome`, the mail server's `status` and `reason`; a
    `queued` one is put back, due again at `retry_at`."""

    outcome: str
    status: int | None = None
    reason: str | None = None
    retry_at: datetime | None = None


def finish(session: Session, message_id: int, attempt_id: str, result: MessageResult, now: datetime) -> None:
    """Record what became of one claimed message (one attempt more)."""
    reason = result.reason
    values: dict[str, Any] = {
        "attempts": FanMessage.attempts + 1,
        "last_status": result.status,
        "reason": reason[:300] if reason else None,
    }
    if result.outcome == Outcome.QUEUED:
        values |= {"retry_at": result.retry_at, "started_at": None, "attempt_id": None}
    else:
        values |= {"outcome": result.outcome, "done_at": now, "retry_at": None}
    session.execute(
        update(FanMessage)
        .where(FanMessage.id == message_id, FanMessage.attempt_id == attempt_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def release(session: Session, message_ids: Iterable[int], attempt_id: str) -> None:
    """Put back claimed messages this run did not get to (no attempt counted)."""
    ids = list(message_ids)
    if ids:
        session.execute(
            update(FanMessage)
            .where(FanMessage.id.in_(ids), FanMessage.attempt_id == attempt_id)
            .values(started_at=None, attempt_id=None)
            .execution_options(synchronize_session=False)
        )


def stop_for_grants(session: Session, grant_ids: Iterable[int], *, reason: str, now: datetime) -> int:
    """Queued messages of these grants become undeliverable (the fan unsubscribed)."""
    result = session.execute(
        update(FanMessage)
        .where(FanMessage.grant_id.in_(list(grant_ids)), FanMessage.outcome == Outcome.QUEUED)
        .values(outcome=Outcome.UNDELIVERABLE.value, reason=reason, done_at=now, started_at=None)
        .execution_options(synchronize_session=False)
    )
    return max(result.rowcount or 0, 0)  # type: ignore[attr-defined]


def outcome_counts(session: Session, campaign_id: int) -> dict[str, dict[str, int]]:
    """Messages of a campaign by kind, then outcome (every outcome present)."""
    counts: dict[str, dict[str, int]] = {}
    for kind, outcome, count in session.execute(
        select(FanMessage.kind, FanMessage.outcome, func.count())
        .where(FanMessage.campaign_id == campaign_id)
        .group_by(FanMessage.kind, FanMessage.outcome)
    ):
        counts.setdefault(kind, {o.value: 0 for o in Outcome})[outcome] = count
    return counts


# One-click unsubscribe (RFC 8058): the link carries the message id and a keyed signature of it, so the
# landing app can act on a POST from the fan's mail provider without a session or a form token.


def unsubscribe_token(vault: TokenVault, message_id: int) -> str:
    return f"{message_id}-{vault.pseudonym('unsubscribe', str(message_id))[:24]}"


def read_unsubscribe_token(vault: TokenVault, token: str) -> int | None:
    """The message id the token was made for, or None when it was not made by us."""
    head, _, signature = token.partition("-")
    if not head.isdigit() or len(head) > 18:
        return None
    expected = vault.pseudonym("unsubscribe", head)[:24]
    return int(head) if hmac.compare_digest(expected, signature) else None


def unsubscribe(session: Session, message_id: int, *, now: datetime) -> int:
    """The fan asked for no more messages: every live email and future-save consent of the fan (their
    grants on every campaign, under the same `fan_key`) ends now, the addresses are dropped, queued
    messages stop and saves carried over to releases still to come are withdrawn.
    Returns how many consent records ended (0 when there was nothing left to end)."""
    grant_id = session.scalar(select(FanMessage.grant_id).where(FanMessage.id == message_id))
    if grant_id is None:
        return 0
    fan_key = session.scalar(select(Grant.fan_key).where(Grant.id == grant_id))
    grant_ids = list(session.scalars(select(Grant.id).where(Grant.fan_key == fan_key)))
    ended = session.execute(
        update(ConsentRecord)
        .where(
            ConsentRecord.grant_id.in_(grant_ids),
            ConsentRecord.scope.in_(MESSAGE_SCOPES),
            ConsentRecord.withdrawn_at.is_(None),
        )
        .values(withdrawn_at=now)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Grant)
        .where(Grant.id.in_(grant_ids))
        .values(email=None)
        .execution_options(synchronize_session=False)
    )
    stop_for_grants(session, grant_ids, reason="the fan unsubscribed", now=now)
    withdraw_future_saves(session, grant_ids, now)
    return max(ended.rowcount or 0, 0)  # type: ignore[attr-defined]
