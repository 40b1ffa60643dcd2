"""The dashboard's pages, one per question, from the warehouse snapshot only.

- Overview: every campaign's headline figures.
- A page per campaign: pre-saves, first week, delivery, token health, authenticity.
- Labels, "did this campaign lift the release?": against the artist's earlier releases and the roster.
- Managers, the pitch: pre-saves by day, country and service, follower growth, the forecast; a pitch pack.
- Analysts, conversion: Spotify vs Apple Music vs Deezer per visit and per source, with intervals and tests.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import streamlit as st

from dashboards import charts, pitch, queries

SERIES_NAMES = {
    "spotify_song": "the song's Spotify streams",
    "spotify_artist": "the artist's Spotify streams (all songs)",
    "apple_song": "the song's Apple Music plays",
}
NOT_YET = "—"


@st.cache_data(ttl=30, show_spinner=False)
def campaigns_frame(snapshot: str, version: float) -> pd.DataFrame:
    return queries.campaigns(queries.WarehouseReader(Path(snapshot)))


@st.cache_data(ttl=30, show_spinner=False)
def _frame(snapshot: str, version: float, sql: str, params: tuple[object, ...]) -> pd.DataFrame:
    return queries.WarehouseReader(Path(snapshot)).query(sql, list(params))


def _get(reader: queries.WarehouseReader, sql: str, *params: object) -> pd.DataFrame:
    return _frame(str(reader.snapshot), reader.version(), sql, params)


def estimate(value: object, low: object = None, high: object = None, form: str = "{:.2f}") -> str:
    """A number with its interval, or a dash when it cannot be computed yet."""
    if not _known(value):
        return NOT_YET
    text = form.format(value)
    if _known(low) and _known(high):
        text += f" ({form.format(low)}–{form.format(high)})"
    return text


def _known(value: object) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value)) and value is not pd.NA


def _pick_campaign(
    reader: queries.WarehouseReader, key: str, frame: pd.DataFrame | None = None
) -> dict | None:
    frame = campaigns_frame(str(reader.snapshot), reader.version()) if frame is None else frame
    if frame.empty:
        st.info("No campaign in the warehouse yet.")
        return None
    titles = {
        row.slug: f"{row.title} ({row.artist}, {row.release_at:%Y-%m-%d})" for row in frame.itertuples()
    }
    slug = st.selectbox("Campaign", list(titles), format_func=titles.get, key=key)
    return frame.set_index("slug", drop=False).loc[slug].to_dict()


def overview(reader: queries.WarehouseReader) -> None:
    st.title("Campaigns")
    frame = campaigns_frame(str(reader.snapshot), reader.version())
    if frame.empty:
        st.info("No campaign in the warehouse yet.")
        return
    st.dataframe(
        frame[
            [
                "slug",
                "title",
                "artist",
                "origin",
                "release_at",
                "presaves",
                "delivered",
                "first_week_streams",
                "streams_per_presaver",
                "artist_lift",
                "roster_ratio",
                "forecast_point",
                "authenticity_score",
            ]
        ],
        hide_index=True,
        column_config={
            "release_at": st.column_config.DatetimeColumn("release (UTC)"),
            "presaves": st.column_config.NumberColumn("pre-saves"),
            "first_week_streams": st.column_config.NumberColumn("first-week streams", format="%d"),
            "streams_per_presaver": st.column_config.NumberColumn("streams per pre-saver", format="%.1f"),
            "artist_lift": st.column_config.NumberColumn("lift vs artist", format="%.2f×"),
            "roster_ratio": st.column_config.NumberColumn("vs roster line", format="%.2f×"),
            "forecast_point": st.column_config.NumberColumn("release-day forecast", format="%d"),
            "authenticity_score": st.column_config.NumberColumn("authenticity", format="%.2f"),
        },
    )


def campaign_page(reader: queries.WarehouseReader, row: dict[str, object]) -> None:
    slug = str(row["slug"])
    st.title(f"{row['artist']} — {row['title']}")
    presaves = _get(reader, queries.PRESAVES_DAILY, slug)
    first_week = _get(reader, queries.FIRST_WEEK, slug)
    count = int(row["presaves"] or 0)  # type: ignore[call-overload]
    streams = first_week["streams"].sum() if not first_week.empty else None
    left, middle, right = st.columns(3)
    left.metric("pre-saves", count)
    middle.metric("first-week streams", f"{int(streams):,}" if streams else NOT_YET)
    per = (streams / count) if streams and count else None
    right.metric("streams per pre-saver (week one)", f"{per:.1f}" if per else NOT_YET)
    if presaves.empty:
        st.info("No pre-saves recorded for this campaign.")
    else:
        st.plotly_chart(charts.presaves_by_day(presaves), key=f"presaves-{slug}")
    if first_week.empty:
        st.info("No first-week streams yet: drop the artist's Spotify for Artists export into the inbox.")
    else:
        st.plotly_chart(charts.first_week_streams(first_week), key=f"first-week-{slug}")
    _delivery(reader, slug)
    _authenticity(reader, slug)


def _delivery(reader: queries.WarehouseReader, slug: str) -> None:
    outcomes = _get(reader, queries.OUTCOMES, slug)
    health = _get(reader, queries.GRANT_HEALTH, slug)
    if outcomes.empty and health.empty:
        return
    st.subheader("Release day")
    if not outcomes.empty:
        st.dataframe(
            outcomes[
                [
                    "service",
                    "kind",
                    "planned",
                    "delivered",
                    "queued",
                    "pending_source",
                    "undeliverable",
                    "failed",
                    "median_seconds_to_library",
                    "p90_seconds_to_library",
                ]
            ],
            hide_index=True,
            column_config={
                "median_seconds_to_library": st.column_config.NumberColumn(
                    "median s to library", format="%.0f"
                ),
                "p90_seconds_to_library": st.column_config.NumberColumn(
                    "90th pct s to library", format="%.0f"
                ),
            },
        )
    at_risk = int(health["expiring_before_due"].sum()) if not health.empty else 0
    if at_risk:
        st.warning(
            f"{at_risk} Spotify grant(s) will be more than six months old at their due moment: Spotify will "
            "refuse their tokens, so these fans must grant again."
        )


def _authenticity(reader: queries.WarehouseReader, slug: str) -> None:
    scores = _get(reader, queries.AUTHENTICITY, slug)
    if scores.empty:
        return
    score = scores.iloc[0]
    st.subheader("Authenticity")
    st.metric("authenticity score (1 = no warning sign)", f"{score['score']:.2f}")
    if score["reasons"]:
        for reason in str(score["reasons"]).split("\n"):
            st.markdown(f"- {reason}")


def lift_page(reader: queries.WarehouseReader) -> None:
    """Labels: did this campaign lift the release?"""
    st.title("Did the campaign lift the release?")
    frame = campaigns_frame(str(reader.snapshot), reader.version())
    measured_ones = frame[frame["first_week_streams"].notna()]  # lift needs a first week to compare
    if measured_ones.empty and not frame.empty:
        st.info("No campaign has a measured first week yet: drop the artist's exports into the inbox.")
        return
    row = _pick_campaign(reader, "lift-campaign", measured_ones)
    if row is None:
        return
    slug = str(row["slug"])
    lift = _get(reader, queries.LIFT, slug)
    if lift.empty:
        st.info(
            "No first week measured for this campaign yet: its release week's streams are not in the exports."
        )
        return
    measured = sorted(lift["series"], key=lambda s: list(SERIES_NAMES).index(s) if s in SERIES_NAMES else 99)
    series = st.radio(
        "Streams measured as", measured, format_func=lambda s: SERIES_NAMES.get(s, s), horizontal=True
    )
    this = lift.set_index("series").loc[series]
    left, middle, right = st.columns(3)
    left.metric("first-week streams", f"{this['first_week_streams']:,.0f}")
    middle.metric(
        "against the artist's earlier releases",
        estimate(this["artist_lift"], this["artist_lift_low"], this["artist_lift_high"], "{:.2f}×"),
        help="First-week streams per follower at release ÷ the median of the artist's earlier releases; "
        "interval: bootstrap over those releases.",
    )
    right.metric(
        "against the roster's line",
        estimate(this["roster_ratio"], this["roster_ratio_low"], this["roster_ratio_high"], "{:.2f}×"),
        help="First-week streams ÷ what the log-log fit of the roster expects for this many pre-saves; "
        "interval: pairs bootstrap of the line.",
    )
    if _known(this["roster_slope"]):
        st.caption(
            f"Roster fit over {int(this['roster_campaigns'])} campaigns: +1% pre-saves ≈ "
            f"+{estimate(this['roster_slope'], this['roster_slope_low'], this['roster_slope_high'])}% first-week "
            f"streams; R² {this['roster_r_squared']:.2f}."
        )
        st.plotly_chart(
            charts.roster_fit(queries.roster(reader, series), slug), key=f"roster-{slug}-{series}"
        )
    else:
        st.info("The roster line needs at least three campaigns with a first week in this series.")
    earlier = queries.artist_releases(reader, series, str(row["artist"]))
    if int(this["earlier_releases"]) == 0:
        st.info("The artist has no earlier release measured the same way: nothing to compare against yet.")
    st.plotly_chart(charts.artist_releases(earlier, slug), key=f"artist-{slug}-{series}")


def pitch_page(reader: queries.WarehouseReader) -> None:
    """Managers: the editorial pitch."""
    st.title("Pitch")
    row = _pick_campaign(reader, "pitch-campaign")
    if row is None:
        return
    slug = str(row["slug"])
    daily = _get(reader, queries.PRESAVES_DAILY, slug)
    countries = _get(reader, queries.PRESAVES_BY_COUNTRY, slug)
    forecast = _get(reader, queries.FORECAST, slug)
    gain = _get(reader, queries.FOLLOWER_GAIN, slug)
    followers = _get(reader, queries.FOLLOWERS_DAILY, slug)
    stats = _get(reader, queries.ARTIST_SNAPSHOTS, slug)
    latest = (
        forecast[forecast["is_latest"]].iloc[0]
        if not forecast.empty and forecast["is_latest"].any()
        else None
    )
    # (label, value, detail): the detail goes under the value, where a long text is not cut off
    by_service = " · ".join(
        f"{charts.SERVICE_NAMES[s]} {int(row[f'{s}_presaves'] or 0):,}"
        for s in ("spotify", "apple", "deezer")
    )
    headline: list[tuple[str, str, str | None]] = [
        ("pre-saves", f"{int(row['presaves'] or 0):,}", by_service),  # type: ignore[call-overload]
        ("share in the last seven days", estimate(row["last_week_share"], form="{:.0%}"), None),
    ]
    if latest is not None:
        headline.append(
            (
                f"release-day forecast (as of D{int(latest['as_of_day'])})",
                estimate(latest["point"], latest["low"], latest["high"], "{:,.0f}")
                if _known(latest["point"])
                else str(latest["note"]),
                None,
            )
        )
    if not gain.empty:
        g = gain.iloc[0]
        headline.append(
            (
                "new followers (pre-save window)",
                f"{g['total_gain']:+,.0f}",
                f"{g['presave_follows']:,} from pre-save follows",
            )
        )
    if not stats.empty:
        s = stats.iloc[0]
        followers_text = f"{int(s['followers']):,}" if _known(s["followers"]) else str(s["followers_status"])
        popularity_text = (
            f"{int(s['popularity'])}" if _known(s["popularity"]) else str(s["popularity_status"])
        )
        headline.append(
            (
                f"{s['service']} followers ({s['snapshot_date']:%Y-%m-%d})",
                followers_text,
                f"popularity {popularity_text}",
            )
        )
    columns = st.columns(min(len(headline), 4))
    for index, (label, value, detail) in enumerate(headline):
        columns[index % len(columns)].metric(label, value, detail, delta_color="off", delta_arrow="off")
    figures = []
    if not daily.empty:
        figures.append(charts.presaves_by_day(daily))
    if not countries.empty:
        figures.append(charts.presaves_by_country(countries))
    if not forecast.empty and forecast["point"].notna().any():
        figures.append(charts.forecast(forecast))
    if not followers.empty:
        window = gain.iloc[0] if not gain.empty else None
        figures.append(
            charts.followers(
                followers,
                window["window_start"] if window is not None else None,
                window["release_date"] if window is not None else None,
            )
        )
    for index, figure in enumerate(figures):
        st.plotly_chart(figure, key=f"pitch-{slug}-{index}")
    if not figures:
        st.info("No pre-saves recorded for this campaign yet.")
    pack = pitch.pitch_html(
        f"{row['artist']} — {row['title']}: pre-save pitch",
        [(label, f"{value} ({detail})" if detail else value) for label, value, detail in headline],
        figures,
        [("Pre-saves by country", countries), ("Pre-saves by day", daily)],
    )
    left, right = st.columns(2)
    left.download_button(
        "Download the pitch pack (HTML)", pack, file_name=f"{slug}-pitch.html", mime="text/html"
    )
    right.download_button(
        "Download pre-saves by day (CSV)",
        pitch.daily_csv(daily),
        file_name=f"{slug}-presaves.csv",
        mime="text/csv",
    )


def conversion_page(reader: queries.WarehouseReader) -> None:
    """Analysts: which service converts visitors best, overall and per source."""
    st.title("Conversion by service")
    frame = campaigns_frame(str(reader.snapshot), reader.version())
    options = ["(all)", *frame["slug"]]
    slug = st.selectbox(
        "Campaign",
        options,
        format_func=lambda s: "all campaigns" if s == "(all)" else s,
        key="conversion-campaign",
    )
    rates = _get(reader, queries.CONVERSION, slug)
    pairs = _get(reader, queries.COMPARISON, slug)
    if rates.empty:
        st.info("No landing-page visits recorded for this campaign.")
        return
    sources = list(dict.fromkeys(rates["source"]))
    source = st.selectbox(
        "Traffic source",
        sources,
        format_func=lambda s: "all sources" if s == "(all)" else s,
        key="conversion-source",
    )
    shown = rates[rates["source"] == source]
    st.plotly_chart(charts.conversion(shown), key=f"conversion-{slug}-{source}")
    st.caption(
        "Per service: of the visitors who chose it (clicked its button or started its authorization), the "
        "share who granted it; `any`: of every visitor, the share who granted some service."
    )
    st.dataframe(
        shown.assign(
            interval=[
                estimate(r, lo, hi, "{:.1%}")
                for r, lo, hi in zip(shown["rate"], shown["low"], shown["high"], strict=True)
            ]
        )[["service", "visitors", "grants", "interval"]],
        hide_index=True,
        column_config={"interval": st.column_config.TextColumn("rate (Wilson 95%)")},
    )
    compared = pairs[pairs["source"] == source]
    if compared.empty:
        st.info("Fewer than two services had visitors here: nothing to compare.")
        return
    st.subheader("Differences between services")
    st.dataframe(
        compared.assign(
            difference_ci=[
                estimate(d, lo, hi, "{:+.1%}")
                for d, lo, hi in zip(compared["difference"], compared["low"], compared["high"], strict=True)
            ]
        )[["service_1", "service_2", "difference_ci", "z", "p_value", "p_holm"]],
        hide_index=True,
        column_config={
            "difference_ci": st.column_config.TextColumn("rate 1 − rate 2 (Newcombe 95%)"),
            "z": st.column_config.NumberColumn("z", format="%.2f"),
            "p_value": st.column_config.NumberColumn("p (two-proportion z-test)", format="%.4f"),
            "p_holm": st.column_config.NumberColumn("p (Holm)", format="%.4f"),
        },
    )
