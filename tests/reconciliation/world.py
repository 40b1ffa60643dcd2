"""A small label, simulated with the sandbox and run through the real warehouse job, with its ground truth.

Four released campaigns and one still collecting get backdated fans (`sandbox.history`); a live campaign
gets fans walking the real landing flow over HTTP (`sandbox.fans`), each with their own browser; the
artist's exports are simulated from the pre-savers and dropped in the inbox. Everything the simulation
did is recorded in a `sandbox.truth.GroundTruth`; the Dagster `warehouse_job` then builds every mart.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg
import httpx
import pandas as pd
import pytest
from cryptography.fernet import Fernet

from campaigns.campaign_file import parse_campaign
from campaigns.registry import create_campaign
from campaigns.settings import Settings
from campaigns.store import Store
from collectors.landing.app import create_app as create_landing
from presave.processes import free_port
from presave.servers import LoopbackServer
from sandbox.analytics import ReleaseInput, SongInput, simulate
from sandbox.app import create_app as create_sandbox
from sandbox.config import SandboxConfig
from sandbox.env import sandbox_env
from sandbox.exports import write_all
from sandbox.fans import plan_fans, register_fans, simulate_fans
from sandbox.history import write_campaign_history
from sandbox.truth import CampaignTruth, GroundTruth
from tests.conftest import PSEUDONYM_KEY
from tests.warehouse_job import run_warehouse_job

ARTIST = "Nova Lane"
SPOTIFY_ARTIST = "4Z8W4fKeB5YxbusRsdQVPb"
DEEZER_ARTIST = "27"


@dataclass(frozen=True)
class Plan:
    slug: str
    title: str
    upc: str
    release_in_days: float  # negative: released that many days ago
    presaves: int
    timezone: str = "UTC"
    kind: str = "history"
    at_local_midnight: bool = False  # else 15:00 UTC, the same date in every zone used


PLANS = (
    Plan("first-light", "First Light", "198880045501", -130, 60),
    Plan("glass-harbour", "Glass Harbour", "198880045502", -95, 80, timezone="America/New_York"),
    Plan("tidewater", "Tidewater", "198880045503", -60, 70),
    # at midnight in Paris, like the demo's European releases: it streams first on the UTC date before
    Plan("midnight-drive", "Midnight Drive", "198880045504", -24, 90, "Europe/Paris", at_local_midnight=True),
    Plan("night-swim", "Night Swim", "198880045505", 10, 40, kind="upcoming"),
    Plan("daybreak", "Daybreak", "198880045506", 0.25, 24, kind="live"),
)
LIVE_SERVICES = (("spotify", 0.5), ("apple", 0.3), ("deezer", 0.2))


@dataclass
class World:
    settings: Settings
    truth: GroundTruth
    result: dg.ExecuteInProcessResult
    release_at: dict[str, datetime]
    timezone: dict[str, str]

    def warehouse(self) -> Path:
        return self.settings.warehouse_path


def _release_at(plan: Plan, now: datetime) -> datetime:
    if plan.kind == "live":
        return now.replace(microsecond=0) + timedelta(days=plan.release_in_days)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if plan.at_local_midnight:
        day = (midnight + timedelta(days=plan.release_in_days)).date()
        return datetime.combine(day, datetime.min.time(), ZoneInfo(plan.timezone)).astimezone(UTC)
    return midnight + timedelta(days=plan.release_in_days, hours=15)  # the same date in every zone used


def _campaign(store: Store, plan: Plan, release_at: datetime) -> None:
    local = release_at.astimezone(ZoneInfo(plan.timezone))
    spec = parse_campaign(
        {
            "slug": plan.slug,
            "artist": ARTIST,
            "title": plan.title,
            "upc": plan.upc,
            "release_at": local.replace(tzinfo=None).isoformat(timespec="seconds"),
            "timezone": plan.timezone,
            "services": {
                "spotify": {"artist": f"spotify:artist:{SPOTIFY_ARTIST}"},
                "apple": {},
                "deezer": {"artist_id": DEEZER_ARTIST},
            },
        }
    )
    with store.session() as session:
        create_campaign(session, spec)


@contextmanager
def _servers(tmp: Path, config: SandboxConfig | None = None) -> Iterator[tuple[Settings, str, str, Any]]:
    """The sandbox and the landing app on loopback, over one store; yields settings, both URLs and the
    landing app (whose event sink the caller flushes)."""
    config = config or SandboxConfig()
    with LoopbackServer(create_sandbox(config)) as sandbox:
        port = free_port(0)
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            data_dir=tmp / "data",
            database_url=f"sqlite:///{tmp / 'presave.db'}",
            secret_key=Fernet.generate_key().decode(),
            pseudonym_key=PSEUDONYM_KEY,
            public_url=f"http://127.0.0.1:{port}",
            country_header="CF-IPCountry",
            landing_rate_limit=0,
            **{k.removeprefix("PRESAVE_").lower(): v for k, v in sandbox_env(sandbox.url, config).items()},
        )
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        store = Store.connect(settings.resolved_database_url)
        try:
            app = create_landing(settings, store)
            with LoopbackServer(app, port=port) as landing:
                yield settings, sandbox.url, landing.url, app
        finally:
            store.dispose()


def _sandbox_catalogue(sandbox_url: str, plans: tuple[Plan, ...], release_at: dict[str, datetime]) -> None:
    with httpx.Client(base_url=sandbox_url, timeout=30) as admin:
        artist = {"name": ARTIST, "spotify_id": SPOTIFY_ARTIST, "deezer_id": DEEZER_ARTIST}
        admin.post("/sandbox/artists", json=artist).raise_for_status()
        for plan in plans:
            admin.post(
                "/sandbox/releases",
                json={
                    "upc": plan.upc,
                    "title": plan.title,
                    "artist": artist,
                    "release_at": release_at[plan.slug].isoformat(),
                    "tracks": [
                        {"title": plan.title, "isrc": f"QZWFV26{plan.upc[-5:]}", "duration_ms": 200_000},
                        {
                            "title": f"{plan.title} (Night Version)",
                            "isrc": f"QZWFV27{plan.upc[-5:]}",
                            "duration_ms": 210_000,
                        },
                    ],
                },
            ).raise_for_status()


def _exports(settings: Settings, truth: GroundTruth, release_at: dict[str, datetime]) -> None:
    """The artist's exports up to yesterday, simulated from the Spotify and Apple pre-savers."""
    as_of = datetime.now(UTC).date() - timedelta(days=1)
    fans = truth.fans_frame()
    granted = fans[fans.outcome == "granted"]
    releases = []
    for plan in PLANS:
        own = granted[granted.campaign == plan.slug]
        spotify = own[own.service == "spotify"]
        releases.append(
            ReleaseInput(
                release_date=release_at[plan.slug].date(),
                presaves=len(spotify),
                title=plan.title,
                upc=plan.upc,
                songs=(
                    SongInput(plan.title, f"QZWFV26{plan.upc[-5:]}"),
                    SongInput(f"{plan.title} (Night Version)", f"QZWFV27{plan.upc[-5:]}"),
                ),
                presaves_by_country=dict(Counter(spotify.country)),
                apple_preadds=int((own.service == "apple").sum()),
                follows_by_day=dict(Counter(m.astimezone(UTC).date() for m in spotify.granted_at)),
            )
        )
    start = min(r.release_date for r in releases) - timedelta(days=70)
    simulation = simulate(
        ARTIST, releases, start, as_of, seed=3, baseline_listeners=60, baseline_followers=900
    )
    truth.add_exports(simulation, as_of)
    write_all(settings.inbox_dir, simulation, as_of=as_of)


