"""Where each job's steps run: the warehouse job (and every job that writes DuckDB) in the run's own
process wherever it is launched, since DuckDB admits one writer; release day on the configured executor."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from campaigns.settings import Settings
from pipelines.definitions import build_definitions

WAREHOUSE_WRITERS = ("warehouse_job", "artist_snapshots_job", "presave_origins_job")
RELEASE_EXECUTORS = {"multiprocess": "multiprocess", "celery": "celery", "k8s": "k8s"}


def _settings(tmp_path: Path, executor: str) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path / "data",
        dagster_executor=executor,
    )


@pytest.mark.parametrize("configured", sorted(RELEASE_EXECUTORS))
def test_jobs_writing_the_warehouse_run_in_one_process_whatever_executor_release_day_uses(
    tmp_path: Path, configured: str
) -> None:
    definitions = build_definitions(_settings(tmp_path, configured))
    executors = {name: definitions.resolve_job_def(name).executor_def.name for name in WAREHOUSE_WRITERS}
    executors["inbox sensor's runs"] = definitions.resolve_implicit_global_asset_job_def().executor_def.name
    assert executors == dict.fromkeys(executors, "in_process")
    assert definitions.resolve_job_def("release_day_job").executor_def.name == RELEASE_EXECUTORS[configured]


def test_a_warehouse_run_launched_from_the_command_line_runs_every_step_in_the_run_process(
    tmp_path: Path,
) -> None:
    home = tmp_path / "dagster"
    home.mkdir()
    env = {**os.environ, "DAGSTER_HOME": str(home), "PRESAVE_DATA_DIR": str(tmp_path / "data")}
    env.pop("PRESAVE_DAGSTER_EXECUTOR", None)
    command = [sys.executable, "-m", "dagster", "job", "execute", "-m", "pipelines.definitions"]
    # two independent steps: a process per step would give them two pids
    subprocess.run(
        [*command, "-j", "warehouse_job", "-o", "campaigns,grants"], env=env, check=True, capture_output=True
    )
    with dg.DagsterInstance.from_config(str(home)) as instance:
        (run,) = instance.get_runs()
        events = [e.dagster_event for e in instance.all_logs(run.run_id) if e.dagster_event]
    assert run.status == dg.DagsterRunStatus.SUCCESS
    started = {e.step_key: e.pid for e in events if e.event_type == dg.DagsterEventType.STEP_START}
    run_pid = next(e.pid for e in events if e.event_type == dg.DagsterEventType.RUN_START)
    assert started == {"campaigns": run_pid, "grants": run_pid}
