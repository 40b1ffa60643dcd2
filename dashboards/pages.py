"""The dashboard's pages: what each one shows, from the warehouse snapshot only."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from dashboards import charts, queries


@st.cache_data(ttl=30, show_spinner=False)
def campaigns_frame(snapshot: str, version: float) -> pd.DataFrame:
    return queries.campaigns(queries.WarehouseReader(Path(snapshot)))


@st.cache_data(ttl=30, show_spinner=False)
def _campaign_frames(snapshot: str, version: float, slug: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    reader = queries.WarehouseReader(Path(snapshot))
    return queries.presaves_daily(reader, slug), queries.first_week(reader, slug)


def overview(reader: queries.WarehouseReader) -> None:
    st.title("Campaigns")
    frame = campaigns_frame(str(reader.snapshot), reader.version())
    if frame.empty:
        st.info("No campaign in the warehouse yet.")
        return
    st.dataframe(
        frame,
        hide_index=True,
        column_config={
            "release_at": st.column_config.DatetimeColumn("release (UTC)"),
            "presaves": st.column_config.NumberColumn("pre-saves"),
            "first_week_streams": st.column_config.NumberColumn("first-week streams"),
        },
    )


def campaign_page(reader: queries.WarehouseReader, row: dict[str, object]) -> None:
    slug = str(row["slug"])
    st.title(f"{row['artist']} — {row['title']}")
    presaves, first_week = _campaign_frames(str(reader.snapshot), reader.version(), slug)
    left, middle, right = st.columns(3)
    left.metric("pre-saves", int(row["presaves"] or 0))
    streams = first_week["streams"].sum() if not first_week.empty else None
    middle.metric("first-week streams", f"{int(streams):,}" if streams else "—")
    per = (streams / row["presaves"]) if streams and row["presaves"] else None
    right.metric("streams per pre-saver (week one)", f"{per:.1f}" if per else "—")
    if presaves.empty:
        st.info("No pre-saves recorded for this campaign.")
    else:
        st.plotly_chart(charts.presaves_by_day(presaves), key=f"presaves-{slug}")
    if first_week.empty:
        st.info("No first-week streams yet: drop the artist's Spotify for Artists export into the inbox.")
    else:
        st.plotly_chart(charts.first_week_streams(first_week), key=f"first-week-{slug}")
