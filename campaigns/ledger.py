"""The action ledger: owed actions planned idempotently, and their outcomes counted."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Table, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from campaigns.models import Outcome, OwedAction


def insert_ignoring_duplicates(session: Session, table: Table, rows: list[Mapping[str, Any]]) -> int:
    """Insert rows, skipping those whose unique key exists already; returns how many were new."""
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        statement: Any = postgresql.insert(table).on_conflict_do_nothing()
    elif dialect == "sqlite":
        statement = sqlite.insert(table).on_conflict_do_nothing()
    else:
        statement = insert(table).prefix_with("IGNORE")
    result = session.execute(statement, rows)
    return max(result.rowcount or 0, 0)  # type: ignore[attr-defined]


def plan(session: Session, actions: Iterable[Mapping[str, Any]]) -> int:
    """Write owed actions to the ledger; planning the same action twice adds nothing."""
    rows = [{"outcome": Outcome.QUEUED.value, "attempts": 0, **action} for action in actions]
    return insert_ignoring_duplicates(session, OwedAction.__table__, rows)  # type: ignore[arg-type]


def outcome_counts(session: Session, campaign_id: int) -> dict[str, int]:
    counts = {outcome.value: 0 for outcome in Outcome}
    for outcome, count in session.execute(
        select(OwedAction.outcome, func.count())
        .where(OwedAction.campaign_id == campaign_id)
        .group_by(OwedAction.outcome)
    ):
        counts[outcome] = count
    return counts
