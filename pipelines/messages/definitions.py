"""Fan messages: the asset, its job and schedule."""

import dagster as dg

from pipelines.messages.assets import fan_messages, messages_job, messages_schedule

definitions = dg.Definitions(assets=[fan_messages], jobs=[messages_job], schedules=[messages_schedule])
