"""Token health before release: Spotify grants whose refresh token will be dead at their release moment.

Spotify refresh tokens live six months from the fan's authorization, whatever refreshing happens. A fan
who pre-saved earlier than that before their release moment cannot be served: the label can ask them to
pre-save again. One row per such grant, no token and no raw service user id (the fan under `fan_key`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
from sqlalchemy import select

from campaigns.models import Campaign, Grant, GrantStatus
from campaigns.rules import LOCAL_LEAD, REFRESH_TOKEN_LIFETIME, refresh_token_dies_at, unservable_at
from campaigns.store import Store
from executor.plan import CampaignPlan, GrantFacts, release_moment

COLUMNS = {
    "campaign_slug": "string",
    "grant_id": "int64",
    "fan_key": "string",
    "granted_at": "datetime64[us, UTC]",
    "release_moment": "datetime64[us, UTC]",
    "refresh_token_dies_at": "datetime64[us, UTC]",
    "age_at_release_days": "float64",
}


def unservable_spotify_grants(
    store: Store,
    *,
    now: datetime | None = None,
    since: timedelta = timedelta(days=3),
    slug: str | None = None,
    chunk: int = 5000,
) -> pd.DataFrame:
    """Active Spotify grants of campaigns releasing from `now - since` on (or of `slug`) whose refresh
    token will be older than six months at the fan's release moment. Grants are read in chunks."""
    now = now or datetime.now(UTC)
    rows: list[tuple[object, ...]] = []
    with store.session() as session:
        query = select(Campaign)
        query = (
            query.where(Campaign.slug == slug) if slug else query.where(Campaign.release_at >= now - since)
        )
        campaigns = list(session.scalars(query.order_by(Campaign.release_at)))
    for campaign in campaigns:
        plan = CampaignPlan.of(campaign)
        if plan.spec.services.spotify is None:
            continue
        # Quick bound: no grant made within six months of the earliest possible moment can be affected.
        latest_affected = plan.release_at + LOCAL_LEAD - REFRESH_TOKEN_LIFETIME
        grants_query = select(
            Grant.id, Grant.fan_key, Grant.granted_at, Grant.fan_timezone, Grant.country
        ).where(
            Grant.campaign_id == campaign.id,
            Grant.service == "spotify",
            Grant.status == GrantStatus.ACTIVE,
            Grant.granted_at <= latest_affected,
        )
        for grants in store.chunks(grants_query, Grant.id, chunk):
            for grant in grants:
                moment = release_moment(
                    plan,
                    GrantFacts(
                        grant.id, "spotify", grant.granted_at, None, grant.fan_timezone, grant.country
                    ),
                )
                if unservable_at(grant.granted_at, moment):
                    dies_at = refresh_token_dies_at(grant.granted_at)
                    age = (moment - grant.granted_at).total_seconds() / 86400
                    rows.append(
                        (campaign.slug, grant.id, grant.fan_key, grant.granted_at, moment, dies_at, age)
                    )
    frame = pd.DataFrame.from_records(rows, columns=list(COLUMNS))
    return frame.astype(COLUMNS)
