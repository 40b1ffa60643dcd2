"""Whose grant it is: a grant stored before the service said who the fan is, and the merge once it does.

The landing app stores a Spotify or Deezer grant the moment the code is exchanged, before `/me`: its
`service_user_id` is then provisional (`pending:<the authorization's nonce>`). When `/me` answers (in the
callback, or later as the executor's `identify` action), the grant takes the account's id; if the same
account already granted this campaign on this service, the newer grant folds into the first (the newest
tokens kept, owed actions deduplicated by the ledger, the rest of its rows moved over), so a fan who
authorized twice is one grant, one save, one follow. The folded grant's id is kept in `grant_merges`,
pointing to the first (a done-page cookie names it: `surviving_grant`), and future saves carried over
from it before its account was known take the account too.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import Connection, Table, bindparam, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from campaigns.future_saves import FUTURE_MARK, is_future_save
from campaigns.ledger import GrantRef, merge_owed
from campaigns.models import (
    AuthorizationAttempt,
    ConsentRecord,
    FanMessage,
    Grant,
    GrantMerge,
    GrantStatus,
    LandingEvent,
)
from campaigns.vault import TokenVault

PROVISIONAL = "pending:"
_GRANTS: Table = Grant.__table__  # type: ignore[assignment]
_MERGES: Table = GrantMerge.__table__  # type: ignore[assignment]
_MOVED_WITH_A_GRANT = (AuthorizationAttempt, ConsentRecord, FanMessage, LandingEvent)
_TOKEN_COLUMNS = ("access_token", "refresh_token", "token_expires_at", "scopes", "granted_at")


# the statements of every grant's identification, built once (building one costs more than running it)
_GRANT = select(_GRANTS).where(_GRANTS.c.id == bindparam("grant_id"))
_ACCOUNT_GRANT = select(_GRANTS).where(
    _GRANTS.c.campaign_id == bindparam("campaign_id"),
    _GRANTS.c.service == bindparam("service"),
    _GRANTS.c.service_user_id == bindparam("user_id"),
)
_TAKE_ACCOUNT = (
    update(_GRANTS)
    .where(_GRANTS.c.id == bindparam("grant_id"))
    .values(service_user_id=bindparam("user_id"), fan_key=bindparam("fan_key"))
)
_CARRIED = select(_GRANTS).where(
    _GRANTS.c.service == bindparam("service"),
    _GRANTS.c.service_user_id == bindparam("provisional"),
    _GRANTS.c.id != bindparam("grant_id"),
)
_EVENTS: Table = LandingEvent.__table__  # type: ignore[assignment]
_GRANT_COUNTRY = (
    update(_GRANTS)
    .where(_GRANTS.c.id == bindparam("grant_id"), _GRANTS.c.country.is_(None))
    .values(country=bindparam("country"))
)
_EVENT_COUNTRY = (
    update(_EVENTS)
    .where(
        _EVENTS.c.grant_id == bindparam("grant_id"), _EVENTS.c.kind == "grant", _EVENTS.c.country.is_(None)
    )
    .values(country=bindparam("country"))
)


def provisional_id(nonce: str) -> str:
    """The service user id of a grant stored before `/me` answered."""
    return f"{PROVISIONAL}{nonce}"[:128]


def is_provisional(service_user_id: str | None) -> bool:
    return bool(service_user_id) and str(service_user_id).startswith(PROVISIONAL)


Bind = Session | Connection


def adopt_identity(
    bind: Bind, vault: TokenVault, grant_id: int, user_id: str, country: str | None
) -> GrantRef | None:
    """Give a grant the account id `/me` answered (and the country, when it had none), folding it into
    the first grant of the same account on the same campaign and service: the grant that stands for the
    fan now (`again` when it is that first one); None if the grant is gone."""
    grant = bind.execute(_GRANT, {"grant_id": grant_id}).first()
    if grant is None:
        return None
    if not is_provisional(grant.service_user_id):  # known already (or its grant was identified before)
        if country:
            _set_country(bind, grant_id, country)
        return GrantRef(grant.id, grant.campaign_id, grant.service)
    first = _account_grant(bind, grant.campaign_id, grant.service, user_id)
    fan_key = vault.pseudonym(grant.service, user_id)
    if first is None:
        bind.execute(_TAKE_ACCOUNT, {"grant_id": grant_id, "user_id": user_id, "fan_key": fan_key})
        if country:
            _set_country(bind, grant_id, country)
        _identify_carried(bind, grant, grant.id, user_id, fan_key)
        return GrantRef(grant.id, grant.campaign_id, grant.service)
    _merge(bind, grant, first, country)
    _identify_carried(bind, grant, first.id, user_id, fan_key)
    return GrantRef(first.id, first.campaign_id, first.service, again=True)


def _account_grant(bind: Bind, campaign_id: int, service: str, user_id: str) -> Any:
    """The account's grant of this campaign on this service, if it has one."""
    return bind.execute(
        _ACCOUNT_GRANT, {"campaign_id": campaign_id, "service": service, "user_id": user_id}
    ).first()


