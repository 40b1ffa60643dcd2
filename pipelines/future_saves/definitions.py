"""Future saves: the asset, its job and daily schedule."""

import dagster as dg

from pipelines.future_saves.assets import (
    followup_days,
    future_saves,
    future_saves_daily,
    future_saves_job,
    presave_origins,
    presave_origins_hourly,
    presave_origins_job,
)

definitions = dg.Definitions(
    assets=[future_saves, presave_origins, followup_days],
    jobs=[future_saves_job, presave_origins_job],
    schedules=[future_saves_daily, presave_origins_hourly],
)
