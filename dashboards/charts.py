"""Plotly figures for the dashboard; every estimate is drawn with its interval."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from dashboards.palette import ALL_SERVICES, HIGHLIGHT, SERVICE_COLOURS, SERVICE_NAMES

SERIES_NAMES = {  # the export series a streams figure is measured in
    "spotify_song": "the song on Spotify",
    "spotify_artist": "all the artist's songs on Spotify",
    "apple_song": "the song on Apple Music",
}
SERIES_SERVICES = {"spotify_song": "spotify", "spotify_artist": "spotify", "apple_song": "apple"}


EARLIEST_DAY = -28


def stacked_bars(
    frame: pd.DataFrame,
    x: str,
    y: str,
    by: str,
    colours: dict[str, str],
    title: str,
    layout: dict[str, Any] | None = None,
    **bars: Any,
) -> go.Figure:
    """Counts as bars of `y` per `x`, stacked by `by` in its colours, the legend untitled: the shape of
    every count chart here (`bars` go to plotly express, `layout` to the figure)."""
    figure = px.bar(frame, x=x, y=y, color=by, color_discrete_map=colours, title=title, **bars)
    legend = {"orientation": "h", "y": -0.25, "title_text": ""}
    figure.update_layout(barmode="stack", **{"legend": legend, **(layout or {})})
    return figure


def by_service_name(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with its services named as people name them (their colours: `NAMED_COLOURS`)."""
    return frame.assign(service=frame["service"].map(lambda s: SERVICE_NAMES.get(s, s)))


NAMED_COLOURS = {SERVICE_NAMES[s]: colour for s, colour in SERVICE_COLOURS.items()}


def interval(rate: Any, low: Any, high: Any) -> dict[str, Any]:
    """Error bars from a rate to its interval's ends (none where an end is unknown)."""
    return {
        "type": "data",
        "symmetric": False,
        "array": np.nan_to_num(high - rate),
        "arrayminus": np.nan_to_num(rate - low),
    }


def presaves_by_day(frame: pd.DataFrame) -> go.Figure:
    figure = stacked_bars(
        by_service_name(frame),
        "days_to_release",
        "presaves",
        "service",
        NAMED_COLOURS,
        "Pre-saves per day before release",
        {"bargap": 0.15},
        labels={"days_to_release": "days before release", "presaves": "pre-saves"},
    )
    if (frame["days_to_release"] <= EARLIEST_DAY).any():  # the mart counts earlier pre-saves at D-28
        figure.update_xaxes(title_text=f"days before release (D{EARLIEST_DAY} includes every earlier day)")
    return figure


def presaves_by_country(frame: pd.DataFrame, top: int = 15) -> go.Figure:
    totals = frame.groupby("country")["presaves"].sum().nlargest(top)
    shown = by_service_name(frame[frame["country"].isin(totals.index)])
    return stacked_bars(
        shown,
        "presaves",
        "country",
        "service",
        NAMED_COLOURS,
        f"Pre-saves by country (top {min(top, len(totals))})",
        {"yaxis_title": ""},
        orientation="h",
        labels={"presaves": "pre-saves"},
        category_orders={"country": list(totals.index)},
    )


def _band(
    figure: go.Figure, frame: pd.DataFrame, x: str, upper: str, lower: str, colour: str, name: str
) -> None:
    """The interval between two columns of `frame` along `x`: out along the upper edge, back along the
    lower."""
    _filled(
        figure,
        pd.concat([frame[x], frame[x][::-1]]),
        pd.concat([frame[upper], frame[lower][::-1]]),
        colour,
        name,
    )


def _filled(figure: go.Figure, x: Any, y: Any, colour: str, name: str) -> None:
    """A filled outline through the points (`x`, `y`), behind the lines and without hover labels."""
    figure.add_scatter(
        x=x, y=y, fill="toself", fillcolor=colour, line={"width": 0}, name=name, hoverinfo="skip"
    )


