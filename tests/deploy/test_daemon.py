"""`dagster-daemon` on the shipped production instance (deploy/dagster.yaml): run, event log and
schedule storage in a fresh PostgreSQL database, the operational store in another.

An export dropped into the inbox makes the inbox sensor fire; the queued run it asks for is launched
by the daemon, and the test reads the run, its first materialisations and the sensor's tick back from
PostgreSQL. (The run goes on to rebuild every mart; the test stops once the inbox is loaded.)
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
from tests.conftest import PSEUDONYM_KEY, fresh_database
from tests.deploy.conftest import ROOT, dagster_home, dagster_postgres_url, venv_bin

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(600)]  # a daemon, a code server and a run


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
            "PRESAVE_PSEUDONYM_KEY": PSEUDONYM_KEY,
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
                run = wait_for_inbox_loaded(instance, daemon, deadline_s=420)
            stored, sensor_ticks, materialized = read_back(dagster_url, run.run_id)  # while the run goes on
        finally:
            os.killpg(daemon.pid, signal.SIGTERM)
            try:
                daemon.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(daemon.pid, signal.SIGKILL)
                daemon.wait()
            log.close()
    assert stored in {"STARTED", "SUCCESS"}
    assert run.job_name == "__ASSET_JOB"
    assert sensor_ticks >= 1
    assert materialized >= 1
    assert not list((data / "inbox").glob("*.csv"))  # the run loaded the file out of the inbox


def read_back(dagster_url: str, run_id: str) -> tuple[str, int, int]:
    """From PostgreSQL itself: the run's status, the sensor's successful ticks, the run's materialisations."""
    engine = create_engine(dagster_url)
    with engine.connect() as connection:
        stored = connection.execute(
            text("select status from runs where run_id = :run_id"), {"run_id": run_id}
        ).scalar_one()
        sensor_ticks = connection.execute(
            text("select count(*) from job_ticks where type = 'SENSOR' and status = 'SUCCESS'")
        ).scalar_one()
        materialized = connection.execute(
            text("select count(*) from event_logs where run_id = :run_id and dagster_event_type = :kind"),
            {"run_id": run_id, "kind": "ASSET_MATERIALIZATION"},
        ).scalar_one()
    engine.dispose()
    return stored, sensor_ticks, materialized


def wait_for_inbox_loaded(
    instance: dg.DagsterInstance, daemon: subprocess.Popen[bytes], deadline_s: float
) -> dg.DagsterRun:
    """The inbox sensor's run once it has materialised the loaded exports; bounded, and failing at once
    if the daemon dies or the run fails."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        assert daemon.poll() is None, "dagster-daemon exited"
        runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/sensor_name": "inbox_sensor"}))
        if runs:
            run = runs[0]
            assert run.status not in {dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}
            if instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION):
                return run
        time.sleep(2)
    raise AssertionError(f"the inbox sensor's run loaded nothing within {deadline_s:.0f} s")
