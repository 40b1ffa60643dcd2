"""The Dagster side: the release-day asset per campaign partition (in shard processes), token health."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import dagster as dg
from sqlalchemy import select

from campaigns.models import Campaign, OwedAction
from executor.health import unservable_spotify_grants
from executor.plan import plan_campaign
from executor.release import campaigns_with_work_due
from pipelines.release.assets import (
    campaign_partitions,
    every_presave_servable,
    release_day_actions,
    release_day_job,
    release_day_schedule,
    spotify_token_health,
)
from pipelines.resources import AppleResource, DeezerResource, OperationalStore, SpotifyResource
from services.pacing import Pacing
from services.shared_pacing import pacing_backend
from tests.conftest import PSEUDONYM_KEY
from tests.executor.conftest import Harness, ago


def _resources(harness: Harness, pacing_url: str = "") -> dict[str, dg.ConfigurableResource]:
    settings = harness.settings
    secret = settings.spotify_client_secret
    assert secret is not None
    assert settings.secret_key is not None
    return {
        "operational_store": OperationalStore(
            database_url=settings.resolved_database_url,
            secret_key=settings.secret_key.get_secret_value(),
            pseudonym_key=PSEUDONYM_KEY,
        ),
        "spotify": SpotifyResource(
            client_id=settings.spotify_client_id or "",
            client_secret=secret.get_secret_value(),
            accounts_url=settings.spotify_accounts_url,
            api_url=settings.spotify_api_url,
            pacing_url=pacing_url,
        ),
        "apple": AppleResource(),
        "deezer": DeezerResource(),
    }


def test_the_release_day_asset_runs_a_campaign_partition_in_shard_processes(harness: Harness) -> None:
    harness.add_release("198880045580", ago(30))
    campaign = harness.add_campaign("dagster-day", "198880045580", ago(30))
    for n in range(6):
        harness.spotify_grant(campaign, f"fan-{n}")
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(campaign_partitions.name, ["dagster-day"])

    result = dg.materialize(
        [release_day_actions],
        instance=instance,
        partition_key="dagster-day",
        resources=_resources(harness),
        run_config={"ops": {"release_day_actions": {"config": {"shards": 2, "threads": 2}}}},
    )

    assert result.success
    metadata = result.asset_materializations_for_node("release_day_actions")[0].metadata
    assert metadata["outcome/delivered"].value == 12
    assert metadata["outcome/failed"].value == 0
    assert metadata["latency_s/max"].value >= 30
    with harness.store.session() as session:
        shards = {a.attempt_id.rsplit(":", 1)[1] for a in session.scalars(select(OwedAction)) if a.attempt_id}
    assert shards == {"0/2", "1/2"}


def test_grants_older_than_six_months_at_release_are_listed(harness: Harness) -> None:
    release_at = ago(-3600)  # in an hour
    campaign = harness.add_campaign("old-fans", "198880045581", release_at)
    stale = harness.spotify_grant(campaign, "fan-old", granted_at=release_at - timedelta(days=200))
    harness.spotify_grant(campaign, "fan-new", granted_at=release_at - timedelta(days=20))

    frame = unservable_spotify_grants(harness.store)

    assert frame["grant_id"].tolist() == [stale]
    row = frame.iloc[0]
    assert row["campaign_slug"] == "old-fans"
    assert 199.9 < row["age_at_release_days"] < 200.1
    assert row["refresh_token_dies_at"] < row["release_moment"]
    assert "fan-old" not in frame.to_string()  # fans only under their keyed hash

    result = dg.materialize(
        [spotify_token_health, every_presave_servable],
        instance=dg.DagsterInstance.ephemeral(),
        resources={"operational_store": _resources(harness)["operational_store"]},
    )
    assert result.success
    checks = result.get_asset_check_evaluations()
    assert [c.passed for c in checks] == [False]
    assert checks[0].severity == dg.AssetCheckSeverity.WARN


def test_with_the_quota_spent_the_asset_succeeds_saying_until_when_and_the_schedule_waits_for_it(
    harness: Harness,
) -> None:
    harness.add_release("198880045581", ago(30))
    campaign = harness.add_campaign("spent-day", "198880045581", ago(30))
    for n in range(3):
        harness.spotify_grant(campaign, f"spent-{n}")
    url = harness.settings.resolved_database_url
    until = time.time() + 10 * 3600  # another process saw QUOTA_EXCEEDED with a ten-hour Retry-After
    pacing_backend(url).state(f"spotify:{harness.settings.spotify_client_id}").update(
        lambda _: Pacing(5.0, until, until, until)
    )
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(campaign_partitions.name, ["spent-day"])
    label = harness.settings.spotify_client_id
    calls_before = len(harness.calls(client_id=label))
    started = time.monotonic()

    result = dg.materialize(
        [release_day_actions],
        instance=instance,
        partition_key="spent-day",
        resources=_resources(harness, pacing_url=url),
        run_config={"ops": {"release_day_actions": {"config": {"shards": 1, "threads": 2}}}},
    )

    assert result.success  # waiting for a quota is not a failure
    assert time.monotonic() - started < 60  # nor a sleep
    metadata = result.asset_materializations_for_node("release_day_actions")[0].metadata
    waits_until = datetime.fromisoformat(str(metadata["paused_until/spotify"].value))
    assert abs(waits_until.timestamp() - until) < 1
    assert metadata["outcome/queued"].value == 6
    assert len(harness.calls(client_id=label)) == calls_before
    with harness.store.session() as session:
        assert "spent-day" not in campaigns_with_work_due(session, datetime.now(UTC))
        assert "spent-day" in campaigns_with_work_due(session, waits_until + timedelta(seconds=1))


def test_the_schedule_asks_for_no_run_whose_due_work_is_on_services_not_configured_here(
    harness: Harness, tmp_path
) -> None:
    """`dagster dev` on the demo's data runs without the sandbox's credentials: due actions it cannot
    perform asked for a run every minute, and each run failed on them."""
    harness.add_release("198880045582", ago(30))
    campaign = harness.add_campaign("owed-day", "198880045582", ago(30))
    harness.spotify_grant(campaign, "owed-0")
    with harness.store.session() as session:
        plan_campaign(harness.store, session.get(Campaign, campaign))
    configured = _resources(harness)
    unconfigured = {**configured, "spotify": SpotifyResource(client_id="", client_secret="")}

    def tick(resources: dict[str, dg.ConfigurableResource]) -> dg.ScheduleExecutionData:
        with dg.build_schedule_context(
            instance=dg.DagsterInstance.local_temp(str(tmp_path)),
            scheduled_execution_time=datetime.now(UTC),
            resources=resources,
            repository_def=dg.Definitions(
                assets=[release_day_actions],
                jobs=[release_day_job],
                schedules=[release_day_schedule],
                resources=resources,
            ).get_repository_def(),
        ) as context:
            return release_day_schedule.evaluate_tick(context)

    assert [r.partition_key for r in tick(configured).run_requests or []] == ["owed-day"]
    skipped = tick(unconfigured)
    assert not skipped.run_requests
    assert "configured here (none)" in (skipped.skip_message or "")
