"""Pre-save accumulation before release day, and the release-day forecast made at each day on the way.

Days are the campaign's local days relative to release day (D-28 … D0; earlier pre-saves count in
D-28). A campaign still collecting has rows up to today only. The forecast for a campaign at day d uses
the curves of the campaigns (any artist of the roster) released before it: see
`pipelines/analysis/accumulation.py` for the method. Made at every day a campaign has reached, it shows
how the forecast settled (and, for released campaigns, how it compares with what happened).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import duckdb
import numpy as np
import pandas as pd

from pipelines.analysis.accumulation import DAYS_BEFORE, Forecast, presave_curves, release_day_forecast
from pipelines.marts.mart import Mart, frame

RELEASES = "SELECT campaign_slug AS campaign, release_date FROM campaign_releases ORDER BY release_date"
PRESAVE_DAYS = "SELECT campaign_slug AS campaign, presaved_on AS granted_at FROM presaves"


def _today() -> date:
    return datetime.now(UTC).date()


def curves(connection: duckdb.DuckDBPyConnection) -> tuple[pd.DataFrame, pd.DataFrame]:
    releases = frame(connection, RELEASES)
    grants = frame(connection, PRESAVE_DAYS)
    if releases.empty:
        return pd.DataFrame(columns=range(-DAYS_BEFORE, 1)), releases
    return presave_curves(grants, releases), releases


def last_week_shares(table: pd.DataFrame, release_dates: pd.Series, today: date) -> pd.Series:
    """Per campaign: pre-saves in the seven days up to the last day counted (D0 once released, else
    today) ÷ pre-saves up to that day; NaN without pre-saves or before D-28."""
    shares = {}
    for campaign, release_date in release_dates.items():
        last = min(0, (today - release_date).days)
        if last < -DAYS_BEFORE:
            shares[campaign] = np.nan
            continue
        total = float(table.loc[campaign, last])
        before = float(table.loc[campaign, last - 7]) if last - 7 >= -DAYS_BEFORE else 0.0
        shares[campaign] = (total - before) / total if total > 0 else np.nan
    return pd.Series(shares, dtype=float)


def presave_accumulation(connection: duckdb.DuckDBPyConnection, today: date | None = None) -> pd.DataFrame:
    today = today or _today()
    table, releases = curves(connection)
    columns = ["campaign_slug", "day", "date", "presaves", "cumulative", "share_of_final", "last_week_share"]
    if releases.empty:
        return pd.DataFrame(columns=columns)
    final = table[0].astype(float)
    long = table.stack().rename("cumulative").reset_index().rename(columns={"level_1": "day"})
    long.columns = ["campaign", "day", "cumulative"]
    long["presaves"] = (
        long.groupby("campaign")["cumulative"].diff().fillna(long["cumulative"]).astype("int64")
    )
    release_dates = releases.set_index("campaign")["release_date"]
    long["date"] = pd.to_datetime(long["campaign"].map(release_dates)) + pd.to_timedelta(
        long["day"], unit="D"
    )
    long = long[long["date"].dt.date <= today]
    if long.empty:  # every campaign more than 28 days out: no day counted yet
        return pd.DataFrame(columns=columns)
    released = long["campaign"].map(release_dates).pipe(pd.to_datetime).dt.date <= today
    long["share_of_final"] = (long["cumulative"] / long["campaign"].map(final.where(final > 0))).where(
        released
    )
    shares = last_week_shares(table, pd.to_datetime(release_dates).dt.date, today)
    long["last_week_share"] = long["campaign"].map(shares)
    return long.rename(columns={"campaign": "campaign_slug"})[columns]


def caveat(made: Forecast) -> str | None:
    """What the reader of a forecast must know: campaigns left out, a lower bound raised to the count."""
    said = []
    if made.left_out:
        said.append(
            f"left out {', '.join(made.left_out)}: grew unlike the {made.campaigns} others "
            f"({made.ratio_min:.2f}× to {made.ratio_max:.2f}× from D{made.day})"
        )
    if made.clamped:
        said.append(
            f"lower bound raised to the {made.so_far:,} pre-saves so far (the interval reached below)"
        )
    return "; ".join(said) or None


def presave_forecast(connection: duckdb.DuckDBPyConnection, today: date | None = None) -> pd.DataFrame:
    today = today or _today()
    table, releases = curves(connection)
    rows = []
    release_dates = pd.to_datetime(releases.set_index("campaign")["release_date"]).dt.date
    for campaign, release_date in release_dates.items():
        earlier = release_dates[(release_dates < release_date) & (release_dates < today)].index
        history = table.loc[earlier]
        released = release_date <= today
        reached = min(0, (today - release_date).days)
        for day in range(-DAYS_BEFORE, reached + 1):
            so_far = int(table.loc[campaign, day])
            made = release_day_forecast(so_far, day, history)
            if day == 0:
                made = (
                    "released: the count is final"
                    if released
                    else "release day: the count so far is all but final, nothing to forecast"
                )
            row = {
                "campaign_slug": campaign,
                "as_of_day": day,
                "so_far": so_far,
                "actual": int(table.loc[campaign, 0]) if released else None,
                "is_latest": day == reached,
                "earlier_campaigns": int((history[day] > 0).sum()) if len(history) else 0,
            }
            if isinstance(made, str):
                rows.append({**row, "note": made})
            else:
                forecast = {"point": made.point, "low": made.low, "high": made.high, "note": None}
                rows.append({**row, **forecast, "earlier_campaigns": made.campaigns, "caveat": caveat(made)})
    columns = [
        "campaign_slug",
        "as_of_day",
        "so_far",
        "point",
        "low",
        "high",
        "earlier_campaigns",
        "actual",
        "is_latest",
        "note",
        "caveat",
    ]
    result = pd.DataFrame(rows, columns=columns)
    result["actual"] = result["actual"].astype("Int64")
    for column in ("point", "low", "high"):
        result[column] = result[column].astype(float)
    return result


MARTS = (
    Mart(
        "presave_accumulation",
        ("presaves", "campaign_releases"),
        presave_accumulation,
        "Cumulative pre-saves per relative day D-28 … D0 (earlier ones counted at D-28), the day's count, "
        "the share of the release-day total reached (once released), and the share of the pre-saves up "
        "to the last day counted (D0 once released, else today) that came in the seven days up to it.",
        expect_rows="SELECT EXISTS (SELECT 1 FROM campaign_releases WHERE release_date - 28 <= current_date)",
    ),
    Mart(
        "presave_forecast",
        ("presaves", "campaign_releases"),
        presave_forecast,
        "The release-day count forecast at each relative day before release from the campaign's count "
        "so far and the growth of at least three earlier campaigns from that day (log growth ratio, t "
        "prediction interval 95%, lower bound at least the count so far, said in `caveat`; a campaign "
        "whose growth is unlike all the others' is left out and named there); otherwise no number and the "
        "reason in `note` (release day reached, nothing pre-saved yet, too few earlier campaigns, no "
        "spread, an interval spanning more than twenty-fold); `actual` once released, `is_latest` marks "
        "today's row.",
        expect_rows="SELECT EXISTS (SELECT 1 FROM campaign_releases WHERE release_date - 28 <= current_date)",
    ),
)
