"""Reminder pre-saves on release day: one `reminder` message per consenting address and campaign, due at
the fan's release moment, carrying a tracked link to the release on their service. The link is resolved
before any message is sent (`resolve_links`): by what the executor found on release day, else by the
service's public catalogue (UPC, then ISRC) where the label has an app, else the campaign file's link; a
link still unknown keeps the message waiting (`campaigns.reminders.defer`), never sent broken."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns import ledger, message_ledger, reminders
from campaigns.campaign_file import CampaignSpec
from campaigns.models import Campaign, MessageKind
from campaigns.registry import campaign_spec
from campaigns.store import Store
from campaigns.vault import TokenVault
from collectors.landing.page import listen_url
from executor.plan import CampaignPlan, release_moment
from pipelines.messages.plan import consented_grants, grant_facts, messages_for
from services import ServiceApp
from services.errors import ServiceError
from services.model import Lookup, Release

log = logging.getLogger(__name__)
EARLIEST = timedelta(hours=26)  # no release is live anywhere earlier than this before its moment
_LABEL_PREFIX = {"spotify": "", "apple": "apple:albums:", "deezer": "deezer:album:"}
_TRACK_URL = {
    "spotify": "https://open.spotify.com/track/{}",
    "apple": "https://music.apple.com/song/{}",
    "deezer": "https://www.deezer.com/track/{}",
}


def plan_reminders(session: Session, vault: TokenVault, campaign: Campaign, now: datetime) -> int:
    """One reminder message per consenting address (the first reminder of it wins), due at the fan's
    release moment; a reminder signed up after that moment is due at once."""
    plan = CampaignPlan.of(campaign)
    rows = consented_grants(session, campaign.id, reminders=True)
    pairs = [
        (
            row,
            max(
                release_moment(plan, grant_facts(row)),
                min(now, row.granted_at),
            ),
        )
        for row in rows
    ]
    return message_ledger.plan(session, messages_for(vault, campaign.id, MessageKind.REMINDER, pairs, now))


def release_url(spec: CampaignSpec, service: str, found: Release | str | None) -> str | None:
    """The release's page on `service` from what was found there (a `Release`, or the executor's label),
    else the campaign file's own link or album id; None when nothing names the release yet."""
    if isinstance(found, Release):
        if found.album:
            found = f"{_LABEL_PREFIX[service]}{found.album}"
        elif found.tracks:
            return _TRACK_URL[service].format(found.tracks[0].rsplit(":", 1)[-1])
        else:
            found = None
    if found:
        return listen_url(spec, service, found)
    if service in spec.services.link_only():
        return spec.services.link(service)
    own = getattr(getattr(spec.services, service, None), "album_id", None)
    return listen_url(spec, service) if own else None


def resolve_links(store: Store, apps: Mapping[str, ServiceApp], now: datetime) -> int:
    """Find the link of every (campaign, service) with a reminder due soon and no link yet; returns how
    many were found. A service that cannot answer now is asked again next run."""
    with store.session() as session:
        waiting = reminders.waiting_links(session, now)
        campaigns = {
            c.id: c for c in session.scalars(select(Campaign).where(Campaign.id.in_({c for c, _ in waiting})))
        }
        known = {
            (campaign_id, service): ledger.resolved_releases(session, campaign_id, [service]).get(service)
            for campaign_id, service in waiting
        }
    found = 0
    for campaign_id, service in waiting:
        campaign = campaigns[campaign_id]
        spec = campaign_spec(campaign)
        url, source = _resolve(spec, service, known[(campaign_id, service)], apps.get(service), now, campaign)
        if url is None:
            continue
        with store.session() as session:
            reminders.keep_link(session, campaign_id, service, url, source)
        found += 1
    return found


def _resolve(
    spec: CampaignSpec,
    service: str,
    known: str | None,
    app: ServiceApp | None,
    now: datetime,
    campaign: Campaign,
) -> tuple[str | None, str]:
    if known:
        return release_url(spec, service, known), "executor"
    if app is not None and now >= campaign.release_at - EARLIEST:
        lookup = Lookup.of(spec, service)
        try:
            release = app.resolve(lookup)
        except ServiceError as exc:
            log.info("%s: %s could not be asked for the release's link (%s)", spec.slug, service, exc.code)
            release = None
        if release is not None:
            return release_url(spec, service, release), lookup.key.split(":", 1)[0]
    url = release_url(spec, service, None)
    return url, "campaign"
