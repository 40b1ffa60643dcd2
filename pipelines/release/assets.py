"""Release day as a Dagster asset, partitioned by campaign, and the schedule that launches it."""

from datetime import UTC, datetime

import dagster as dg

from executor.release import campaigns_with_work_due, run_release
from pipelines.resources import OperationalStore, SpotifyResource

campaign_partitions = dg.DynamicPartitionsDefinition(name="campaign")


@dg.asset(partitions_def=campaign_partitions, group_name="release_day", kinds={"spotify", "sqlalchemy"})
def release_day_actions(
    context: dg.AssetExecutionContext, operational_store: OperationalStore, spotify: SpotifyResource
) -> dg.MaterializeResult:
    """One campaign's release-day library actions: every fan's owed saves planned in the ledger, then
    performed on the service once the release is live. Metadata counts the owed actions by outcome."""
    report = run_release(
        operational_store.store(),
        operational_store.vault(),
        spotify.app(),
        context.partition_key,
        progress=lambda done, total: context.log.info(f"{done}/{total} actions") if done % 100 == 0 else None,
    )
    context.log.info(f"{context.partition_key}: {report.performed} performed, outcomes {report.outcomes}")
    if report.undone:
        raise dg.Failure(f"{report.undone} owed actions failed after retries", metadata=report.outcomes)
    return dg.MaterializeResult(
        metadata={
            "album": report.album_uri or "not live yet",
            "performed": report.performed,
            **{f"outcome/{name}": count for name, count in report.outcomes.items()},
        }
    )


release_day_job = dg.define_asset_job("release_day_job", selection=[release_day_actions])


@dg.schedule(
    cron_schedule="* * * * *",
    job=release_day_job,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    execution_timezone="UTC",
)
def release_day_schedule(context: dg.ScheduleEvaluationContext, operational_store: OperationalStore):
    """Every minute: a run for each campaign whose release moment has passed and that still owes fans."""
    now = context.scheduled_execution_time or datetime.now(UTC)
    with operational_store.store().session() as session:
        due = campaigns_with_work_due(session, now)
    if not due:
        return dg.SkipReason("no campaign has release-day work due")
    known = set(context.instance.get_dynamic_partitions(campaign_partitions.name))
    missing = [slug for slug in due if slug not in known]
    if missing:
        context.instance.add_dynamic_partitions(campaign_partitions.name, missing)
    tick = now.strftime("%Y%m%dT%H%M")
    return [
        dg.RunRequest(partition_key=slug, run_key=f"{slug}@{tick}")
        for slug in due
        if not _run_in_progress(context.instance, slug)
    ]


def _run_in_progress(instance: dg.DagsterInstance, slug: str) -> bool:
    active = instance.get_runs(
        filters=dg.RunsFilter(
            job_name=release_day_job.name,
            tags={"dagster/partition": slug},
            statuses=[dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED],
        ),
        limit=1,
    )
    return bool(active)
