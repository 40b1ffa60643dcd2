"""Where release-day steps execute: in subprocesses of the run (the default), on Celery workers, or in
Kubernetes jobs, chosen by `PRESAVE_DAGSTER_EXECUTOR` (docs/operations.md).

Only the release-day job changes executor: its one step per campaign partition is self-contained (the
store, the vault and the services are reached from wherever it runs), so a step can run on any worker
host. Every other job runs in the run's own process (`pipelines/definitions.py`), since DuckDB has one
writer on one file.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from campaigns.settings import Settings, load_settings
from pipelines.celery_app import CELERY_SETTINGS, DEFAULT_BROKER
from pipelines.release.assets import release_day_actions, release_day_job, release_day_schedule
from pipelines.release.definitions import definitions as release


def celery_executor_config(settings: Settings) -> dict[str, Any]:
    """The `execution.config` block the release job runs with; the workers' app is built from the same
    settings (`pipelines.celery_app.release_celery_app`). The broker URL may hold a password, so it is read from the
    environment where it is set, never written into the definitions."""
    broker: Any = {"env": "PRESAVE_CELERY_BROKER_URL"} if settings.celery_broker_url else DEFAULT_BROKER
    return {"broker": broker, "backend": settings.celery_backend_url, "config_source": dict(CELERY_SETTINGS)}


def release_executor(settings: Settings) -> dg.ExecutorDefinition | None:
    """The executor for release-day steps; None keeps the job's own (subprocesses of the run)."""
    if settings.dagster_executor == "celery":
        from dagster_celery import celery_executor

        return celery_executor.configured(celery_executor_config(settings), name="celery")
    if settings.dagster_executor == "k8s":
        from dagster_k8s import k8s_job_executor

        return k8s_job_executor
    return None


def release_run_config(settings: Settings) -> dict[str, Any] | None:
    """On Celery, a campaign's shards go to the release workers too (`pipelines.fanout`): one large
    campaign is spread over the workers instead of one worker's processes."""
    if settings.dagster_executor != "celery":
        return None
    return {"ops": {release_day_actions.op.name: {"config": {"fan_out": "celery"}}}}


def release_definitions(settings: Settings) -> dg.Definitions:
    """The release domain, its job (and the schedule that targets it) on the configured executor."""
    executor = release_executor(settings)
    if executor is None:
        return release
    job = dg.define_asset_job(
        release_day_job.name,
        selection=[release_day_actions],
        executor_def=executor,
        description=f"Release-day actions, one step per campaign, on the {settings.dagster_executor} executor.",
        config=release_run_config(settings),
    )
    return dg.Definitions(
        assets=list(release.assets or []),
        asset_checks=list(release.asset_checks or []),
        jobs=[job],
        schedules=[release_day_schedule.with_updated_job(job)],
    )


def release_day_job_from_environment() -> dg.JobDefinition:
    """The release-day job as the environment configures it: a reconstructable target for
    `dg.reconstructable`, which Celery workers and Kubernetes jobs load by module and name."""
    from pipelines.definitions import build_definitions

    return build_definitions(load_settings()).resolve_job_def(release_day_job.name)
