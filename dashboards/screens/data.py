"""What the numbers stand on: the files loaded, the files refused and why, how fresh each source is,
and what each figure means."""

from __future__ import annotations

import streamlit as st

from dashboards import checks, queries, view
from dashboards.queries import WarehouseReader

HEADING = "Data"
STALE_DAYS = 2


def render(reader: WarehouseReader) -> None:
    st.title(HEADING)
    st.header("Freshness")
    freshness = view.get(reader, queries.FRESHNESS)
    stale = freshness[freshness["days_behind"] > STALE_DAYS] if not freshness.empty else freshness
    if not stale.empty:
        st.warning(
            f"{len(stale)} source(s) more than {STALE_DAYS} days behind: " + ", ".join(stale["source"])
        )
    view.table(freshness, "freshness", "Nothing has been loaded yet: run the pipeline.")
    _spotify_cap(reader)
    _checks(reader)
    st.header("Files loaded")
    view.table(view.get(reader, queries.LOADED_FILES), "loaded files", "No export file loaded yet.")
    st.header("Files quarantined")
    view.table(
        view.get(reader, queries.QUARANTINED_FILES),
        "quarantined files",
        "No file refused: every export dropped in the inbox loaded.",
    )
    st.header("Glossary")
    glossary = view.get(reader, queries.GLOSSARY)
    view.table(
        glossary[["label", "unit", "definition", "help"]] if not glossary.empty else glossary,
        "glossary",
        "This warehouse holds no glossary yet: run the pipeline again.",
    )


def _spotify_cap(reader: WarehouseReader) -> None:
    """A development-mode Spotify app turned fans to reminders: how many, since when, per campaign."""
    if "presave_kinds" not in reader.tables():
        return
    capped = view.get(reader, queries.SPOTIFY_CAPPED)
    for row in capped.itertuples():
        since = f"{row.turned_away_since:%Y-%m-%d %H:%M} UTC" if row.turned_away_since is not None else "?"
        st.warning(
            f"{row.campaign_slug}: the label's Spotify app is in development mode and its five places are "
            f"taken. Since {since}, {row.turned_away} fan(s) were turned away after authorizing and "
            f"{row.spotify_reminders} took a reminder pre-save instead. Only extended quota lifts the cap."
        )


def _checks(reader: WarehouseReader) -> None:
    """Every asset check's latest result, the failed ones first and marked, each in its own words."""
    st.header("Checks")
    results = view.get(reader, queries.MART_CHECKS)
    view.mark_failed_checks(reader, tuple(results["asset"].unique()) if not results.empty else ())
    if not results.empty:
        results = results.assign(
            result=results["passed"].map({True: "passed", False: f"{checks.MARK} failed"}),
            campaigns=results["campaigns"].map(", ".join),
        )[["result", "asset", "check_name", "description", "detail", "campaigns", "checked_at"]]
    view.table(results, "checks", "No check has run yet: run the pipeline.")
