"""One campaign: how the pre-saves accumulated and where they are heading, where visitors were lost
(service, source, in-app browsers), where the fans are, and how the first week went."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboards import charts, checks, queries, view
from dashboards.glossary import known
from dashboards.queries import WarehouseReader
from dashboards.screens import headline

HEADING = "Campaign"
FIGURES = (
    *headline.COLLECTING,
    "delivered_saves",
    "first_week_streams",
    "first_72h_streams",
    "streams_per_presaver",
    "retention",
    "authenticity_score",
)
SERIES_NAMES = charts.SERIES_NAMES


CHECKED = (
    *checks.HEADLINE_SOURCES,
    "funnel_sources",
    "funnel_browsers",
    "presaves_by_country",
    "presaves_daily",
    "presave_origins",
    "followup_days",
)


def render(reader: WarehouseReader) -> None:
    picked = view.campaign_page(reader, HEADING)
    if picked is None:
        return
    slug, row = picked
    st.subheader(f"{row['artist']} — {row['title']}")
    view.mark_failed_checks(reader, CHECKED, slug)
    headline.show(view.glossary(reader), row, FIGURES)
    _accumulation(reader, slug, row)
    _origins_and_followups(reader, slug)
    _funnel(reader, slug)
    _countries(reader, slug)
    _first_week(reader, slug)


def upcoming(row: dict[str, Any]) -> bool:
    return bool(pd.Timestamp(row["release_at"]) > pd.Timestamp.now(tz="UTC"))


def _accumulation(reader: WarehouseReader, slug: str, row: dict[str, Any]) -> None:
    st.header("Pre-saves over time")
    frame = view.get(reader, queries.ACCUMULATION, slug)
    forecast = (
        {"point": row["forecast_point"], "low": row["forecast_low"], "high": row["forecast_high"]}
        if upcoming(row) and known(row.get("forecast_point")) and known(row.get("forecast_low"))
        else None
    )
    view.chart(
        charts.accumulation(frame, forecast) if not frame.empty else None,
        f"accumulation-{slug}",
        "No pre-saves recorded for this campaign yet.",
    )
    daily = view.get(reader, queries.PRESAVES_DAILY, slug)
    view.plot(daily, charts.presaves_by_day, f"daily-{slug}", "No pre-saves per day to show yet.")
    view.table(daily, f"{slug} pre-saves per day", "No pre-saves per day yet.")


def _origins_and_followups(reader: WarehouseReader, slug: str) -> None:
    """One-time pre-saves apart from fans carried over by a future-save opt-in, and the reminder days
    the campaign file lists against the campaign's own baseline (median of its other collecting days)."""
    st.subheader("One-time and future pre-saves")
    origins = view.get(reader, queries.PRESAVE_ORIGINS, slug)
    view.table(
        origins,
        f"{slug} pre-saves by origin",
        "Not counted yet: the hourly presave_origins job has not run since this campaign's first pre-save.",
        column_config={
            "one_time": st.column_config.NumberColumn(
                "one-time pre-saves", help="fans who pre-saved this release"
            ),
            "future": st.column_config.NumberColumn(
                "future pre-saves", help="fans carried over from an earlier campaign's future-save opt-in"
            ),
        },
    )
    st.subheader("Reminder days")
    followups = view.get(reader, queries.FOLLOWUP_DAYS, slug)
    view.table(
        followups,
        f"{slug} reminder days",
        "No reminder days: the campaign file lists none under `followups:` (or they are not counted yet).",
        column_config={
            "baseline_per_day": st.column_config.NumberColumn(
                "baseline per day",
                help="median pre-saves of the campaign's other collecting days",
                format="%.1f",
            ),
            "ratio": st.column_config.NumberColumn(
                "× baseline", help="the day's pre-saves over the baseline", format="%.2f"
            ),
        },
    )


