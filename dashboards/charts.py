"""Plotly figures for the dashboard; every estimate is drawn with its interval."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

SERVICE_COLOURS = {"spotify": "#1db954", "apple": "#fa243c", "deezer": "#a238ff", "any": "#555555"}
SERVICE_NAMES = {"spotify": "Spotify", "apple": "Apple Music", "deezer": "Deezer", "any": "any service"}
HIGHLIGHT = "#f5a623"


EARLIEST_DAY = -28


def presaves_by_day(frame: pd.DataFrame) -> go.Figure:
    figure = px.bar(
        frame,
        x="days_to_release",
        y="presaves",
        color="service",
        color_discrete_map=SERVICE_COLOURS,
        labels={"days_to_release": "days before release", "presaves": "pre-saves"},
        title="Pre-saves per day before release",
    )
    figure.update_layout(barmode="stack", bargap=0.15, legend_title_text="")
    if (frame["days_to_release"] <= EARLIEST_DAY).any():  # the mart counts earlier pre-saves at D-28
        figure.update_xaxes(title_text=f"days before release (D{EARLIEST_DAY} includes every earlier day)")
    return figure


def presaves_by_country(frame: pd.DataFrame, top: int = 15) -> go.Figure:
    totals = frame.groupby("country")["presaves"].sum().nlargest(top)
    shown = frame[frame["country"].isin(totals.index)]
    figure = px.bar(
        shown,
        x="presaves",
        y="country",
        color="service",
        orientation="h",
        color_discrete_map=SERVICE_COLOURS,
        category_orders={"country": list(totals.index)},
        title=f"Pre-saves by country (top {min(top, len(totals))})",
    )
    figure.update_layout(barmode="stack", legend_title_text="", yaxis_title="")
    return figure


def first_week_streams(frame: pd.DataFrame) -> go.Figure:
    figure = go.Figure()
    figure.add_bar(x=frame["day"], y=frame["streams"], name="streams", marker_color="#1db954")
    figure.add_scatter(
        x=frame["day"],
        y=frame["streams_per_presaver"],
        name="streams per pre-saver",
        yaxis="y2",
        mode="lines+markers",
        line={"color": HIGHLIGHT},
    )
    figure.update_layout(
        title="Streams per day in the first week (D0 = release day)",
        xaxis={
            "title": "day",
            "tickmode": "array",
            "tickvals": list(range(7)),
            "ticktext": [f"D{d}" for d in range(7)],
        },
        yaxis={"title": "streams"},
        yaxis2={"title": "streams per pre-saver", "overlaying": "y", "side": "right", "rangemode": "tozero"},
        legend={"orientation": "h", "y": -0.2},
    )
    return figure


def forecast(frame: pd.DataFrame) -> go.Figure:
    """Pre-saves so far by relative day, and the release-day forecast made at each day with its interval."""
    made = frame.dropna(subset=["point"])
    figure = go.Figure()
    figure.add_scatter(
        x=pd.concat([made["as_of_day"], made["as_of_day"][::-1]]),
        y=pd.concat([made["high"], made["low"][::-1]]),
        fill="toself",
        fillcolor="rgba(245,166,35,0.2)",
        line={"width": 0},
        name="95% prediction interval",
        hoverinfo="skip",
    )
    figure.add_scatter(
        x=made["as_of_day"], y=made["point"], name="forecast for D0", line={"color": HIGHLIGHT}
    )
    figure.add_scatter(
        x=frame["as_of_day"], y=frame["so_far"], name="pre-saves so far", line={"color": "#1db954"}
    )
    actual = frame["actual"].dropna()
    if not actual.empty:
        figure.add_hline(y=float(actual.iloc[0]), line_dash="dot", annotation_text="release-day total")
    figure.update_layout(
        title="Release-day forecast, as made on each day before release",
        xaxis_title="day relative to release (D0)",
        yaxis_title="pre-saves",
        legend={"orientation": "h", "y": -0.2},
    )
    return figure


def followers(frame: pd.DataFrame, window_start: object | None, release_date: object | None) -> go.Figure:
    figure = px.line(frame, x="date", y="followers", title="Followers around the pre-save window")
    if window_start is not None and release_date is not None:
        figure.add_vrect(
            x0=window_start,
            x1=release_date,
            fillcolor="rgba(29,185,84,0.12)",
            line_width=0,
            annotation_text="pre-save window",
        )
    return figure


def roster_fit(frame: pd.DataFrame, highlight: str) -> go.Figure:
    """First-week streams against pre-saves on log axes, the fitted line, the campaign highlighted."""
    figure = go.Figure()
    others = frame[frame["campaign_slug"] != highlight]
    this = frame[frame["campaign_slug"] == highlight]
    figure.add_scatter(
        x=others["presaves"],
        y=others["first_week_streams"],
        mode="markers",
        name="other campaigns",
        text=others["title"],
        marker={"color": "#888888", "size": 9},
    )
    line = frame.sort_values("presaves")
    figure.add_scatter(
        x=line["presaves"],
        y=line["roster_fitted"],
        mode="lines",
        name="roster fit (log-log)",
        line={"color": "#1db954"},
    )
    if not this.empty:
        ratio = this.iloc[0]
        figure.add_scatter(
            x=this["presaves"],
            y=this["first_week_streams"],
            mode="markers",
            name=f"this campaign: {ratio['roster_ratio']:.2f}× the line",
            text=this["title"],
            marker={"color": HIGHLIGHT, "size": 14, "symbol": "diamond"},
            error_y={
                "type": "data",
                "symmetric": False,
                "array": [
                    float(ratio["roster_fitted"] * (ratio["roster_ratio_high"] - ratio["roster_ratio"]))
                ],
                "arrayminus": [
                    float(ratio["roster_fitted"] * (ratio["roster_ratio"] - ratio["roster_ratio_low"]))
                ],
            },
        )
    figure.update_layout(
        title="First-week streams against pre-saves across the roster",
        xaxis={"title": "pre-saves", "type": "log"},
        yaxis={"title": "first-week streams", "type": "log"},
        legend={"orientation": "h", "y": -0.25},
    )
    return figure


def artist_releases(frame: pd.DataFrame, highlight: str) -> go.Figure:
    colours = [HIGHLIGHT if slug == highlight else "#888888" for slug in frame["campaign_slug"]]
    figure = go.Figure(go.Bar(x=frame["title"], y=frame["streams_per_follower"], marker_color=colours))
    figure.update_layout(
        title="First-week streams per follower at release, release by release",
        yaxis_title="streams per follower",
        xaxis_title="",
    )
    return figure


def conversion(frame: pd.DataFrame) -> go.Figure:
    """Rates with their Wilson 95% intervals as error bars, one bar per service."""
    figure = go.Figure()
    for row in frame.itertuples():
        figure.add_bar(
            x=[SERVICE_NAMES.get(row.service, row.service)],
            y=[row.rate],
            name=SERVICE_NAMES.get(row.service, row.service),
            marker_color=SERVICE_COLOURS.get(row.service, "#888888"),
            error_y={
                "type": "data",
                "symmetric": False,
                "array": [np.nan_to_num(row.high - row.rate)],
                "arrayminus": [np.nan_to_num(row.rate - row.low)],
            },
            text=[f"{row.grants} / {row.visitors}"],
            textposition="outside",
        )
    figure.update_layout(
        title="Visit-to-grant conversion (Wilson 95% intervals)",
        yaxis={"title": "share of visitors who granted", "tickformat": ".0%", "rangemode": "tozero"},
        showlegend=False,
    )
    return figure
