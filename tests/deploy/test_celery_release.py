"""Release day on dagster-celery: two worker processes on the machine's broker, Dagster's instance and the
operational store on PostgreSQL, the services played by the sandbox on loopback.

Each campaign partition is one step; the steps of concurrent runs go to whichever worker is free, and a
campaign ends with the same ledger and the same libraries as on the embedded default.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from campaigns.models import Campaign, Grant, OwedAction
from campaigns.settings import Settings
from campaigns.store import Store
from pipelines.definitions import build_definitions
from pipelines.deploy import release_day_job_from_environment
from pipelines.release.assets import campaign_partitions
from presave.servers import LoopbackServer
from sandbox.app import create_app
from sandbox.config import SandboxConfig
from sandbox.env import sandbox_env
from services.shared_pacing import pacing_backend
from tests.conftest import PSEUDONYM_KEY, fresh_database
from tests.deploy.conftest import (
    ROOT,
    celery_workers,
    dagster_home,
    dagster_postgres_url,
    require_broker,
)
from tests.executor.conftest import ARTIST_ID, DEEZER_ARTIST, Harness, ago
from tests.pauses import PauseWatcher, describe, pauses

pytestmark = [pytest.mark.postgres, pytest.mark.celery, pytest.mark.timeout(600)]
RUN_CONFIG = {
    "ops": {"release_day_actions": {"config": {"shards": 1, "threads": 4, "wait_for_release_s": 0}}}
}
PLAYLIST = "spotify:playlist:37i9dQZF1DX0XUsuxWHRQd"
SUBMIT = f"""
import sys, dagster as dg
from pipelines.deploy import release_day_job_from_environment
job = dg.reconstructable(release_day_job_from_environment)
job.get_definition()
print("ready", flush=True)
sys.stdin.readline()
with dg.DagsterInstance.get() as instance, dg.execute_job(
    job, instance=instance,
    run_config={RUN_CONFIG!r}, tags={{"dagster/partition": sys.argv[1]}},
) as result:
    print(result.run_id)
