"""Analysts: which service converts visitors best, per campaign (or all) and traffic source (or all),
with intervals, the pairwise tests, and the verdict in words the mart states."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards import charts, queries, view
from dashboards.glossary import Entry
from dashboards.queries import WarehouseReader

HEADING = "Service comparison"


def render(reader: WarehouseReader) -> None:
    st.title(HEADING)
    glossary = view.glossary(reader)
    frame = view.campaigns(reader)
    titles = {row["campaign_slug"]: view.campaign_title(row) for row in frame.to_dict("records")}
    left, right = st.columns(2)
    slug = view.choose(
        "Campaign", [view.ALL, *titles], "campaign", lambda s: titles.get(s, "all campaigns"), left
    )
    view.mark_failed_checks(
        reader, ("service_conversion", "service_comparison"), None if slug == view.ALL else slug
    )
    rates = view.get(reader, queries.CONVERSION, slug)
    if rates.empty:
        st.info("No landing-page visits recorded here (imported campaigns have none).")
        return
    sources = list(dict.fromkeys(rates["source"]))
    source = view.choose(
        "Traffic source", sources, "source", lambda s: "all sources" if s == view.ALL else s, right
    )
    pairs = view.get(reader, queries.COMPARISON, slug, source)
    st.subheader("Verdict")
    if not pairs.empty and "verdict" in pairs.columns and pairs["verdict"].notna().any():
        for verdict in dict.fromkeys(pairs["verdict"].dropna()):
            st.markdown(f"- {verdict}")
    elif pairs.empty:
        st.info("Fewer than two services had visitors here: nothing to compare.")
    else:
        st.info("This warehouse's marts state no verdict yet: run the pipeline again.")
    shown = rates[rates["source"] == source]
    st.plotly_chart(charts.conversion(shown), key=f"conversion-{slug}-{source}")
    st.caption(f"{glossary['conversion_rate'].help} {glossary['conversion_any'].help}")
    rate = glossary["conversion_rate"]
    view.table(
        shown.assign(interval=_intervals(shown, "rate", rate))[
            ["service", "visitors", "grants", "interval"]
        ].rename(columns={"interval": f"{rate.label} (95%)"}),
        f"conversion {slug} {source}",
        "No visitors from this source.",
    )
    by_source = rates[(rates["source"] != view.ALL) & (rates["service"] != "any")]
    if by_source["source"].nunique() > 1:
        st.plotly_chart(charts.conversion_by_source(by_source), key=f"by-source-{slug}")
    if pairs.empty:
        return
    st.subheader("Differences between services")
    difference = glossary["conversion_difference"]
    view.table(
        pairs.assign(difference_ci=_intervals(pairs, "difference", difference))[
            ["service_1", "service_2", "difference_ci", "z", "p_value", "p_holm"]
        ].rename(
            columns={"difference_ci": f"{difference.label} (95%)", "p_value": "p", "p_holm": "p (Holm)"}
        ),
        f"comparison {slug} {source}",
        "",
    )


def _intervals(frame: pd.DataFrame, column: str, entry: Entry) -> list[str]:
    """Each row's `column` with its 95% interval (`low`, `high`), written as the glossary writes it."""
    return [
        entry.format(value, low, high)
        for value, low, high in zip(frame[column], frame["low"], frame["high"], strict=True)
    ]
