from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from pipelines.definitions import defs


def test_the_definitions_load_with_every_asset_job_schedule_and_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PRESAVE_DATA_DIR", str(tmp_path / "data"))
    definitions = defs()
    assert isinstance(definitions, dg.Definitions)
    keys = {key.to_user_string() for key in definitions.resolve_asset_graph().get_all_asset_keys()}
    assert {
        "campaigns",
        "landing_events",
        "grants",
        "owed_actions",
        "release_day_actions",
        "s4a_audience_timeline",
        "presaves_daily",
        "first_week",
    } <= keys
    release_job = definitions.resolve_job_def("release_day_job")
    assert isinstance(release_job.partitions_def, dg.DynamicPartitionsDefinition)
    assert definitions.resolve_schedule_def("release_day_schedule").cron_schedule == "* * * * *"
    assert definitions.resolve_job_def("warehouse_job")
    assert {
        "artist_snapshots",
        "presave_fans",
        "distrokid_bank",
        "campaign_lift",
        "authenticity_scores",
    } <= keys
    assert definitions.resolve_schedule_def("artist_snapshots_daily").cron_schedule == "15 6 * * *"
    assert definitions.resolve_sensor_def("inbox_sensor").minimum_interval_seconds == 30
    checks = {key.name for key in definitions.resolve_asset_graph().asset_check_keys}
    assert {"warehouse_holds_no_secrets", "grants_match_the_store", "owed_actions_reconcile"} <= checks
    assert (tmp_path / "data" / "secret.key").exists()  # the embedded default made its key once
