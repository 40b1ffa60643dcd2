"""The marts as Dagster assets, each rebuilt whole from the warehouse tables, with its checks beside it."""

import dagster as dg

from pipelines.marts import (
    accumulation,
    authenticity,
    delivery,
    funnel,
    glossary,
    lift,
    operations,
    overview,
    presave_kinds,
    presaves,
    velocity,
)
from pipelines.marts.checks import checks_for, record, rules_for
from pipelines.marts.mart import Mart, rebuild
from pipelines.resources import WarehouseResource

GROUP = "marts"

MARTS: tuple[Mart, ...] = (
    *presaves.MARTS,
    *funnel.MARTS,
    *accumulation.MARTS,
    *velocity.MARTS,
    *lift.MARTS,
    *delivery.MARTS,
    *authenticity.MARTS,
    *overview.MARTS,
    *glossary.MARTS,
    *operations.MARTS,
    *presave_kinds.MARTS,
)


def mart_asset(mart: Mart) -> dg.AssetsDefinition:
    @dg.asset(
        name=mart.name, group_name=GROUP, kinds={"duckdb"}, deps=list(mart.deps), description=mart.description
    )
    def _asset(warehouse: WarehouseResource) -> dg.MaterializeResult[None]:
        with warehouse.warehouse().writer() as connection:
            rows = rebuild(connection, mart)
            record(connection, mart.name, [(rule, rule.evaluate(connection)) for rule in rules_for(mart)])
        return dg.MaterializeResult(metadata={"dagster/row_count": rows})

    return _asset


assets = [mart_asset(mart) for mart in MARTS]
_by_name = {a.key.to_user_string(): a for a in assets}
asset_checks = [check for mart in MARTS for check in checks_for(mart, _by_name[mart.name])]
