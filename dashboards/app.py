"""The Streamlit dashboard: an overview and one page per campaign, read from the warehouse snapshot.

Run with `presave dashboard`, or `streamlit run dashboards/app.py -- --warehouse PATH`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import streamlit as st

from dashboards import pages, queries


def _reader() -> queries.WarehouseReader:
    parser = argparse.ArgumentParser()
    parser.add_argument("--warehouse", type=Path, default=Path("data/warehouse.snapshot.duckdb"))
    args, _ = parser.parse_known_args()
    return queries.WarehouseReader(args.warehouse)


def main() -> None:
    st.set_page_config(page_title="presave", layout="wide")
    reader = _reader()
    if not reader.available():
        st.warning(f"No warehouse snapshot at {reader.snapshot} yet: run the pipeline first.")
        return
    campaigns = pages.campaigns_frame(str(reader.snapshot), reader.version())
    navigation = [
        st.Page(lambda: pages.overview(reader), title="Overview", url_path="overview", default=True)
    ]
    for row in campaigns.to_dict("records"):
        navigation.append(
            st.Page(
                lambda row=row: pages.campaign_page(reader, row),
                title=f"{row['title']} ({row['artist']})",
                url_path=str(row["slug"]),
            )
        )
    st.navigation(navigation).run()


main()
