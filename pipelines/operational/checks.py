"""Reconciliation of the warehouse's operational copies with the store they came from.

- Grants: the warehouse holds as many grants per campaign and service as the store.
- The ledger: as many owed actions per campaign, kind and outcome as the store; every outcome one of
  the five known; planned actions = grants × owed kinds, for the kinds every grant owes once its
  campaign owes them (`save_release` for each active grant of a service the plan covers, `follow_artist`
  for each grant of a service whose grants follow the artist); and no action without its grant.
Messages name campaigns, services and counts, never a fan.
"""

from collections.abc import Mapping
from typing import Any

import dagster as dg

from campaigns.models import ActionKind, Outcome
from pipelines.marts.checks import Finding, Rule, check_result, record
from pipelines.operational import extract
from pipelines.resources import OperationalStore, WarehouseResource

KNOWN_OUTCOMES = tuple(o.value for o in Outcome)
SHOWN = 10

# Kinds owed by every grant of a campaign and service once one grant owes them, and which grants.
OWED_BY_EVERY_GRANT = {
    ActionKind.SAVE_RELEASE.value: "g.status = 'active'",
    ActionKind.FOLLOW_ARTIST.value: "true",
}


def _warehouse_counts(warehouse: WarehouseResource, sql: str) -> dict[tuple[Any, ...], int]:
    """The counts a `SELECT key..., count(*)` gives, by key."""
    with warehouse.warehouse().reader() as connection:
        return {tuple(key): n for *key, n in connection.execute(sql).fetchall()}


def _differences(warehouse: Mapping[tuple[Any, ...], int], store: Mapping[tuple[Any, ...], int]) -> list[str]:
    keys = sorted(set(warehouse) | set(store))
    return [
        f"{'/'.join(map(str, key))}: warehouse {warehouse.get(key, 0)}, store {store.get(key, 0)}"
        for key in keys
        if warehouse.get(key, 0) != store.get(key, 0)
    ]


def _recorded(
    warehouse: WarehouseResource,
    asset: str,
    check: str,
    description: str,
    problems: list[str],
    **metadata: object,
) -> dg.AssetCheckResult:
    """The check's result, also written to `mart_checks` (campaigns: the first part of each problem)."""
    finding = Finding(
        not problems,
        "; ".join(problems[:SHOWN]) + (" …" if len(problems) > SHOWN else ""),
        tuple(sorted({problem.split("/")[0] for problem in problems})),
        {**metadata, "first": "\n".join(problems[:SHOWN]) or "none"},
    )
    with warehouse.warehouse().writer() as connection:
        record(connection, asset, [(Rule(asset, check, description, lambda _: finding), finding)])
    return check_result(finding)


GRANTS_DESCRIPTION = "The warehouse holds the store's grants, per campaign and service."


@dg.asset_check(asset="grants", description=GRANTS_DESCRIPTION)
def grants_match_the_store(
    operational_store: OperationalStore, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    differences = _differences(
        _warehouse_counts(warehouse, "SELECT campaign_slug, service, count(*) FROM grants GROUP BY ALL"),
        extract.grant_counts(operational_store.store()),
    )
    return _recorded(
        warehouse,
        "grants",
        "grants_match_the_store",
        GRANTS_DESCRIPTION,
        differences,
        differences=len(differences),
    )


MISSING_ACTIONS = """
WITH owing AS (
    SELECT DISTINCT campaign_slug, service, kind FROM owed_actions WHERE kind = ?
)
SELECT o.campaign_slug, o.service, count(*) AS missing
FROM owing o
JOIN grants g ON g.campaign_slug = o.campaign_slug AND g.service = o.service
WHERE {grants} AND NOT EXISTS (
    SELECT 1 FROM owed_actions a
    WHERE a.campaign_slug = g.campaign_slug AND a.service = g.service AND a.fan_key = g.fan_key
      AND a.kind = o.kind
)
GROUP BY ALL
"""

ORPHANS = """
SELECT a.campaign_slug, a.kind, count(*) FROM owed_actions a
WHERE NOT EXISTS (
    SELECT 1 FROM grants g
    WHERE g.campaign_slug = a.campaign_slug AND g.service = a.service AND g.fan_key = a.fan_key
)
GROUP BY ALL
"""


ACTIONS_DESCRIPTION = (
    "Planned actions = grants × owed kinds; outcomes are known and match the store's ledger."
)


@dg.asset_check(asset="owed_actions", description=ACTIONS_DESCRIPTION)
def owed_actions_reconcile(
    operational_store: OperationalStore, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    with warehouse.warehouse().reader() as connection:
        counts = connection.execute(
            "SELECT campaign_slug, kind, outcome, count(*) FROM owed_actions GROUP BY ALL"
        ).fetchall()
        unknown = [f"{s}/{k}: outcome {o!r} ({n})" for s, k, o, n in counts if o not in KNOWN_OUTCOMES]
        missing = [
            f"{slug}/{service}: {count} grant(s) without a {kind} action"
            for kind, grants in OWED_BY_EVERY_GRANT.items()
            for slug, service, count in connection.execute(
                MISSING_ACTIONS.format(grants=grants), [kind]
            ).fetchall()
        ]
        orphans = [
            f"{s}/{k}: {n} action(s) without a grant" for s, k, n in connection.execute(ORPHANS).fetchall()
        ]
    differences = _differences(
        {(s, k, o): n for s, k, o, n in counts}, extract.action_counts(operational_store.store())
    )
    problems = unknown + missing + orphans + differences
    planned = sum(n for *_, n in counts)
    return _recorded(
        warehouse,
        "owed_actions",
        "owed_actions_reconcile",
        ACTIONS_DESCRIPTION,
        problems,
        planned=planned,
        outcomes_sum=sum(n for _, _, o, n in counts if o in KNOWN_OUTCOMES),
        unknown_outcomes=len(unknown),
        grants_missing_an_action=len(missing),
        actions_without_a_grant=len(orphans),
        differences_from_store=len(differences),
    )


checks = [grants_match_the_store, owed_actions_reconcile]
