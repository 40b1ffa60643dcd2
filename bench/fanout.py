"""Release day fanned out over Celery workers (`pipelines.fanout`): one campaign's shards on 1 and on 2
worker processes (`celery -A pipelines.celery_app worker --queues=presave-shards --concurrency=1`), the
sandbox in its own process, a temporary SQLite store, RabbitMQ (else Redis) on loopback as the broker.

(a) no rate limit, 200,000 grants (one save each), 2 shards asked: actions/s over the calls' span, the shards'
    CPU per action (as the workers report it), wall time (planning included);
(b) the sandbox's rolling 30 s window on: calls that succeeded in windows 2-3 / what the window allows;
(c) planning 1M grants (a fresh process): seconds and peak memory.

`PRESAVE_BENCH_SCALE` (default 1) multiplies the sizes, e.g. 0.05 for a quick look.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from rich.table import Table

from bench.executor import (
    APP_SECRETS,
    ARTIST_ID,
    EXECUTOR_APP,
    PACED_APP,
    WINDOW_S,
    Bench,
    Run,
    _api_calls,
    _limited_row,
    _phase,
    _scale,
    _times,
    bench_config,
    console,
    create_campaign,
    mint_pool,
    sandbox_process,
)

BROKERS = (("pyamqp://guest:guest@127.0.0.1:5672//", 5672), ("redis://127.0.0.1:6379/0", 6379))
SHARDS = 2  # asked for; the launcher sends no more than the workers that answer (1 on 1 worker)


def broker_url() -> str:
    for url, port in BROKERS:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
            return url
    raise RuntimeError(
        "no broker on loopback (RabbitMQ 5672 or Redis 6379): scripts/test-services starts one"
    )


PSEUDONYM_KEY = secrets.token_urlsafe(32)  # the workers' store is named by URL: the key must be given


def worker_env(bench: Bench, app: str, broker: str) -> dict[str, str]:
    return bench.env(app) | {"PRESAVE_CELERY_BROKER_URL": broker, "PRESAVE_PSEUDONYM_KEY": PSEUDONYM_KEY}


@contextlib.contextmanager
def shard_workers(count: int, env: dict[str, str], folder: Path) -> Iterator[None]:
    """`count` release workers on the shard queue, each one shard at a time; back once all answer."""
    from pipelines.fanout import SHARD_QUEUE

    celery = str(Path(sys.executable).with_name("celery"))
    processes = [
        subprocess.Popen(
            [
                *(celery, "-A", "pipelines.celery_app", "worker", "--hostname", f"bench-{n}@%h"),
                *("--concurrency=1", f"--queues={SHARD_QUEUE}", "--without-gossip", "--without-mingle"),
                "--loglevel=WARNING",
            ],
            env=env,
            stdout=(folder / f"worker-{n}.log").open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for n in range(count)
    ]
    try:
        _wait_for(count, env["PRESAVE_CELERY_BROKER_URL"], processes)
        yield
    finally:
        for process in processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            process.wait(timeout=30)


def _wait_for(count: int, broker: str, processes: list[subprocess.Popen[bytes]]) -> None:
    from celery import Celery  # type: ignore[import-untyped]

    app = Celery(broker=broker)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            if any(process.poll() is not None for process in processes):
                raise RuntimeError("a Celery worker exited (see its log)")
            if len(app.control.ping(timeout=1.0) or []) >= count:
                return
        raise RuntimeError(f"{count} Celery workers did not answer within 120 s")
    finally:
        app.close()


def fanned_run(bench: Bench, slug: str, app: str, broker: str) -> tuple[Any, float, list[str]]:
    """Release day of `slug` from this process, its shards on the running workers: the report, the wall
    time and the workers that took the shards."""
    from campaigns.settings import Settings
    from campaigns.store import Store
    from executor.entry import run_release_day
    from executor.release import ReleaseOptions
    from pipelines.celery_app import release_celery_app
    from pipelines.fanout import CeleryShardLauncher
    from services import apps_from_settings
    from services.shared_pacing import pacing_url

    env = worker_env(bench, app, broker)
    values: dict[str, Any] = {
        k.removeprefix("PRESAVE_").lower(): v for k, v in env.items() if k.startswith("PRESAVE_")
    }
    settings = Settings(_env_file=None, **values)
    celery_app = release_celery_app(settings)
    launcher = CeleryShardLauncher(celery_app, poll_s=1.0)
    apps = apps_from_settings(settings)
    store = Store.connect(settings.resolved_database_url)
    started = time.perf_counter()
    try:
        report = run_release_day(
            store,
            settings.secret_keys(),
            apps,
            slug,
            options=ReleaseOptions(shards=SHARDS, threads=16),
            pacing_url=pacing_url(settings),
            pseudonym_secret=settings.configured_pseudonym_secret(),
            launcher=launcher,
        )
    finally:
        store.dispose()
        celery_app.close()
        for service_app in apps.values():
            service_app.close()
    return report, time.perf_counter() - started, launcher.workers


def _fast_row(bench: Bench, workers: int, grants: int, broker: str, folder: Path) -> tuple[str, ...]:
    slug = f"bench-fanout-{workers}"
    create_campaign(bench, slug, grants)
    since = datetime.now(UTC).isoformat()
    with (
        shard_workers(workers, worker_env(bench, EXECUTOR_APP, broker), folder),
        console.status(f"(a) {grants:,} grants on {workers} worker(s)"),
    ):
        report, wall, took = fanned_run(bench, slug, EXECUTOR_APP, broker)
    calls = _api_calls(bench, EXECUTOR_APP, since)
    times = _times([c for c in calls if c["method"] == "PUT"])
    span = (max(times) - min(times)) if len(times) > 1 else wall
    return (
        f"{workers} worker(s)",
        f"{report.performed:,}",
        f"{report.performed / span:,.0f}",
        f"{1000 * report.work_cpu_s / max(report.performed, 1):.2f}",
        f"{wall:.1f}",
        str(len({worker.split("@")[0] for worker in took})),
        f"{report.outcomes.get('failed', 0):,}",
    )


def _limited(
    bench: Bench, workers: int, grants: int, budget: int, broker: str, folder: Path
) -> tuple[str, ...]:
    slug = f"bench-fanout-limited-{workers}"
    create_campaign(bench, slug, grants, app=PACED_APP)
    since = datetime.now(UTC).isoformat()
    with (
        shard_workers(workers, worker_env(bench, PACED_APP, broker), folder),
        console.status(f"(b) {grants:,} grants on {workers} worker(s), {budget:,} calls per 30 s"),
    ):
        _, wall, _ = fanned_run(bench, slug, PACED_APP, broker)
    calls = _api_calls(bench, PACED_APP, since)
    run = Run(
        f"{workers} worker(s)",
        actions=0,
        wall_s=wall,
        work_s=wall,
        cpu_s=0.0,
        sandbox_cpu_s=0.0,
        calls=len(calls),
        throttled=sum(1 for c in calls if c["status"] == 429),
        failed=0,
    )
    return _limited_row(run, calls, budget)


def run() -> None:
    broker = broker_url()
    budget = _scale(1500)
    with tempfile.TemporaryDirectory(prefix="presave-bench-fanout-") as tmp:
        folder = Path(tmp)
        with sandbox_process(folder, bench_config(budget)) as sandbox:
            sandbox.admin.post(
                "/sandbox/releases",
                json={
                    "upc": "198880049999",
                    "title": "Bench",
                    "artist": {"name": "Nova Lane", "spotify_id": ARTIST_ID},
                    "release_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
                    "tracks": [{"title": "One", "isrc": "QZWFV2699991", "duration_ms": 200000}],
                },
            ).raise_for_status()
            pool = _scale(1000)
            with console.status("minting fans' tokens through the sandbox's accounts flow"):
                tokens = {
                    app: mint_pool(sandbox, app, APP_SECRETS[app], pool) for app in (EXECUTOR_APP, PACED_APP)
                }
            bench = Bench(
                folder, sandbox, Fernet.generate_key().decode(), f"sqlite:///{folder / 'presave.db'}", tokens
            )
            console.print(
                f"broker {broker.split('@')[-1]}; sandbox pid {sandbox.process.pid} on {sandbox.url}; "
                f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f} at start"
            )

            grants = _scale(200_000)
            fast = Table(
                title=f"(a) no rate limit: {grants:,} grants, one save each, {SHARDS} shards asked (one per worker). "
                "actions/s over the calls' span; CPU: the shards' as the workers report it; wall: planning included"
            )
            for column in (
                "workers",
                "actions",
                "actions/s",
                "CPU ms/action",
                "wall s",
                "workers used",
                "failed",
            ):
                fast.add_column(column, justify="right")
            for workers in (1, 2):
                fast.add_row(*_fast_row(bench, workers, grants, broker, folder))
            console.print(fast)

            limited_grants = max(300, int(budget * 3.4))
            limited = Table(
                title=f"(b) rolling window: {budget:,} calls per {WINDOW_S:.0f} s, {limited_grants:,} grants, "
                "every shard pacing by the one shared state (the store)"
            )
            for column in (
                "workers",
                "allowed calls/s",
                "achieved / allowed (windows 2-3)",
                "first window / budget",
                "429s (whole run)",
                "wall s",
            ):
                limited.add_column(column, justify="right")
            for workers in (1, 2):
                limited.add_row(*_limited(bench, workers, limited_grants, budget, broker, folder))
            console.print(limited)

            planned_grants = _scale(1_000_000)
            slug = f"bench-fanout-plan-{planned_grants}"
            with console.status(f"(c) {planned_grants:,} grants: writing them"):
                create_campaign(bench, slug, planned_grants, follows_done=False)
            with console.status(f"(c) {planned_grants:,} grants: planning"):
                plan = _phase(bench, "plan", slug)
            console.print(
                f"(c) planning {planned_grants:,} grants (a fresh process, SQLite): {plan['planned']:,} owed "
                f"actions in {plan['seconds']:.1f} s, peak {plan['peak_rss_mb']:.0f} MB"
            )
