"""Artist followers and popularity a development-mode Spotify app cannot see (reference H) stay unavailable
through the marts: NULL with their status, never 0, and still listed on the pitch page's table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from dashboards import queries
from pipelines.warehouse import Warehouse
from tests.pipelines.marts_fixtures import build, put, query


def test_followers_a_development_mode_app_cannot_see_read_not_available_never_zero(tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    release = datetime.now(UTC).date() + timedelta(days=7)
    put(
        warehouse,
        "campaign_releases",
        [
            {
                "campaign_slug": "midnight-drive",
                "artist": "Nova Lane",
                "title": "Midnight Drive",
                "origin": "native",
                "release_at": pd.Timestamp(release, tz="UTC"),
                "release_date": release,
                "first_stream_date": release,
                "timezone": "UTC",
                "spotify_artist_id": "sp1",
                "deezer_artist_id": "dz1",
            }
        ],
    )
    day = release - timedelta(days=10)
    put(
        warehouse,
        "artist_snapshots",
        [
            {
                "service": "spotify",
                "artist_id": "sp1",
                "snapshot_date": day,
                "followers": None,  # the development-mode app's answer lacked the field
                "popularity": None,
                "followers_status": "not available",
                "popularity_status": "not available",
                "fetched_at": pd.Timestamp(day, tz="UTC"),
            },
            {
                "service": "deezer",
                "artist_id": "dz1",
                "snapshot_date": day,
                "followers": 230,
                "popularity": None,
                "followers_status": "available",
                "popularity_status": "not available",
                "fetched_at": pd.Timestamp(day, tz="UTC"),
            },
        ],
    )
    build(warehouse, "campaign_followers")
    assert query(
        warehouse,
        "SELECT service, followers, popularity, followers_status FROM campaign_followers ORDER BY service",
    ) == [("deezer", 230, None, "available"), ("spotify", None, None, "not available")]
    with warehouse.reader() as connection:
        latest = connection.execute(queries.LATEST_FOLLOWERS, ["midnight-drive"]).fetchall()
    assert [(row[0], row[2], row[4]) for row in latest] == [
        ("deezer", 230, None),
        ("spotify", None, "followers not available"),
    ]
