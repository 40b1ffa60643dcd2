"""A campaign's headline figures as metrics: glossary label, help text and format, value from the
campaign_overview mart, so each reads the same on every page."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import streamlit as st

from dashboards import charts
from dashboards.glossary import Glossary, known

PER_ROW = 4
# How the pre-saves are going: the figures every campaign page leads with.
COLLECTING = ("presaves", "last_week_share", "forecast")


def detail(figure: str, row: dict[str, Any]) -> str | None:
    """The line under a figure: the services behind the pre-saves, or why a figure is missing."""
    if figure == "presaves":
        return " · ".join(
            f"{charts.SERVICE_NAMES[s]} {int(row.get(f'{s}_presaves') or 0):,}"
            for s in ("spotify", "apple", "deezer")
        )
    if figure == "forecast" and not known(row.get("forecast_point")) and row.get("forecast_note"):
        return str(row["forecast_note"])
    if figure == "artist_lift" and row.get("artist_lift_verdict"):
        return str(row["artist_lift_verdict"])
    if figure == "roster_ratio" and row.get("roster_verdict"):
        return str(row["roster_verdict"])
    if figure == "authenticity_score" and row.get("authenticity_status"):
        return str(row["authenticity_status"])
    return None


def show(glossary: Glossary, row: dict[str, Any], figures: Sequence[str]) -> None:
    for start in range(0, len(figures), PER_ROW):
        columns = st.columns(PER_ROW)
        for column, figure in zip(columns, figures[start : start + PER_ROW], strict=False):
            entry = glossary[figure]
            column.metric(
                entry.label,
                glossary.value(figure, row),
                detail(figure, row),
                help=entry.help or None,
                delta_color="off",
                delta_arrow="off",
            )
