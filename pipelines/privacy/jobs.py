"""The privacy schedule: expired authorization attempts purged, tokens past retention deleted, other
tools' fan exports deleted once loaded. Each op logs counts, never a fan."""

from pathlib import Path

import dagster as dg

from campaigns.retention import retire_tokens
from collectors.landing.fans import purge_attempts
from pipelines.privacy.housekeeping import ATTEMPT_LIFETIME, delete_loaded_fan_exports
from pipelines.resources import InboxResource, OperationalStore
from pipelines.schedules import standing_schedule


class RetentionConfig(dg.Config):
    token_retention_days: int = 30


@dg.op(description="Delete authorization attempts older than a day, with the visit context they hold.")
def purge_expired_attempts(context: dg.OpExecutionContext, operational_store: OperationalStore) -> int:
    with operational_store.store().session() as session:
        purged = purge_attempts(session, ATTEMPT_LIFETIME)
    context.add_output_metadata({"attempts_deleted": purged})
    return purged


@dg.op(
    description="Delete the tokens, email and service user id of grants whose owed actions all ended "
    "more than the retention period ago; the grants stay as counts."
)
def delete_expired_tokens(
    context: dg.OpExecutionContext, config: RetentionConfig, operational_store: OperationalStore
) -> int:
    retired = retire_tokens(operational_store.store().session, config.token_retention_days)
    context.add_output_metadata({"grants_retired": retired, "retention_days": config.token_retention_days})
    return retired


@dg.op(
    description="Delete other pre-save tools' fan exports from the loaded folder (their rows stay, keyed)."
)
def delete_loaded_fan_files(context: dg.OpExecutionContext, inbox: InboxResource) -> int:
    deleted = delete_loaded_fan_exports(Path(inbox.inbox_dir).parent / "loaded")
    context.add_output_metadata({"files_deleted": deleted})
    return deleted


@dg.job(description="Privacy housekeeping: expired attempts, tokens past retention, loaded fan exports.")
def privacy_job() -> None:
    purge_expired_attempts()
    delete_expired_tokens()
    delete_loaded_fan_files()


def privacy_schedule(retention_days: int) -> dg.ScheduleDefinition:
    return standing_schedule(
        "privacy_daily",
        privacy_job,
        "23 3 * * *",
        run_config={"ops": {"delete_expired_tokens": {"config": {"token_retention_days": retention_days}}}},
    )
