"""Release day: resolve the release, plan every grant's owed actions, perform those that are due."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import requests
import spotipy
from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns import ledger
from campaigns.models import ActionKind, Campaign, Grant, GrantStatus, Outcome, OwedAction
from campaigns.registry import get_campaign
from campaigns.store import Store
from campaigns.vault import Secret, TokenVault
from executor.spotify import SpotifyApp, TokenRefused

log = logging.getLogger(__name__)

SAVE_RELEASE = ActionKind.SAVE_RELEASE.value
RELEASE_TARGET = "release"  # resolved to the service's album at execution time


@dataclass
class ReleaseReport:
    slug: str
    album_uri: str | None = None
    planned: int = 0
    performed: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)

    @property
    def undone(self) -> int:
        """Due work that neither succeeded nor is legitimately waiting: exit status rests on this."""
        return self.outcomes.get(Outcome.FAILED, 0)


def run_release(
    store: Store,
    vault: TokenVault,
    spotify: SpotifyApp,
    slug: str,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> ReleaseReport:
    now = now or datetime.now(UTC)
    with store.session() as session:
        campaign = get_campaign(session, slug)
        report = ReleaseReport(slug=slug)
        if now < campaign.release_at:
            report.outcomes = ledger.outcome_counts(session, campaign.id)
            return report
        if not dry_run:
            report.planned = _plan(session, campaign)
    http = requests.Session()
    with store.session() as session:
        campaign = get_campaign(session, slug)
        due = _due_actions(session, campaign, now)
        grants = {g.id: g for g in _grants(session, {a.grant_id for a in due})}
        report.album_uri = _resolve(spotify, vault, grants.values(), campaign, http)
        if dry_run:
            report.outcomes = ledger.outcome_counts(session, campaign.id)
            return report
    if report.album_uri is None:
        with store.session() as session:
            report.outcomes = ledger.outcome_counts(session, campaign.id)
        return report
    for index, action in enumerate(due, start=1):
        with store.session() as session:
            grant = session.get_one(Grant, action.grant_id)
            live = session.get_one(OwedAction, action.id)
            if live.outcome != Outcome.QUEUED:
                continue
            _perform(session, vault, spotify, http, grant, live, report.album_uri)
            report.performed += 1
        if progress:
            progress(index, len(due))
    with store.session() as session:
        report.outcomes = ledger.outcome_counts(session, get_campaign(session, slug).id)
    return report


def _plan(session: Session, campaign: Campaign) -> int:
    grants = session.scalars(
        select(Grant).where(
            Grant.campaign_id == campaign.id, Grant.service == "spotify", Grant.status == GrantStatus.ACTIVE
        )
    )
    return ledger.plan(
        session,
        (
            {
                "campaign_id": campaign.id,
                "grant_id": grant.id,
                "service": grant.service,
                "kind": SAVE_RELEASE,
                "target": RELEASE_TARGET,
                "due_at": campaign.release_at,
            }
            for grant in grants
        ),
    )


def _due_actions(session: Session, campaign: Campaign, now: datetime) -> list[OwedAction]:
    return list(
        session.scalars(
            select(OwedAction)
            .where(
                OwedAction.campaign_id == campaign.id,
                OwedAction.outcome == Outcome.QUEUED,
                OwedAction.due_at <= now,
            )
            .order_by(OwedAction.id)
        )
    )


def _grants(session: Session, ids: set[int]) -> list[Grant]:
    return list(session.scalars(select(Grant).where(Grant.id.in_(ids)))) if ids else []


def _resolve(
    spotify: SpotifyApp, vault: TokenVault, grants: object, campaign: Campaign, http: requests.Session
) -> str | None:
    """The album's URI found by `upc:` search with any active fan's token; None while not live."""
    for grant in grants:  # type: ignore[attr-defined]
        if grant.status != GrantStatus.ACTIVE:
            continue
        token = _fresh_access_token(None, vault, spotify, http, grant)
        if token is None:
            continue
        result = spotify.client(token, http).search(q=f"upc:{campaign.upc}", type="album", limit=1)
        items = result.get("albums", {}).get("items", []) if result else []
        return items[0]["uri"] if items else None
    return None


def _fresh_access_token(
    session: Session | None, vault: TokenVault, spotify: SpotifyApp, http: requests.Session, grant: Grant
) -> Secret | None:
    if grant.token_expires_at and grant.token_expires_at > datetime.now(UTC):
        return vault.open(grant.access_token)
    if not grant.refresh_token:
        return None
    try:
        refreshed = spotify.refresh(vault.open(grant.refresh_token), http)
    except TokenRefused as exc:
        if exc.error == "invalid_grant" and session is not None:
            grant.status = GrantStatus.EXPIRED
            grant.status_reason = exc.description[:200]
        return None
    if session is not None:
        grant.access_token = vault.seal(refreshed.access_token)
        grant.token_expires_at = refreshed.expires_at
        if refreshed.refresh_token is not None:
            grant.refresh_token = vault.seal(refreshed.refresh_token)
    return refreshed.access_token


def _perform(
    session: Session,
    vault: TokenVault,
    spotify: SpotifyApp,
    http: requests.Session,
    grant: Grant,
    action: OwedAction,
    album_uri: str,
) -> None:
    action.started_at = datetime.now(UTC)
    token = _fresh_access_token(session, vault, spotify, http, grant)
    if token is None:
        _finish(action, Outcome.UNDELIVERABLE, reason=f"grant {grant.status}: cannot refresh")
        return
    for attempt in range(4):
        action.attempts += 1
        try:
            spotify.client(token, http).current_user_saved_albums_add([album_uri])
        except spotipy.SpotifyException as exc:
            action.last_status = exc.http_status
            if exc.http_status == 429 and attempt < 3:
                time.sleep(min(float(exc.headers.get("Retry-After", 1)), 30))
                continue
            if exc.http_status >= 500 and attempt < 3:
                time.sleep(0.2 * 2**attempt)
                continue
            outcome = Outcome.UNDELIVERABLE if exc.http_status in (401, 403) else Outcome.FAILED
            _finish(action, outcome, reason=f"spotify answered {exc.http_status}")
            return
        except requests.RequestException as exc:
            if attempt < 3:
                time.sleep(0.2 * 2**attempt)
                continue
            _finish(action, Outcome.FAILED, reason=type(exc).__name__)
            return
        action.last_status = 200
        _finish(action, Outcome.DELIVERED)
        return


def _finish(action: OwedAction, outcome: Outcome, reason: str | None = None) -> None:
    action.outcome = outcome
    action.reason = reason
    action.done_at = datetime.now(UTC)


def campaigns_with_work_due(session: Session, now: datetime) -> list[str]:
    """Slugs whose release moment has passed and that still owe a fan something (or were never planned)."""
    released = session.scalars(
        select(Campaign).where(Campaign.release_at <= now).order_by(Campaign.release_at)
    )
    due: list[str] = []
    for campaign in released:
        queued = session.scalar(
            select(OwedAction.id)
            .where(
                OwedAction.campaign_id == campaign.id,
                OwedAction.outcome == Outcome.QUEUED,
                OwedAction.due_at <= now,
            )
            .limit(1)
        )
        unplanned = session.scalar(
            select(Grant.id)
            .where(
                Grant.campaign_id == campaign.id,
                Grant.status == GrantStatus.ACTIVE,
                ~select(OwedAction.id)
                .where(OwedAction.grant_id == Grant.id, OwedAction.kind == SAVE_RELEASE)
                .exists(),
            )
            .limit(1)
        )
        if queued is not None or unplanned is not None:
            due.append(campaign.slug)
    return due
