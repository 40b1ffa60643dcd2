"""Planning: every grant's owed actions, from the campaign file and the fan's choices, with their due moments.

Pure functions here; `plan_campaign` streams a campaign's grants from the store into the ledger in
chunks, so a million grants plan in bounded memory. The ledger's key (grant, kind, target) makes a
second plan add nothing.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Row, Text, and_, cast, or_, select, update

from campaigns import ledger
from campaigns.campaign_file import CampaignSpec
from campaigns.models import ActionKind, Campaign, Grant, GrantStatus
from campaigns.registry import campaign_spec
from campaigns.rules import release_moment as fan_release_moment
from campaigns.store import Store
from services.catalog import SERVICE_MODULES
from services.owed import Due

# Kinds that need the release resolved on the service before they can be performed.
RELEASE_KINDS = frozenset({ActionKind.SAVE_RELEASE.value, ActionKind.ADD_TO_PLAYLIST.value})
# Kinds the fan's choices decide; a later change of mind withdraws them while they are still untouched.
CHOSEN_KINDS = frozenset({ActionKind.FOLLOW.value, ActionKind.ADD_TO_PLAYLIST.value})


@dataclass(frozen=True)
class CampaignPlan:
    """What planning needs to know of a campaign."""

    campaign_id: int
    spec: CampaignSpec
    release_at: datetime  # UTC; the moment for `global` mode
    zone: ZoneInfo  # the campaign's time zone
    mode: str  # "global" or "local"

    @classmethod
    def of(cls, campaign: Campaign) -> CampaignPlan:
        spec = campaign_spec(campaign)
        return cls(campaign.id, spec, campaign.release_at, ZoneInfo(campaign.timezone), campaign.release_mode)


@dataclass(frozen=True)
class GrantFacts:
    """What planning reads of a grant (which grant it is, as the ledger writes it, is `GrantRef`)."""

    id: int
    service: str
    granted_at: datetime
    choices: Any
    fan_timezone: str | None = None
    country: str | None = None


def release_moment(plan: CampaignPlan, grant: GrantFacts) -> datetime:
    """When the release is due for this fan: one moment for everyone (`global`), or the release's
    wall-clock time (usually midnight) in the fan's own time zone (`local`)."""
    return fan_release_moment(
        plan.release_at, plan.zone.key, plan.mode, fan_timezone=grant.fan_timezone, country=grant.country
    )


# One owed action as many grants share it: kind, target and due moment (None: each grant's grant moment).
OwedKind = tuple[str, str, datetime | None]


def owed_kinds(plan: CampaignPlan, grant: GrantFacts) -> list[OwedKind]:
    """What one grant is owed (what its service module says): release-time actions at the fan's release
    moment, grant-time ones (follows) at the grant moment (normally done already by the landing app)."""
    if grant.service not in SERVICE_MODULES:
        return []
    owed = SERVICE_MODULES[grant.service].owed_actions(plan.spec, grant.choices)
    at_release = release_moment(plan, grant) if any(o.due is Due.AT_RELEASE for o in owed) else None
    return [(str(kind), target, None if due is Due.AT_GRANT else at_release) for kind, target, due in owed]


def _ledger_row(
    plan: CampaignPlan, grant_id: int, service: str, granted_at: datetime, action: OwedKind
) -> dict[str, Any]:
    """The ledger row of one owed action of one grant."""
    kind, target, due_at = action
    return {
        "campaign_id": plan.campaign_id,
        "grant_id": grant_id,
        "service": service,
        "kind": kind,
        "target": target,
        "due_at": granted_at if due_at is None else due_at,
    }


def owed_actions(plan: CampaignPlan, grant: GrantFacts) -> list[dict[str, Any]]:
    """The ledger rows one grant is owed."""
    return [_ledger_row(plan, grant.id, grant.service, grant.granted_at, a) for a in owed_kinds(plan, grant)]


# Grants owed the same action in one chunk at least this many times get it in one INSERT … SELECT; rarer
# ones (a playlist name of the fan's own) go row by row.
SET_MIN = 16

_GRANT_COLUMNS = (
    Grant.id,
    Grant.service,
    Grant.granted_at,
    cast(Grant.choices, Text).label("choices"),  # as stored: equal choices are read once per chunk
    Grant.fan_timezone,
    Grant.country,
    Grant.planned_at.is_not(None).label("replanned"),
)


