"""Release day as a Dagster asset partitioned by campaign, its schedule, and token health before release."""

from datetime import UTC, datetime, timedelta
from typing import Literal

import dagster as dg
import pandas as pd

from campaigns.rules import SERVICES
from executor.entry import run_release_day
from executor.health import unservable_spotify_grants
from executor.release import ReleaseOptions, campaigns_with_work_due
from pipelines.fanout import shard_launcher
from pipelines.resources import (
    AppleResource,
    DeezerResource,
    OperationalStore,
    SpotifyResource,
    configured_services,
    pseudonym_secret,
    service_apps,
    vault_keys,
)
from pipelines.schedules import standing_schedule_of

CAMPAIGN_PARTITIONS = "campaign"
campaign_partitions = dg.DynamicPartitionsDefinition(name=CAMPAIGN_PARTITIONS)


class ReleaseDayConfig(dg.Config):
    shards: int = 0  # worker processes; 0 picks by the work due (one in-process worker for small runs)
    threads: int = 16  # per worker process
    wait_for_release_s: float = 120.0  # keep looking up a not-yet-live release this long (with backoff)
    time_limit_s: float = 3000.0  # stop claiming new work after this; the next scheduled run resumes
    # where shards run: processes beside the step, or tasks on the release workers' `presave-shards` queue
    # (the default when PRESAVE_DAGSTER_EXECUTOR=celery, pipelines/deploy.py)
    fan_out: Literal["processes", "celery"] = "processes"


@dg.asset(
    partitions_def=campaign_partitions,
    group_name="release_day",
    kinds={*SERVICES, "sqlalchemy"},
)
def release_day_actions(
    context: dg.AssetExecutionContext,
    config: ReleaseDayConfig,
    operational_store: OperationalStore,
    spotify: SpotifyResource,
    apple: AppleResource,
    deezer: DeezerResource,
) -> dg.MaterializeResult[None]:
    """One campaign's release-day library actions: every fan's owed actions planned in the ledger, the
    release resolved on each service, then the due actions performed by shard workers in parallel
    processes (or Celery workers, `fan_out`). Metadata counts the ledger by outcome and gives the release-to-library latency."""
    store = operational_store.store()
    apps = service_apps(spotify, apple, deezer)
    last_logged = [0]

    def progress(done: int, total: int) -> None:
        if done - last_logged[0] >= 1000 or done == total:
            last_logged[0] = done
            context.log.info(f"{done}/{total} owed actions done")

    try:
        report = run_release_day(
            store,
            vault_keys(operational_store),
            apps,
            context.partition_key,
            options=ReleaseOptions(
                shards=config.shards,
                threads=config.threads,
                wait_for_release=timedelta(seconds=config.wait_for_release_s),
                time_limit=timedelta(seconds=config.time_limit_s),
            ),
            progress=progress,
            pacing_url=spotify.pacing_url or None,
            pseudonym_secret=pseudonym_secret(operational_store),
            launcher=shard_launcher(config.fan_out),
        )
    finally:
        for app in apps.values():
            app.close()
    context.log.info(
        f"{context.partition_key}: {report.planned} planned, {report.performed} performed, "
        f"outcomes {report.outcomes}, waiting {report.waiting or 'for nothing'}"
    )
    metadata: dict[str, dg.RawMetadataValue] = {
        "planned": report.planned,
        "performed": report.performed,
        "calls": report.calls,
        **{f"outcome/{name}": count for name, count in report.outcomes.items()},
        **{f"release/{service}": found or "not live yet" for service, found in report.releases.items()},
        **{f"waiting/{service}": why for service, why in report.waiting.items()},
        **{f"latency_s/{name}": round(value, 3) for name, value in report.latency_s.items()},
        # a spent quota: the service's actions stay queued until then (the schedule runs them after)
        **{f"paused_until/{service}": until.isoformat() for service, until in report.paused_until.items()},
        # the app's shared pacing could not be read: its actions stay queued, due again shortly
        **{f"pacing_away/{service}": why for service, why in report.pacing_away.items()},
    }
    if report.paused_until:
        context.log.info(
            "told to wait (quota spent or a long Retry-After), actions left queued until "
            + ", ".join(f"{s} {u.isoformat()}" for s, u in report.paused_until.items())
        )
    if report.undone:
        raise dg.Failure(f"{report.undone} owed actions are left undone", metadata=metadata)
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(group_name="release_day", kinds={"sqlalchemy", "pandas"})
def spotify_token_health(operational_store: OperationalStore) -> dg.Output[pd.DataFrame]:
    """Spotify grants whose refresh token will be more than six months old at the fan's release moment
    (they cannot be served): campaign slug, grant id, fan key, granted at, release moment, when the
    refresh token dies, its age in days at release. Campaigns releasing from three days ago on."""
    frame = unservable_spotify_grants(operational_store.store())
    per_campaign = frame.groupby("campaign_slug").size().to_dict() if len(frame) else {}
    return dg.Output(
        frame,
        metadata={
            "dagster/row_count": len(frame),
            "unservable_by_campaign": dg.MetadataValue.json(
                {str(k): int(v) for k, v in per_campaign.items()}
            ),
        },
    )


@dg.asset_check(asset=spotify_token_health, description="Every Spotify pre-save can still be served.")
def every_presave_servable(spotify_token_health: pd.DataFrame) -> dg.AssetCheckResult:
    count = len(spotify_token_health)
    return dg.AssetCheckResult(
        passed=count == 0,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{count} grants' refresh tokens will be dead at release: ask those fans to pre-save again",
        metadata={"unservable": count},
    )


release_day_job = dg.define_asset_job(
    "release_day_job", selection=[release_day_actions], executor_def=dg.multiprocess_executor
)


@standing_schedule_of(release_day_job, "* * * * *")
def release_day_schedule(
    context: dg.ScheduleEvaluationContext,
    operational_store: OperationalStore,
    spotify: SpotifyResource,
    apple: AppleResource,
    deezer: DeezerResource,
) -> dg.SkipReason | list[dg.RunRequest]:
    """Every minute: a run for each campaign with owed actions due on a service configured here (release
    moments, fans' local midnights, retries) or new grants to plan after its release moment."""
    now = context.scheduled_execution_time or datetime.now(UTC)
    configured = configured_services(spotify, apple, deezer)
    with operational_store.store().session() as session:
        due = campaigns_with_work_due(session, now, configured)
    if not due:
        return dg.SkipReason(
            f"no campaign has release-day work due on the services configured here ({', '.join(configured) or 'none'})"
        )
    known = set(context.instance.get_dynamic_partitions(CAMPAIGN_PARTITIONS))
    missing = [slug for slug in due if slug not in known]
    if missing:
        context.instance.add_dynamic_partitions(CAMPAIGN_PARTITIONS, missing)
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
