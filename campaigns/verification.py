"""Grants a service has not accepted yet. Apple has no OAuth: the Music User Token a browser posts back is
only a pre-save once Apple answered `GET /v1/me/storefront` with 200. When Apple could not be asked at
once, the grant is stored `unverified` (counted nowhere, its grant event marked) and the executor asks;
Apple's answer makes it `active` (a pre-save from then on) or `refused` (a token Apple never issued, or a
dead one: never a pre-save, its grant event turned into the error it was)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection, Table, update
from sqlalchemy.orm import Session

from campaigns.models import EventKind, Grant, GrantStatus, LandingEvent, Outcome, OwedAction

UNVERIFIED = "unverified"  # the grant event's detail while its grant waits for the service's word
UNVERIFIED_REFUSED = "presave:user_token_refused"  # the error event of a token the service refused

_GRANTS: Table = Grant.__table__  # type: ignore[assignment]
_EVENTS: Table = LandingEvent.__table__  # type: ignore[assignment]
_ACTIONS: Table = OwedAction.__table__  # type: ignore[assignment]


def verified(bind: Session | Connection, grant_id: int) -> None:
    """The service accepted the grant's token: it is a pre-save now (and planned like any other)."""
    bind.execute(
        update(_GRANTS)
        .where(_GRANTS.c.id == grant_id, _GRANTS.c.status == GrantStatus.UNVERIFIED.value)
        .values(status=GrantStatus.ACTIVE.value, status_reason=None)
    )
    bind.execute(
        update(_EVENTS)
        .where(
            _EVENTS.c.grant_id == grant_id,
            _EVENTS.c.kind == EventKind.GRANT.value,
            _EVENTS.c.detail == UNVERIFIED,
        )
        .values(detail=None)
    )


EVENT_DETAILS = {  # the error event a grant event turns into when its grant ends uncounted
    GrantStatus.REFUSED.value: UNVERIFIED_REFUSED,
    GrantStatus.UNREGISTERED.value: "presave:user_not_registered",
}


def refused(bind: Session | Connection, grant_id: int, reason: str) -> None:
    """The service refused the grant's token: never a pre-save; its actions end undeliverable."""
    end_uncounted(bind, grant_id, GrantStatus.REFUSED, reason)


def end_uncounted(bind: Session | Connection, grant_id: int, status: GrantStatus, reason: str) -> None:
    """The grant was never a pre-save the app can act on (a refused token, an account a development-mode
    app does not admit): its status says why, its grant event becomes the error it was, and every action
    it still owes ends undeliverable with the reason (nothing is retried for it)."""
    bind.execute(
        update(_GRANTS)
        .where(
            _GRANTS.c.id == grant_id,
            _GRANTS.c.status.in_((GrantStatus.ACTIVE.value, GrantStatus.UNVERIFIED.value)),
        )
        .values(status=status.value, status_reason=reason[:200])
    )
    bind.execute(
        update(_EVENTS)
        .where(_EVENTS.c.grant_id == grant_id, _EVENTS.c.kind == EventKind.GRANT.value)
        .values(kind=EventKind.ERROR.value, detail=EVENT_DETAILS[status.value])
    )
    bind.execute(
        update(_ACTIONS)
        .where(_ACTIONS.c.grant_id == grant_id, _ACTIONS.c.outcome == Outcome.QUEUED.value)
        .values(
            outcome=Outcome.UNDELIVERABLE.value,
            reason=reason[:300],
            started_at=None,
            attempt_id=None,
            retry_at=None,
            done_at=datetime.now(UTC),
        )
    )
