"""Every campaign's headline figures in one table, labelled by the glossary."""

from __future__ import annotations

import streamlit as st

from dashboards import checks, view
from dashboards.queries import WarehouseReader
from dashboards.screens import headline

HEADING = "Campaigns"
FIGURES = (
    *headline.COLLECTING,
    "delivered_saves",
    "first_week_streams",
    "streams_per_presaver",
    "retention",
    "artist_lift",
    "roster_ratio",
    "authenticity_score",
)


def render(reader: WarehouseReader) -> None:
    st.title(HEADING)
    frame = view.campaigns(reader)
    glossary = view.glossary(reader)
    if frame.empty:
        st.info("No campaign in the warehouse yet: create one and run the pipeline.")
        return
    view.mark_failed_checks(reader, checks.HEADLINE_SOURCES)
    columns = {
        "campaign_slug": "campaign",
        "artist": "artist",
        "title": "title",
        "release_at": "release (UTC)",
    }
    for figure in FIGURES:
        column = glossary.column(figure)
        if column in frame.columns:
            columns[column] = glossary[figure].label
    shown = frame[list(columns)].rename(columns=columns)
    view.table(
        shown,
        "campaigns",
        "No campaign yet.",
        {
            glossary[f].label: st.column_config.Column(help=glossary[f].help or None)
            for f in FIGURES
            if glossary[f].label in shown.columns
        },
    )
