"""Privacy: the daily housekeeping job and its schedule (retention from the settings)."""

import dagster as dg

from campaigns.settings import Settings
from pipelines.privacy.jobs import privacy_job, privacy_schedule


def definitions(settings: Settings) -> dg.Definitions:
    return dg.Definitions(jobs=[privacy_job], schedules=[privacy_schedule(settings.token_retention_days)])
