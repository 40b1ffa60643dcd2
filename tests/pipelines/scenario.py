"""A label's world for the end-to-end warehouse tests: a store with earlier, recent and live campaigns,
and an inbox holding every kind of export (and one bad file)."""

from __future__ import annotations

import csv
import random
import secrets
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from campaigns.campaign_file import parse_campaign
from campaigns.models import Campaign, Grant, GrantStatus, LandingEvent, Outcome, OwedAction
from campaigns.registry import create_campaign
from campaigns.settings import Settings
from campaigns.store import Store
from campaigns.vault import TokenVault
from sandbox.analytics import ReleaseInput, SongInput, simulate
from sandbox.exports import write_all
from sandbox.history import write_campaign_history
from tests.warehouse_job import run_warehouse_job

ARTIST = "Nova Lane"
ARTIST_ID = "4Z8W4fKeB5YxbusRsdQVPb"


@dataclass(frozen=True)
class Release:
    slug: str
    title: str
    days_ago: int  # negative: still to come
    presaves: int


EARLIER = (
    Release("northern-lights", "Northern Lights", 150, 420),
    Release("glass-harbour", "Glass Harbour", 70, 530),
    Release("midnight-drive", "Midnight Drive", 12, 610),
)
LIVE = Release("night-swim", "Night Swim", -6, 90)
IMPORTED = Release("old-flame", "Old Flame", 240, 300)  # run with another tool


def _midnight(days_ago: int) -> datetime:
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days_ago)


def seed_store(store: Store, vault: TokenVault) -> None:
    for release in (*EARLIER, LIVE):
        spec = parse_campaign(
            {
                "slug": release.slug,
                "artist": ARTIST,
                "title": release.title,
                "upc": "198880045560",
                "release_at": _midnight(release.days_ago).strftime("%Y-%m-%dT%H:%M"),
                "timezone": "UTC",
                "services": {"spotify": {"artist": f"spotify:artist:{ARTIST_ID}"}, "apple": {}},
            }
        )
        with store.session() as session:
            create_campaign(session, spec)
    for number, release in enumerate(EARLIER):
        write_campaign_history(
            store, vault, release.slug, release.presaves, seed=20 + number, services=("spotify",)
        )
    _apple_visitors(store, vault, "midnight-drive", visitors=80, grants=24)
    _live_grants(store, vault, LIVE)


def _apple_visitors(store: Store, vault: TokenVault, slug: str, *, visitors: int, grants: int) -> None:
    """Apple Music visitors of a past campaign: visits, authorization starts, some grants, their saves."""
    rng = random.Random(5)
    with store.session() as session:
        campaign = session.query(Campaign).filter_by(slug=slug).one()
        for index in range(visitors):
            at = campaign.release_at - timedelta(days=rng.uniform(1, 27))
            visitor = secrets.token_hex(8)
            grant = None
            if index < grants:
                grant = Grant(
                    campaign_id=campaign.id,
                    service="apple",
                    service_user_id=f"apple-fan-{index}",
                    fan_key=vault.pseudonym("apple", f"apple-fan-{index}"),
                    access_token=vault.seal("mut"),
                    scopes="",
                    granted_at=at,
                    status=GrantStatus.ACTIVE,
                    country="GB",
                )
                session.add(grant)
                session.flush()
                session.add(
                    OwedAction(
                        campaign_id=campaign.id,
                        grant_id=grant.id,
                        service="apple",
                        kind="save_release",
                        target="release",
                        due_at=campaign.release_at,
                        outcome=Outcome.DELIVERED,
                        attempts=1,
                        done_at=campaign.release_at + timedelta(seconds=rng.uniform(5, 90)),
                    )
                )
            source = rng.choice(("instagram", "tiktok"))
            for kind, lead in (("visit", 80), ("authorize_start", 30), ("grant", 0)):
                if kind == "grant" and grant is None:
                    continue
                session.add(
                    LandingEvent(
                        campaign_id=campaign.id,
                        occurred_at=at - timedelta(seconds=lead),
                        kind=kind,
                        service=None if kind == "visit" else "apple",
                        visitor_id=visitor,
                        grant_id=grant.id if grant is not None and kind == "grant" else None,
                        utm_source=source,
                        device_class="mobile",
                        country="GB",
                    )
                )


