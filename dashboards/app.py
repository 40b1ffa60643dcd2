"""The Streamlit dashboard over the warehouse snapshot: an overview, the roster, one campaign, the pitch,
the service comparison, release day and the data behind them (see `dashboards/screens`).

Run with `presave dashboard` (loopback only, unless a login is configured: see `dashboards/login.py`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import streamlit as st

from dashboards import login, queries
from dashboards.screens import PAGES


def _reader() -> queries.WarehouseReader:
    parser = argparse.ArgumentParser()
    parser.add_argument("--warehouse", type=Path, default=Path("data/warehouse.snapshot.duckdb"))
    args, _ = parser.parse_known_args()
    return queries.WarehouseReader(args.warehouse)


def _navigation(reader: queries.WarehouseReader) -> None:
    pages = [
        st.Page(
            lambda page=page: page.render(reader),
            title=page.title,
            url_path=page.url_path,
            default=index == 0,
        )
        for index, page in enumerate(PAGES)
    ]
    st.navigation(pages).run()


def main() -> None:
    st.set_page_config(page_title="presave", layout="wide")
    login.require_login()
    reader = _reader()
    if not reader.available():
        st.warning(f"No warehouse snapshot at {reader.snapshot} yet: run the pipeline first.")
        return
    _navigation(reader)


main()
