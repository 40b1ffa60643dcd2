"""Future saves as a Dagster asset with its daily schedule."""

from datetime import UTC, datetime

import dagster as dg

from campaigns.future_saves import plan_future_saves, upcoming_campaigns
from pipelines.resources import OperationalStore


@dg.asset(group_name="future_saves", kinds={"sqlalchemy"})
def future_saves(
    context: dg.AssetExecutionContext, operational_store: OperationalStore
) -> dg.MaterializeResult:
    """Grants carried over to campaigns not released yet: every fan who opted in to future saves on an
    earlier campaign of the same artist, once per fan, service and campaign (the release-day run then
    saves it through the ledger). The label's next releases are its next campaign files. Metadata:
    grants carried over by this run, per campaign slug."""
    store, now = operational_store.store(), datetime.now(UTC)
    added: dict[str, int] = {}
    with store.session() as session:
        campaigns = upcoming_campaigns(session, now)
    for campaign in campaigns:
        with store.session() as session:
            added[campaign.slug] = plan_future_saves(session, campaign, now)
    context.log.info(f"future saves carried over: {sum(added.values())}")
    return dg.MaterializeResult(
        metadata={"carried_over": sum(added.values()), "by_campaign": dg.MetadataValue.json(added)}
    )


future_saves_job = dg.define_asset_job("future_saves_job", selection=[future_saves])

future_saves_daily = dg.ScheduleDefinition(
    name="future_saves_daily",
    job=future_saves_job,
    cron_schedule="40 5 * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    execution_timezone="UTC",
)
