"""Release day fanned out: one campaign's shards performed by two Celery worker processes on the machine's
broker (`--queues=presave-shards`), the store on PostgreSQL, the services played by the sandbox on loopback.
The workers reach the store, keys and credentials from their own settings: only the shards' work goes
through the broker."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import dagster as dg
import pytest
from sqlalchemy import select

from campaigns.models import OwedAction
from campaigns.settings import Settings
from executor.entry import run_release_day
from executor.release import ReleaseOptions, ReleaseWork
from pipelines.celery_app import release_celery_app
from pipelines.deploy import release_run_config
from pipelines.fanout import SHARD_QUEUE, CeleryShardLauncher
from pipelines.release.assets import campaign_partitions, release_day_actions
from pipelines.resources import resources_from_settings
from services import apps_from_settings
from services.shared_pacing import pacing_url
from tests.conftest import fresh_database
from tests.deploy.conftest import celery_workers, require_broker
from tests.deploy.test_celery_release import sandboxed
from tests.executor.conftest import Harness, ago

pytestmark = [pytest.mark.postgres, pytest.mark.celery, pytest.mark.timeout(600)]
FANS = 24


@dataclass
class ShardWorkers:
    harness: Harness
    hosts: list[str]
    broker: str


@pytest.fixture(scope="module", params=["rabbitmq", "redis"])
def shard_workers(
    request: pytest.FixtureRequest, postgres_server_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ShardWorkers]:
    broker = require_broker(request.param)
    tmp_path = tmp_path_factory.mktemp(f"fanout-{request.param}")
    with (
        fresh_database(postgres_server_url) as store_url,
        sandboxed(tmp_path, store_url, PRESAVE_CELERY_BROKER_URL=broker) as (harness, presave_env),
        pytest.MonkeyPatch.context() as patch,
    ):
        for name, value in presave_env.items():
            patch.setenv(name, value)
        with celery_workers(
            ["shards-1", "shards-2"], dict(os.environ), tmp_path, queues=SHARD_QUEUE
        ) as hosts:
            yield ShardWorkers(harness, hosts, broker)


def seed(harness: Harness, slug: str, upc: str) -> tuple[str, list[str]]:
    """A campaign released a minute ago with FANS Spotify fans; the album's URI and the fans."""
    release = harness.add_release(upc, ago(60))
    campaign = harness.add_campaign(slug, upc, ago(60))
    fans = [f"{slug}-fan-{n:02d}" for n in range(FANS)]
    for fan in fans:
        harness.spotify_grant(campaign, fan)
    return release["spotify"]["uri"], fans


def album_writes(harness: Harness, album: str) -> Counter[str]:
    """Successful saves of `album` per fan, as the sandbox recorded them."""
    return Counter(
        call["user"]
        for call in harness.calls("spotify")
        if call["route"] == "PUT /me/library" and call["status"] == 200 and album in unquote(call["query"])
    )


def shard_attempts(harness: Harness) -> set[str]:
    with harness.store.session() as session:
        attempts = session.scalars(select(OwedAction.attempt_id).where(OwedAction.kind == "save_release"))
        return {attempt.rsplit(":", 1)[1] for attempt in attempts if attempt}


def test_one_campaigns_shards_run_on_both_celery_workers_no_more_shards_than_workers_each_action_once(
    shard_workers: ShardWorkers, caplog: pytest.LogCaptureFixture
) -> None:
    harness = shard_workers.harness
    album, fans = seed(harness, "fanned", "198880047701")
    settings = harness.settings
    app = release_celery_app(settings)
    launcher = CeleryShardLauncher(app, poll_s=0.2)
    apps = apps_from_settings(settings)
    try:
        report = run_release_day(
            harness.store,
            settings.secret_keys(),
            apps,
            "fanned",
            options=ReleaseOptions(shards=4, threads=2, linger_s=0.5),
            pacing_url=pacing_url(settings),
            pseudonym_secret=settings.configured_pseudonym_secret(),
            launcher=launcher,
        )
    finally:
        app.close()
        for service_app in apps.values():
            service_app.close()

    outcomes = {outcome: count for outcome, count in report.outcomes.items() if count}
    assert outcomes == {"delivered": 2 * FANS}  # the save and the artist follow of every fan
    assert album_writes(harness, album) == dict.fromkeys(fans, 1)
    assert shard_attempts(harness) == {"0/2", "1/2"}  # 4 asked, 2 workers answer: 2 shards
    assert {worker.split("@")[0] for worker in launcher.workers} == {"shards-1", "shards-2"}
    assert "4 shard(s) asked, 2 worker(s) take presave-shards: sending 2 shard(s)" in caplog.text


@pytest.mark.parametrize("shard_workers", ["redis"], indirect=True)
def test_with_no_worker_on_its_queue_a_run_sends_one_shard_to_wait_for_one(
    shard_workers: ShardWorkers,
) -> None:
    app = release_celery_app(shard_workers.harness.settings)
    try:
        work = ReleaseWork(1, "run", {}, (), ReleaseOptions(shards=4), lambda: ago(0), None, 10_000)
        assert CeleryShardLauncher(app).sized(work).options.shards == 2
        assert CeleryShardLauncher(app, queue="presave-shards-nobody").sized(work).options.shards == 1
    finally:
        app.close()


@pytest.mark.parametrize("shard_workers", ["rabbitmq"], indirect=True)
def test_the_release_asset_fans_out_to_the_workers_when_configured_for_celery(
    shard_workers: ShardWorkers, tmp_path: Path
) -> None:
    harness = shard_workers.harness
    album, fans = seed(harness, "asset-fanned", "198880047702")
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions(campaign_partitions.name, ["asset-fanned"])
        result = dg.materialize(
            [release_day_actions],
            instance=instance,
            partition_key="asset-fanned",
            resources=resources_from_settings(harness.settings),
            run_config={
                "ops": {
                    "release_day_actions": {
                        "config": {"shards": 2, "threads": 2, "wait_for_release_s": 0, "fan_out": "celery"}
                    }
                }
            },
        )
    assert result.success
    metadata = result.asset_materializations_for_node("release_day_actions")[0].metadata
    assert metadata["outcome/delivered"].value == 2 * FANS
    assert album_writes(harness, album) == dict.fromkeys(fans, 1)


@pytest.mark.parametrize(
    ("executor", "fan_out"), [("celery", "celery"), ("multiprocess", None), ("k8s", None)]
)
def test_the_celery_release_job_sends_its_shards_to_the_workers_by_default(
    executor: str, fan_out: str | None
) -> None:
    settings = Settings(_env_file=None, dagster_executor=executor)  # type: ignore[call-arg]
    config = release_run_config(settings)
    found = config["ops"]["release_day_actions"]["config"]["fan_out"] if config else None
    assert found == fan_out
