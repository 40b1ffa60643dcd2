"""Labels: the roster's campaigns against the line pre-saves predict, and whether one campaign lifted its
release against the artist's earlier releases and against that line."""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboards import charts, queries, view
from dashboards.queries import WarehouseReader
from dashboards.screens import headline
from dashboards.screens.campaign import SERIES_NAMES

HEADING = "Roster"
FIGURES = ("presaves", "first_week_streams", "artist_lift", "roster_ratio")


def render(reader: WarehouseReader) -> None:
    st.title(HEADING)
    measured = view.get(reader, queries.LIFT_SERIES)
    if measured.empty:
        st.info("No campaign has a measured first week yet: drop the artists' exports into the inbox.")
        return
    order = list(SERIES_NAMES)
    series_options = sorted(measured["series"], key=lambda s: order.index(s) if s in order else len(order))
    left, right = st.columns(2)
    series = view.choose(
        "Streams measured as", series_options, "series", lambda s: SERIES_NAMES.get(s, s), left
    )
    frame = view.get(reader, queries.ROSTER, series)
    view.mark_failed_checks(reader, ("campaign_lift", "first_week_velocity"))
    with right:
        artists = view.choose_many("Artists", sorted(frame["artist"].unique()), "artist")
    shown = frame[frame["artist"].isin(artists)] if artists else frame
    row = view.pick_campaign(reader, prefer=view.measured)
    if row is not None:
        _campaign(reader, row, set(frame["campaign_slug"]))
    view.chart(
        charts.roster(
            shown, row["campaign_slug"] if row else None, SERIES_NAMES.get(series or "", series or "")
        )
        if not shown.empty
        else None,
        f"roster-{series}",
        "No campaign of these artists has a first week in this series.",
    )
    st.caption(
        "Each point is a campaign: its pre-saves (all services) against its first-week streams "
        f"({SERIES_NAMES.get(series or '', series)}); colour: against the line (green above, red below). "
        "The band is the 95% prediction interval of a campaign with that many pre-saves."
    )
    view.table(
        shown.drop(columns=["series"]),
        f"roster {series}",
        "No campaign to list.",
        {
            "campaign_slug": st.column_config.TextColumn("campaign"),
            "presaves": st.column_config.NumberColumn("pre-saves (all services)", format="localized"),
            "first_week_streams": st.column_config.NumberColumn(
                f"first-week streams ({SERIES_NAMES.get(series or '', series)})", format="localized"
            ),
        },
    )


def _campaign(reader: WarehouseReader, row: dict[str, Any], on_roster: set[str]) -> None:
    """The campaign picked: did it lift its release, against the artist and against the roster line."""
    st.header(f"{row['artist']} — {row['title']}")
    if row["campaign_slug"] not in on_roster:
        st.info(
            "This campaign has no measured first week in this series yet: it is not on the roster's chart."
        )
    headline.show(view.glossary(reader), row, FIGURES)
