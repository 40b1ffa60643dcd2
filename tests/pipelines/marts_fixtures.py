"""Small warehouses written row by row, and marts built over them, for the mart tests."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from pipelines.marts.assets import MARTS
from pipelines.marts.mart import rebuild
from pipelines.warehouse import Warehouse

SOURCE = {"source_file": "test.csv", "source_hash": "test"}
EXPORT_TABLES = {
    "s4a_audience_timeline",
    "s4a_songs",
    "s4a_song_timeline",
    "amfa_songs",
    "amfa_daily_plays",
    "amfa_listeners",
    "distrokid_bank",
    "presave_fans",
}


def put(warehouse: Warehouse, table: str, rows: Iterable[Mapping[str, Any]]) -> None:
    """Replace a table's rows (export tables get a placeholder source file)."""
    extra = SOURCE if table in EXPORT_TABLES else {}
    frame = pd.DataFrame([{**extra, **row} for row in rows])
    with warehouse.writer() as connection:
        warehouse.replace_rows(connection, table, [frame])


def build(warehouse: Warehouse, *names: str) -> None:
    """Build the named marts, in the order given, as their assets do."""
    by_name = {mart.name: mart for mart in MARTS}
    with warehouse.writer() as connection:
        for name in names:
            rebuild(connection, by_name[name])


def query(warehouse: Warehouse, sql: str) -> list[tuple]:
    with warehouse.reader() as connection:
        return connection.execute(sql).fetchall()


def table(warehouse: Warehouse, sql: str) -> pd.DataFrame:
    with warehouse.reader() as connection:
        return connection.execute(sql).df()


def campaign(
    slug: str, release_at: str, *, timezone: str = "UTC", artist: str = "Nova Lane", title: str | None = None
) -> dict:
    return {
        "slug": slug,
        "artist": artist,
        "title": title or slug.replace("-", " ").title(),
        "upc": None,
        "release_at": pd.Timestamp(release_at, tz="UTC"),
        "timezone": timezone,
        "release_mode": "global",
        "services": ["spotify", "apple", "deezer"],
        "spotify_artist_id": "4Z8W4fKeB5YxbusRsdQVPb",
        "deezer_artist_id": None,
    }
