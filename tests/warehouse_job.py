"""The pipeline's warehouse job run in the test's own process, as the tests that read a warehouse need it."""

from __future__ import annotations

import dagster as dg

from campaigns.settings import Settings
from pipelines.definitions import build_definitions

QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


def run_warehouse_job(settings: Settings) -> dg.ExecuteInProcessResult:
    """The warehouse job on an ephemeral instance, logging errors only; a failed step is in the result."""
    job = build_definitions(settings).resolve_job_def("warehouse_job")
    return job.execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), run_config=QUIET, raise_on_error=False
    )
