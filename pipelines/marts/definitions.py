"""Marts and their checks."""

import dagster as dg

from pipelines.marts import assets

definitions = dg.Definitions(assets=assets.assets, asset_checks=assets.asset_checks)