def _unplanned_grants(store: Store, plan: CampaignPlan, chunk: int) -> Iterator[Sequence[Row[Any]]]:
    """Active grants never planned, or changed since they were (the fan's choices arrive after the
    grant), in chunks by id."""
    query = select(*_GRANT_COLUMNS).where(
        Grant.campaign_id == plan.campaign_id,
        Grant.status == GrantStatus.ACTIVE,
        Grant.service.in_(plan.spec.services.offered()),
        or_(Grant.planned_at.is_(None), Grant.planned_at < Grant.updated_at),
    )
    return store.chunks(query, Grant.id, chunk)


def _owed_by_kind(plan: CampaignPlan, rows: Sequence[Sequence[Any]]) -> dict[OwedKind, list[int]]:
    """The chunk's grant ids by the action they are owed; grants alike (service, choices, where the fan
    is) are worked out once."""
    alike: dict[tuple[Any, ...], list[OwedKind]] = {}
    grants: dict[OwedKind, list[int]] = defaultdict(list)
    for grant_id, service, granted_at, choices, fan_timezone, country, _ in rows:  # unpacked: quicker
        key = (service, choices, fan_timezone, country)
        if (owed := alike.get(key)) is None:
            read = None if choices is None else json.loads(choices)
            facts = GrantFacts(grant_id, service, granted_at, read, fan_timezone, country)
            owed = alike[key] = owed_kinds(plan, facts)
        for action in owed:
            grants[action].append(grant_id)
    return grants


def _write_owed(
    session: Any, plan: CampaignPlan, rows: Sequence[Row[Any]], owed: dict[OwedKind, list[int]]
) -> int:
    """The chunk's owed actions into the ledger: shared ones set-based, rare ones row by row."""
    added = 0
    single: list[dict[str, Any]] = []
    by_id = {row.id: row for row in rows}
    for action, grant_ids in owed.items():
        if len(grant_ids) >= SET_MIN:
            added += ledger.plan_for_grants(session, plan.campaign_id, action, grant_ids)
            continue
        single += [
            _ledger_row(plan, grant_id, by_id[grant_id].service, by_id[grant_id].granted_at, action)
            for grant_id in grant_ids
        ]
    return added + ledger.plan(session, single)


WITHDRAW_CHUNK = 2000  # replanned grants per withdrawal: their stale actions are bound parameters


def _withdraw_unchosen(session: Any, owed: dict[OwedKind, list[int]], replanned: set[int]) -> None:
    keep = {(g, kind, target) for (kind, target, _), ids in owed.items() for g in ids if g in replanned}
    grant_ids = sorted(replanned)
    for start in range(0, len(grant_ids), WITHDRAW_CHUNK):
        ledger.withdraw_unstarted(session, grant_ids[start : start + WITHDRAW_CHUNK], CHOSEN_KINDS, keep)


def plan_campaign(store: Store, campaign: Campaign, *, chunk: int = 10_000) -> int:
    """Write every owed action of the campaign's grants to the ledger; returns how many were new."""
    plan = CampaignPlan.of(campaign)
    planned_at = datetime.now(UTC)  # the real clock: compared with `Grant.updated_at`
    added = 0
    for rows in _unplanned_grants(store, plan, chunk):
        owed = _owed_by_kind(plan, rows)
        replanned = {row.id for row in rows if row.replanned}
        with store.session() as session:
            added += _write_owed(session, plan, rows, owed)
            if replanned:  # a fan who changed their mind: chosen actions no longer chosen are dropped
                _withdraw_unchosen(session, owed, replanned)
            session.execute(
                update(Grant)
                .where(ledger.among(Grant.id, [row.id for row in rows], ledger.dialect_of(session)))
                .values(
                    planned_at=planned_at, updated_at=Grant.updated_at
                )  # planning is not a change of the grant
                .execution_options(synchronize_session=False)
            )
    return added


def needs_planning(session: Any, campaign_id: int, offered: list[str]) -> bool:
    """Whether some active grant of the campaign was never planned or changed since."""
    return (
        session.scalar(
            select(Grant.id)
            .where(
                and_(
                    Grant.campaign_id == campaign_id,
                    Grant.status == GrantStatus.ACTIVE,
                    Grant.service.in_(offered),
                    or_(Grant.planned_at.is_(None), Grant.planned_at < Grant.updated_at),
                )
            )
            .limit(1)
        )
        is not None
    )