def _presaves_line(figure: go.Figure, x: Any, y: Any, name: str, mode: str | None = "lines") -> None:
    """A line of pre-saves counted (or fitted to them): green on every chart (`mode` None: plotly's
    choice, markers too below 20 points)."""
    figure.add_scatter(x=x, y=y, mode=mode, name=name, line={"color": ALL_SERVICES})


def forecast(frame: pd.DataFrame) -> go.Figure:
    """Pre-saves so far by relative day, and the release-day forecast made at each day with its interval."""
    made = frame.dropna(subset=["point"])
    figure = go.Figure()
    _band(figure, made, "as_of_day", "high", "low", "rgba(245,166,35,0.2)", "95% prediction interval")
    figure.add_scatter(
        x=made["as_of_day"], y=made["point"], name="forecast for D0", line={"color": HIGHLIGHT}
    )
    _presaves_line(figure, frame["as_of_day"], frame["so_far"], "pre-saves so far", None)
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


def artist_releases(frame: pd.DataFrame, highlight: str) -> go.Figure:
    colours = [HIGHLIGHT if slug == highlight else "#888888" for slug in frame["campaign_slug"]]
    figure = go.Figure(
        go.Bar(x=frame["campaign_slug"], y=frame["streams_per_follower"], marker_color=colours)
    )
    figure.update_layout(
        title="First-week streams per follower at release, release by release",
        yaxis_title="streams per follower",
        xaxis_title="",
    )
    return figure


CHOOSERS_AXIS = "granted, of the visitors who chose the service"


def conversion(frame: pd.DataFrame) -> go.Figure:
    """Each service's rate among the visitors who chose it, with its Wilson 95% interval: one bar per
    service. The rate over every visitor (service `any`) has another denominator and is left out."""
    figure = go.Figure()
    for row in frame[frame["service"] != "any"].itertuples():
        figure.add_bar(
            x=[SERVICE_NAMES.get(row.service, row.service)],
            y=[row.rate],
            name=SERVICE_NAMES.get(row.service, row.service),
            marker_color=SERVICE_COLOURS.get(row.service, "#888888"),
            error_y=interval(np.array([row.rate]), np.array([row.low]), np.array([row.high])),
            text=[f"{row.grants:,} / {row.visitors:,}"],
            textposition="outside",
        )
    figure.update_layout(
        title="Granted, of the visitors who chose each service (Wilson 95% intervals)",
        yaxis={"title": CHOOSERS_AXIS, "tickformat": ".0%", "rangemode": "tozero"},
        showlegend=False,
    )
    return figure


# the two kinds on release day: (success column, trials column, share, low, high, bar name, colour)
RELEASE_DAY_KINDS = (
    ("direct_delivered", "direct", "delivered_share", "delivered_low", "delivered_high",
     "direct pre-saves: saved in the library", "#1f6f8b"),
    ("reminder_clicks", "reminders", "click_share", "click_low", "click_high",
     "reminder sign-ups: followed the link", "#e08e0b"),
)  # fmt: skip


def release_day_kinds(frame: pd.DataFrame) -> go.Figure:
    """Per service, two bars: of the direct pre-savers, the share whose save was delivered; of the
    reminder fans, the share who followed their release-day link; each with its Wilson 95% interval and
    its counts (a kind without fans draws no bar)."""
    figure = go.Figure()
    names = [SERVICE_NAMES.get(s, "all services" if s == "all" else s) for s in frame["service"]]
    for done, fans, share, low, high, name, colour in RELEASE_DAY_KINDS:
        figure.add_bar(
            x=names,
            y=frame[share],
            name=name,
            marker_color=colour,
            error_y=interval(
                frame[share].to_numpy(float), frame[low].to_numpy(float), frame[high].to_numpy(float)
            ),
            text=[f"{d:,} / {n:,}" if n else "" for d, n in zip(frame[done], frame[fans], strict=True)],
            textposition="outside",
        )
    figure.update_layout(
        title="Release day by kind of pre-save (Wilson 95% intervals)",
        yaxis={"title": "share of the kind's fans", "tickformat": ".0%", "rangemode": "tozero"},
        barmode="group",
        legend={"orientation": "h", "y": -0.2},
    )
    return figure


