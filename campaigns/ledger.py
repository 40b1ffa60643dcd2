"""The action ledger: owed actions planned idempotently, claimed before any call, finished once.

An action's life: `queued` (planned) → claimed (`started_at` and `attempt_id` set, committed before the
call: "in flight") → an outcome (`delivered`, `undeliverable`, `failed`, `pending_source`) with `done_at`,
or back to `queued` with a `retry_at`. An action found in flight by a later run was interrupted by a crash:
the executor checks it at the service before doing anything again.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnCollection,
    ColumnElement,
    Connection,
    Integer,
    Select,
    String,
    Table,
    Text,
    and_,
    any_,
    bindparam,
    cast,
    delete,
    func,
    literal,
    literal_column,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import QueryableAttribute, Session

from campaigns.models import ACCEPTED_GRANTS, FAN_ACTIONS, ActionKind, Grant, Outcome, OwedAction

INSERT_CHUNK = 5000  # rows per executemany call
_ACTIONS: Table = OwedAction.__table__  # type: ignore[assignment]  # declared as a FromClause


def dialect_of(bind: Session | Connection) -> str:
    return (bind.dialect if isinstance(bind, Connection) else bind.get_bind().dialect).name


def upsert(
    dialect: str,
    table: Table,
    keys: Sequence[str] = (),
    set_: Callable[[ColumnCollection[str, ColumnElement[Any]]], Mapping[str, Any]] | None = None,
    *,
    where: ColumnElement[bool] | None = None,
) -> Any:
    """The one insert-or-update of the operational store (PostgreSQL or SQLite): `INSERT … ON CONFLICT
    (keys) DO UPDATE SET set_(excluded) [WHERE where]`, or `DO NOTHING` without `set_` (on any unique key
    when `keys` is empty). `set_` gets the row the insert brought (`excluded`). A statement run often is
    kept per dialect by `StoredUpsert`."""
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    if set_ is None:
        return statement.on_conflict_do_nothing(index_elements=list(keys) or None)
    return statement.on_conflict_do_update(
        index_elements=list(keys), set_=dict(set_(statement.excluded)), where=where
    )


def among(column: QueryableAttribute[int], ids: Sequence[int], dialect: str) -> ColumnElement[bool]:
    """`column IN ids` with the ids as one parameter (a PostgreSQL array, a JSON list SQLite reads with
    `json_each`): thousands of ids without thousands of bound parameters to render and send."""
    if dialect == "postgresql":
        array = "{" + ",".join(str(int(i)) for i in ids) + "}"  # as text: the driver dumps a list slowly
        return column == any_(cast(literal(array, Text), postgresql.ARRAY(BigInteger)))
    listed: Select[tuple[Any]] = select(literal_column("value")).select_from(
        func.json_each(literal(json.dumps(list(ids))))
    )
    return column.in_(listed)


class StoredUpsert:
    """One `upsert` statement of the store, built on its first use with each dialect and kept (building an
    ON CONFLICT statement costs more than running it); `returning`: the columns it gives back."""

    def __init__(
        self,
        table: Table,
        keys: Sequence[str],
        set_: Callable[[ColumnCollection[str, ColumnElement[Any]]], Mapping[str, Any]] | None,
        *,
        where: ColumnElement[bool] | None = None,
        returning: Sequence[ColumnElement[Any]] = (),
    ) -> None:
        self._parts = (table, keys, set_, where)
        self._returning = tuple(returning)
        self._built: dict[str, Any] = {}

    def statement(self, bind: Session | Connection) -> Any:
        dialect = dialect_of(bind)
        built = self._built.get(dialect)
        if built is None:  # two threads may both build it: the same statement either way
            table, keys, set_, where = self._parts
            built = upsert(dialect, table, keys, set_, where=where)
            built = self._built[dialect] = built.returning(*self._returning) if self._returning else built
        return built


def insert_ignoring_duplicates(session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert rows, skipping those whose unique key exists already; returns how many were new."""
    if not rows:
        return 0
    statement = upsert(dialect_of(session), table).returning(table.primary_key.columns.values()[0])
    connection = session.connection()
    added = 0
    for start in range(0, len(rows), INSERT_CHUNK):
        # executemany: compiled once and cached ("insertmanyvalues" batches it into multi-row INSERTs);
        # RETURNING counts what was new (rowcount is -1 on some drivers)
        result = connection.execute(statement, rows[start : start + INSERT_CHUNK])
        added += len(result.all())
    return added


