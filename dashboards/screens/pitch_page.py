"""Managers: what to send an editor before the release, and the one-page pitch pack (PDF or PNG)."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import streamlit as st

from dashboards import charts, checks, palette, pitch, queries, view
from dashboards.queries import WarehouseReader
from dashboards.screens import headline

HEADING = "Pitch"
FIGURES = (*headline.COLLECTING, "follower_gain")
PACK_FORMATS = {"pdf": "application/pdf", "png": "image/png"}  # what the pack downloads as


@st.cache_data(ttl=300, show_spinner="Drawing the pitch pack…", max_entries=32)
def _pack(snapshot: str, version: float, slug: str, fmt: str) -> bytes:  # noqa: ARG001 - part of the cache key: a new warehouse version reads afresh
    return pitch.render(pitch.gather(WarehouseReader(Path(snapshot)), slug), fmt)


CHECKED = (*checks.HEADLINE_SOURCES, "presaves_daily", "presaves_by_country", "campaign_followers")


def render(reader: WarehouseReader) -> None:
    picked = view.campaign_page(reader, HEADING)
    if picked is None:
        return
    slug, row = picked
    glossary = view.glossary(reader)
    st.subheader(f"{row['artist']} — {row['title']}")
    view.mark_failed_checks(reader, CHECKED, slug)
    headline.show(glossary, row, headline.COLLECTING)
    gain = view.get(reader, queries.FOLLOWER_GAIN, slug)
    if gain.empty:
        st.info("No follower series covers this campaign's pre-save window yet.")
    else:
        for record in gain.to_dict("records"):
            columns = st.columns(3)
            service = record.get("service", "spotify")
            for column, figure in zip(
                columns, ("follower_gain", "presave_follows", "organic_gain"), strict=True
            ):
                entry = glossary[figure]
                column.metric(
                    f"{entry.label} ({palette.SERVICE_NAMES.get(service, service)})",
                    glossary.value(figure, record),
                    help=entry.help or None,
                )
            if record.get("note"):
                st.caption(str(record["note"]))
    latest = view.get(reader, queries.LATEST_FOLLOWERS, slug)
    view.table(latest, f"{slug} followers now", "No follower count for this artist yet.")
    st.caption(
        "Spotify for Artists counts every follower of the artist; the Spotify API's count comes from another "
        "source and differs (a development-mode app sees none): compare each only with itself."
    )
    daily = view.get(reader, queries.PRESAVES_DAILY, slug)
    view.plot(daily, charts.presaves_by_day, f"pitch-daily-{slug}", "No pre-saves yet.")
    countries = view.get(reader, queries.PRESAVES_BY_COUNTRY, slug)
    view.plot(
        countries,
        charts.presaves_by_country,
        f"pitch-countries-{slug}",
        "No pre-saves with a known country yet.",
    )
    forecast = view.get(reader, queries.FORECAST, slug)
    view.chart(
        charts.forecast(forecast) if not forecast.empty and forecast["point"].notna().any() else None,
        f"pitch-forecast-{slug}",
        str(row.get("forecast_note") or "No forecast for this campaign."),
    )
    followers = view.get(reader, queries.FOLLOWERS, slug)
    window = gain.iloc[0] if not gain.empty else None
    view.chart(
        charts.followers(
            followers,
            window["window_start"] if window is not None else None,
            window["release_date"] if window is not None else None,
        )
        if not followers.empty
        else None,
        f"pitch-followers-{slug}",
        "No follower series for this artist yet.",
    )
    st.subheader("The pitch pack")
    st.caption("One page with the figures and charts above and comparable campaigns; drawn when you click.")
    for column, (kind, mime) in zip(st.columns(2), PACK_FORMATS.items(), strict=True):
        column.download_button(
            f"Download the pitch pack ({kind.upper()})",
            partial(_pack, str(reader.snapshot), reader.version(), slug, kind),
            file_name=f"{slug}-pitch.{kind}",
            mime=mime,
            on_click="ignore",
        )
    view.table(daily, f"{slug} pre-saves by day", "")
