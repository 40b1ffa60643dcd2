"""Analysts: which service converts visitors best, per campaign (or all) and traffic source (or all),
with intervals, the pairwise tests, and the verdict in words the mart states."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards import charts, queries, view
from dashboards.glossary import NOT_YET, known
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
    _every_visitor(shown)
    view.chart(charts.conversion(shown), f"conversion-{slug}-{source}", "")
    st.caption(glossary["conversion_rate"].help)
    per_service = shown[shown["service"] != "any"]
    view.table(
        per_service[["service", "visitors", "grants", "rate", "low", "high"]].rename(
            columns={"visitors": "choosers"}
        ),
        f"conversion {slug} {source}",
        "No visitors from this source.",
        {
            "choosers": st.column_config.NumberColumn(
                "chose the service", help="visitors who chose this service", format="localized"
            ),
            "rate": st.column_config.NumberColumn("granted, of the choosers", format="percent"),
            "low": st.column_config.NumberColumn("95% low", format="percent"),
            "high": st.column_config.NumberColumn("95% high", format="percent"),
        },
    )
    by_source = rates[(rates["source"] != view.ALL) & (rates["service"] != "any")]
    if by_source["source"].nunique() > 1:
        view.chart(charts.conversion_by_source(by_source), f"by-source-{slug}", "")
    if pairs.empty:
        return
    st.subheader("Differences between services")
    st.caption(
        "Differences in percentage points (pts) of the rate among each service's choosers; p adjusted "
        "for the several pairs by Holm. The CSV holds the same numbers unrounded."
    )
    differences = points(pairs)
    view.table(
        differences,
        f"comparison {slug} {source}",
        "",
        {
            "difference_points": st.column_config.NumberColumn(
                "difference (pts)", help=glossary["conversion_difference"].help, format="%+.1f pts"
            ),
            "low_points": st.column_config.NumberColumn("95% low (pts)", format="%+.1f"),
            "high_points": st.column_config.NumberColumn("95% high (pts)", format="%+.1f"),
            "p": st.column_config.TextColumn("p"),
            "p_holm": st.column_config.TextColumn("p (Holm)"),
        },
        shown=differences.assign(p=differences["p"].map(p_value), p_holm=differences["p_holm"].map(p_value)),
    )


def _every_visitor(rates: pd.DataFrame) -> None:
    """The rate over every visitor (any service): another denominator than the chart's, so in words."""
    anyone = rates[rates["service"] == "any"]
    if anyone.empty:
        return
    row = anyone.iloc[0]
    st.markdown(
        f"Of **{int(row['visitors']):,} visitors** (any service), **{row['rate']:.1%}** granted "
        f"({int(row['grants']):,}; 95% interval {row['low']:.1%} to {row['high']:.1%}). "
        "Below, each service's rate among the visitors who chose it."
    )


def points(pairs: pd.DataFrame) -> pd.DataFrame:
    """The pairwise differences in percentage points, as numbers (interval ends too)."""
    return pd.DataFrame(
        {
            "service_1": pairs["service_1"],
            "service_2": pairs["service_2"],
            "difference_points": pairs["difference"] * 100,
            "low_points": pairs["low"] * 100,
            "high_points": pairs["high"] * 100,
            "z": pairs["z"],
            "p": pairs["p_value"],
            "p_holm": pairs["p_holm"],
        }
    )


def p_value(p: object) -> str:
    """A p-value as a reader takes it in: `< 0.001` below a thousandth, else three decimals."""
    if not known(p):
        return NOT_YET
    value = float(p)  # type: ignore[arg-type]
    return "< 0.001" if value < 0.001 else f"{value:.3f}"