def plan(session: Session, actions: Iterable[Mapping[str, Any]]) -> int:
    """Write owed actions to the ledger; planning the same action twice adds nothing."""
    rows = [{"outcome": Outcome.QUEUED.value, "attempts": 0, **action} for action in actions]
    return insert_ignoring_duplicates(session, _ACTIONS, rows)


def plan_for_grants(
    session: Session, campaign_id: int, action: tuple[str, str, datetime | None], grant_ids: Sequence[int]
) -> int:
    """Owe one action (kind, target, due moment; None: each grant's own grant moment) to many grants in one
    `INSERT … SELECT` from the grants (their service and grant moment read in SQL, not sent back and
    forth); those owed it already are skipped; returns how many were new."""
    if not grant_ids:
        return 0
    kind, target, due_at = action
    moment = OwedAction.__table__.c.due_at.type
    source = select(
        literal(campaign_id, Integer),
        Grant.id,
        Grant.service,
        literal(kind, String),
        literal(target, String),
        Grant.granted_at if due_at is None else literal(due_at, moment),
        literal(Outcome.QUEUED.value, String),
        literal(0, Integer),
        literal(datetime.now(UTC), moment),
    ).where(
        among(Grant.id, grant_ids, dialect_of(session))
    )  # a WHERE also keeps SQLite's parser off the ON CONFLICT
    columns = ("campaign_id", "grant_id", "service", "kind", "target", "due_at", "outcome", "attempts")
    statement = upsert(dialect_of(session), _ACTIONS).from_select([*columns, "created_at"], source)
    result = session.execute(statement.execution_options(preserve_rowcount=True))  # counted by the driver
    return max(result.rowcount or 0, 0)  # type: ignore[attr-defined]


def withdraw_unstarted(
    session: Session,
    grant_ids: Sequence[int],
    kinds: Iterable[str],
    keep: Collection[tuple[int, str, str]],
) -> int:
    """Drop the grants' queued actions of these kinds that are no longer planned (not in `keep`, as
    (grant id, kind, target)), as long as nothing was attempted for them; returns how many."""
    stale = [
        (row.grant_id, row.kind, row.target)
        for row in session.execute(
            select(OwedAction.grant_id, OwedAction.kind, OwedAction.target).where(
                OwedAction.grant_id.in_(list(grant_ids)),
                OwedAction.kind.in_(list(kinds)),
                OwedAction.outcome == Outcome.QUEUED,
                OwedAction.started_at.is_(None),
                OwedAction.attempts == 0,
            )
        )
        if (row.grant_id, row.kind, row.target) not in keep
    ]
    if not stale:
        return 0
    result = session.execute(
        delete(OwedAction)
        .where(tuple_(OwedAction.grant_id, OwedAction.kind, OwedAction.target).in_(stale))
        .execution_options(synchronize_session=False)
    )
    return max(result.rowcount or 0, 0)  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class GrantRef:
    """Which grant: its `id`, of `campaign_id` on `service` (what an owed action is written with).
    `again`: the account had granted this campaign on this service before and this grant is that one now
    (storing it replaced the first grant's tokens, or learning its account folded it into the first)."""

    id: int
    campaign_id: int
    service: str
    again: bool = False

    @classmethod
    def of(cls, grant: Grant) -> GrantRef:
        return cls(grant.id, grant.campaign_id, grant.service)


_RECORD_AT_GRANT = StoredUpsert(
    _ACTIONS,
    ("grant_id", "kind", "target"),
    lambda new: {
        "attempts": _ACTIONS.c.attempts + 1,
        "outcome": new.outcome,
        "done_at": new.done_at,
        "reason": new.reason,
    },
    where=_ACTIONS.c.outcome != Outcome.DELIVERED.value,
)


