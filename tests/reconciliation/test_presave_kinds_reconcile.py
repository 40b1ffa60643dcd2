"""Direct saves and reminder pre-saves, held to the simulator's truth: fans walk the real landing flow
against a Spotify app in development mode (five places) on a campaign that also offers Apple Music and a
link-only service; the warehouse job's `presave_kinds` mart must count each kind as the fans did."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from campaigns.campaign_file import parse_campaign
from campaigns.registry import create_campaign, summarise
from campaigns.store import Store
from pipelines.definitions import build_definitions
from pipelines.warehouse import Warehouse
from sandbox.config import SandboxConfig
from sandbox.fans import plan_fans, register_fans, simulate_fans
from sandbox.truth import GroundTruth
from tests.conftest import PSEUDONYM_KEY
from tests.reconciliation.world import ARTIST, QUIET, SPOTIFY_ARTIST, _servers

SLUG = "dev-mode-drop"
SERVICES = (("spotify", 0.6), ("apple", 0.2), ("tidal", 0.2))


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


@pytest.fixture(scope="module")
def kinds(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    tmp: Path = tmp_path_factory.mktemp("presave-kinds")
    truth = GroundTruth()
    config = SandboxConfig.model_validate({"spotify": {"dev_mode": True}})
    with _servers(tmp, config) as (settings, sandbox_url, landing_url, landing_app):
        store = Store.connect(settings.resolved_database_url)
        _campaign(store, datetime.now(UTC).replace(microsecond=0) + timedelta(days=2))
        plans = plan_fans(30, seed=21, prefix="dev-", services=SERVICES)
        register_fans(sandbox_url, plans)
        simulate_fans(landing_url, SLUG, plans, sandbox_url=sandbox_url, concurrency=4, truth=truth)
        assert landing_app.state.landing.events.flush()
        with store.session() as session:
            summary = summarise(session, SLUG).as_json()
        store.dispose()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PRESAVE_SECRET_KEY", settings.secret_key.get_secret_value())  # type: ignore[union-attr]
        patch.setenv("PRESAVE_PSEUDONYM_KEY", PSEUDONYM_KEY)
        patch.setenv("PRESAVE_DATABASE_URL", settings.resolved_database_url)
        job = build_definitions(settings).resolve_job_def("warehouse_job")
        result = job.execute_in_process(
            instance=dg.DagsterInstance.ephemeral(), run_config=QUIET, raise_on_error=False
        )
    assert result.success
    with Warehouse(settings.warehouse_path).reader() as connection:
        mart = connection.execute("SELECT * FROM presave_kinds WHERE campaign_slug = ?", [SLUG]).df()
    return mart.set_index("service"), truth.fans_frame(), summary


def _truth(fans: pd.DataFrame, service: str, *outcomes: str) -> int:
    return int(((fans["service"] == service) & fans["outcome"].isin(outcomes)).sum())


@pytest.mark.parametrize("service", ["spotify", "apple", "tidal"])
def test_direct_saves_and_reminders_per_service_are_the_fans_the_simulator_sent(
    kinds: tuple[pd.DataFrame, pd.DataFrame, dict], service: str
) -> None:
    mart, fans, _ = kinds
    row = mart.loc[service]
    assert int(row["direct"]) == _truth(fans, service, "granted")
    assert int(row["reminders"]) == _truth(fans, service, "reminder", "turned_away")
    assert int(row["total"]) == int(row["direct"]) + int(row["reminders"])
    assert int(row["turned_away"]) == _truth(fans, service, "turned_away")


def test_the_development_mode_app_saved_for_five_fans_and_turned_the_rest_to_reminders(
    kinds: tuple[pd.DataFrame, pd.DataFrame, dict],
) -> None:
    mart, fans, summary = kinds
    assert int(mart.loc["spotify", "direct"]) == 5
    assert int(mart.loc["spotify", "reminders"]) > 0
    assert _truth(fans, "spotify", "turned_away") >= 1  # the refusal that taught the app's mode
    assert summary["grants"]["spotify"] == 5
    assert summary["presaves"]["total"] == int(mart.loc["all", "total"])
    assert summary["presaves"]["reminder"] == int(mart.loc["all", "reminders"])
    assert summary["turned_away"] == int(mart.loc["all", "turned_away"])
