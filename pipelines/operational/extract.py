"""Operational rows streamed out of the store as warehouse-shaped frames (pseudonymised, no secrets).

Each copy selects the columns its warehouse table declares (`pipelines/schema.py`), by name from the
model unless a source is named here: a new column in `campaigns/models.py` reaches the warehouse with
one line in the schema. What is never selected never leaves the store: tokens, the raw service user id,
the fan's email. Only counted grants (`COUNTED_GRANTS`: accepted by their service, and an account the
label's app may act for) reach the warehouse, with their actions and grant events.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import aliased

from campaigns.models import (
    COUNTED_GRANTS,
    FAN_ACTIONS,
    UNCOUNTED_STATUSES,
    Campaign,
    Grant,
    GrantStatus,
    LandingEvent,
    OwedAction,
)
from campaigns.registry import campaign_spec
from campaigns.store import Store
from campaigns.vault import TokenVault
from pipelines.schema import TABLES

BATCH_ROWS = 50_000

_grant = aliased(Grant)


def _copy_of(table: str, model: Any, **sources: Any) -> tuple[Any, ...]:
    """The store's columns that fill a warehouse table, in its order: the source given for a column, else
    the model's column of that name."""
    return tuple(
        sources[name].label(name) if name in sources else getattr(model, name)
        for name in TABLES[table].column_names
    )


LANDING_EVENT_COLUMNS = _copy_of(
    "landing_events",
    LandingEvent,
    event_id=LandingEvent.id,
    campaign_slug=Campaign.slug,
    visitor_key=LandingEvent.visitor_id,  # hashed below
    fan_key=_grant.fan_key,
)
GRANT_COLUMNS = _copy_of("grants", Grant, campaign_slug=Campaign.slug)
OWED_ACTION_COLUMNS = _copy_of(
    "owed_actions", OwedAction, action_id=OwedAction.id, campaign_slug=Campaign.slug, fan_key=Grant.fan_key
)


def stream_frames(store: Store, query: Select[Any], batch_rows: int = BATCH_ROWS) -> Iterator[pd.DataFrame]:
    """Yield the query's rows in frames of `batch_rows`, never holding the whole result."""
    with store.engine.connect() as connection:
        result = connection.execution_options(stream_results=True, yield_per=batch_rows).execute(query)
        columns = list(result.keys())
        for partition in result.partitions():
            yield pd.DataFrame.from_records(partition, columns=columns)


def campaign_frames(store: Store) -> Iterator[pd.DataFrame]:
    with store.session() as session:
        campaigns = list(session.scalars(select(Campaign).order_by(Campaign.id)))
        rows = [_campaign_row(c) for c in campaigns]
    yield pd.DataFrame(rows)


def _campaign_row(campaign: Campaign) -> dict[str, object]:
    spec = campaign_spec(campaign)
    spotify, deezer = spec.services.spotify, spec.services.deezer
    return {
        "slug": campaign.slug,
        "artist": campaign.artist,
        "title": campaign.title,
        "upc": campaign.upc,
        "release_at": campaign.release_at,
        "timezone": campaign.timezone,
        "release_mode": campaign.release_mode,
        "services": spec.services.offered(),
        "spotify_artist_id": spotify.artist.rsplit(":", 1)[-1] if spotify else None,
        "deezer_artist_id": deezer.artist_id if deezer else None,
    }


def landing_event_frames(store: Store, vault: TokenVault) -> Iterator[pd.DataFrame]:
    query = (
        select(*LANDING_EVENT_COLUMNS)
        .join(Campaign, Campaign.id == LandingEvent.campaign_id)
        .outerjoin(_grant, _grant.id == LandingEvent.grant_id)
        .where(
            or_(LandingEvent.kind != "grant", _grant.id.is_(None), _grant.status.not_in(UNCOUNTED_STATUSES))
        )
        .order_by(LandingEvent.id)
    )
    for frame in stream_frames(store, query):
        visitor = frame.pop("visitor_key")
        # An erased visitor's id is NULL, which pandas may hand over as NaN: only strings are hashed.
        frame["visitor_key"] = [vault.visitor_key(v) if isinstance(v, str) and v else None for v in visitor]
        yield frame


def grant_frames(store: Store) -> Iterator[pd.DataFrame]:
    query = (
        select(*GRANT_COLUMNS)
        .join(Campaign, Campaign.id == Grant.campaign_id)
        .where(COUNTED_GRANTS)
        .order_by(Grant.id)
    )
    yield from stream_frames(store, query)


def reminder_frames(store: Store) -> Iterator[pd.DataFrame]:
    """Reminder pre-saves: the fan's key, service and why a reminder (never the address)."""
    query = (
        select(
            Campaign.slug.label("campaign_slug"),
            Grant.service,
            Grant.fan_key,
            Grant.granted_at,
            Grant.choices,
        )
        .join(Campaign, Campaign.id == Grant.campaign_id)
        .where(Grant.status == GrantStatus.REMINDER.value)
        .order_by(Grant.id)
    )
    for frame in stream_frames(store, query):
        choices = frame.pop("choices")
        frame["signed_up_at"] = frame.pop("granted_at")
        frame["reason"] = [
            (c or {}).get("reminder") or "unknown" if isinstance(c, dict) else "unknown" for c in choices
        ]
        yield frame


def owed_action_frames(store: Store) -> Iterator[pd.DataFrame]:
    query = (
        select(*OWED_ACTION_COLUMNS)
        .join(Campaign, Campaign.id == OwedAction.campaign_id)
        .join(Grant, Grant.id == OwedAction.grant_id)
        .where(FAN_ACTIONS, COUNTED_GRANTS)
        .order_by(OwedAction.id)
    )
    yield from stream_frames(store, query)


def grant_counts(store: Store) -> dict[tuple[str, str], int]:
    """Grants per (campaign slug, service) in the store, to reconcile the warehouse's copy against."""
    query = (
        select(Campaign.slug, Grant.service, func.count())
        .join(Campaign, Campaign.id == Grant.campaign_id)
        .where(COUNTED_GRANTS)
        .group_by(Campaign.slug, Grant.service)
    )
    with store.session() as session:
        return {(slug, service): count for slug, service, count in session.execute(query)}


def action_counts(store: Store) -> dict[tuple[str, str, str], int]:
    """The fans' owed actions per (campaign slug, kind, outcome) in the store's ledger."""
    query = (
        select(Campaign.slug, OwedAction.kind, OwedAction.outcome, func.count())
        .join(Campaign, Campaign.id == OwedAction.campaign_id)
        .join(Grant, Grant.id == OwedAction.grant_id)
        .where(FAN_ACTIONS, COUNTED_GRANTS)
        .group_by(Campaign.slug, OwedAction.kind, OwedAction.outcome)
    )
    with store.session() as session:
        return {(slug, kind, outcome): count for slug, kind, outcome, count in session.execute(query)}
