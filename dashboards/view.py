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
from dashboards.glossary import NOT_YET, Entry, Glossary, known

ALL = "(all)"


@st.cache_data(ttl=60, show_spinner=False, max_entries=512)
def _frame(snapshot: str, version: float, sql: str, params: tuple[object, ...]) -> pd.DataFrame:  # noqa: ARG001 - part of the cache key: a new warehouse version reads afresh
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
    label: str,
    options: list[str],
    key: str,
    format_func: Any = str,
    container: Any = None,
    default: str | None = None,
) -> str | None:
    """A select box whose choice is kept in the URL (`?key=value`), so the view can be shared, and in the
    session, so the next page opens on it too; else `default`, else the first option."""
    if not options:
        return None
    wanted = [st.query_params.get(key), st.session_state.get(_kept(key)), default]
    value = next((w for w in wanted if w in options), options[0])
    chosen: str = (container or st).selectbox(  # an index is given: never None
        label, options, index=options.index(value), format_func=format_func, key=key
    )
    st.query_params[key] = chosen
    st.session_state[_kept(key)] = chosen
    return chosen


def choose_many(label: str, options: list[str], key: str) -> list[str]:
    """A multi-select kept in the URL as repeated `?key=a&key=b` and in the session; none chosen means
    all."""
    asked = st.query_params.get_all(key) or st.session_state.get(_kept(key), [])
    wanted = [value for value in asked if value in options]
    chosen = st.multiselect(label, options, default=wanted, key=key, placeholder="all")
    st.query_params[key] = chosen
    st.session_state[_kept(key)] = chosen
    return chosen


def _kept(key: str) -> str:
    """Where the session keeps a filter between pages (a widget's own state ends with its page)."""
    return f"chosen:{key}"


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


def table(
    frame: pd.DataFrame,
    name: str,
    empty: str,
    column_config: dict[str, Any] | None = None,
    shown: pd.DataFrame | None = None,
) -> None:
    """A table with its CSV download, or a sentence saying why there is nothing to show. The CSV holds
    `frame`'s numbers; the screen shows `shown` (default: `frame`), each column formatted by its kind
    (`formats`) unless `column_config` says otherwise, a missing value as a dash."""
    if frame.empty:
        st.info(empty)
        return
    shown = frame if shown is None else shown
    st.dataframe(
        shown,
        hide_index=True,
        column_config={**formats(shown), **(column_config or {})},
        placeholder=NOT_YET,
    )
    st.download_button(
        f"Download {name} (CSV)",
        frame.to_csv(index=False).encode("utf-8"),
        file_name=f"{file_name(name)}.csv",
        mime="text/csv",
        key=f"csv-{file_name(name)}",
    )


def formats(frame: pd.DataFrame) -> dict[str, Any]:
    """How each column reads on screen, by its kind: shares and rates as percentages, ratios as ×,
    counts with thousands separators, dates as dates, instants in UTC to the minute."""
    return {
        str(column): config
        for column, series in frame.items()
        if (config := column_format(str(column), series)) is not None
    }


def column_format(column: str, series: pd.Series) -> Any:
    label = column.replace("_", " ")
    if pd.api.types.is_datetime64_any_dtype(series):
        timestamps = series.dropna()
        if getattr(series.dtype, "tz", None) is None and (timestamps == timestamps.dt.normalize()).all():
            return st.column_config.DateColumn(label, format="YYYY-MM-DD")
        return st.column_config.DatetimeColumn(f"{label} (UTC)", format="YYYY-MM-DD HH:mm")
    if pd.api.types.is_bool_dtype(series) or not pd.api.types.is_numeric_dtype(series):
        return None
    if pd.api.types.is_integer_dtype(series):
        return st.column_config.NumberColumn(label, format="localized")
    words = set(column.split("_"))
    if words & RATIO_WORDS:
        return st.column_config.NumberColumn(label, format="%.2f×")
    if words & PERCENT_WORDS:
        return st.column_config.NumberColumn(label, format="percent")
    return st.column_config.NumberColumn(label, format="localized")


