"""The Streamlit dashboard: an overview and one page per campaign, read from the warehouse snapshot.

Run with `presave dashboard`, or `streamlit run dashboards/app.py -- --warehouse PATH`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import streamlit as st

from dashboards import charts, queries


def _reader() -> queries.WarehouseReader:
    parser = argparse.ArgumentParser()
    parser.add_argument("--warehouse", type=Path, default=Path("data/warehouse.snapshot.duckdb"))
    args, _ = parser.parse_known_args()
    return queries.WarehouseReader(args.warehouse)


@st.cache_data(ttl=30, show_spinner=False)
def _campaigns(snapshot: str, version: float):
    return queries.campaigns(queries.WarehouseReader(Path(snapshot)))


@st.cache_data(ttl=30, show_spinner=False)
def _campaign_frames(snapshot: str, version: float, slug: str):
    reader = queries.WarehouseReader(Path(snapshot))
    return queries.presaves_daily(reader, slug), queries.first_week(reader, slug)


def overview(reader: queries.WarehouseReader) -> None:
    st.title("Campaigns")
    frame = _campaigns(str(reader.snapshot), reader.version())
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


def main() -> None:
    st.set_page_config(page_title="presave", layout="wide")
    reader = _reader()
    if not reader.available():
        st.warning(f"No warehouse snapshot at {reader.snapshot} yet: run the pipeline first.")
        return
    campaigns = _campaigns(str(reader.snapshot), reader.version())
    pages = [st.Page(lambda: overview(reader), title="Overview", url_path="overview", default=True)]
    for row in campaigns.to_dict("records"):
        pages.append(
            st.Page(
                lambda row=row: campaign_page(reader, row),
                title=f"{row['title']} ({row['artist']})",
                url_path=str(row["slug"]),
            )
        )
    st.navigation(pages).run()


main()
