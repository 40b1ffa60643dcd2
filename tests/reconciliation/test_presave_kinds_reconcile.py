"""Direct saves and reminder pre-saves, held to the simulator's truth: fans walk the real landing flow
against a Spotify app in development mode (five places) on a campaign that also offers Apple Music and a
link-only service; on release day the reminders go out over SMTP on loopback and some fans follow their
tracked link. The warehouse job's `presave_kinds`, funnel and conversion marts must count each kind, and
the clicks, as the fans did."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pandas as pd
import pytest
from sqlalchemy import select

from campaigns.campaign_file import parse_campaign
from campaigns.models import Campaign, FanMessage
from campaigns.registry import create_campaign, summarise
from campaigns.reminders import keep_link
from campaigns.settings import Settings
from campaigns.store import Store
from pipelines.messages.reminders import resolve_links
from pipelines.warehouse import Warehouse
from sandbox.config import SandboxConfig
from sandbox.fans import plan_fans, register_fans, simulate_fans
from sandbox.truth import GroundTruth
from tests.conftest import PSEUDONYM_KEY
from tests.messages.smtp_server import LoopbackSmtp
from tests.messages.world import send_run
from tests.reconciliation.world import ARTIST, SPOTIFY_ARTIST, _servers
from tests.warehouse_job import run_warehouse_job

SLUG = "dev-mode-drop"
SERVICES = (("spotify", 0.6), ("apple", 0.2), ("tidal", 0.2))
RELEASE_IN = timedelta(days=2)
SPOTIFY_RELEASE = "https://open.spotify.com/album/1A2GTWGtFfWp7KSQTwWOyo"  # as the executor would find it


def _campaign(store: Store, release_at: datetime) -> None:
    spec = parse_campaign(
        {
            "slug": SLUG,
            "artist": ARTIST,
            "title": "Five Places",
            "upc": "198880045599",
            "release_at": release_at.replace(tzinfo=None).isoformat(timespec="seconds"),
            "timezone": "UTC",
            "services": {
                "spotify": {"artist": f"spotify:artist:{SPOTIFY_ARTIST}"},
                "apple": {},
                "tidal": {"link": "https://tidal.com/browse/album/5"},
            },
        }
    )
    with store.session() as session:
        create_campaign(session, spec)


def _release_day(store: Store, settings: Settings, landing_url: str, release_at: datetime) -> Counter[str]:
    """The reminders sent at the release moment (the clock set past it), and about half of their fans
    following the tracked link, some twice; returns how many fans followed, per service."""
    after = release_at + timedelta(minutes=5)
    with store.session() as session:
        campaign = session.scalars(select(Campaign.id).where(Campaign.slug == SLUG)).one()
        keep_link(session, campaign, "spotify", SPOTIFY_RELEASE, "test")
    rng, followed = random.Random(7), Counter[str]()
    with LoopbackSmtp() as smtp, httpx.Client(base_url=landing_url) as fan:
        send_run(store, settings.vault(), smtp.url, after)  # planned; TIDAL's waits for its link
        resolve_links(store, {}, after)  # TIDAL from the campaign file's link
        send_run(store, settings.vault(), smtp.url, after + timedelta(minutes=20))
        with store.session() as session:
            service_of = dict(session.execute(select(FanMessage.id, FanMessage.service)).all())
        for message in smtp.inbox.received:
            if rng.random() < 0.5:
                continue
            payload = message.get_payload(decode=True)
            assert isinstance(payload, bytes)
            text = payload.decode()
            path = urlsplit(next(w for w in text.split() if "/r/" in w)).path
            for _ in range(rng.choice((1, 2))):  # a second click is the same fan
                assert fan.get(path).status_code == 302
            followed[service_of[int(path.removeprefix("/r/").split("-")[0])]] += 1
    return followed


@dataclass(frozen=True)
class Kinds:
    mart: pd.DataFrame  # presave_kinds of the campaign, by service
    funnel: pd.DataFrame  # funnel_daily summed per service
    conversion: pd.DataFrame  # service_conversion of the campaign, all sources, by service
    fans: pd.DataFrame  # the simulator's truth
    summary: dict  # `presave campaign show`'s figures
    followed: Counter[str]  # fans who followed their release-day link, per service


@pytest.fixture(scope="module")
def kinds(tmp_path_factory: pytest.TempPathFactory) -> Kinds:
    tmp: Path = tmp_path_factory.mktemp("presave-kinds")
    truth = GroundTruth()
    config = SandboxConfig.model_validate({"spotify": {"dev_mode": True}})
    release_at = datetime.now(UTC).replace(microsecond=0) + RELEASE_IN
    with _servers(tmp, config) as (settings, sandbox_url, landing_url, landing_app):
        store = Store.connect(settings.resolved_database_url)
        _campaign(store, release_at)
        plans = plan_fans(30, seed=21, prefix="dev-", services=SERVICES)
        register_fans(sandbox_url, plans)
        simulate_fans(landing_url, SLUG, plans, sandbox_url=sandbox_url, concurrency=4, truth=truth)
        followed = _release_day(store, settings, landing_url, release_at)
        assert landing_app.state.landing.events.flush()
        with store.session() as session:
            summary = summarise(session, SLUG).as_json()
        store.dispose()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PRESAVE_SECRET_KEY", settings.secret_key.get_secret_value())  # type: ignore[union-attr]
        patch.setenv("PRESAVE_PSEUDONYM_KEY", PSEUDONYM_KEY)
        patch.setenv("PRESAVE_DATABASE_URL", settings.resolved_database_url)
        result = run_warehouse_job(settings)
    assert result.success
    with Warehouse(settings.warehouse_path).reader() as connection:
        mart = connection.execute("SELECT * FROM presave_kinds WHERE campaign_slug = ?", [SLUG]).df()
        funnel = connection.execute(
            "SELECT service, sum(grants) AS grants, sum(reminders) AS reminders, "
            "sum(reminder_clicks) AS reminder_clicks FROM funnel_daily WHERE campaign_slug = ? GROUP BY ALL",
            [SLUG],
        ).df()
        conversion = connection.execute(
            "SELECT * FROM service_conversion WHERE campaign_slug = ? AND source = '(all)'", [SLUG]
        ).df()
    return Kinds(
        mart.set_index("service"),
        funnel.set_index("service"),
        conversion.set_index("service"),
        truth.fans_frame(),
        summary,
        followed,
    )


def _truth(fans: pd.DataFrame, service: str, *outcomes: str) -> int:
    return int(((fans["service"] == service) & fans["outcome"].isin(outcomes)).sum())


REMINDED = ("reminder", "turned_away")


@pytest.mark.parametrize("service", ["spotify", "apple", "tidal"])
def test_direct_saves_and_reminders_per_service_are_the_fans_the_simulator_sent(
    kinds: Kinds, service: str
) -> None:
    row, fans = kinds.mart.loc[service], kinds.fans
    assert int(row["direct"]) == _truth(fans, service, "granted")
    assert int(row["reminders"]) == _truth(fans, service, *REMINDED)
    assert int(row["total"]) == int(row["direct"]) + int(row["reminders"])
    assert int(row["turned_away"]) == _truth(fans, service, "turned_away")


@pytest.mark.parametrize("service", ["spotify", "apple", "tidal"])
def test_the_funnel_and_conversion_count_reminders_beside_the_direct_grants_as_the_fans_did(
    kinds: Kinds, service: str
) -> None:
    fans = kinds.fans
    funnel = kinds.funnel.reindex([service]).fillna(0).iloc[0]
    assert (int(funnel["grants"]), int(funnel["reminders"])) == (
        _truth(fans, service, "granted"),
        _truth(fans, service, *REMINDED),
    )
    row = kinds.conversion.loc[service]
    chose = fans["service"] == service
    pressed = int((chose & (fans["outcome"] != "reminder")).sum())  # a reminder-only fan pressed no button
    assert (row["visitors"], row["grants"], row["service_visitors"]) == (
        pressed,
        _truth(fans, service, "granted"),
        int(chose.sum()),
    )
    assert (row["reminders"], row["presaves"]) == (
        _truth(fans, service, *REMINDED),
        _truth(fans, service, "granted", *REMINDED),
    )


def test_every_visitor_counts_once_as_direct_reminder_or_neither(kinds: Kinds) -> None:
    anyone, fans = kinds.conversion.loc["any"], kinds.fans
    direct = int((fans["outcome"] == "granted").sum())
    reminded = int(fans["outcome"].isin(REMINDED).sum())
    assert (anyone["visitors"], anyone["grants"], anyone["reminders"]) == (len(fans), direct, reminded)
    assert anyone["presaves"] == direct + reminded


@pytest.mark.parametrize("service", ["spotify", "tidal"])
def test_reminder_clicks_are_the_fans_who_followed_their_release_day_link(kinds: Kinds, service: str) -> None:
    assert kinds.followed[service] > 0  # the seed makes some fans of each follow
    row = kinds.mart.loc[service]
    assert int(row["reminder_clicks"]) == kinds.followed[service]  # a fan clicking twice counts once
    assert row["reminder_click_rate"] == pytest.approx(
        kinds.followed[service] / _truth(kinds.fans, service, *REMINDED)
    )
    assert int(kinds.funnel.loc[service, "reminder_clicks"]) == kinds.followed[service]
    assert int(kinds.mart.loc["all", "reminder_clicks"]) == sum(kinds.followed.values())


def test_the_development_mode_app_saved_for_five_fans_and_turned_the_rest_to_reminders(kinds: Kinds) -> None:
    mart, fans, summary = kinds.mart, kinds.fans, kinds.summary
    assert int(mart.loc["spotify", "direct"]) == 5
    assert int(mart.loc["spotify", "reminders"]) > 0
    assert _truth(fans, "spotify", "turned_away") >= 1  # the refusal that taught the app's mode
    assert summary["grants"]["spotify"] == 5
    assert summary["presaves"]["total"] == int(mart.loc["all", "total"])
    assert summary["presaves"]["reminder"] == int(mart.loc["all", "reminders"])
    assert summary["turned_away"] == int(mart.loc["all", "turned_away"])