def glossary_columns(frame: pd.DataFrame, glossary: Glossary) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A table of glossary figures (columns named by their labels) as the glossary writes them: `frame`
    rounded as each figure's display rounds, and each column's format and help (`{:,.0f}`: thousands;
    `{:.1%}`: a percentage; `{:.2f}×`: a ratio). Streamlit cuts a number at its `step` rather than round
    it, so numbers are rounded here and formatted without a step."""
    shown, config = frame.copy(), {}
    for figure in glossary.figures():
        entry = glossary[figure]
        if entry.label not in shown.columns or not pd.api.types.is_numeric_dtype(shown[entry.label]):
            continue
        decimals = re.search(r"\.(\d)", entry.display)
        places = int(decimals.group(1)) if decimals else 0
        if "%" in entry.display:
            number = "percent"
            shown[entry.label] = shown[entry.label].round(places + 2)
        elif entry.display.startswith("{:,"):
            number = "localized"
            shown[entry.label] = shown[entry.label].round(places)
        else:
            number = f"%{'+' if entry.display.startswith('{:+') else ''}.{places}f"
            number += "×" if entry.display.endswith("×") else ""
        config[entry.label] = st.column_config.NumberColumn(help=entry.help or None, format=number)
    return shown, config


PERCENT_WORDS = {"share", "rate", "loss", "low", "high"}  # low/high alone: a rate's interval
RATIO_WORDS = {"ratio", "lift"}


def chart(figure: go.Figure | None, key: str, empty: str) -> None:
    """A chart, its title above it as text (a plotly title is cut on a phone, text wraps), or the
    sentence saying why it is empty."""
    if figure is None:
        st.info(empty)
        return
    title = figure.layout.title.text
    if title:
        st.markdown(f"**{title}**")
        figure.update_layout(title_text=None, margin={"t": 30})
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
    reader: queries.WarehouseReader,
    frame: pd.DataFrame | None = None,
    prefer: Callable[[dict[str, Any]], bool] | None = None,
) -> dict[str, Any] | None:
    """The campaign chosen in the URL's `?campaign=` or earlier in the session (shared by every page);
    else the latest one `prefer` accepts, else the latest."""
    frame = campaigns(reader) if frame is None else frame
    if frame.empty:
        st.info("No campaign in the warehouse yet: create one and run the pipeline.")
        return None
    rows = {row["campaign_slug"]: row for row in frame.to_dict("records")}
    default = next((slug for slug, row in rows.items() if prefer(row)), None) if prefer else None
    slug = choose("Campaign", list(rows), "campaign", lambda s: campaign_title(rows[s]), default=default)
    return rows[slug] if slug else None


def measured(row: dict[str, Any]) -> bool:
    """A campaign with results: its first week measured."""
    return known(row.get("first_week_streams"))


def campaign_page(
    reader: queries.WarehouseReader,
    heading: str,
    prefer: Callable[[dict[str, Any]], bool] | None = None,
) -> tuple[str, dict[str, Any]] | None:
    """The start of every one-campaign page: its title, then the campaign of the URL or the session (else
    the latest `prefer` accepts) as (slug, overview row); None, with the reason shown, when there is no
    campaign."""
    st.title(heading)
    row = pick_campaign(reader, prefer=prefer)
    return None if row is None else (str(row["campaign_slug"]), row)


def mark_failed_checks(
    reader: queries.WarehouseReader, marts: tuple[str, ...], campaign: str | None = None
) -> None:
    """A visible mark, with the check's own words, for each failed check of the marts a page shows
    (those naming no campaign, or this one): no refuted figure is shown unmarked."""
    for text in checks.sentences(get(reader, queries.FAILED_CHECKS), marts, campaign):
        st.warning(text)