@dataclass(frozen=True)
class AtGrant:
    """What a call made while the fan waited came to: `delivered`, or queued for the executor to retry,
    with its `reason`. `check_first`: the call was answered but its answer proves nothing (an artist
    follow the service may ignore): queued as if interrupted, so the executor checks it at the service
    before anything else."""

    delivered: bool
    reason: str | None = None
    check_first: bool = False


DELIVERED_AT_GRANT = AtGrant(delivered=True)


def record_at_grant(
    bind: Session | Connection,
    grant: GrantRef,
    kind: str,
    target: str,
    result: AtGrant,
    now: datetime | None = None,
) -> None:
    """A call made while the fan waits (the artist follow, a pre-add, the extra follows) and what it came
    to. Trying again counts an attempt; a delivered action stays as it was."""
    now = now or datetime.now(UTC)
    delivered = result.delivered
    bind.execute(
        _RECORD_AT_GRANT.statement(bind),
        {
            **_grant_action_row(grant, kind, target, now),
            "due_at": now,
            "outcome": (Outcome.DELIVERED if delivered else Outcome.QUEUED).value,
            "attempts": 1,
            "started_at": now if result.check_first and not delivered else None,
            "done_at": now if delivered else None,
            "last_status": None,
            "reason": result.reason[:300] if result.reason else None,
        },
    )


def _grant_action_row(grant: GrantRef, kind: str, target: str, now: datetime) -> dict[str, Any]:
    """What every ledger row a grant owes starts from: whose, which service, what, when it was written."""
    return {
        "campaign_id": grant.campaign_id,
        "grant_id": grant.id,
        "service": grant.service,
        "kind": str(kind),
        "target": target,
        "created_at": now,
    }


def outcome_counts(session: Session, campaign_id: int) -> dict[str, int]:
    """The campaign's library actions by outcome (`identify`, the app reading an account id, is not one)."""
    counts = {outcome.value: 0 for outcome in Outcome}
    for outcome, count in session.execute(
        select(OwedAction.outcome, func.count())
        .join(Grant, Grant.id == OwedAction.grant_id)
        .where(OwedAction.campaign_id == campaign_id, FAN_ACTIONS, ACCEPTED_GRANTS)
        .group_by(OwedAction.outcome)
    ):
        counts[outcome] = count
    return counts


@dataclass(frozen=True, slots=True)
class Claimed:
    """An owed action claimed by one worker; `interrupted` if an earlier run left it in flight."""

    id: int
    grant_id: int
    service: str
    kind: str
    target: str
    due_at: datetime
    attempts: int
    resolved_target: str | None
    interrupted: bool


