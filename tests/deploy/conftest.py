"""The production set-up on loopback: Dagster's instance on PostgreSQL, Celery workers on RabbitMQ or Redis.

The brokers are required (never skipped) when PRESAVE_REQUIRE_CELERY=1, as in CI.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
BROKERS = {
    "rabbitmq": ("pyamqp://guest:guest@127.0.0.1:5672//", 5672),
    "redis": ("redis://127.0.0.1:6379/0", 6379),
}


def require_broker(kind: str) -> str:
    url, port = BROKERS[kind]
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass
    except OSError as exc:
        message = f"{kind} is not listening on 127.0.0.1:{port} ({exc}); scripts/test-services starts it"
        if os.environ.get("PRESAVE_REQUIRE_CELERY") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return url


def dagster_postgres_url(sqlalchemy_url: str) -> str:
    """dagster-postgres needs psycopg2 named in the URL (see deploy/dagster.yaml)."""
    return (
        make_url(sqlalchemy_url).set(drivername="postgresql+psycopg2").render_as_string(hide_password=False)
    )


def dagster_home(folder: Path) -> Path:
    """A DAGSTER_HOME holding the shipped production instance file."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(DEPLOY / "dagster.yaml", folder / "dagster.yaml")
    return folder


def venv_bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


@contextlib.contextmanager
def celery_workers(
    names: list[str], env: dict[str, str], log_dir: Path, queues: str = "dagster"
) -> Iterator[list[str]]:
    """Celery worker processes started as the shipped manifest starts them (`celery -A pipelines.celery_app
    worker`, deploy/k8s/celery-workers.yaml), one task at a time each, taking `queues` (dagster-celery's
    steps, or release-day shards: `pipelines.fanout.SHARD_QUEUE`); yields their host names once all
    answer."""
    processes = []
    for name in names:
        log = (log_dir / f"{name}.log").open("w")
        processes.append(
            subprocess.Popen(
                [
                    venv_bin("celery"),  # from the virtual environment, whatever PATH the shell has
                    "-A",
                    "pipelines.celery_app",
                    "worker",
                    "--hostname",
                    f"{name}@%h",
                    "--concurrency=1",
                    f"--queues={queues}",
                    "--without-gossip",
                    "--without-mingle",
                ],
                env=env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # the worker and its pool die together with the group
            )
        )
    try:
        yield wait_for_workers(names, env["PRESAVE_CELERY_BROKER_URL"], processes)
    finally:
        for process in processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def wait_for_workers(names: list[str], broker: str, processes: list[subprocess.Popen[bytes]]) -> list[str]:
    from dagster_celery.make_app import make_app

    app = make_app({"broker": broker, "backend": "rpc://"})
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline:
            dead = [p.args for p in processes if p.poll() is not None]
            assert not dead, f"a Celery worker exited: {dead}"
            answers = app.control.ping(timeout=1.0) or []
            hosts = sorted(host for answer in answers for host in answer)
            if len(hosts) >= len(names):
                return hosts
        raise AssertionError(f"Celery workers {names} did not answer within 90 s")
    finally:
        app.close()