def followers(frame: pd.DataFrame, window_start: object | None, release_date: object | None) -> go.Figure:
    """`frame`: date, origin, followers, service: a line per origin (an export or a service's API), in
    its service's colour, dashed for the services' APIs."""
    figure = go.Figure()
    for origin, rows in frame.groupby("origin", sort=True):
        service = str(rows["service"].iloc[0]) if "service" in rows else ""
        figure.add_scatter(
            x=rows["date"],
            y=rows["followers"],
            mode="lines+markers" if len(rows) < 20 else "lines",
            name=str(origin),
            line={
                "color": SERVICE_COLOURS.get(service, "#888888"),
                "dash": "dot" if "API" in str(origin) else "solid",
            },
        )
    if window_start is not None and release_date is not None:
        figure.add_vrect(
            x0=window_start,
            x1=release_date,
            fillcolor="rgba(245,166,35,0.15)",
            line_width=0,
            annotation_text="pre-save window",
        )
    figure.update_layout(
        title="Followers around the pre-save window",
        yaxis={"title": "followers"},
        legend={"orientation": "h", "y": -0.2, "title_text": ""},
    )
    return figure


def roster(frame: pd.DataFrame, highlight: str | None = None, series: str = "") -> go.Figure:
    """Each campaign a point (pre-saves against first-week streams of `series`, log axes) coloured by its
    ratio to the roster line; the line, and its 95% prediction band through each campaign's own interval."""
    streams = f"first-week streams ({series})" if series else "first-week streams"
    frame = frame.sort_values("presaves")
    bounded = frame.dropna(subset=["roster_fitted", "roster_ratio_low", "roster_ratio_high"])
    figure = go.Figure()
    if not bounded.empty:
        upper = bounded["first_week_streams"] / bounded["roster_ratio_low"].where(
            bounded["roster_ratio_low"] > 0
        )
        lower = bounded["first_week_streams"] / bounded["roster_ratio_high"].where(
            bounded["roster_ratio_high"] > 0
        )
        band = bounded.assign(upper=upper, lower=lower).dropna(subset=["upper", "lower"])
        _band(figure, band, "presaves", "upper", "lower", "rgba(85,85,85,0.15)", "95% prediction band")
    fitted = frame.dropna(subset=["roster_fitted"])
    if not fitted.empty:
        _presaves_line(figure, fitted["presaves"], fitted["roster_fitted"], "roster line (log-log fit)")
    ratio = frame["roster_ratio"].astype(float)
    figure.add_scatter(
        x=frame["presaves"],
        y=frame["first_week_streams"],
        mode="markers",
        name="campaigns",
        customdata=np.column_stack(
            [
                frame["campaign_slug"],
                frame["artist"],
                frame["release_date"].astype(str),
                [f"{r:.2f}×" if pd.notna(r) else "not fitted" for r in ratio],
            ]
        ),
        hovertemplate="<b>%{customdata[0]}</b> (%{customdata[1]})<br>released %{customdata[2]}"
        f"<br>pre-saves %{{x:,}}<br>{streams} %{{y:,.0f}}<br>against the line %{{customdata[3]}}"
        "<extra></extra>",
        marker={
            "size": [16 if slug == highlight else 10 for slug in frame["campaign_slug"]],
            "color": np.log2(ratio.clip(lower=1e-3)).fillna(0),
            "colorscale": "RdYlGn",
            "cmid": 0,
            "colorbar": {"title": {"text": "log₂ lift"}, "thickness": 12},
            "line": {
                "width": [2 if slug == highlight else 0 for slug in frame["campaign_slug"]],
                "color": "#222",
            },
        },
    )
    figure.update_layout(
        title=f"The roster: {streams} against pre-saves",
        xaxis={"title": "pre-saves (all services)", "type": "log"},
        yaxis={"title": streams, "type": "log"},
        legend={"orientation": "h", "y": -0.25},
    )
    return figure


