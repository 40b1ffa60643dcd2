"""Future saves as a Dagster asset with its daily schedule."""

from datetime import UTC, datetime

import dagster as dg

from campaigns.future_saves import plan_future_saves, upcoming_campaigns
from pipelines.followups.effect import followup_frame, write_followups
from pipelines.future_saves.origins import origin_counts, write_origins
from pipelines.resources import OperationalStore, WarehouseResource
from pipelines.schedules import standing_schedule


@dg.asset(group_name="future_saves", kinds={"sqlalchemy"})
def future_saves(
    context: dg.AssetExecutionContext, operational_store: OperationalStore
) -> dg.MaterializeResult[None]:
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

future_saves_daily = standing_schedule("future_saves_daily", future_saves_job, "40 5 * * *")


@dg.asset(group_name="future_saves", kinds={"duckdb", "pandas"})
def presave_origins(
    operational_store: OperationalStore, warehouse: WarehouseResource
) -> dg.MaterializeResult[None]:
    """Pre-saves per campaign slug and service, one-time (the fan's own grant on the page) and future
    (carried over from an earlier campaign of the artist) counted apart: warehouse table
    `presave_origins` (campaign_slug, service, one_time, future); counts only, no fan key."""
    frame = origin_counts(operational_store.store())
    with warehouse.warehouse().writer() as connection:
        rows = write_origins(connection, frame)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "one_time": int(frame["one_time"].sum()),
            "future": int(frame["future"].sum()),
        }
    )


@dg.asset(group_name="future_saves", kinds={"duckdb", "pandas"})
def followup_days(
    operational_store: OperationalStore, warehouse: WarehouseResource
) -> dg.MaterializeResult[None]:
    """Each follow-up day of each campaign (the campaign file's `followups:`): its pre-saves, the
    campaign's baseline (median daily pre-saves on its other collecting days) and the ratio: warehouse
    table `followup_days` (campaign_slug, day, presaves, baseline_per_day, baseline_days, ratio)."""
    frame = followup_frame(operational_store.store(), datetime.now(UTC))
    with warehouse.warehouse().writer() as connection:
        rows = write_followups(connection, frame)
    return dg.MaterializeResult(metadata={"dagster/row_count": rows})


presave_origins_job = dg.define_asset_job("presave_origins_job", selection=[presave_origins, followup_days])

presave_origins_hourly = standing_schedule("presave_origins_hourly", presave_origins_job, "12 * * * *")
