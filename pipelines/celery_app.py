"""The Celery app the release-day workers run (`celery -A pipelines.celery_app worker`) and their probes
ask (`celery -A pipelines.celery_app inspect ping`): built from the settings when Celery first asks for
`app`, never at import. Light on purpose (no Dagster definitions imported): the liveness probe imports
it on every check.

Unlike `dagster-celery worker start`, nothing is written under `$DAGSTER_HOME` (which may be read-only)
and the broker's password is never put in a file; and unlike `celery -A dagster_celery.app`, the probe
asks the workers' own broker, not dagster-celery's default (docs/operations.md)."""

from __future__ import annotations

from functools import cache
from typing import Any

from campaigns.settings import Settings, load_settings

DEFAULT_BROKER = "pyamqp://guest@127.0.0.1:5672//"
# a worker holds only the step it runs, and one that dies mid-step gives it back (the ledger makes the
# redo safe); the release job's executor (pipelines/deploy.py) has the same settings
CELERY_SETTINGS = {"task_acks_late": True, "worker_prefetch_multiplier": 1}


def release_celery_app(settings: Settings) -> Any:
    """dagster-celery's tasks and the release-day shard task (`pipelines.fanout`) on an app with the broker, backend and worker settings the release job's
    executor is configured with (`pipelines.deploy.celery_executor_config`)."""
    from dagster_celery.make_app import make_app
    from dagster_celery.tasks import create_execute_job_task, create_resume_job_task, create_task

    from pipelines.fanout import register_shard_task

    broker = settings.celery_broker_url.get_secret_value() if settings.celery_broker_url else DEFAULT_BROKER
    app = make_app({"broker": broker, "backend": settings.celery_backend_url})
    app.conf.update(CELERY_SETTINGS)
    create_task(app)
    create_execute_job_task(app)
    create_resume_job_task(app)
    register_shard_task(app)
    return app


@cache
def _app() -> Any:
    return release_celery_app(load_settings())


def __getattr__(name: str) -> Any:
    if name == "app":
        return _app()
    raise AttributeError(name)
