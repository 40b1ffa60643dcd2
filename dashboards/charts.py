"""Plotly figures for the campaign pages."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

SERVICE_COLOURS = {"spotify": "#1db954", "apple": "#fa243c", "deezer": "#a238ff"}


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
        line={"color": "#f5a623"},
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