"""


@contextlib.contextmanager
def sandboxed(
    tmp_path: Path, store_url: str, key: str | None = None, **overrides: str
) -> Iterator[tuple[Harness, dict[str, str]]]:
    """A sandbox on loopback and a store; yields the harness and the PRESAVE_* environment for both
    (every setting that differs between the two set-ups is given, so the process environment of the
    Celery set-up never leaks into the embedded one)."""
    config = SandboxConfig(inspection={"record_bodies": True})
    app = create_app(config)
    key = key or Fernet.generate_key().decode()
    with LoopbackServer(app) as server, httpx.Client(base_url=server.url, timeout=10) as admin:
        env = {
            **sandbox_env(server.url, config),
            "PRESAVE_DATA_DIR": str(tmp_path / "data"),
            "PRESAVE_SECRET_KEY": key,
            "PRESAVE_PSEUDONYM_KEY": PSEUDONYM_KEY,  # one for both set-ups: fan keys compare
            "PRESAVE_DATABASE_URL": store_url,
            "PRESAVE_DAGSTER_EXECUTOR": "multiprocess",
            **overrides,
        }
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            **{k.removeprefix("PRESAVE_").lower(): v for k, v in env.items()},
        )
        admin.post(
            "/sandbox/artists",
            json={"name": "Nova Lane", "spotify_id": ARTIST_ID, "deezer_id": DEEZER_ARTIST},
        ).raise_for_status()
        store = Store.connect(store_url)
        try:
            yield (
                Harness(server.url, app.state.sandbox, admin, store, settings.vault(), settings, tmp_path),
                env,
            )
        finally:
            store.dispose()


@dataclass
class Deployment:
    harness: Harness
    hosts: list[str]
    instance: dg.DagsterInstance

    def release(self, slug: str) -> dg.DagsterRun:
        """One release-day run of `slug`, submitted from this process, executed by a Celery worker."""
        self.instance.add_dynamic_partitions(campaign_partitions.name, [slug])
        with dg.execute_job(
            dg.reconstructable(release_day_job_from_environment),
            instance=self.instance,
            run_config=RUN_CONFIG,
            tags={"dagster/partition": slug},
        ) as result:
            return result.dagster_run

    def release_concurrently(self, slugs: list[str]) -> list[str]:
        """One run per campaign at once, each submitted by its own process as the daemon would launch
        them (Dagster's logging is not made for several runs in the threads of one process), all let go
        together once every one has loaded the job; the run ids."""
        self.instance.add_dynamic_partitions(campaign_partitions.name, slugs)
        submitters = [
            subprocess.Popen(
                [sys.executable, "-c", SUBMIT, slug],
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for slug in slugs
        ]
        for process in submitters:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "ready"
        for process in submitters:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()  # communicate() closes it
        outputs = [process.communicate(timeout=240)[0] for process in submitters]
        assert [process.returncode for process in submitters] == [0] * len(slugs), outputs
        return [output.strip().splitlines()[-1] for output in outputs]

    def worker_of(self, run_id: str) -> str:
        """The Celery worker that executed the run's step, as the event log in PostgreSQL records it."""
        for event in self.instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
            metadata = event.dagster_event.engine_event_data.metadata if event.dagster_event else {}
            if "Celery worker" in metadata:
                return str(metadata["Celery worker"].value)
        raise AssertionError(f"run {run_id} has no Celery worker event")


@pytest.fixture(scope="module", params=["rabbitmq", "redis"])
def deployment(
    request: pytest.FixtureRequest, postgres_server_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    broker = require_broker(request.param)
    tmp_path = tmp_path_factory.mktemp(f"celery-{request.param}")
    home = dagster_home(tmp_path / "dagster_home")
    with (
        fresh_database(postgres_server_url) as store_url,
        fresh_database(postgres_server_url) as dagster_url,
        sandboxed(
            tmp_path,
            store_url,
            PRESAVE_DAGSTER_EXECUTOR="celery",
            PRESAVE_CELERY_BROKER_URL=broker,
            PRESAVE_DAGSTER_POSTGRES_URL=dagster_postgres_url(dagster_url),
            DAGSTER_HOME=str(home),
        ) as (harness, presave_env),
        pytest.MonkeyPatch.context() as patch,
    ):
        for name, value in presave_env.items():
            patch.setenv(name, value)
        env = dict(os.environ)
        with celery_workers(["release-1", "release-2"], env, tmp_path) as hosts:
            instance = dg.DagsterInstance.get()
            try:
                yield Deployment(harness, hosts, instance)
            finally:
                instance.dispose()


def seed_campaign(harness: Harness, slug: str, upc: str, fans: int) -> None:
    """A released campaign: Spotify fans (one has since revoked the app, one also follows a playlist),
    Deezer and Apple fans."""
    harness.add_release(upc, ago(60))
    campaign = harness.add_campaign(
        slug,
        upc,
        ago(60),
        services={
            "spotify": {"artist": f"spotify:artist:{ARTIST_ID}", "follow": [PLAYLIST]},
            "deezer": {"artist_id": DEEZER_ARTIST},
            "apple": {},
        },
    )
    for n in range(fans):
        choices = {"follow": [PLAYLIST]} if n == 0 else {}
        harness.spotify_grant(campaign, f"{slug}-sp-{n}", choices=choices)
    harness.admin.post(f"/sandbox/spotify/fans/{slug}-sp-{fans - 1}/revoke").raise_for_status()
    harness.deezer_grant(campaign, f"{slug}-dz-0")
    harness.apple_grant(campaign, f"{slug}-ap-0")


def ledger(harness: Harness, slug: str) -> list[tuple[str, str, str, str, str]]:
    """Every owed action of the campaign: fan, service, kind, target, outcome."""
    with harness.store.session() as session:
        rows = session.execute(
            select(
                Grant.service_user_id,
                OwedAction.service,
                OwedAction.kind,
                OwedAction.target,
                OwedAction.outcome,
            )
            .join(Grant, Grant.id == OwedAction.grant_id)
            .join(Campaign, Campaign.id == OwedAction.campaign_id)
            .where(Campaign.slug == slug)
        ).all()
    return sorted(tuple(str(v) for v in row) for row in rows)  # type: ignore[misc]


def libraries(harness: Harness, slug: str) -> dict[str, Any]:
    """What each of the campaign's fans has in their library on each service, as the sandbox knows it."""
    fans = {row[0]: row[1] for row in ledger(harness, slug)}
    return {fan: library_of(harness.fan(fan, service)) for fan, service in sorted(fans.items())}


def library_of(document: dict[str, Any]) -> dict[str, list[str]]:
    """The entities in a sandbox fan's library, follows and favourites (when they were added left out)."""
    kept = ("library", "follows", "favourites", "favorites", "pre_adds")
    return {
        key: sorted(e.get("uri") or f"{e['type']}:{e['id']}" for e in document[key])
        for key in kept
        if key in document
    }


def test_concurrent_campaign_runs_execute_on_both_celery_workers(deployment: Deployment) -> None:
    harness = deployment.harness
    slugs = [f"spread-{n}" for n in range(3)]
    for n, slug in enumerate(slugs):
        seed_campaign(harness, slug, f"19888004{n:04d}", fans=4)
    run_ids = deployment.release_concurrently(slugs)

    stored = {run_id: deployment.instance.get_run_by_id(run_id) for run_id in run_ids}
    assert len(stored) == len(slugs)
    assert {run.status for run in stored.values() if run} == {dg.DagsterRunStatus.SUCCESS}
    workers = {deployment.worker_of(run_id).split("@")[0] for run_id in stored}
    assert workers == {"release-1", "release-2"}
    for slug in slugs:
        outcomes = [row[4] for row in ledger(harness, slug)]
        assert "queued" not in outcomes
        assert "failed" not in outcomes
        assert outcomes.count("undeliverable") >= 1  # the fan who revoked the app
        assert outcomes.count("delivered") >= 6


@pytest.mark.parametrize("deployment", ["rabbitmq"], indirect=True)  # the broker is not what is compared
def test_a_campaign_ends_the_same_on_celery_as_on_the_embedded_default(
    deployment: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_campaign(deployment.harness, "twin", "198880049999", fans=5)
    run = deployment.release("twin")
    assert run.status == dg.DagsterRunStatus.SUCCESS
    on_celery = ledger(deployment.harness, "twin"), libraries(deployment.harness, "twin")

    key = deployment.harness.settings.secret_keys()[0]  # the vault's key reaches the resources by EnvVar
    with sandboxed(tmp_path, f"sqlite:///{tmp_path / 'presave.db'}", key) as (embedded, embedded_env):
        for name, value in embedded_env.items():  # the resources read the store and secrets by EnvVar
            monkeypatch.setenv(name, value)
        seed_campaign(embedded, "twin", "198880049999", fans=5)
        definitions = build_definitions(embedded.settings)
        job = definitions.resolve_job_def("release_day_job")
        assert job.executor_def.name != "celery"
        with dg.DagsterInstance.ephemeral() as instance:
            instance.add_dynamic_partitions(campaign_partitions.name, ["twin"])
            result = job.execute_in_process(instance=instance, partition_key="twin", run_config=RUN_CONFIG)
        assert result.success
        on_default = ledger(embedded, "twin"), libraries(embedded, "twin")

    assert on_celery == on_default
    assert len(on_default[0]) >= 12
    assert any(library for library in on_default[1].values())


@pytest.mark.parametrize("deployment", ["rabbitmq"], indirect=True)
def test_two_celery_workers_never_call_while_the_app_is_told_to_wait(deployment: Deployment) -> None:
    """Release-day steps of two campaigns on both workers at once against a throttled sandbox (a rolling
    budget answered by 429 with a Retry-After): the pause one worker's step sees holds for the other's,
    through the app's pacing in the operational store (PostgreSQL) that every step reads before a call."""
    harness = deployment.harness
    label = harness.settings.spotify_client_id
    first = max((c["seq"] for c in harness.calls(client_id=label)), default=0)
    slugs = [f"throttled-{n}" for n in range(2)]
    for n, slug in enumerate(slugs):
        seed_campaign(harness, slug, f"19888005{n:04d}", fans=12)
    spotify = harness.spotify()
    state = pacing_backend(harness.settings.resolved_database_url).state(spotify.pacing_key)
    harness.configure({"spotify": {"rate_budget": 12, "rate_window_s": 2.0}})  # 6 calls/s for the app
    try:
        with PauseWatcher(state) as watcher:
            run_ids = deployment.release_concurrently(slugs)
    finally:
        harness.configure({"spotify": {"rate_budget": 5000, "rate_window_s": 30.0}})

    assert {deployment.worker_of(run_id).split("@")[0] for run_id in run_ids} == {"release-1", "release-2"}
    for slug in slugs:
        outcomes = [row[4] for row in ledger(harness, slug)]
        assert "failed" not in outcomes
        assert outcomes.count("delivered") >= 2 * 11
    calls = [c for c in harness.calls(client_id=label) if c["seq"] > first and c["service"] == "spotify"]
    assert pauses(calls), "the sandbox never throttled: the test proves nothing"
    assert watcher.covers(calls)
    breaches = watcher.breaches(calls)
    assert breaches == [], describe(breaches, calls)