def accumulation(
    frame: pd.DataFrame, forecast_row: dict[str, Any] | None = None, marks: tuple[int, ...] = (-7, -3, -1)
) -> go.Figure:
    """Cumulative pre-saves by day relative to release, the follow-up days marked, and before release the
    forecast band from the last counted day to D0."""
    figure = go.Figure()
    _presaves_line(figure, frame["day"], frame["cumulative"], "pre-saves so far", "lines+markers")
    if forecast_row is not None:
        last = frame.iloc[-1]
        _filled(
            figure,
            [last["day"], 0, 0, last["day"]],
            [last["cumulative"], forecast_row["high"], forecast_row["low"], last["cumulative"]],
            "rgba(245,166,35,0.25)",
            "forecast, 95% interval",
        )
        figure.add_scatter(
            x=[last["day"], 0],
            y=[last["cumulative"], forecast_row["point"]],
            mode="lines+markers",
            line={"color": HIGHLIGHT, "dash": "dash"},
            name="forecast for D0",
        )
    for day in marks:
        figure.add_vline(x=day, line_dash="dot", line_color="#888", annotation_text=f"D{day}")
    figure.update_layout(
        title="Pre-saves accumulated (follow-up posts on D-7, D-3 and D-1)",
        xaxis_title="day relative to release (D0)",
        yaxis={"title": "pre-saves", "rangemode": "tozero"},
        legend={"orientation": "h", "y": -0.2},
    )
    return figure


FUNNEL_STEPS = {
    "visits": "visits",
    "clicks": "chose the service",
    "authorize_starts": "started authorizing",
    "grants": "granted",
    "delivered": "saved on release",
}


def funnel(frame: pd.DataFrame) -> go.Figure:
    """One funnel per service: visits, choice, authorization, grant, delivery."""
    figure = go.Figure()
    for row in frame.to_dict("records"):
        figure.add_trace(
            go.Funnel(
                name=SERVICE_NAMES.get(row["service"], row["service"]),
                y=list(FUNNEL_STEPS.values()),
                x=[row[step] for step in FUNNEL_STEPS],
                marker={"color": SERVICE_COLOURS.get(row["service"], "#888888")},
                textinfo="value+percent initial",
            )
        )
    figure.update_layout(title="Landing funnel by service", legend={"orientation": "h", "y": -0.15})
    return figure


def in_app_loss(frame: pd.DataFrame) -> go.Figure:
    """Grant rate among visitors who chose a service, by browser (ordinary, or each in-app browser)."""
    names = ["ordinary browser" if b == "(none)" else f"in {b}" for b in frame["in_app_browser"]]
    figure = go.Figure(
        go.Bar(
            x=names,
            y=frame["rate"],
            marker_color=[ALL_SERVICES if b == "(none)" else "#e4572e" for b in frame["in_app_browser"]],
            text=[f"{g} / {c}" for g, c in zip(frame["grants"], frame["choosers"], strict=True)],
            textposition="outside",
        )
    )
    figure.update_layout(
        title="Granted, of the visitors who chose a service, by browser",
        yaxis={"title": "share granted", "tickformat": ".0%", "rangemode": "tozero"},
    )
    return figure


def velocity(frame: pd.DataFrame, series_names: dict[str, str]) -> go.Figure:
    """Streams on each day of week one, one line per series measured, in its service's colour (the
    artist's whole catalogue dashed)."""
    figure = go.Figure()
    for row in frame.to_dict("records"):
        service = SERIES_SERVICES.get(row["series"], "")
        figure.add_scatter(
            x=[f"D{d}" for d in range(7)],
            y=[row[f"d{d}_streams"] for d in range(7)],
            mode="lines+markers",
            name=series_names.get(row["series"], row["series"]),
            line={
                "color": SERVICE_COLOURS.get(service, "#888888"),
                "dash": "dash" if row["series"].endswith("_artist") else "solid",
            },
        )
    figure.update_layout(
        title="First-week velocity: streams per day (D0 = release day)",
        xaxis_title="day after release",
        yaxis={"title": "streams", "rangemode": "tozero"},
        legend={"orientation": "h", "y": -0.2},
    )
    return figure