def build_world(tmp: Path) -> World:
    now = datetime.now(UTC)
    release_at = {plan.slug: _release_at(plan, now) for plan in PLANS}
    truth = GroundTruth()
    with _servers(tmp) as (settings, sandbox_url, landing_url, landing_app):
        store = Store.connect(settings.resolved_database_url)
        vault = settings.vault()
        _sandbox_catalogue(sandbox_url, PLANS, release_at)
        for number, plan in enumerate(PLANS):
            _campaign(store, plan, release_at[plan.slug])
            truth.add_campaign(
                CampaignTruth(
                    plan.slug,
                    ARTIST,
                    plan.title,
                    plan.upc,
                    release_at[plan.slug],
                    plan.kind,
                    ("spotify", "apple", "deezer"),
                )
            )
            if plan.kind == "live":
                continue
            upcoming = plan.kind == "upcoming"
            write_campaign_history(
                store,
                vault,
                plan.slug,
                plan.presaves,
                seed=31 + number,
                truth=truth,
                until=now if upcoming else None,
                window_days=31 if upcoming else 28,
            )
        live = next(plan for plan in PLANS if plan.kind == "live")
        plans = plan_fans(live.presaves, seed=7, prefix="live-", services=LIVE_SERVICES)
        register_fans(sandbox_url, plans)
        simulate_fans(landing_url, live.slug, plans, sandbox_url=sandbox_url, concurrency=8, truth=truth)
        assert landing_app.state.landing.events.flush()
        _exports(settings, truth, release_at)
        store.dispose()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PRESAVE_SECRET_KEY", settings.secret_key.get_secret_value())  # type: ignore[union-attr]
        patch.setenv("PRESAVE_PSEUDONYM_KEY", PSEUDONYM_KEY)
        patch.setenv("PRESAVE_DATABASE_URL", settings.resolved_database_url)
        result = run_warehouse_job(settings)
    return World(settings, truth, result, release_at, {p.slug: p.timezone for p in PLANS})


def local_day(moment: datetime, timezone: str) -> date:
    return pd.Timestamp(moment).tz_convert(timezone).date()
