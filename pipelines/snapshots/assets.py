"""Daily snapshots of the artists' follower counts and popularity, from the services' APIs."""

from dataclasses import asdict
from datetime import UTC, datetime

import dagster as dg
import pandas as pd
from sqlalchemy import select

from campaigns.models import Campaign
from campaigns.registry import campaign_spec
from collectors.snapshots import AVAILABLE, NOT_AVAILABLE, AppRefused, snapshot
from pipelines.resources import ArtistStatsResource, OperationalStore, WarehouseResource
from pipelines.schedules import standing_schedule
from pipelines.warehouse import replace

GROUP = "snapshots"
COLUMNS = (
    "service",
    "artist_id",
    "artist_name",
    "followers",
    "popularity",
    "followers_status",
    "popularity_status",
    "fetched_at",
    "snapshot_date",
)


def campaign_artists(operational_store: OperationalStore) -> dict[str, list[str]]:
    """Artist ids per service, from every campaign's file (Spotify artist URI, Deezer artist id)."""
    found: dict[str, set[str]] = {"spotify": set(), "deezer": set()}
    with operational_store.store().session() as session:
        for campaign in session.scalars(select(Campaign)):
            services = campaign_spec(campaign).services
            if services.spotify:
                found["spotify"].add(services.spotify.artist.rsplit(":", 1)[-1])
            if services.deezer and services.deezer.artist_id:
                found["deezer"].add(services.deezer.artist_id)
    return {service: sorted(ids) for service, ids in found.items()}


@dg.asset(group_name=GROUP, kinds={"duckdb", "api"})
def artist_snapshots(
    context: dg.AssetExecutionContext,
    artist_stats: ArtistStatsResource,
    operational_store: OperationalStore,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult[None]:
    """Each campaign artist's followers and popularity (Spotify, app token) and fans (Deezer), one row
    per service, artist and UTC day; a second run on the same day replaces that day's row. A figure the
    app cannot see (Spotify development-mode apps lose followers and popularity) reads "not available"."""
    artists = campaign_artists(operational_store)
    today = datetime.now(UTC).date()
    rows: list[dict[str, object]] = []
    for source in artist_stats.sources():
        try:
            found = snapshot(source, artists.get(source.name, []))
        except AppRefused as exc:
            raise dg.Failure(str(exc)) from None
        rows.extend({**asdict(stats), "snapshot_date": today} for stats in found)
    frame = pd.DataFrame(rows, columns=COLUMNS)
    problems = frame[~frame["followers_status"].isin([AVAILABLE, NOT_AVAILABLE])]
    for row in problems.itertuples():
        context.log.warning(f"{row.service} artist {row.artist_id}: {row.followers_status}")
    store = warehouse.warehouse()
    with store.writer() as connection:
        replace(connection, "artist_snapshots", [frame], where="snapshot_date = ?", params=[today])
        total = connection.execute("SELECT count(*) FROM artist_snapshots").fetchone()[0]  # type: ignore[index]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": total,
            "artists_today": len(frame),
            "followers_not_available": int((frame["followers_status"] == NOT_AVAILABLE).sum()),
            "errors": len(problems),
        }
    )


artist_snapshots_job = dg.define_asset_job(
    "artist_snapshots_job", selection=[artist_snapshots], description="Read the artists' statistics."
)

artist_snapshots_daily = standing_schedule("artist_snapshots_daily", artist_snapshots_job, "15 6 * * *")
