"""The Streamlit dashboard: an overview, the three questions (lift, pitch, conversion) and one page per
campaign, read from the warehouse snapshot.

Run with `presave dashboard` (loopback only, unless a login is configured: see `dashboards/login.py`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import streamlit as st

from dashboards import login, pages, queries


def _reader() -> queries.WarehouseReader:
    parser = argparse.ArgumentParser()
    parser.add_argument("--warehouse", type=Path, default=Path("data/warehouse.snapshot.duckdb"))
    args, _ = parser.parse_known_args()
    return queries.WarehouseReader(args.warehouse)


def main() -> None:
    st.set_page_config(page_title="presave", layout="wide")
    login.require_login()
    reader = _reader()
    if not reader.available():
        st.warning(f"No warehouse snapshot at {reader.snapshot} yet: run the pipeline first.")
        return
    campaigns = pages.campaigns_frame(str(reader.snapshot), reader.version())
    questions = [
        st.Page(lambda: pages.overview(reader), title="Overview", url_path="overview", default=True),
        st.Page(lambda: pages.lift_page(reader), title="Lift (labels)", url_path="lift"),
        st.Page(lambda: pages.pitch_page(reader), title="Pitch (managers)", url_path="pitch"),
        st.Page(lambda: pages.conversion_page(reader), title="Conversion (analysts)", url_path="conversion"),
    ]
    campaign_pages = [
        st.Page(
            lambda row=row: pages.campaign_page(reader, row),
            title=f"{row['title']} ({row['artist']})",
            url_path=str(row["slug"]),
        )
        for row in campaigns.to_dict("records")
    ]
    sections = (
        {"Questions": questions, "Campaigns": campaign_pages} if campaign_pages else {"Questions": questions}
    )
    st.navigation(sections).run()


main()
