"""Simulated history of campaigns that already happened: visits, grants and delivered actions, backdated.

The demo and the tests need earlier campaigns to compare against; real ones would have come through the
landing app. Tokens here are sealed random strings: these grants are past and never acted on again.
"""

from __future__ import annotations

import math
import random
import secrets
from datetime import UTC, datetime, timedelta

from campaigns.ledger import insert_ignoring_duplicates
from campaigns.models import Campaign, Grant, GrantStatus, LandingEvent, Outcome, OwedAction
from campaigns.store import Store
from campaigns.vault import TokenVault

SOURCES = ("instagram", "tiktok", "newsletter", "twitter", None)
SOURCE_WEIGHTS = (0.35, 0.25, 0.15, 0.1, 0.15)
COUNTRIES = ("GB", "US", "DE", "FR", "JP", "BR")
COUNTRY_WEIGHTS = (0.3, 0.3, 0.12, 0.1, 0.08, 0.1)


def presave_moments(release_at: datetime, count: int, rng: random.Random, days: int = 28) -> list[datetime]:
    """When `count` pre-saves arrived: a burst at announcement, then rising toward release day."""
    weights = [math.exp(-(d / 6.0)) + (0.8 if d == days - 1 else 0.0) for d in range(days)]
    moments = []
    for day in rng.choices(range(days), weights=weights, k=count):
        offset = timedelta(days=day + 1) - timedelta(seconds=rng.uniform(0, 86_000))
        moments.append(release_at - offset)
    return sorted(moments)


def write_campaign_history(
    store: Store, vault: TokenVault, slug: str, presaves: int, *, seed: int, user_prefix: str | None = None
) -> int:
    """Backdated visits, grants and delivered release-day saves for an earlier campaign."""
    rng = random.Random(seed)
    prefix = user_prefix or f"{slug}-fan"
    with store.session() as session:
        campaign = session.query(Campaign).filter_by(slug=slug).one()
        moments = presave_moments(campaign.release_at, presaves, rng)
        sealed = vault.seal(secrets.token_urlsafe(24))  # placeholder: history grants are never used again
        grants = []
        for index, moment in enumerate(moments):
            user_id = f"{prefix}{index:06d}"
            grants.append(
                Grant(
                    campaign_id=campaign.id,
                    service="spotify",
                    service_user_id=user_id,
                    fan_key=vault.pseudonym("spotify", user_id),
                    access_token=sealed,
                    refresh_token=None,
                    token_expires_at=moment + timedelta(hours=1),
                    scopes="user-library-modify user-follow-modify",
                    granted_at=moment,
                    status=GrantStatus.EXPIRED,
                    status_reason="history",
                    country=rng.choices(COUNTRIES, COUNTRY_WEIGHTS)[0],
                    choices={},
                    created_at=moment,
                    updated_at=moment,
                )
            )
        session.add_all(grants)
        session.flush()
        events = []
        actions = []
        for grant in grants:
            source = rng.choices(SOURCES, SOURCE_WEIGHTS)[0]
            visitor = secrets.token_hex(8)
            # A visit and a click a little before each grant; extra visitors who never clicked.
            for kind, lead in (("visit", 95), ("authorize_start", 40), ("grant", 0)):
                events.append(
                    _event(
                        campaign.id, kind, grant.granted_at - timedelta(seconds=lead), source, visitor, grant
                    )
                )
            actions.append(
                {
                    "campaign_id": campaign.id,
                    "grant_id": grant.id,
                    "service": "spotify",
                    "kind": "save_release",
                    "target": "release",
                    "due_at": campaign.release_at,
                    "outcome": Outcome.DELIVERED.value,
                    "attempts": 1,
                    "done_at": campaign.release_at + timedelta(seconds=rng.uniform(5, 600)),
                    "created_at": campaign.release_at,
                }
            )
        for moment in presave_moments(campaign.release_at, presaves // 2, rng):
            events.append(
                _event(
                    campaign.id,
                    "visit",
                    moment,
                    rng.choices(SOURCES, SOURCE_WEIGHTS)[0],
                    secrets.token_hex(8),
                    None,
                )
            )
        session.add_all(events)
        insert_ignoring_duplicates(session, OwedAction.__table__, actions)  # type: ignore[arg-type]
    return len(moments)


def _event(
    campaign_id: int, kind: str, at: datetime, source: str | None, visitor: str, grant: Grant | None
) -> LandingEvent:
    return LandingEvent(
        campaign_id=campaign_id,
        occurred_at=at.astimezone(UTC),
        kind=kind,
        service="spotify" if kind != "visit" else None,
        visitor_id=visitor,
        grant_id=grant.id if grant is not None and kind == "grant" else None,
        utm_source=source,
        utm_medium="social" if source else None,
        device_class="mobile",
        country=grant.country if grant is not None else None,
    )
