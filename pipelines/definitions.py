"""The one Dagster entry point: `dagster dev -m pipelines.definitions`."""

from __future__ import annotations

import dagster as dg

from campaigns.settings import Settings, load_settings
from pipelines.exports.assets import s4a_audience_timeline
from pipelines.marts import assets as marts
from pipelines.operational import assets as operational
from pipelines.release.assets import release_day_actions, release_day_job, release_day_schedule
from pipelines.resources import resources_from_settings

warehouse_job = dg.define_asset_job(
    "warehouse_job",
    selection=dg.AssetSelection.groups("operational", "exports", "marts"),
    description="Copy the operational store, load the inbox and rebuild the marts.",
)

warehouse_schedule = dg.ScheduleDefinition(
    name="warehouse_hourly",
    job=warehouse_job,
    cron_schedule="7 * * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    execution_timezone="UTC",
)


def build_definitions(settings: Settings) -> dg.Definitions:
    return dg.Definitions(
        assets=[*operational.assets, release_day_actions, s4a_audience_timeline, *marts.assets],
        asset_checks=marts.asset_checks,
        jobs=[release_day_job, warehouse_job],
        schedules=[release_day_schedule, warehouse_schedule],
        resources=resources_from_settings(settings),
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions(load_settings())
