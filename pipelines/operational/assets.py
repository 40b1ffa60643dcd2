"""Operational-store tables copied into the warehouse, fans pseudonymised."""

from collections.abc import Callable, Iterator

import dagster as dg
import pandas as pd

from pipelines.operational import extract
from pipelines.resources import OperationalStore, WarehouseResource

GROUP = "operational"


def _copy(
    warehouse: WarehouseResource, table: str, frames: Iterator[pd.DataFrame]
) -> dg.MaterializeResult[None]:
    store = warehouse.warehouse()
    with store.writer() as connection:
        rows = store.replace_rows(connection, table, frames)
    return dg.MaterializeResult(metadata={"dagster/row_count": rows, "table": table})


def _table_asset(
    name: str, description: str, frames: Callable[[OperationalStore], Iterator[pd.DataFrame]]
) -> dg.AssetsDefinition:
    @dg.asset(name=name, group_name=GROUP, kinds={"duckdb", "sqlalchemy"}, description=description)
    def _asset(
        operational_store: OperationalStore, warehouse: WarehouseResource
    ) -> dg.MaterializeResult[None]:
        return _copy(warehouse, name, frames(operational_store))

    return _asset


campaigns = _table_asset(
    "campaigns",
    "Every campaign: slug, artist, title, UPC, release moment (UTC), time zone, release mode, services offered.",
    lambda op: extract.campaign_frames(op.store()),
)
landing_events = _table_asset(
    "landing_events",
    "Every landing-page event (visit, authorize start, grant, denial, error) with its UTM tags, referrer "
    "domain, device class, in-app browser and country; visitors and fans under keyed hashes, IPs as "
    "daily-salted hashes.",
    lambda op: extract.landing_event_frames(op.store(), op.vault()),
)
grants = _table_asset(
    "grants",
    "One row per fan grant (campaign, service, fan key): when it was given, its status and country. "
    "No token and no raw service user id.",
    lambda op: extract.grant_frames(op.store()),
)
owed_actions = _table_asset(
    "owed_actions",
    "The release-day ledger: every owed action per fan key with its outcome, attempts and completion time.",
    lambda op: extract.owed_action_frames(op.store()),
)

reminders = _table_asset(
    "reminders",
    "One row per reminder pre-save (campaign, service, fan key): when the fan signed up and why a reminder "
    "(link-only service, no app, Spotify's development-mode cap). No email address.",
    lambda op: extract.reminder_frames(op.store()),
)

assets = [campaigns, landing_events, grants, owed_actions, reminders]
