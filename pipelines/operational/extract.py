"""Operational rows streamed out of the store as warehouse-shaped frames (pseudonymised, no secrets)."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
from sqlalchemy import Select, select
from sqlalchemy.orm import aliased

from campaigns.models import Campaign, Grant, LandingEvent, OwedAction
from campaigns.registry import campaign_spec
from campaigns.store import Store
from campaigns.vault import TokenVault

BATCH_ROWS = 50_000


def stream_frames(store: Store, query: Select, batch_rows: int = BATCH_ROWS) -> Iterator[pd.DataFrame]:
    """Yield the query's rows in frames of `batch_rows`, never holding the whole result."""
    with store.engine.connect() as connection:
        result = connection.execution_options(stream_results=True, yield_per=batch_rows).execute(query)
        columns = list(result.keys())
        for partition in result.partitions():
            yield pd.DataFrame.from_records(partition, columns=columns)


def campaign_frames(store: Store) -> Iterator[pd.DataFrame]:
    with store.session() as session:
        campaigns = list(session.scalars(select(Campaign).order_by(Campaign.id)))
        rows = [
            {
                "slug": c.slug,
                "artist": c.artist,
                "title": c.title,
                "upc": c.upc,
                "release_at": c.release_at,
                "timezone": c.timezone,
                "release_mode": c.release_mode,
                "services": campaign_spec(c).services.offered(),
            }
            for c in campaigns
        ]
    yield pd.DataFrame(rows)


def landing_event_frames(store: Store, vault: TokenVault) -> Iterator[pd.DataFrame]:
    grant = aliased(Grant)
    query = (
        select(
            LandingEvent.id.label("event_id"),
            Campaign.slug.label("campaign_slug"),
            LandingEvent.occurred_at,
            LandingEvent.kind,
            LandingEvent.service,
            LandingEvent.visitor_id,
            grant.fan_key,
            LandingEvent.utm_source,
            LandingEvent.utm_medium,
            LandingEvent.utm_campaign,
            LandingEvent.referrer_domain,
            LandingEvent.device_class,
            LandingEvent.in_app_browser,
            LandingEvent.country,
            LandingEvent.ip_hash,
            LandingEvent.detail,
        )
        .join(Campaign, Campaign.id == LandingEvent.campaign_id)
        .outerjoin(grant, grant.id == LandingEvent.grant_id)
        .order_by(LandingEvent.id)
    )
    for frame in stream_frames(store, query):
        visitor = frame.pop("visitor_id")
        frame["visitor_key"] = [vault.pseudonym("visitor", v) if v else None for v in visitor]
        yield frame


def grant_frames(store: Store) -> Iterator[pd.DataFrame]:
    query = (
        select(
            Campaign.slug.label("campaign_slug"),
            Grant.service,
            Grant.fan_key,
            Grant.granted_at,
            Grant.status,
            Grant.country,
        )
        .join(Campaign, Campaign.id == Grant.campaign_id)
        .order_by(Grant.id)
    )
    yield from stream_frames(store, query)


def owed_action_frames(store: Store) -> Iterator[pd.DataFrame]:
    query = (
        select(
            OwedAction.id.label("action_id"),
            Campaign.slug.label("campaign_slug"),
            Grant.fan_key,
            OwedAction.service,
            OwedAction.kind,
            OwedAction.target,
            OwedAction.due_at,
            OwedAction.outcome,
            OwedAction.attempts,
            OwedAction.done_at,
            OwedAction.reason,
        )
        .join(Campaign, Campaign.id == OwedAction.campaign_id)
        .join(Grant, Grant.id == OwedAction.grant_id)
        .order_by(OwedAction.id)
    )
    yield from stream_frames(store, query)
