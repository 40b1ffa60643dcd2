"""Future saves: the asset, its job and daily schedule."""

import dagster as dg

from pipelines.future_saves.assets import future_saves, future_saves_daily, future_saves_job

definitions = dg.Definitions(assets=[future_saves], jobs=[future_saves_job], schedules=[future_saves_daily])
