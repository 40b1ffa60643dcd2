"""Operational-store copies into the warehouse."""

import dagster as dg

from pipelines.operational import assets

definitions = dg.Definitions(assets=assets.assets)
