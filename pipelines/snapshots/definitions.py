"""API snapshots of artist statistics, on a daily schedule."""

import dagster as dg

from pipelines.snapshots.assets import artist_snapshots, artist_snapshots_daily, artist_snapshots_job

definitions = dg.Definitions(
    assets=[artist_snapshots], jobs=[artist_snapshots_job], schedules=[artist_snapshots_daily]
)
