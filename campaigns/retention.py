"""Token retention: a grant's tokens, email and service user id are deleted once its work is long done.

When every owed action of a grant is final (delivered, undeliverable or failed) and the last of them
ended more than `PRESAVE_TOKEN_RETENTION_DAYS` ago, nothing will ever need the fan's access again. The
grant row stays, so every count (grants per campaign and service, their status, country, choices and
ledger) is unchanged; what could reach or name the fan goes: the sealed tokens, the sealed email and the
service's user id (replaced by `retired:<id>`). The pseudonym `fan_key` stays, so `presave forget` still
finds the grant from the fan's user id.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta

from sqlalchemy import Table, bindparam, case, delete, func, select, update
from sqlalchemy.orm import Session

from campaigns.models import FAN_ACTIONS, AuthorizationAttempt, Grant, Outcome, OwedAction

FINAL_OUTCOMES = (
    Outcome.DELIVERED.value,
    Outcome.UNDELIVERABLE.value,
    Outcome.FAILED.value,
    Outcome.IGNORED.value,
)
RETIRED_PREFIX = "retired:"
_GRANTS: Table = Grant.__table__  # type: ignore[assignment]
_RETIRE = (
    update(_GRANTS)
    .where(_GRANTS.c.id == bindparam("id_"), _GRANTS.c.tokens_deleted_at.is_(None))
    .values(
        access_token="",
        refresh_token=None,
        email=None,
        token_expires_at=None,
        status_reason=None,
        service_user_id=bindparam("retired_"),
        tokens_deleted_at=bindparam("now_"),
    )
)


def grants_past_retention(
    session: Session, retention: timedelta, now: datetime, limit: int = 1000
) -> list[int]:
    """Grants with tokens whose owed actions are all final, the last one ended before `now - retention`."""
    not_final = func.sum(case((OwedAction.outcome.in_(FINAL_OUTCOMES), 0), else_=1))
    ended = func.max(func.coalesce(OwedAction.done_at, OwedAction.due_at))
    fan_actions = func.sum(case((FAN_ACTIONS, 1), else_=0))  # identify alone is no work planned for the fan
    query = (
        select(Grant.id)
        .join(OwedAction, OwedAction.grant_id == Grant.id)
        .where(Grant.tokens_deleted_at.is_(None))
        .group_by(Grant.id)
        .having(not_final == 0, ended < now - retention, fan_actions > 0)
        .order_by(Grant.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def delete_tokens(session: Session, grant_ids: list[int], now: datetime | None = None) -> int:
    """Delete the tokens, email and service user id of these grants (and their pending authorizations)."""
    if not grant_ids:
        return 0
    now = now or datetime.now(UTC)
    session.execute(delete(AuthorizationAttempt).where(AuthorizationAttempt.grant_id.in_(grant_ids)))
    session.execute(_RETIRE, [{"id_": i, "retired_": f"{RETIRED_PREFIX}{i}", "now_": now} for i in grant_ids])
    return len(grant_ids)


def retire_tokens(
    sessions: Callable[[], AbstractContextManager[Session]],
    retention_days: int,
    now: datetime | None = None,
    batch: int = 1000,
) -> int:
    """Every grant past retention, a batch per transaction; returns how many grants lost their tokens."""
    now = now or datetime.now(UTC)
    retired = 0
    while True:
        with sessions() as session:
            ids = grants_past_retention(session, timedelta(days=retention_days), now, batch)
            retired += delete_tokens(session, ids, now)
        if len(ids) < batch:
            return retired
