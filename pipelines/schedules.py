"""The house rule for schedules: each one is on from the moment the code location loads (nothing to switch
on in the UI) and reads its cron times in UTC."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dagster as dg

# an asset job (dagster does not export its class) or an op job
Job = Any


def standing_schedule(name: str, job: Job, cron_schedule: str, **options: Any) -> dg.ScheduleDefinition:
    """A schedule that runs `job` at `cron_schedule` (UTC); `options` as dg.ScheduleDefinition takes them."""
    return dg.ScheduleDefinition(
        name=name,
        job=job,
        cron_schedule=cron_schedule,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        execution_timezone="UTC",
        **options,
    )


def standing_schedule_of(
    job: Job, cron_schedule: str
) -> Callable[[Callable[..., Any]], dg.ScheduleDefinition]:
    """The decorator form, for a schedule that decides at each tick what to request."""
    return dg.schedule(
        cron_schedule=cron_schedule,
        job=job,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        execution_timezone="UTC",
    )
