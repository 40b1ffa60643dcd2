"""Analysts: which service converts visitors best, per campaign (or all) and traffic source (or all),
with intervals, the pairwise tests, and the verdict in words the mart states; reminder sign-ups counted
beside the direct pre-saves; and, once released, what each kind of pre-save achieved on release day."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards import charts, queries, view
from dashboards.glossary import NOT_YET, Glossary, known, presave_kinds
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
        reader,
        ("service_conversion", "service_comparison", "release_day_kinds"),
        None if slug == view.ALL else slug,
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
    pressed = shown[shown["visitors"] > 0]  # a link-only service's reminder fans pressed no button
    view.chart(charts.conversion(pressed), f"conversion-{slug}-{source}", "")
    st.caption(glossary["conversion_rate"].help)
    per_service = shown[shown["service"] != "any"]
    view.table(
        per_service[
            [
                "service",
                "visitors",
                "grants",
                "rate",
                "low",
                "high",
                "reminders",
                "presaves",
                "service_visitors",
            ]
        ].rename(columns={"visitors": "choosers"}),
        f"conversion {slug} {source}",
        "No visitors from this source.",
        {
            "choosers": st.column_config.NumberColumn(
                "chose the service", help="visitors who chose this service", format="localized"
            ),
            "grants": st.column_config.NumberColumn(
                "direct pre-saves", help="choosers who granted: the label's app saves for them"
            ),
            "rate": st.column_config.NumberColumn("granted, of the choosers", format="percent"),
            "reminders": st.column_config.NumberColumn(
                "reminder sign-ups", help="visitors who took a reminder for the service instead (an email)"
            ),
            "presaves": st.column_config.NumberColumn("pre-saves in all", help="direct + reminder sign-ups"),
            "service_visitors": st.column_config.NumberColumn(
                "chose it either way", help="visitors who chose the service by its button or its reminder"
            ),
            "low": st.column_config.NumberColumn("95% low", format="percent"),
            "high": st.column_config.NumberColumn("95% high", format="percent"),
        },
    )
    by_source = rates[(rates["source"] != view.ALL) & (rates["service"] != "any") & (rates["visitors"] > 0)]
    if by_source["source"].nunique() > 1:
        view.chart(charts.conversion_by_source(by_source), f"by-source-{slug}", "")
    if not pairs.empty:
        _differences(pairs, glossary, slug, source)
    _release_day(reader, slug)


def _differences(pairs: pd.DataFrame, glossary: Glossary, slug: str | None, source: str | None) -> None:
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


def _release_day(reader: WarehouseReader, slug: str | None) -> None:
    """Reminders beside direct pre-saves once released: what each kind achieved, with its counts."""
    st.subheader("Release day: reminders beside direct pre-saves")
    kinds = view.get(reader, queries.RELEASE_DAY_KINDS, slug)
    if kinds.empty:
        st.info("Not released yet (or no pre-saves): release day has nothing to show for either kind.")
        return
    every = kinds[kinds["service"] == "all"].iloc[0]
    st.markdown(_release_day_sentence(every))
    st.caption(
        "Different acts, so described side by side, not tested against each other: a direct pre-save is "
        "delivered by the label's app with nothing asked of the fan; a reminder fan must open the email "
        "and follow its tracked link (counted once per fan, pseudonymously). Neither is a stream."
    )
    view.chart(charts.release_day_kinds(kinds), f"release-day-kinds-{slug}", "")
    view.table(kinds.drop(columns=["campaign_slug"]), f"release day kinds {slug}", "", RELEASE_DAY_COLUMNS)


def _share(done: int, fans: int, share: object, low: object, high: object) -> str:
    if not fans:
        return "none"
    return (
        f"**{done:,} of {fans:,}** ({float(share):.1%}; 95% interval {float(low):.1%} to {float(high):.1%})"  # type: ignore[arg-type]
    )


def _release_day_sentence(row: pd.Series) -> str:
    direct, reminders = int(row["direct"]), int(row["reminders"])
    delivered = _share(
        int(row["direct_delivered"]), direct, *row[["delivered_share", "delivered_low", "delivered_high"]]
    )
    followed = _share(
        int(row["reminder_clicks"]), reminders, *row[["click_share", "click_low", "click_high"]]
    )
    return (
        f"Held on release day: {presave_kinds(direct, reminders)} (the grants held then; the verdict above "
        "counts visitors who granted, and a grant turned away, merged or erased since is not held). "
        f"Direct pre-saves saved in the fan's library: {delivered}. "
        f"Reminder fans who followed their release-day link: {followed}."
    )


RELEASE_DAY_COLUMNS = {
    "direct": st.column_config.NumberColumn("direct pre-saves"),
    "direct_delivered": st.column_config.NumberColumn("saved in the library"),
    "delivered_share": st.column_config.NumberColumn("saved, of direct", format="percent"),
    "delivered_low": st.column_config.NumberColumn("95% low", format="percent"),
    "delivered_high": st.column_config.NumberColumn("95% high", format="percent"),
    "reminders": st.column_config.NumberColumn("reminder sign-ups"),
    "reminder_clicks": st.column_config.NumberColumn("followed the link"),
    "click_share": st.column_config.NumberColumn("followed, of reminders", format="percent"),
    "click_low": st.column_config.NumberColumn("95% low ", format="percent"),
    "click_high": st.column_config.NumberColumn("95% high ", format="percent"),
}


def _every_visitor(rates: pd.DataFrame) -> None:
    """The rate over every visitor (any service): another denominator than the chart's, so in words."""
    anyone = rates[rates["service"] == "any"]
    if anyone.empty:
        return
    row = anyone.iloc[0]
    reminders = int(row.get("reminders") or 0)
    besides = (
        f" Besides them {reminders:,} took a reminder instead: {presave_kinds(int(row['grants']), reminders)}."
        if reminders
        else ""
    )
    st.markdown(
        f"Of **{int(row['visitors']):,} visitors** (any service), **{row['rate']:.1%}** granted "
        f"({int(row['grants']):,}; 95% interval {row['low']:.1%} to {row['high']:.1%}).{besides} "
        "Below, each service's direct rate among the visitors who pressed its button."
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
