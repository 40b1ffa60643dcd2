"""A campaign's headline figures as metrics: glossary label, help text and format, value from the
campaign_overview mart, so each reads the same on every page. Under each figure, in full (never cut), the
services and the denominator behind it, or why it is missing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import streamlit as st

from dashboards import charts, palette
from dashboards.glossary import Glossary, known, presave_kinds

PER_ROW = 4
# How the pre-saves are going: the figures every campaign page leads with.
COLLECTING = ("presaves", "last_week_share", "forecast")
SERVICES = ("spotify", "apple", "deezer")


def by_service(row: dict[str, Any]) -> str:
    return " · ".join(f"{palette.SERVICE_NAMES[s]} {int(row.get(f'{s}_presaves') or 0):,}" for s in SERVICES)


def detail(figure: str, row: dict[str, Any], series: str | None = None) -> str | None:
    """The line under a figure: which services and which denominator it counts, its verdict, or why it
    is missing. `series`: the export series the glossary says the figure is measured in."""
    measured = charts.SERIES_NAMES.get(series or "", series or "")
    if figure == "presaves":
        reminders = int(row.get("reminders") or 0)
        direct = f"direct, all services: {by_service(row)}"
        return (
            f"{presave_kinds(int(row.get('presaves') or 0), reminders)} · {direct}" if reminders else direct
        )
    if figure == "last_week_share":
        return "of all services' pre-saves, the last seven days before release (or today)"
    if figure == "forecast":
        note = row.get("forecast_note")
        return str(note) if not known(row.get("forecast_point")) and note else "all services, on release day"
    if figure == "delivered_saves":
        return f"all services, of {int(row.get('presaves') or 0):,} pre-saves"
    if figure == "streams_per_presaver":
        return f"{measured} ÷ {int(row.get('spotify_presaves') or 0):,} Spotify pre-saves"
    verdict = verdict_of(figure, row)
    if verdict:
        return f"{verdict} ({measured})" if measured else verdict
    return measured or None


VERDICTS = {  # the mart column stating a figure's verdict in words (with its interval)
    "artist_lift": "artist_lift_verdict",
    "roster_ratio": "roster_verdict",
    "authenticity_score": "authenticity_status",
}


def verdict_of(figure: str, row: dict[str, Any]) -> str | None:
    column = VERDICTS.get(figure)
    return str(row[column]) if column and known(row.get(column)) else None


def figure(container: Any, glossary: Glossary, name: str, row: dict[str, Any], **chart: Any) -> None:
    """One headline figure: its value (the interval goes below it, so the value is never cut), then in
    full its interval, its services and denominator, its verdict."""
    entry = glossary[name]
    container.markdown(entry.label, help=entry.help or None)  # wraps where a metric's own label is cut
    container.metric(entry.label, glossary.point(name, row), label_visibility="collapsed", **chart)
    interval = None if verdict_of(name, row) else glossary.interval(name, row)  # a verdict states it
    lines = [line for line in (interval, detail(name, row, glossary.series(name))) if line]
    if lines:
        container.caption(" · ".join(lines))


def show(glossary: Glossary, row: dict[str, Any], figures: Sequence[str]) -> None:
    for start in range(0, len(figures), PER_ROW):
        columns = st.columns(PER_ROW)
        for column, name in zip(columns, figures[start : start + PER_ROW], strict=False):
            figure(column, glossary, name, row)
