"""The real warehouse job on labels of any calendar: an empty warehouse, campaigns all far out, all
released, run elsewhere only, and random mixes of them. Whatever the calendar, the job succeeds and its
checks run; the few examples are bounded, each one a whole job run."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
from cryptography.fernet import Fernet
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from campaigns.campaign_file import parse_campaign
from campaigns.registry import create_campaign
from campaigns.settings import Settings
from campaigns.store import Store
from sandbox.analytics import ReleaseInput, SongInput, simulate
from sandbox.exports import write_all, write_presave_fan_export
from sandbox.history import write_campaign_history
from tests.pipelines.scenario import spotify_follows
from tests.warehouse_job import run_warehouse_job

ARTIST = "Nova Lane"


@dataclass(frozen=True)
class Planned:
    """One campaign of a calendar: `release_in_days` from now (negative: released), run here or elsewhere."""

    release_in_days: int
    presaves: int
    imported: bool = False


def far_out(days: int = 40) -> Planned:
    return Planned(days, 0)


def released(days_ago: int, presaves: int = 12) -> Planned:
    return Planned(-days_ago, presaves)


def elsewhere(days_ago: int, fans: int = 15) -> Planned:
    return Planned(-days_ago, fans, imported=True)


campaign_plans = st.one_of(
    st.builds(Planned, st.integers(29, 200), st.just(0)),  # announced, more than 28 days out
    st.builds(Planned, st.integers(1, 28), st.integers(0, 15)),  # collecting
    st.builds(Planned, st.integers(-300, -1), st.integers(0, 15)),  # released
    st.builds(Planned, st.integers(-300, -2), st.integers(1, 15), st.just(True)),  # run elsewhere
)


def _native(store: Store, settings: Settings, slug: str, plan: Planned, now: datetime) -> None:
    release_at = now + timedelta(days=plan.release_in_days)
    spec = parse_campaign(
        {
            "slug": slug,
            "artist": ARTIST,
            "title": slug.replace("-", " ").title(),
            "upc": "198880045560",
            "release_at": release_at.strftime("%Y-%m-%dT%H:%M"),
            "timezone": "Europe/Berlin",
            "services": {"spotify": {"artist": "spotify:artist:4Z8W4fKeB5YxbusRsdQVPb"}, "apple": {}},
        }
    )
    with store.session() as session:
        create_campaign(session, spec)
    if plan.presaves and plan.release_in_days <= 28:
        write_campaign_history(store, settings.vault(), slug, plan.presaves, seed=len(slug), until=now)


def _exports(settings: Settings, calendar: list[Planned], now: datetime, store: Store) -> None:
    """The artist's exports up to yesterday (its follower series holding the ledger's follows), and each
    campaign run elsewhere's fan export."""
    if not calendar:
        return
    yesterday = now.date() - timedelta(days=1)
    follows = spotify_follows(store)
    releases = [
        ReleaseInput(
            (now + timedelta(days=plan.release_in_days)).date(),
            plan.presaves,
            f"Song {number}",
            songs=(SongInput(f"Song {number}", f"QZWFV26{number:05d}"),),
            follows_by_day=follows.get(f"song-{number}", {}) if not plan.imported else None,
        )
        for number, plan in enumerate(calendar)
    ]
    start = min(r.release_date for r in releases) - timedelta(days=40)
    write_all(settings.inbox_dir, simulate(ARTIST, releases, start, yesterday, seed=1), yesterday)
    for number, plan in enumerate(calendar):
        if plan.imported:
            write_presave_fan_export(
                settings.inbox_dir,
                campaign=f"Song {number}",
                release_date=(now + timedelta(days=plan.release_in_days)).date(),
                fans=plan.presaves,
                seed=number,
            )


def run_the_job(calendar: list[Planned], folder: Path) -> dg.ExecuteInProcessResult:
    now = datetime.now(UTC).replace(microsecond=0)
    key = Fernet.generate_key().decode()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PRESAVE_SECRET_KEY", key)
        settings = Settings(_env_file=None, data_dir=folder / "data", secret_key=key)  # type: ignore[call-arg]
        settings.inbox_dir.mkdir(parents=True, exist_ok=True)
        store = Store.connect(settings.resolved_database_url)
        try:
            for number, plan in enumerate(calendar):
                if not plan.imported:
                    _native(store, settings, f"song-{number}", plan, now)
            _exports(settings, calendar, now, store)
        finally:
            store.dispose()
        return run_warehouse_job(settings)


def failures(result: dg.ExecuteInProcessResult) -> list[str]:
    """Steps that failed and checks that did not pass, by name."""
    failed = [e.step_key or "" for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    checks = [
        e.event_specific_data for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    return failed + [c.check_name for c in checks if not c.passed]  # type: ignore[union-attr]


@pytest.mark.timeout(1800)  # six whole job runs: seconds each on an idle machine, minutes on a busy one
@settings(
    max_examples=2,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: each example is a whole job run
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(calendar=st.lists(campaign_plans, max_size=4))
@example(calendar=[])
@example(calendar=[far_out(29), far_out(120)])
@example(calendar=[released(3), released(60), released(200, presaves=0)])
@example(calendar=[elsewhere(10), elsewhere(90)])
def test_the_warehouse_job_succeeds_whatever_the_labels_calendar(calendar: list[Planned]) -> None:
    with tempfile.TemporaryDirectory(prefix="calendar.") as folder:
        result = run_the_job(calendar, Path(folder))
        assert failures(result) == []
        assert result.success