@dataclass(frozen=True, slots=True)
class Shard:
    """The grants `grant_id % count == index` of a campaign: one worker's share."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.index < self.count:
            raise ValueError(f"shard {self.index} of {self.count}: the index must be in [0, {self.count})")


def _claimable(
    campaign_id: int,
    now: datetime,
    shard: Shard,
    attempt_id: str,
    unresolved_kinds: Sequence[tuple[str, str]],
) -> list[Any]:
    conditions = [
        OwedAction.campaign_id == campaign_id,
        OwedAction.outcome == Outcome.QUEUED,
        OwedAction.due_at <= now,
        or_(OwedAction.retry_at.is_(None), OwedAction.retry_at <= now),
        or_(OwedAction.attempt_id.is_(None), OwedAction.attempt_id != attempt_id),
    ]
    if shard.count > 1:
        conditions.append(OwedAction.grant_id % shard.count == shard.index)
    for service, kind in unresolved_kinds:
        conditions.append(~and_(OwedAction.service == service, OwedAction.kind == kind))
    return conditions


def claim(
    session: Session,
    campaign_id: int,
    *,
    now: datetime,
    attempt_id: str,
    shard: Shard = Shard(),
    after_grant: int = 0,
    limit: int = 500,
    unresolved_kinds: Sequence[tuple[str, str]] = (),
    busy_grants: Iterable[int] = (),
) -> tuple[list[Claimed], int | None]:
    """Claim due, queued actions of whole grants (ordered by grant, after `after_grant`), marking them in
    flight; the caller commits before any call. Returns the claimed actions and the cursor to continue
    from (None when this pass over the campaign is complete).

    A grant's actions are never split between two claims (one client per fan, one token refresh), and
    grants in `busy_grants` (still being worked on by this worker) are left for a later pass.
    """
    rows = session.execute(
        select(
            OwedAction.id,
            OwedAction.grant_id,
            OwedAction.service,
            OwedAction.kind,
            OwedAction.target,
            OwedAction.due_at,
            OwedAction.attempts,
            OwedAction.resolved_target,
            OwedAction.started_at,
        )
        .where(
            *_claimable(campaign_id, now, shard, attempt_id, unresolved_kinds),
            OwedAction.grant_id > after_grant,
        )
        .order_by(OwedAction.grant_id, OwedAction.id)
        .limit(limit)
    ).all()
    if not rows:
        return [], None
    cursor: int | None = rows[-1].grant_id
    if len(rows) == limit and rows[0].grant_id != rows[-1].grant_id:
        last = rows[-1].grant_id  # possibly cut by the limit: leave it whole for the next claim
        rows = [r for r in rows if r.grant_id != last]
        cursor = rows[-1].grant_id
    busy = set(busy_grants)
    rows = [r for r in rows if r.grant_id not in busy]
    if rows:
        session.execute(
            update(OwedAction)
            .where(OwedAction.id.in_([r.id for r in rows]))
            .values(started_at=now, attempt_id=attempt_id)
            .execution_options(synchronize_session=False)
        )
    claimed = [
        Claimed(
            r.id,
            r.grant_id,
            r.service,
            r.kind,
            r.target,
            r.due_at,
            r.attempts,
            r.resolved_target,
            interrupted=r.started_at is not None,
        )
        for r in rows
    ]
    return claimed, cursor


@dataclass(frozen=True, slots=True)
class Finished:
    """What became of a claimed action. `outcome=queued` puts it back, to be tried at `retry_at`."""

    id: int
    outcome: str
    attempts: int  # calls made for it this time
    status: int | None = None
    reason: str | None = None
    done_at: datetime | None = None
    retry_at: datetime | None = None
    resolved_target: str | None = None


_FINISH = (
    update(_ACTIONS)
    .where(_ACTIONS.c.id == bindparam("b_id"), _ACTIONS.c.attempt_id == bindparam("b_attempt"))
    .values(
        outcome=bindparam("b_outcome"),
        attempts=_ACTIONS.c.attempts + bindparam("b_attempts", type_=Integer),
        last_status=func.coalesce(bindparam("b_status", type_=Integer), _ACTIONS.c.last_status),
        reason=bindparam("b_reason"),
        done_at=bindparam("b_done_at"),
        retry_at=None,
        resolved_target=func.coalesce(bindparam("b_resolved", type_=String), _ACTIONS.c.resolved_target),
    )
)
_REQUEUE = (
    update(_ACTIONS)
    .where(_ACTIONS.c.id == bindparam("b_id"), _ACTIONS.c.attempt_id == bindparam("b_attempt"))
    .values(
        attempts=_ACTIONS.c.attempts + bindparam("b_attempts", type_=Integer),
        last_status=func.coalesce(bindparam("b_status", type_=Integer), _ACTIONS.c.last_status),
        reason=bindparam("b_reason"),
        retry_at=bindparam("b_retry_at"),
        started_at=None,
        attempt_id=None,
        resolved_target=func.coalesce(bindparam("b_resolved", type_=String), _ACTIONS.c.resolved_target),
    )
)


def finish(session: Session, attempt_id: str, results: Sequence[Finished]) -> int:
    """Record what became of actions this attempt claimed (one statement per kind of change); returns
    the rows changed. An action another attempt has claimed since is left alone."""
    final: list[dict[str, Any]] = []
    requeued: list[dict[str, Any]] = []
    for r in results:
        params = {
            "b_id": r.id,
            "b_attempt": attempt_id,
            "b_attempts": r.attempts,
            "b_status": r.status,
            "b_reason": r.reason[:300] if r.reason else None,
            "b_resolved": r.resolved_target,
        }
        if r.outcome == Outcome.QUEUED:
            requeued.append({**params, "b_retry_at": r.retry_at})
        else:
            final.append({**params, "b_outcome": r.outcome, "b_done_at": r.done_at})
    changed = 0
    for statement, batch in ((_FINISH, final), (_REQUEUE, requeued)):
        if batch:
            result = session.connection().execute(statement, batch)
            changed += max(result.rowcount or 0, 0)
    return changed


def note_resolved_target(session: Session, action_id: int, attempt_id: str, resolved: str) -> None:
    """Record what a claimed action created on the service (a new playlist's id) before going on, so an
    interrupted attempt finds it instead of creating another."""
    session.execute(
        update(OwedAction)
        .where(OwedAction.id == action_id, OwedAction.attempt_id == attempt_id)
        .values(resolved_target=resolved)
        .execution_options(synchronize_session=False)
    )


def set_aside(
    session: Session,
    campaign_id: int,
    *,
    service: str,
    kinds: Iterable[str],
    outcome: str,
    reason: str,
    now: datetime,
    due_before: datetime | None = None,
) -> int:
    """Give every queued action of these kinds on a service one outcome (e.g. pending_source)."""
    conditions = [
        OwedAction.campaign_id == campaign_id,
        OwedAction.service == service,
        OwedAction.kind.in_(list(kinds)),
        OwedAction.outcome == Outcome.QUEUED,
    ]
    if due_before is not None:
        conditions.append(OwedAction.due_at <= due_before)
    result = session.execute(
        update(OwedAction)
        .where(*conditions)
        .values(outcome=outcome, reason=reason[:300], done_at=now, started_at=None, attempt_id=None)
        .execution_options(synchronize_session=False)
    )
    return max(result.rowcount or 0, 0)  # type: ignore[attr-defined]


def resolved_releases(session: Session, campaign_id: int, services: Iterable[str]) -> dict[str, str]:
    """What the release was on each service, as the executor recorded it on a delivered save (e.g.
    `spotify:album:…`, `apple:albums:…`, `deezer:album:…`): the latest due, so after a correction the
    corrected release. Services with no delivered save yet are absent."""
    found: dict[str, str] = {}
    for service in services:
        target = session.scalar(
            select(OwedAction.resolved_target)
            .where(
                OwedAction.campaign_id == campaign_id,
                OwedAction.outcome == Outcome.DELIVERED,
                OwedAction.service == service,
                OwedAction.kind == ActionKind.SAVE_RELEASE,
                OwedAction.resolved_target.is_not(None),
            )
            .order_by(OwedAction.due_at.desc(), OwedAction.id.desc())
            .limit(1)
        )
        if target:
            found[service] = target
    return found


def requeue_pending_source(session: Session, campaign_id: int, *, changed_since: datetime) -> int:
    """Put back the actions set aside as pending source before the campaign was corrected."""
    result = session.execute(
        update(OwedAction)
        .where(
            OwedAction.campaign_id == campaign_id,
            OwedAction.outcome == Outcome.PENDING_SOURCE,
            OwedAction.done_at < changed_since,
        )
        .values(outcome=Outcome.QUEUED.value, reason=None, done_at=None, retry_at=None)
        .execution_options(synchronize_session=False)
    )
    return max(result.rowcount or 0, 0)  # type: ignore[attr-defined]


def defer(session: Session, campaign_id: int, service: str, until: datetime) -> int:
    """Queued actions of `service` due by `until` are not to be tried before it (the service told its app
    to wait that long: a spent quota); they stay queued, and the schedule picks them up after it."""
    result = session.execute(
        update(OwedAction)
        .where(
            OwedAction.campaign_id == campaign_id,
            OwedAction.service == service,
            OwedAction.outcome == Outcome.QUEUED,
            OwedAction.due_at <= until,
            or_(OwedAction.retry_at.is_(None), OwedAction.retry_at < until),
        )
        .values(retry_at=until)
        .execution_options(synchronize_session=False)
    )
    return max(result.rowcount or 0, 0)  # type: ignore[attr-defined]


def next_due(session: Session, campaign_id: int, after: datetime) -> datetime | None:
    """The earliest moment after `after` at which a queued action of the campaign comes due (a fan's
    local midnight, or a retry)."""
    moment = func.coalesce(OwedAction.retry_at, OwedAction.due_at)
    return session.scalar(
        select(func.min(moment)).where(
            OwedAction.campaign_id == campaign_id, OwedAction.outcome == Outcome.QUEUED, moment > after
        )
    )


def queued_due(session: Session, campaign_id: int, now: datetime) -> int:
    """Queued actions of the campaign that are due now (not waiting for a later moment)."""
    return (
        session.scalar(
            select(func.count())
            .select_from(OwedAction)
            .where(
                OwedAction.campaign_id == campaign_id,
                OwedAction.outcome == Outcome.QUEUED,
                OwedAction.due_at <= now,
                or_(OwedAction.retry_at.is_(None), OwedAction.retry_at <= now),
            )
        )
        or 0
    )


def delivery_latencies(
    session: Session, campaign_id: int, kinds: Iterable[str], *, sample: int = 20_000, seed: int = 0
) -> tuple[int, float, list[float]]:
    """Seconds from each delivered action's due moment (the fan's release moment) to the library, streamed:
    (how many, the longest, a uniform sample of at most `sample` of them); memory stays bounded."""
    rng = random.Random(seed)
    count, longest = 0, 0.0
    kept: list[float] = []
    rows = session.execute(
        select(OwedAction.due_at, OwedAction.done_at)
        .where(
            OwedAction.campaign_id == campaign_id,
            OwedAction.kind.in_(list(kinds)),
            OwedAction.outcome == Outcome.DELIVERED,
            OwedAction.done_at.is_not(None),
        )
        .execution_options(yield_per=10_000)
    )
    for due, done in rows:
        if done is None:  # excluded by the query; the column is nullable
            continue
        seconds = max(0.0, (done - due).total_seconds())
        count += 1
        longest = max(longest, seconds)
        if len(kept) < sample:
            kept.append(seconds)
        else:
            slot = rng.randrange(count)
            if slot < sample:
                kept[slot] = seconds
    return count, longest, kept


def queued_due_by_kind(session: Session, campaign_id: int, now: datetime) -> dict[tuple[str, str], int]:
    """Queued actions due now, counted by (service, kind)."""
    return {
        (service, kind): count
        for service, kind, count in session.execute(
            select(OwedAction.service, OwedAction.kind, func.count())
            .where(
                OwedAction.campaign_id == campaign_id,
                OwedAction.outcome == Outcome.QUEUED,
                OwedAction.due_at <= now,
                or_(OwedAction.retry_at.is_(None), OwedAction.retry_at <= now),
            )
            .group_by(OwedAction.service, OwedAction.kind)
        )
    }


# capture first: what the landing app owes a grant the moment it is stored ---------------------------------
PROFILE_TARGET = "profile"  # the target of an `identify` action


@dataclass(frozen=True, slots=True)
class Owed:
    """A ledger row the landing app queued at grant time and holds for its own attempt right after the
    commit (`held`), or left to the executor."""

    id: int
    kind: str
    target: str
    held: bool


def owe_at_grant(
    bind: Session | Connection,
    grant: GrantRef,
    now_actions: Sequence[tuple[str, str]],
    later_actions: Sequence[tuple[str, str, datetime]],
    *,
    holder: str,
    hold_until: datetime,
    now: datetime,
) -> list[Owed]:
    """Queue a just-stored grant's owed actions in the grant's transaction: those the landing app tries
    right after the commit (`now_actions`, due now) are held by `holder`, marked in flight until
    `hold_until` (an executor finding one still held after that checks it at the service first: the app
    may have been killed after the call); the others (`later_actions`, with their due moments) are plain
    queued actions. Actions the grant already owed are left as they are; returns the new ones."""
    queued = {"outcome": Outcome.QUEUED.value, "attempts": 0}
    rows = [
        {
            **_grant_action_row(grant, kind, target, now),
            **queued,
            "due_at": now,
            "started_at": now,
            "attempt_id": holder,
            "retry_at": hold_until,
        }
        for kind, target in now_actions
    ] + [
        {
            **_grant_action_row(grant, kind, target, now),
            **queued,
            "due_at": due_at,
            "started_at": None,
            "attempt_id": None,
            "retry_at": None,
        }
        for kind, target, due_at in later_actions
    ]
    if not rows:
        return []
    statement = _OWE_AT_GRANT.statement(bind)
    connection = bind if isinstance(bind, Connection) else bind.connection()
    found: list[Owed] = []
    for row in rows:  # one by one: RETURNING of an executemany that skips rows is not ordered everywhere
        added = connection.execute(statement, row).first()
        if added is not None:
            found.append(Owed(added.id, added.kind, added.target, added.attempt_id == holder))
    return found


_OWE_AT_GRANT = StoredUpsert(
    _ACTIONS, (), None, returning=(_ACTIONS.c.id, _ACTIONS.c.kind, _ACTIONS.c.target, _ACTIONS.c.attempt_id)
)
# the statements of every grant's callback, built once (building one costs more than running it)
_HELD_BY = (
    select(_ACTIONS.c.id, _ACTIONS.c.grant_id, _ACTIONS.c.kind, _ACTIONS.c.target)
    .where(_ACTIONS.c.attempt_id == bindparam("holder"), _ACTIONS.c.outcome == Outcome.QUEUED.value)
    .order_by(_ACTIONS.c.id)
)
_RELEASE_HELD = (
    update(_ACTIONS)
    .where(
        _ACTIONS.c.attempt_id == bindparam("holder"),
        _ACTIONS.c.outcome == Outcome.QUEUED.value,
        _ACTIONS.c.id.not_in(bindparam("uncertain", expanding=True)),
    )
    .values(started_at=None, attempt_id=None, retry_at=None)
)
_KEEP_UNCERTAIN = (
    update(_ACTIONS)
    .where(
        _ACTIONS.c.attempt_id == bindparam("holder"),
        _ACTIONS.c.id.in_(bindparam("uncertain", expanding=True)),
    )
    .values(retry_at=None)
)


def held_by(bind: Session | Connection, holder: str) -> list[tuple[int, int, str, str]]:
    """The queued actions `holder` still holds: (id, grant id, kind, target)."""
    return [
        (row.id, row.grant_id, row.kind, row.target) for row in bind.execute(_HELD_BY, {"holder": holder})
    ]


def release_held(bind: Session | Connection, holder: str, *, uncertain: Collection[int] = ()) -> None:
    """The landing app is done with what it held: the executor may take it now. An action whose call
    may have happened (`uncertain`: a 5xx, a timeout) stays marked in flight, so the executor checks it
    at the service before sending it again; the others are plain queued actions."""
    bind.execute(_RELEASE_HELD, {"holder": holder, "uncertain": list(uncertain)})
    if uncertain:
        bind.execute(_KEEP_UNCERTAIN, {"holder": holder, "uncertain": list(uncertain)})


def merge_owed(bind: Session | Connection, newer: int, first: int) -> None:
    """A second grant of the same account folds into the first: an action both owe stays the first's
    (one save, one follow; one the first gave up on is queued again, as the fan authorized anew), the
    newer grant's other actions become the first's."""
    both = select(_ACTIONS.c.kind, _ACTIONS.c.target).where(_ACTIONS.c.grant_id == newer)
    bind.execute(
        update(_ACTIONS)
        .where(
            _ACTIONS.c.grant_id == first,
            _ACTIONS.c.outcome.in_([Outcome.FAILED.value, Outcome.UNDELIVERABLE.value]),
            tuple_(_ACTIONS.c.kind, _ACTIONS.c.target).in_(both),
        )
        .values(outcome=Outcome.QUEUED.value, reason=None, done_at=None, retry_at=None)
    )
    mine = select(_ACTIONS.c.kind, _ACTIONS.c.target).where(_ACTIONS.c.grant_id == first)
    bind.execute(
        delete(_ACTIONS).where(
            _ACTIONS.c.grant_id == newer, tuple_(_ACTIONS.c.kind, _ACTIONS.c.target).in_(mine)
        )
    )
    bind.execute(update(_ACTIONS).where(_ACTIONS.c.grant_id == newer).values(grant_id=first))
