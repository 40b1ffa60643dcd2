"""What every page is made of: cached queries, filters kept in the URL, tables with their CSV, charts
that say why they are empty, and figures labelled by the glossary."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboards import checks, queries
from dashboards.glossary import Entry, Glossary

ALL = "(all)"


@st.cache_data(ttl=60, show_spinner=False, max_entries=512)
def _frame(snapshot: str, version: float, sql: str, params: tuple[object, ...]) -> pd.DataFrame:
    try:
        return queries.WarehouseReader(Path(snapshot)).query(sql, list(params))
    except (duckdb.CatalogException, duckdb.BinderException):
        # An older warehouse lacks a mart or column: the page shows its "no data yet" message instead.
        return pd.DataFrame()


def get(reader: queries.WarehouseReader, sql: str, *params: object) -> pd.DataFrame:
    return _frame(str(reader.snapshot), reader.version(), sql, params)


def glossary(reader: queries.WarehouseReader) -> Glossary:
    return Glossary(get(reader, queries.GLOSSARY))


def campaigns(reader: queries.WarehouseReader) -> pd.DataFrame:
    return get(reader, queries.CAMPAIGNS)


def metric(
    container: Any,
    entry: Entry,
    value: object,
    low: object = None,
    high: object = None,
    detail: str | None = None,
) -> None:
    container.metric(
        entry.label,
        entry.format(value, low, high),
        detail,
        help=entry.help or None,
        delta_color="off",
        delta_arrow="off",
    )


def choose(
    label: str, options: list[str], key: str, format_func: Any = str, container: Any = None
) -> str | None:
    """A select box whose choice is kept in the URL (`?key=value`), so the view can be shared."""
    if not options:
        return None
    wanted = st.query_params.get(key)
    index = options.index(wanted) if wanted in options else 0
    value = (container or st).selectbox(label, options, index=index, format_func=format_func, key=key)
    st.query_params[key] = value
    return value


def choose_many(label: str, options: list[str], key: str) -> list[str]:
    """A multi-select kept in the URL as repeated `?key=a&key=b`; none chosen means all."""
    wanted = [value for value in st.query_params.get_all(key) if value in options]
    chosen = st.multiselect(label, options, default=wanted, key=key, placeholder="all")
    st.query_params[key] = chosen
    return chosen


def choose_dates(label: str, first: date, last: date, key: str) -> tuple[date, date]:
    """A date range kept in the URL as `?key=YYYY-MM-DD..YYYY-MM-DD`; the whole span by default."""
    start, end = parse_range(st.query_params.get(key), first, last)
    picked = st.date_input(label, (start, end), min_value=first, max_value=last, key=key)
    if isinstance(picked, tuple) and len(picked) == 2:  # a range half picked keeps the previous end
        start, end = picked
    st.query_params[key] = f"{start.isoformat()}..{end.isoformat()}"
    return start, end


def parse_range(text: str | None, first: date, last: date) -> tuple[date, date]:
    """`YYYY-MM-DD..YYYY-MM-DD` clipped to [first, last]; anything unreadable gives the whole span."""
    try:
        start, end = (date.fromisoformat(part) for part in (text or "").split(".."))
    except ValueError:
        return first, last
    start, end = max(start, first), min(end, last)
    return (start, end) if start <= end else (first, last)


def table(frame: pd.DataFrame, name: str, empty: str, column_config: dict | None = None) -> None:
    """A table with its CSV download, or a sentence saying why there is nothing to show."""
    if frame.empty:
        st.info(empty)
        return
    st.dataframe(frame, hide_index=True, column_config=column_config)
    st.download_button(
        f"Download {name} (CSV)",
        frame.to_csv(index=False).encode("utf-8"),
        file_name=f"{file_name(name)}.csv",
        mime="text/csv",
        key=f"csv-{file_name(name)}",
    )


def chart(figure: go.Figure | None, key: str, empty: str) -> None:
    if figure is None:
        st.info(empty)
    else:
        st.plotly_chart(figure, key=key)


def plot(frame: pd.DataFrame, draw: Callable[[pd.DataFrame], go.Figure], key: str, empty: str) -> None:
    """A chart of a query's rows, or the sentence saying why there are none."""
    chart(draw(frame) if not frame.empty else None, key, empty)


def file_name(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def campaign_title(row: dict[str, Any]) -> str:
    released = pd.Timestamp(row["release_at"])
    return f"{row['title']} ({row['artist']}, {released:%Y-%m-%d})"


def pick_campaign(
    reader: queries.WarehouseReader, frame: pd.DataFrame | None = None
) -> dict[str, Any] | None:
    """The campaign chosen in the URL's `?campaign=` (shared by every page), or the latest."""
    frame = campaigns(reader) if frame is None else frame
    if frame.empty:
        st.info("No campaign in the warehouse yet: create one and run the pipeline.")
        return None
    rows = {row["campaign_slug"]: row for row in frame.to_dict("records")}
    slug = choose("Campaign", list(rows), "campaign", lambda s: campaign_title(rows[s]))
    return rows[slug] if slug else None


def campaign_page(reader: queries.WarehouseReader, heading: str) -> tuple[str, dict[str, Any]] | None:
    """The start of every one-campaign page: its title, then the campaign of the URL (or the latest) as
    (slug, overview row); None, with the reason shown, when there is no campaign."""
    st.title(heading)
    row = pick_campaign(reader)
    return None if row is None else (str(row["campaign_slug"]), row)


def mark_failed_checks(
    reader: queries.WarehouseReader, marts: tuple[str, ...], campaign: str | None = None
) -> None:
    """A visible mark, with the check's own words, for each failed check of the marts a page shows
    (those naming no campaign, or this one): no refuted figure is shown unmarked."""
    for text in checks.sentences(get(reader, queries.FAILED_CHECKS), marts, campaign):
        st.warning(text)
