"""Campaigns in the operational store: create from a campaign file, look up, summarise."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from campaigns.campaign_file import CampaignSpec, parse_campaign
from campaigns.ledger import outcome_counts
from campaigns.models import COUNTED_GRANTS, Campaign, CampaignVersion, Grant, GrantStatus, utcnow


class CampaignExists(ValueError):
    """A campaign with this slug is already in the store."""


class UnknownCampaign(LookupError):
    """No campaign with this slug."""


def create_campaign(session: Session, spec: CampaignSpec, by: str = "unknown") -> Campaign:
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
    _record_version(session, campaign, by)
    return campaign


@dataclass(frozen=True)
class CampaignUpdate:
    campaign: Campaign
    version: int | None  # None: the file was the same as the stored spec, nothing recorded
    lookup_changed: bool  # the release is looked up again from now (the pending-source window restarts)


def release_ids(spec: CampaignSpec) -> tuple[object, ...]:
    """What the executor looks the release up by: the UPC, the ISRCs and each service's own album id."""
    services = spec.services
    own = tuple(getattr(svc, "album_id", None) for svc in (services.spotify, services.apple, services.deezer))
    return spec.upc, tuple(spec.isrcs), own


def update_campaign(session: Session, spec: CampaignSpec, by: str) -> CampaignUpdate:
    """Replace a campaign's spec with a new version of its file, keeping the old one in its history.

    `Campaign.updated_at` is the executor's "last correction": it moves only when the release's lookup
    changes, which puts `pending_source` actions back in the queue and restarts their window from now."""
    campaign = get_campaign(session, spec.slug)
    document = spec.to_document()
    if document == campaign.spec:
        return CampaignUpdate(campaign, None, lookup_changed=False)
    lookup_changed = release_ids(campaign_spec(campaign)) != release_ids(spec)
    last_correction = campaign.updated_at
    campaign.artist = spec.artist
    campaign.title = spec.title
    campaign.upc = spec.upc
    campaign.release_at = spec.release_at_utc
    campaign.timezone = spec.timezone
    campaign.release_mode = spec.release_mode
    campaign.spec = document
    campaign.updated_at = utcnow() if lookup_changed else last_correction
    flag_modified(campaign, "updated_at")  # written as set, so the column's onupdate does not move it
    session.flush()
    return CampaignUpdate(campaign, _record_version(session, campaign, by), lookup_changed)


def _record_version(session: Session, campaign: Campaign, by: str) -> int:
    latest = session.scalar(
        select(func.max(CampaignVersion.version)).where(CampaignVersion.campaign_id == campaign.id)
    )
    version = (latest or 0) + 1
    session.add(
        CampaignVersion(campaign_id=campaign.id, version=version, changed_by=by[:100], spec=campaign.spec)
    )
    session.flush()
    return version


def campaign_history(session: Session, slug: str) -> list[CampaignVersion]:
    campaign = get_campaign(session, slug)
    return list(
        session.scalars(
            select(CampaignVersion)
            .where(CampaignVersion.campaign_id == campaign.id)
            .order_by(CampaignVersion.version)
        )
    )


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
    """`grants`: direct pre-saves by service (the label's app saves for the fan); `reminders`: reminder
    pre-saves by service (the fan is emailed a link on release day); `presaves`: the two kinds and their
    total; `turned_away`: fans a development-mode Spotify app refused after they authorized."""

    campaign: dict[str, Any]
    grants: dict[str, int]
    outcomes: dict[str, int]
    reminders: dict[str, int] = field(default_factory=dict)
    turned_away: int = 0
    capped_since: datetime | None = None

    @property
    def presaves(self) -> dict[str, int]:
        direct, reminder = sum(self.grants.values()), sum(self.reminders.values())
        return {"direct": direct, "reminder": reminder, "total": direct + reminder}

    def as_json(self) -> dict[str, Any]:
        return {
            "campaign": self.campaign,
            "grants": self.grants,
            "outcomes": self.outcomes,
            "presaves": self.presaves,
            "reminders": self.reminders,
            "turned_away": self.turned_away,
            "capped_since": self.capped_since.isoformat() if self.capped_since else None,
        }


def summarise(session: Session, slug: str) -> CampaignSummary:
    """Grants by service and owed actions by outcome (every outcome present, zero or not)."""
    campaign = get_campaign(session, slug)
    grants = dict.fromkeys(campaign_spec(campaign).services.offered(), 0)
    grants |= dict(
        session.execute(
            select(Grant.service, func.count())
            .where(Grant.campaign_id == campaign.id, COUNTED_GRANTS)
            .group_by(Grant.service)
            .order_by(Grant.service)
        ).all()
    )
    spec = campaign_spec(campaign)
    counted = reminder_counts(session, campaign.id)
    return CampaignSummary(
        campaign=dict(campaign.spec),
        grants=grants,
        outcomes=outcome_counts(session, campaign.id),
        reminders=dict.fromkeys(spec.services.link_only(), 0) | counted.by_service,
        turned_away=counted.turned_away,
        capped_since=counted.full_since if counted.turned_away or counted.by_service.get("spotify") else None,
    )


@dataclass(frozen=True)
class ReminderCounts:
    by_service: dict[str, int]
    turned_away: int  # fans a development-mode Spotify app refused after they authorized
    full_since: datetime | None  # the first Spotify fan turned away or sent to a reminder

    @property
    def total(self) -> int:
        return sum(self.by_service.values())


def reminder_counts(session: Session, campaign_id: int) -> ReminderCounts:
    by_service = dict(
        session.execute(
            select(Grant.service, func.count())
            .where(Grant.campaign_id == campaign_id, Grant.status == GrantStatus.REMINDER.value)
            .group_by(Grant.service)
        ).all()
    )
    turned_away = session.scalar(
        select(func.count()).where(
            Grant.campaign_id == campaign_id, Grant.status == GrantStatus.UNREGISTERED.value
        )
    )
    since = session.scalar(
        select(func.min(Grant.granted_at)).where(
            Grant.campaign_id == campaign_id,
            Grant.status.in_((GrantStatus.UNREGISTERED.value, GrantStatus.REMINDER.value)),
            Grant.service == "spotify",
        )
    )
    return ReminderCounts(by_service, int(turned_away or 0), since.astimezone(UTC) if since else None)
