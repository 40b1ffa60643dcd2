"""Release day: the partitioned asset, its job and schedule; token health with its check."""

import dagster as dg

from pipelines.release.assets import (
    every_presave_servable,
    release_day_actions,
    release_day_job,
    release_day_schedule,
    spotify_token_health,
)

definitions = dg.Definitions(
    assets=[release_day_actions, spotify_token_health],
    asset_checks=[every_presave_servable],
    jobs=[release_day_job],
    schedules=[release_day_schedule],
)
