"""Release day: the partitioned asset, its job and its schedule."""

import dagster as dg

from pipelines.release.assets import release_day_actions, release_day_job, release_day_schedule

definitions = dg.Definitions(
    assets=[release_day_actions], jobs=[release_day_job], schedules=[release_day_schedule]
)
