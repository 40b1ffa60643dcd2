"""The pre-saves of each follow-up day (the campaign file's `followups:`) against the campaign's own
baseline: the median of its daily pre-saves on the other days it was collecting.

Days are the campaign's calendar days (its time zone), from its first pre-save to the day before its
release (or today). Only the fans' own grants count: future saves carried over are no one's response
to a reminder. Written to the warehouse as `followup_days` (counts only).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd
from sqlalchemy import select

from campaigns.future_saves import is_future_save
from campaigns.models import Campaign, Grant
from campaigns.registry import campaign_spec
from campaigns.store import Store
from pipelines.schema import TABLES
from pipelines.warehouse import replace

TABLE = "followup_days"


def followup_rows(
    slug: str, daily: Mapping[date, int], followups: Iterable[date], last_day: date
) -> list[tuple[object, ...]]:
    """One row per follow-up day: its pre-saves, the baseline (median of the other collecting days,
    zeros included; None without any) and their ratio (None when the baseline is zero or unknown)."""
    days = set(followups)
    first = min(daily, default=last_day)
    collecting = [first + timedelta(days=n) for n in range((last_day - first).days + 1)]
    others = [daily.get(day, 0) for day in collecting if day not in days]
    baseline = statistics.median(others) if others else None
    return [
        (
            slug,
            day,
            daily.get(day, 0),
            baseline,
            len(others),
            daily.get(day, 0) / baseline if baseline else None,
        )
        for day in sorted(days)
    ]


def _daily_presaves(store: Store, campaign_id: int, zone: ZoneInfo) -> Counter[date]:
    with store.session() as session:
        rows = session.execute(
            select(Grant.granted_at, Grant.choices).where(Grant.campaign_id == campaign_id)
        ).all()
    return Counter(
        granted.astimezone(zone).date() for granted, choices in rows if not is_future_save(choices)
    )


def followup_frame(store: Store, now: datetime) -> pd.DataFrame:
    rows: list[tuple[object, ...]] = []
    with store.session() as session:
        campaigns = list(session.scalars(select(Campaign).order_by(Campaign.id)))
    for campaign in campaigns:
        spec = campaign_spec(campaign)
        if not spec.followups:
            continue
        zone = ZoneInfo(campaign.timezone)
        last_day = min(campaign.release_at, now).astimezone(zone).date() - timedelta(days=1)
        daily = _daily_presaves(store, campaign.id, zone)
        rows += followup_rows(campaign.slug, daily, spec.followups, last_day)
    return pd.DataFrame(rows, columns=list(TABLES[TABLE].column_names))


def write_followups(connection: duckdb.DuckDBPyConnection, frame: pd.DataFrame) -> int:
    connection.execute(TABLES[TABLE].ddl())
    return replace(connection, TABLE, [frame])
