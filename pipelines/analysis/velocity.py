"""First-week velocity: how a release's streams and listeners came in over its first days.

Daily rows are aligned to release day: D0 is the release date, D6 the last day of week one, D7–D13 week
two. With daily data, the first 24 hours are D0 and the first 72 hours are D0–D2 (a daily export cannot
say more). A missing day is unknown, never zero: every figure that needs it is NA.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

WEEK = 7


def first_week_velocity(daily: pd.DataFrame, releases: pd.DataFrame) -> pd.DataFrame:
    """One row of velocity metrics per campaign.

    `daily`: campaign, date, streams and optionally listeners (one row per campaign and day).
    `releases`: campaign, release_date and optionally presavers.
    Returns, indexed by campaign: d0_streams … d6_streams, d0_listeners … d6_listeners (when given; daily
    listeners are not added up, people come back), first_24h_streams (D0), first_72h_streams (D0–D2),
    week1_streams, week2_streams, day1_share (D0 / week one), streams_per_presaver (week one / pre-savers)
    and retention (week two / week one).
    """
    if daily.duplicated(["campaign", "date"]).any():
        raise ValueError("daily rows must be unique per campaign and date")
    aligned = daily.merge(releases[["campaign", "release_date"]], on="campaign", how="inner")
    aligned["day"] = (
        pd.to_datetime(aligned["date"]).dt.normalize()
        - pd.to_datetime(aligned["release_date"]).dt.normalize()
    ).dt.days
    aligned = aligned[(aligned["day"] >= 0) & (aligned["day"] < 2 * WEEK)]
    campaigns = pd.Index(releases["campaign"].unique(), name="campaign")
    streams = _by_day(aligned, "streams", campaigns)
    out = pd.DataFrame(index=campaigns)
    for day in range(WEEK):
        out[f"d{day}_streams"] = streams[day]
    if "listeners" in daily.columns:
        listeners = _by_day(aligned, "listeners", campaigns)
        for day in range(WEEK):
            out[f"d{day}_listeners"] = listeners[day]
    out["first_24h_streams"] = streams[0]
    out["first_72h_streams"] = _complete_sum(streams, range(3))
    out["week1_streams"] = _complete_sum(streams, range(WEEK))
    out["week2_streams"] = _complete_sum(streams, range(WEEK, 2 * WEEK))
    out["day1_share"] = _ratio(out["first_24h_streams"], out["week1_streams"])
    presavers = releases.set_index("campaign").get("presavers")
    if presavers is not None:
        out["streams_per_presaver"] = _ratio(
            out["week1_streams"], presavers.reindex(campaigns).astype("Float64")
        )
    out["retention"] = _ratio(out["week2_streams"], out["week1_streams"])
    return out


def _by_day(aligned: pd.DataFrame, column: str, campaigns: pd.Index) -> pd.DataFrame:
    table = aligned.pivot(index="campaign", columns="day", values=column)
    return table.reindex(index=campaigns, columns=range(2 * WEEK)).astype("Float64")


def _complete_sum(table: pd.DataFrame, days: range) -> pd.Series:
    """Sum over the days, NA unless every one of them is known."""
    part = table[list(days)]
    return part.sum(axis=1, skipna=False).where(part.notna().all(axis=1))


def _ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    """numerator / denominator, NA where the denominator is 0 or unknown."""
    return (numerator / denominator.where(denominator > 0)).replace([np.inf, -np.inf], pd.NA)