def _identify_carried(bind: Bind, grant: Any, surviving_id: int, user_id: str, fan_key: str) -> None:
    """Future saves carried over from `grant` before its account was known (other campaigns' grants
    with its provisional id) take the account: each now comes from `surviving_id`, or folds into the
    account's grant of that campaign when it has one (one save per campaign)."""
    carried = bind.execute(
        _CARRIED, {"service": grant.service, "provisional": grant.service_user_id, "grant_id": grant.id}
    ).all()
    for row in carried:
        known = _account_grant(bind, row.campaign_id, row.service, user_id)
        if known is not None:
            _merge(bind, row, known, None)
            continue
        choices = dict(row.choices or {})
        if is_future_save(choices):
            choices[FUTURE_MARK] = surviving_id
        bind.execute(
            update(_GRANTS)
            .where(_GRANTS.c.id == row.id)
            .values(service_user_id=user_id, fan_key=fan_key, choices=choices)
        )


def _set_country(bind: Bind, grant_id: int, country: str) -> None:
    """A country learned after the grant was stored: the grant's, and its grant event's, when unknown."""
    bind.execute(_GRANT_COUNTRY, {"grant_id": grant_id, "country": country})
    bind.execute(_EVENT_COUNTRY, {"grant_id": grant_id, "country": country})


def _merge(bind: Bind, newer: object, first: object, country: str | None) -> None:
    """Fold `newer` into `first`: the tokens of the later authorization, its choices if the fan completed
    its done page, the ledger deduplicated, its other rows moved; then `newer` is deleted."""
    values: dict[str, object] = {"status": GrantStatus.ACTIVE.value, "status_reason": None}
    if newer.granted_at >= first.granted_at:  # type: ignore[attr-defined]
        values |= {column: getattr(newer, column) for column in _TOKEN_COLUMNS}
        if newer.refresh_token is None:  # type: ignore[attr-defined]
            values.pop("refresh_token")
    newer_choices = newer.choices or {}  # type: ignore[attr-defined]
    if newer_choices.get("completed_at"):
        values["choices"] = newer_choices
    if newer.email is not None:  # type: ignore[attr-defined]
        values["email"] = newer.email  # type: ignore[attr-defined]
    # what the later authorization knew wins; what it did not know stays
    values["country"] = func.coalesce(newer.country, country, _GRANTS.c.country)  # type: ignore[attr-defined]
    values["fan_timezone"] = func.coalesce(newer.fan_timezone, _GRANTS.c.fan_timezone)  # type: ignore[attr-defined]
    first_id, newer_id = first.id, newer.id  # type: ignore[attr-defined]
    bind.execute(update(_GRANTS).where(_GRANTS.c.id == first_id).values(**values))
    merge_owed(bind, newer_id, first_id)
    events: Table = LandingEvent.__table__  # type: ignore[assignment]
    bind.execute(  # the newer grant's event reads as the same account granting again
        update(events)
        .where(events.c.grant_id == newer_id, events.c.kind == "grant", events.c.detail.is_(None))
        .values(detail="again")
    )
    for model in _MOVED_WITH_A_GRANT:
        table: Table = model.__table__  # type: ignore[assignment]
        bind.execute(update(table).where(table.c.grant_id == newer_id).values(grant_id=first_id))
    # a done-page cookie names the newer grant (or one merged into it before): it resolves to the first
    bind.execute(update(_MERGES).where(_MERGES.c.into_id == newer_id).values(into_id=first_id))
    bind.execute(_MERGES.insert().values(merged_id=newer_id, into_id=first_id, merged_at=func.now()))
    bind.execute(delete(_GRANTS).where(_GRANTS.c.id == newer_id))


def surviving_grant(bind: Bind, grant_id: int) -> int | None:
    """The grant that stands for `grant_id` now: itself, the grant it was merged into, or None (erased)."""
    if bind.execute(select(_GRANTS.c.id).where(_GRANTS.c.id == grant_id)).first() is not None:
        return grant_id
    return bind.execute(select(_MERGES.c.into_id).where(_MERGES.c.merged_id == grant_id)).scalar()


def identify(
    transaction: Callable[[], AbstractContextManager[Bind]],
    vault: TokenVault,
    grant_id: int,
    user_id: str,
    country: str | None,
    *,
    then: Callable[[Bind, GrantRef], None] | None = None,
) -> GrantRef | None:
    """`adopt_identity` in a transaction of its own (and `then`, in the same one); when two grants of one
    account are identified at once, the loser of the race sees the winner and merges into it."""
    for attempt in range(3):
        try:
            with transaction() as bind:
                identified = adopt_identity(bind, vault, grant_id, user_id, country)
                if identified is not None and then is not None:
                    then(bind, identified)
                return identified
        except IntegrityError:
            if attempt == 2:
                raise
    return None
