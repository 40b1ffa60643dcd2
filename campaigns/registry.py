"""Campaigns in the operational store: create from a campaign file, look up, summarise."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campaigns.campaign_file import CampaignSpec, parse_campaign
from campaigns.ledger import outcome_counts
from campaigns.models import Campaign, Grant


class CampaignExists(ValueError):
    """A campaign with this slug is already in the store."""


class UnknownCampaign(LookupError):
    """No campaign with this slug."""


def create_campaign(session: Session, spec: CampaignSpec) -> Campaign:
    if session.scalar(select(Campaign.id).where(Campaign.slug == spec.slug)) is not None:
        raise CampaignExists(f"campaign {spec.slug!r} already exists")
    campaign = Campaign(
        slug=spec.slug,
        artist=spec.artist,
        title=spec.title,
        upc=spec.upc,
        release_at=spec.release_at_utc,
        timezone=spec.timezone,
        release_mode=spec.release_mode,
        spec=spec.to_document(),
    )
    session.add(campaign)
    session.flush()
    return campaign


def get_campaign(session: Session, slug: str) -> Campaign:
    campaign = session.scalar(select(Campaign).where(Campaign.slug == slug))
    if campaign is None:
        raise UnknownCampaign(f"no campaign {slug!r}")
    return campaign


def campaign_spec(campaign: Campaign) -> CampaignSpec:
    return parse_campaign(campaign.spec, source=f"campaign {campaign.slug!r}")


def list_campaigns(session: Session) -> list[Campaign]:
    return list(session.scalars(select(Campaign).order_by(Campaign.release_at, Campaign.slug)))


@dataclass(frozen=True)
class CampaignSummary:
    campaign: dict[str, Any]
    grants: dict[str, int]
    outcomes: dict[str, int]

    def as_json(self) -> dict[str, Any]:
        return {"campaign": self.campaign, "grants": self.grants, "outcomes": self.outcomes}


def summarise(session: Session, slug: str) -> CampaignSummary:
    """Grants by service and owed actions by outcome (every outcome present, zero or not)."""
    campaign = get_campaign(session, slug)
    grants = dict.fromkeys(campaign_spec(campaign).services.offered(), 0)
    grants |= dict(
        session.execute(
            select(Grant.service, func.count())
            .where(Grant.campaign_id == campaign.id)
            .group_by(Grant.service)
            .order_by(Grant.service)
        ).all()
    )
    return CampaignSummary(
        campaign=dict(campaign.spec), grants=grants, outcomes=outcome_counts(session, campaign.id)
    )
