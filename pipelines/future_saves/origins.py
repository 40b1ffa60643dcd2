"""One-time and future pre-saves counted apart: grants per campaign and service, by how they came.

A one-time pre-save is a fan's own grant on the campaign's page; a future pre-save is a grant carried
over from an earlier campaign of the artist (`campaigns.future_saves`). Written to the warehouse as
`presave_origins` (no fan key: counts only), for the marts and the dashboard.
"""

from __future__ import annotations

from collections import Counter

import duckdb
import pandas as pd
from sqlalchemy import select

from campaigns.future_saves import is_future_save
from campaigns.models import Campaign, Grant
from campaigns.store import Store
from pipelines.schema import TABLES
from pipelines.warehouse import replace

TABLE = "presave_origins"
DTYPES = {"campaign_slug": "string", "service": "string", "one_time": "int64", "future": "int64"}


def origin_counts(store: Store, *, chunk: int = 10_000) -> pd.DataFrame:
    """Grants per (campaign slug, service): one-time and future, read in chunks by id."""
    counts: Counter[tuple[str, str, bool]] = Counter()
    query = select(Grant.id, Campaign.slug, Grant.service, Grant.choices).join(
        Campaign, Campaign.id == Grant.campaign_id
    )
    for rows in store.chunks(query, Grant.id, chunk):
        for row in rows:
            counts[(row.slug, row.service, is_future_save(row.choices))] += 1
    pairs = sorted({(slug, service) for slug, service, _ in counts})
    frame = pd.DataFrame(
        [
            (slug, service, counts[(slug, service, False)], counts[(slug, service, True)])
            for slug, service in pairs
        ],
        columns=list(DTYPES),
    )
    return frame.astype(DTYPES)


def write_origins(connection: duckdb.DuckDBPyConnection, frame: pd.DataFrame) -> int:
    connection.execute(TABLES[TABLE].ddl())
    return replace(connection, TABLE, [frame])
