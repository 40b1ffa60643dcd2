"""The hourly warehouse job end to end: a store with past, recent and live campaigns, an inbox with every
kind of export; every mart gets rows and every asset check passes."""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg
import pytest

from campaigns.settings import Settings
from pipelines.marts.assets import MARTS
from pipelines.warehouse import Warehouse
from tests.pipelines.scenario import build_world
from tests.warehouse_job import run_warehouse_job


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, dg.ExecuteInProcessResult]]:
    from cryptography.fernet import Fernet

    key = Fernet.generate_key().decode()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PRESAVE_SECRET_KEY", key)
        settings = Settings(
            _env_file=None, data_dir=tmp_path_factory.mktemp("world") / "data", secret_key=key
        )  # type: ignore[call-arg]
        store = build_world(settings)
        result = run_warehouse_job(settings)
        store.dispose()
        yield settings, result


def test_the_job_succeeds_and_every_check_passes(world) -> None:
    _, result = world
    assert result.success
    evaluations = [
        event.event_specific_data
        for event in result.all_events
        if event.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    failed = {e.check_name: e.metadata for e in evaluations if not e.passed}  # type: ignore[union-attr]
    assert failed == {}
    assert len(evaluations) >= 2 * len(MARTS) + 3


def test_every_mart_has_rows(world) -> None:
    settings, _ = world
    with Warehouse(settings.warehouse_path).reader() as connection:
        empty = [
            m.name for m in MARTS if connection.execute(f"SELECT count(*) FROM {m.name}").fetchone() == (0,)
        ]
    assert empty == []


def test_the_imported_campaign_and_the_live_one_are_in_the_overview(world) -> None:
    settings, _ = world
    with Warehouse(settings.warehouse_path).reader() as connection:
        overview = connection.execute(
            "SELECT campaign_slug, origin, presaves, apple_presaves, forecast_point IS NOT NULL, first_week_streams "
            "FROM campaign_overview ORDER BY release_at"
        ).fetchall()
        series = connection.execute(
            "SELECT DISTINCT series FROM first_week_velocity WHERE campaign_slug = 'midnight-drive' ORDER BY 1"
        ).fetchall()
    by_slug = {row[0]: row for row in overview}
    assert by_slug["old-flame"][1:3] == ("imported", 300)
    assert by_slug["old-flame"][3] > 0  # Apple Music fans among the imported ones
    assert by_slug["night-swim"][1:3] == ("native", 90)
    assert by_slug["night-swim"][4]  # today's forecast, from the earlier campaigns
    assert by_slug["midnight-drive"][3] == 24
    assert series == [("apple_song",), ("spotify_artist",), ("spotify_song",)]


def test_the_bad_export_was_quarantined_and_the_others_loaded(world) -> None:
    settings, _ = world
    assert (settings.quarantine_dir / "broken-audience.csv.reason.txt").exists()
    assert list(settings.inbox_dir.iterdir()) == []
    with Warehouse(settings.warehouse_path).reader() as connection:
        kinds = {k for (k,) in connection.execute("SELECT kind FROM loaded_files").fetchall()}
    assert kinds == {
        "s4a_audience_timeline",
        "s4a_songs",
        "s4a_song_timeline",
        "amfa_songs",
        "amfa_daily_plays",
        "amfa_listeners",
        "distrokid_bank",
        "presave_fans",
    }
