"""The one Dagster entry point: `dagster dev -m pipelines.definitions`.

Each domain (operational, release, exports, marts) keeps its own `definitions`; this module merges them
and binds the resources built from the settings.
"""

from __future__ import annotations

import dagster as dg

from campaigns.settings import Settings, load_settings
from pipelines.deploy import release_definitions
from pipelines.exports.definitions import definitions as exports
from pipelines.future_saves.definitions import definitions as future_saves
from pipelines.marts.definitions import definitions as marts
from pipelines.messages.definitions import definitions as messages
from pipelines.messages.resources import smtp_resource
from pipelines.operational.definitions import definitions as operational
from pipelines.privacy.definitions import definitions as privacy
from pipelines.resources import resources_from_settings
from pipelines.schedules import standing_schedule
from pipelines.snapshots.definitions import definitions as snapshots

warehouse_job = dg.define_asset_job(
    "warehouse_job",
    selection=dg.AssetSelection.groups("operational", "exports", "marts"),
    executor_def=dg.in_process_executor,  # DuckDB admits one writer: a process per step only costs
    description="Copy the operational store, load the inbox and rebuild the marts (the artist "
    "snapshots run on their own daily schedule).",
)

warehouse_schedule = standing_schedule("warehouse_hourly", warehouse_job, "7 * * * *")

DOMAINS = (
    operational,
    exports,
    snapshots,
    marts,
    messages,
    future_saves,
)  # release day: on the configured executor


def build_definitions(settings: Settings) -> dg.Definitions:
    return dg.Definitions.merge(
        *DOMAINS,
        release_definitions(settings),
        privacy(settings),
        dg.Definitions(
            jobs=[warehouse_job],
            schedules=[warehouse_schedule],
            resources={**resources_from_settings(settings), "smtp": smtp_resource(settings)},
            executor=dg.in_process_executor,  # every job that names no executor (the inbox sensor's too)
        ),
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions(load_settings())