def _funnel(reader: WarehouseReader, slug: str) -> None:
    st.header("Funnel")
    span = view.get(reader, queries.FUNNEL_DATES, slug)
    if span.empty or pd.isna(span.iloc[0]["first"]):
        st.info("No landing-page visits recorded for this campaign (imported campaigns have none).")
        return
    sources = [view.ALL, *view.get(reader, queries.FUNNEL_SOURCES, slug)["source"]]
    left, right = st.columns(2)
    source = view.choose(
        "Traffic source", sources, "source", lambda s: "all sources" if s == view.ALL else s, left
    )
    with right:
        start, end = view.choose_dates(
            "Days (campaign's local dates)", span.iloc[0]["first"].date(), span.iloc[0]["last"].date(), "days"
        )
    by_service = view.get(reader, queries.FUNNEL_BY_SERVICE, slug, source, source, start, end)
    view.plot(by_service, charts.funnel, f"funnel-{slug}", "No visits from this source in these days.")
    view.table(
        by_service, f"{slug} funnel by service", "No visits from this source in these days.", FUNNEL_COLUMNS
    )
    by_source = view.get(reader, queries.FUNNEL_BY_SOURCE, slug, start, end)
    view.table(by_source, f"{slug} funnel by source", "No visits in these days.", FUNNEL_COLUMNS)
    browsers = view.get(reader, queries.FUNNEL_BROWSERS, slug, source)
    st.subheader("Lost in in-app browsers")
    if browsers.empty or (browsers["in_app_browser"] == "(none)").all():
        st.info("No visitor came through an in-app browser (Instagram, TikTok…) from this source.")
        return
    worst = browsers.dropna(subset=["loss"]).sort_values("loss", ascending=False)
    if not worst.empty:
        top = worst.iloc[0]
        st.markdown(
            f"Visitors in **{top['in_app_browser']}**'s in-app browser granted "
            f"{top['rate']:.0%} of the time after choosing a service, "
            f"**{top['loss']:+.0%}** points below ordinary browsers."
            if known(top["rate"])
            else f"Visitors in {top['in_app_browser']}'s in-app browser never chose a service."
        )
    view.chart(charts.in_app_loss(browsers), f"in-app-{slug}", "")
    view.table(browsers, f"{slug} visitors by browser", "")


# the two kinds of pre-save apart, each labelled, and both
FUNNEL_COLUMNS = {
    "grants": st.column_config.NumberColumn(
        "direct pre-saves", help="granted: the label's app saves for them"
    ),
    "delivered": st.column_config.NumberColumn("saved on release", help="direct pre-saves delivered"),
    "reminders": st.column_config.NumberColumn(
        "reminder sign-ups", help="an email with a link to the release on release day, instead of a save"
    ),
    "presaves": st.column_config.NumberColumn("pre-saves in all", help="direct + reminder sign-ups"),
    "reminder_clicks": st.column_config.NumberColumn(
        "followed the reminder", help="reminder fans who followed their release-day link (once per fan)"
    ),
}


def _countries(reader: WarehouseReader, slug: str) -> None:
    st.header("Countries")
    countries = view.get(reader, queries.PRESAVES_BY_COUNTRY, slug)
    view.plot(
        countries, charts.presaves_by_country, f"countries-{slug}", "No pre-saves with a known country yet."
    )
    view.table(countries, f"{slug} pre-saves by country", "No pre-saves with a known country yet.")


def _first_week(reader: WarehouseReader, slug: str) -> None:
    st.header("First week")
    velocity = view.get(reader, queries.VELOCITY, slug)
    if velocity.empty:
        st.info(
            "No first week measured yet: it needs the release's seven first days in the artist's exports "
            "(Spotify for Artists, Apple Music for Artists) in the inbox."
        )
        return
    view.chart(charts.velocity(velocity, SERIES_NAMES), f"velocity-{slug}", "")
    shown = velocity.assign(series=velocity["series"].map(lambda s: SERIES_NAMES.get(s, s)))[
        [
            "series",
            "presavers",
            "first_24h_streams",
            "first_72h_streams",
            "week1_streams",
            "week2_streams",
            "day1_share",
            "streams_per_presaver",
            "retention",
        ]
    ]
    view.table(shown, f"{slug} first week by series", "")
    st.caption("Retention is week two's streams ÷ week one's; empty until day 13 is exported.")
