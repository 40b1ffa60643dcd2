"""`dagster-daemon` on the shipped production instance (deploy/dagster.yaml): run, event log and
schedule storage in a fresh PostgreSQL database, the operational store in another.

An export dropped into the inbox makes the inbox sensor fire; the queued run it asks for is launched
by the daemon and lands in PostgreSQL's run storage, where the test reads it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import dagster as dg
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text

from tests.collectors.exports_files import S4A_AUDIENCE, write_rows
from tests.deploy.conftest import ROOT, dagster_home, dagster_postgres_url, fresh_database, venv_bin

pytestmark = pytest.mark.postgres
FINISHED = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}


def test_the_daemon_runs_the_inbox_sensor_into_postgres_run_storage(
    postgres_server_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = dagster_home(tmp_path / "dagster_home")
    data = tmp_path / "data"
    (data / "inbox").mkdir(parents=True)
    write_rows(data / "inbox" / "spotify-audience.csv", S4A_AUDIENCE)
    with fresh_database(postgres_server_url) as store_url, fresh_database(postgres_server_url) as dagster_url:
        env = {
            **os.environ,
            "DAGSTER_HOME": str(home),
            "PRESAVE_DAGSTER_POSTGRES_URL": dagster_postgres_url(dagster_url),
            "PRESAVE_DATA_DIR": str(data),
            "PRESAVE_DATABASE_URL": store_url,
            "PRESAVE_SECRET_KEY": Fernet.generate_key().decode(),
        }
        for name in ("DAGSTER_HOME", "PRESAVE_DAGSTER_POSTGRES_URL"):
            monkeypatch.setenv(name, env[name])
        log = (tmp_path / "daemon.log").open("w")
        daemon = subprocess.Popen(
            [venv_bin("dagster-daemon"), "run", "-m", "pipelines.definitions"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            with dg.DagsterInstance.get() as instance:
                run = wait_for_sensor_run(instance, daemon, deadline_s=240)
        finally:
            os.killpg(daemon.pid, signal.SIGTERM)
            try:
                daemon.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(daemon.pid, signal.SIGKILL)
                daemon.wait()
            log.close()

        assert run.status == dg.DagsterRunStatus.SUCCESS, (tmp_path / "daemon.log").read_text()[-3000:]
        engine = create_engine(dagster_url)
        with engine.connect() as connection:
            stored = connection.execute(
                text("select status from runs where run_id = :run_id"), {"run_id": run.run_id}
            ).scalar_one()
            sensor_ticks = connection.execute(
                text("select count(*) from job_ticks where type = 'SENSOR' and status = 'SUCCESS'")
            ).scalar_one()
            materialized = connection.execute(
                text("select count(*) from event_logs where run_id = :run_id and dagster_event_type = :kind"),
                {"run_id": run.run_id, "kind": "ASSET_MATERIALIZATION"},
            ).scalar_one()
        engine.dispose()
    assert stored == "SUCCESS"
    assert sensor_ticks >= 1
    assert materialized >= 1
    assert not list((data / "inbox").glob("*.csv"))  # the run loaded the file out of the inbox


def wait_for_sensor_run(
    instance: dg.DagsterInstance, daemon: subprocess.Popen[bytes], deadline_s: float
) -> dg.DagsterRun:
    """The inbox sensor's run once it has finished; bounded, and failing at once if the daemon dies."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        assert daemon.poll() is None, "dagster-daemon exited"
        runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/sensor_name": "inbox_sensor"}))
        if runs and runs[0].status in FINISHED:
            return runs[0]
        time.sleep(2)
    raise AssertionError(f"no finished inbox-sensor run within {deadline_s:.0f} s")