OUTCOME_COLOURS = {  # by the outcome's label (release_actions.outcome_label)
    "delivered": "#2b83ba",
    "queued": "#9e9e9e",
    "pending source": "#f5a623",
    "pending_source": "#f5a623",
    "undeliverable": "#7b3294",
    "failed": "#d7191c",
    "ignored by the service": "#e66101",
}


def outcomes_over_time(frame: pd.DataFrame) -> go.Figure:
    figure = stacked_bars(
        frame,
        "hour",
        "actions",
        "outcome",
        OUTCOME_COLOURS,
        "Owed actions by outcome, per hour (when done, or due when not done)",
        {"legend": {"orientation": "h", "y": -0.25, "title_text": ""}},
        labels={"hour": "hour (UTC)", "actions": "actions", "outcome": ""},
    )
    figure.update_xaxes(
        tickformat="%d %b %H:00", hoverformat="%d %b %Y %H:00 UTC", dtick=hour_step(frame["hour"]) * HOUR_MS
    )
    return figure


HOUR_MS = 3_600_000
HOUR_STEPS = (1, 2, 3, 6, 12, 24, 48, 168)


def hour_step(hours: pd.Series, ticks: int = 8) -> int:
    """Hours between ticks of an hourly axis: whole hours, about `ticks` of them across the span."""
    span = (pd.to_datetime(hours).max() - pd.to_datetime(hours).min()) / pd.Timedelta(hours=1)
    return next((step for step in HOUR_STEPS if span / step <= ticks), HOUR_STEPS[-1])


def wait_label(log_bucket: float) -> str:
    """A quarter-decade bucket of seconds (its lower end's log10) as the span it holds: `1–2 s`."""
    return f"{_duration(10**log_bucket)}–{_duration(10 ** (log_bucket + 0.25))}"


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.2g} {unit}"
    return f"{seconds:.2g} s"


def time_to_library(frame: pd.DataFrame) -> go.Figure:
    """Delivered actions by time from due moment to library, in quarter-decade buckets: one bar per
    bucket, every bucket of every service shown (a category axis, read left to right as a log scale)."""
    buckets = sorted(frame["log_bucket"].astype(float).unique())
    shown = by_service_name(frame).assign(wait=frame["log_bucket"].astype(float).map(wait_label))
    return stacked_bars(
        shown,
        "wait",
        "actions",
        "service",
        NAMED_COLOURS,
        "Time to library (delivered actions)",
        {"legend": {"orientation": "h", "y": -0.3, "title_text": ""}},
        labels={"wait": "time from due moment to library", "actions": "actions"},
        category_orders={"wait": [wait_label(b) for b in buckets]},
    )


def conversion_by_source(frame: pd.DataFrame) -> go.Figure:
    """Conversion per source, a bar per service with its Wilson interval."""
    figure = go.Figure()
    for service, rows in frame.groupby("service", sort=False):
        figure.add_bar(
            x=rows["source"],
            y=rows["rate"],
            name=SERVICE_NAMES.get(str(service), str(service)),
            marker_color=SERVICE_COLOURS.get(str(service), "#888888"),
            error_y=interval(rows["rate"], rows["low"], rows["high"]),
        )
    figure.update_layout(
        title="Conversion by traffic source and service (Wilson 95% intervals)",
        barmode="group",
        yaxis={"title": CHOOSERS_AXIS, "tickformat": ".0%", "rangemode": "tozero"},
        legend={"orientation": "h", "y": -0.25},
    )
    return figure