def _live_grants(store: Store, vault: TokenVault, release: Release) -> None:
    """A campaign still collecting: grants over the last three weeks."""
    rng = random.Random(9)
    now = datetime.now(UTC)
    with store.session() as session:
        campaign = session.query(Campaign).filter_by(slug=release.slug).one()
        for index in range(release.presaves):
            at = now - timedelta(days=rng.uniform(0.1, 21))
            user = f"live-fan-{index}"
            session.add(
                Grant(
                    campaign_id=campaign.id,
                    service="spotify",
                    service_user_id=user,
                    fan_key=vault.pseudonym("spotify", user),
                    access_token=vault.seal("token"),
                    scopes="",
                    granted_at=at,
                    status=GrantStatus.ACTIVE,
                    country=rng.choice(("GB", "US", "FR")),
                )
            )


def spotify_follows(store: Store) -> dict[str, dict[date, int]]:
    """Per campaign, the days its Spotify pre-savers followed the artist (the ledger follows at grant)."""
    with store.session() as session:
        rows = session.execute(
            select(Campaign.slug, Grant.granted_at).join(Grant).where(Grant.service == "spotify")
        ).all()
    follows: dict[str, Counter[date]] = {}
    for slug, granted_at in rows:
        follows.setdefault(slug, Counter())[granted_at.date()] += 1
    return {slug: dict(days) for slug, days in follows.items()}


def fill_inbox(inbox: Path, follows: dict[str, dict[date, int]] | None = None) -> list[Path]:
    """Every kind of export the sandbox's simulator writes (Spotify for Artists, Apple Music for Artists,
    DistroKid), a fan export from another tool for a campaign run there, and one bad file. `follows`: the
    ledger's follows per campaign and day, so the follower timeline holds them."""
    releases = [
        ReleaseInput(
            _midnight(r.days_ago).date(),
            r.presaves,
            r.title,
            songs=(SongInput(r.title, f"QZWFV26{n:05d}"),),
            follows_by_day=(follows or {}).get(r.slug),
        )
        for n, r in enumerate((IMPORTED, *EARLIER))
    ]
    simulation = simulate(ARTIST, releases, _midnight(300).date(), datetime.now(UTC).date(), seed=4)
    paths = write_all(inbox, simulation, datetime.now(UTC).date())
    rng = random.Random(3)
    fans = []
    for index in range(IMPORTED.presaves):
        at = _midnight(IMPORTED.days_ago) - timedelta(days=rng.uniform(0.1, 27))
        fans.append(
            [
                at.strftime("%Y-%m-%d %H:%M:%S"),
                f"fan{index}@example.com",
                rng.choice(("Spotify", "Apple Music")),
                rng.choice(("France", "United Kingdom", "USA")),
                IMPORTED.title,
                rng.choice(("instagram", "tiktok")),
            ]
        )
    paths.append(
        _write(
            inbox / "featurefm-fans.csv", ["Date", "Email", "Service", "Country", "Campaign", "Source"], fans
        )
    )
    paths.append(
        _write(inbox / "broken-audience.csv", ["date", "listeners", "streams"], [["2026-02-30", 1, 2]])
    )
    return paths


def _write(
    path: Path, header: list[str], rows: list[list[object]], *, delimiter: str = ",", encoding: str = "utf-8"
) -> str:
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle, delimiter=delimiter, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def build_world(settings: Settings) -> Store:
    vault = settings.vault()
    store = Store.connect(settings.resolved_database_url)
    seed_store(store, vault)
    fill_inbox(settings.inbox_dir, spotify_follows(store))
    return store


def built_warehouse(data_dir: Path) -> Settings:
    """The world above, through the real warehouse job: the settings whose snapshot the dashboard reads.
    Sets PRESAVE_SECRET_KEY while the job runs (its resources read the key through `dg.EnvVar`)."""
    key = Fernet.generate_key().decode()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PRESAVE_SECRET_KEY", key)
        settings = Settings(_env_file=None, data_dir=data_dir, secret_key=key)  # type: ignore[call-arg]
        store = build_world(settings)
        assert run_warehouse_job(settings).success
        store.dispose()
    return settings
