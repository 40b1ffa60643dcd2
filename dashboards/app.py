"""The Streamlit dashboard over the warehouse snapshot: an overview, the roster, one campaign, the pitch,
the service comparison, release day and the data behind them (see `dashboards/screens`).

Run with `presave dashboard` (loopback only, unless a login is configured: see `dashboards/login.py`).
"""

from __future__ import annotations

import argparse
from functools import partial
from pathlib import Path

import streamlit as st

from dashboards import login, queries
from dashboards.screens import PAGES


def _reader() -> queries.WarehouseReader | None:
    """The snapshot `presave dashboard` names (`--warehouse`, from the settings); None when not named."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--warehouse", type=Path)
    args, _ = parser.parse_known_args()
    return queries.WarehouseReader(args.warehouse) if args.warehouse else None


def _navigation(reader: queries.WarehouseReader) -> None:
    pages = {
        page.url_path: st.Page(partial(page.render, reader), title=page.title, url_path=page.url_path)
        for page in PAGES
    }
    first = PAGES[0]  # at its own address, listed; and at `/` too (the default page reserves its path)
    root = st.Page(
        partial(first.render, reader), title=first.title, url_path="home", default=True, visibility="hidden"
    )
    chosen = st.navigation([*pages.values(), root])
    address = login.requested_address()
    if address is not None and (
        address.path or address.query
    ):  # just signed in: open the page and filters of the address first opened
        target = pages.get(address.path) or pages[PAGES[0].url_path]
        st.switch_page(target, query_params=address.query)
    chosen.run()


def main() -> None:
    st.set_page_config(page_title="presave", layout="wide")
    login.require_login()
    reader = _reader()
    if reader is None:
        st.error("No warehouse snapshot named: start the dashboard with `presave dashboard`.")
        return
    if not reader.available():
        st.warning(f"No warehouse snapshot at {reader.snapshot} yet: run the pipeline first.")
        return
    _navigation(reader)


main()
