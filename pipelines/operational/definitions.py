"""Operational-store copies into the warehouse, and their reconciliation with the store."""

import dagster as dg

from pipelines.operational import assets, checks

definitions = dg.Definitions(assets=assets.assets, asset_checks=checks.checks)
