"""How are my campaigns doing: one card per campaign (its status, its pre-saves with their trend, and the
figure that matters at its stage), then every headline figure in one table, labelled by the glossary."""

from __future__ import annotations

from typing import Any, Literal

import pandas as pd
import streamlit as st

from dashboards import checks, queries, view
from dashboards.glossary import Glossary, known
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
CARDS_PER_ROW = 3
# The figure beside the pre-saves on a card, and the line under it, by the campaign's stage.
STAGE_FIGURES = {
    "collecting": ("forecast", "last_week_share"),
    "release day": ("delivered_saves", None),
    "measuring": ("delivered_saves", None),
    "measured": ("first_week_streams", "roster_ratio"),
}
BadgeColour = Literal["blue", "orange", "gray", "green"]
STAGE_COLOURS: dict[str, BadgeColour] = {
    "collecting": "blue",
    "release day": "orange",
    "measuring": "gray",
    "measured": "green",
}


def stage(row: dict[str, Any], now: pd.Timestamp) -> str:
    release = pd.Timestamp(row["release_at"])
    if release > now:
        return "collecting"
    if known(row.get("first_week_streams")):
        return "measured"
    return "release day" if now - release < pd.Timedelta(days=1) else "measuring"


def status(row: dict[str, Any], now: pd.Timestamp) -> str:
    """The campaign's stage in a few words (a badge: short enough for a phone)."""
    release = pd.Timestamp(row["release_at"])
    imported = ", imported" if row.get("origin") == "imported" else ""
    return {
        "collecting": f"collecting: {max((release - now).days, 0) + 1} days to go",
        "release day": "release day",
        "measuring": "released: first week to come",
        "measured": "released: first week measured",
    }[stage(row, now)] + imported


def render(reader: WarehouseReader) -> None:
    st.title(HEADING)
    frame = view.campaigns(reader)
    if frame.empty:
        st.info("No campaign in the warehouse yet: create one and run the pipeline.")
        return
    view.mark_failed_checks(reader, checks.HEADLINE_SOURCES)
    glossary = view.glossary(reader)
    st.caption(
        "Pre-saves count every service (Spotify, Apple Music, Deezer); first-week streams are the song's "
        "on Spotify. Open a campaign's page from the menu: it opens on the campaign chosen last."
    )
    trends = view.get(reader, queries.PRESAVE_TRENDS)
    now = pd.Timestamp.now(tz="UTC")
    rows = frame.to_dict("records")
    for start in range(0, len(rows), CARDS_PER_ROW):
        for column, row in zip(st.columns(CARDS_PER_ROW), rows[start : start + CARDS_PER_ROW], strict=False):
            with column.container(border=True):
                _card(glossary, row, _trend(trends, str(row["campaign_slug"])), now)
    st.subheader("Every figure")
    _table(frame, glossary)


def _trend(trends: pd.DataFrame, slug: str) -> list[int]:
    if trends.empty:
        return []
    return [int(v) for v in trends.loc[trends["campaign_slug"] == slug, "cumulative"]]


def _card(glossary: Glossary, row: dict[str, Any], trend: list[int], now: pd.Timestamp) -> None:
    phase = stage(row, now)
    st.markdown(f"**{row['title']}** · {row['artist']} · {pd.Timestamp(row['release_at']):%d %b %Y}")
    st.badge(status(row, now), color=STAGE_COLOURS[phase])
    left, right = st.columns(2)
    main, aside = STAGE_FIGURES[phase]
    for column, name, drawn in ((left, "presaves", trend if len(trend) > 1 else None), (right, main, None)):
        label = glossary[name].label
        column.markdown(label)  # wraps in a narrow card, where a metric's own label would be cut
        column.metric(
            label,
            glossary.point(name, row),
            label_visibility="collapsed",
            chart_data=drawn,
            chart_type="area",
        )
    lines = [f"Pre-saves, {headline.detail('presaves', row)}.", _stage_line(glossary, main, aside, row)]
    st.caption(" ".join(line for line in lines if line))


def _stage_line(glossary: Glossary, main: str, aside: str | None, row: dict[str, Any]) -> str:
    """What the card's second figure counts, and the verdict or share beside it, in words."""
    parts = [glossary.interval(main, row), headline.detail(main, row, glossary.series(main))]
    if aside == "roster_ratio":
        parts.append(headline.verdict_of(aside, row))
    elif aside:
        parts.append(f"{glossary[aside].label}: {glossary.point(aside, row)}")
    text = "; ".join(part for part in parts if part)
    return f"{glossary[main].label.capitalize()}: {text}." if text else ""


def _table(frame: pd.DataFrame, glossary: Glossary) -> None:
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
    figures = frame[list(columns)].rename(columns=columns)
    shown, config = view.glossary_columns(figures, glossary)
    config["release (UTC)"] = st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm")
    view.table(figures, "campaigns", "No campaign yet.", config, shown=shown)
