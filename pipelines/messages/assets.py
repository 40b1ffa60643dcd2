"""Fan messages as a Dagster asset with its schedule."""

from datetime import UTC, datetime
from typing import Any

import dagster as dg

from campaigns import message_ledger
from pipelines.messages.plan import campaigns_to_message
from pipelines.messages.reminders import resolve_links
from pipelines.messages.resources import SmtpResource
from pipelines.messages.send import SendReport, plan_messages, send_due
from pipelines.resources import AppleResource, DeezerResource, OperationalStore, SpotifyResource, service_apps
from pipelines.schedules import standing_schedule_of


@dg.asset(group_name="messages", kinds={"smtp", "sqlalchemy"})
def fan_messages(
    context: dg.AssetExecutionContext,
    operational_store: OperationalStore,
    smtp: SmtpResource,
    spotify: SpotifyResource,
    apple: AppleResource,
    deezer: DeezerResource,
) -> dg.MaterializeResult[None]:
    """The message ledger of recent campaigns: one release-day message planned per consenting fan
    (one per address), sent at the fan's release moment once the release is live on their service; one
    re-ask per consenting fan whose Spotify grant will be older than six months at release, a month
    before it (not sent if the fan granted again meanwhile); one reminder per reminder pre-save at the fan's
    release moment, with a tracked link to the release on their service (sent once the link is known). Metadata: this run's SMTP answers, and the ledger by campaign, kind and outcome (no address)."""
    if not smtp.enabled:
        return dg.MaterializeResult(metadata={"sent": "no SMTP server configured (PRESAVE_SMTP_URL)"})
    store, vault = operational_store.store(), operational_store.vault()
    report = SendReport(planned=plan_messages(store, vault, datetime.now(UTC)))
    resolve_links(store, service_apps(spotify, apple, deezer), datetime.now(UTC))  # reminders' links
    with smtp.mailer() as mailer:
        send_due(store, vault, mailer, sender=smtp.sender, links=smtp.links(), report=report)
    context.log.info(f"{report.planned} messages planned; answers {report.outcomes or 'none'}")
    return dg.MaterializeResult(metadata=_metadata(operational_store, report))


def _metadata(operational_store: OperationalStore, report: SendReport) -> dict[str, Any]:
    ledger: dict[str, Any] = {}
    with operational_store.store().session() as session:
        for campaign in campaigns_to_message(session, datetime.now(UTC)):
            ledger[campaign.slug] = message_ledger.outcome_counts(session, campaign.id)
    return {
        "planned": report.planned,
        **{f"answer/{name}": count for name, count in report.outcomes.items()},
        "stopped": report.stopped or "no",
        "ledger": dg.MetadataValue.json(ledger),
    }


messages_job = dg.define_asset_job("messages_job", selection=[fan_messages])


@standing_schedule_of(messages_job, "*/5 * * * *")
def messages_schedule(
    context: dg.ScheduleEvaluationContext, smtp: SmtpResource
) -> dg.SkipReason | dg.RunRequest:
    """Every five minutes while an SMTP server is configured: plan and send the messages due."""
    if not smtp.enabled:
        return dg.SkipReason("no SMTP server configured (PRESAVE_SMTP_URL)")
    tick = (context.scheduled_execution_time or datetime.now(UTC)).strftime("%Y%m%dT%H%M")
    return dg.RunRequest(run_key=f"messages@{tick}")
