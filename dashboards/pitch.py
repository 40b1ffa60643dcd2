"""The pitch pack: one page (PDF or PNG) a manager attaches to an email to an editor, made offline.

Gathered from the marts by SQL (`gather`), drawn with matplotlib on its own figure object (`render`): no
browser, no network, no pyplot state shared between Streamlit's threads; the PDF embeds its fonts
(TrueType, DejaVu Sans, shipped with matplotlib), so it reads the same on any machine.
"""

from __future__ import annotations

import io
import math
import textwrap
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import duckdb
import matplotlib
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from dashboards import checks, queries
from dashboards.glossary import Glossary, known, presave_kinds
from dashboards.palette import ALL_SERVICES, HIGHLIGHT, SERVICE_COLOURS, SERVICE_NAMES

FORMATS = ("pdf", "png")
PAGE_INCHES = (11.69, 8.27)  # A4 landscape
PNG_DPI = 150
GREY = "#888888"
COMPARABLES = 5
COMPARABLE_WIDTHS = [0.44, 0.16, 0.14, 0.26]  # of the panel: the name's column fits 30 characters
RED = "#c0392b"
# The mart each of the pack's figures and panels comes from: a failed check of one marks what it shows.
PACK_MARTS = {
    "presaves": "presaves",
    "last_week_share": "presave_accumulation",
    "forecast": "presave_forecast",
    "follower_gain": "follower_gain",
}
PANEL_MARTS = ("presaves_daily", "presaves_by_country", "campaign_followers", "campaign_overview")


@dataclass(frozen=True)
class PitchPack:
    slug: str
    heading: str
    figures: list[tuple[str, str, str | None]]  # (glossary label, value, detail)
    daily: pd.DataFrame  # days_to_release, presaves, cumulative
    forecast: dict[str, float] | None  # point, low, high (before release only)
    countries: pd.DataFrame  # country, presaves
    followers: pd.DataFrame  # date, origin, followers
    comparables: pd.DataFrame  # campaign, released, pre-saves, first-week streams
    failed_checks: list[str] = field(default_factory=list)  # the checks refuting what the pack shows
    prepared: datetime = field(default_factory=lambda: datetime.now(UTC))


class UnknownCampaign(LookupError):
    pass


def gather(reader: queries.WarehouseReader, slug: str) -> PitchPack:
    campaign = reader.query(queries.CAMPAIGN, [slug])
    if campaign.empty:
        raise UnknownCampaign(f"no campaign {slug!r} in the warehouse snapshot {reader.snapshot}")
    row = campaign.iloc[0].to_dict()
    glossary = Glossary(_optional(reader, queries.GLOSSARY))
    figures: list[tuple[str, str, str | None]] = [
        (glossary["presaves"].label, glossary.value("presaves", row), _by_service(row)),
        (glossary["last_week_share"].label, glossary.value("last_week_share", row), None),
    ]
    figures += _kinds(_optional(reader, queries.PRESAVE_KINDS, slug))
    released = pd.Timestamp(row["release_at"]) <= pd.Timestamp.now(tz="UTC")
    forecast = None
    if not released:
        note = row.get("forecast_note") if not known(row.get("forecast_point")) else None
        figures.append((glossary["forecast"].label, glossary.value("forecast", row), note or None))
        if known(row.get("forecast_point")) and known(row.get("forecast_low")):
            forecast = {k: float(row[f"forecast_{k}"]) for k in ("point", "low", "high")}
    gain = _optional(reader, queries.FOLLOWER_GAIN, slug)
    if not gain.empty:
        if "service" in gain.columns:
            gain = gain.sort_values("service", key=lambda s: s != "spotify")
        first = gain.iloc[0].to_dict()
        follows = glossary["presave_follows"]
        figures.append(
            (
                glossary["follower_gain"].label,
                glossary.value("follower_gain", first),
                f"{follows.label}: {glossary.value('presave_follows', first)}",
            )
        )
    daily = _optional(reader, queries.PRESAVES_DAILY, slug)
    if not daily.empty:
        daily = daily.groupby("days_to_release", as_index=False)["presaves"].sum()
        daily["cumulative"] = daily["presaves"].cumsum()
    countries = _optional(reader, queries.PRESAVES_BY_COUNTRY, slug)
    if not countries.empty:
        countries = countries.groupby("country", as_index=False)["presaves"].sum().nlargest(8, "presaves")
    failed = _optional(reader, queries.FAILED_CHECKS)
    refuted = set(checks.refuting(failed, PACK_MARTS.values(), slug).get("asset", []))
    marked = {glossary[key].label: key for key, mart in PACK_MARTS.items() if mart in refuted}
    figures = [
        (f"{checks.MARK} {label}" if label in marked else label, value, detail)
        for label, value, detail in figures
    ]
    return PitchPack(
        slug=slug,
        heading=f"{row['artist']} — {row['title']} (release {pd.Timestamp(row['release_at']):%d %b %Y})",
        figures=figures,
        daily=daily,
        forecast=forecast,
        countries=countries,
        followers=_optional(reader, queries.FOLLOWERS, slug),
        comparables=comparables(reader.query(queries.CAMPAIGNS), row),
        failed_checks=checks.sentences(failed, (*PACK_MARTS.values(), *PANEL_MARTS), slug),
    )


def comparables(campaigns: pd.DataFrame, row: dict[str, Any], count: int = COMPARABLES) -> pd.DataFrame:
    """The released campaigns with a measured first week closest in pre-saves (on a log scale)."""
    others = campaigns[
        (campaigns["campaign_slug"] != row["campaign_slug"])
        & campaigns["first_week_streams"].notna()
        & (campaigns["presaves"] > 0)
    ]
    if others.empty:
        return pd.DataFrame(columns=["campaign", "released", "pre-saves", "first-week streams"])
    target = math.log(max(int(row["presaves"] or 0), 1))
    distance = (others["presaves"].astype(float).map(math.log) - target).abs()
    closest = others.assign(distance=distance).nsmallest(count, "distance")
    return pd.DataFrame(
        {
            "campaign": closest["artist"] + " — " + closest["title"],
            "released": pd.to_datetime(closest["release_at"]).dt.strftime("%Y-%m-%d"),
            "pre-saves": closest["presaves"].map(lambda v: f"{int(v):,}"),
            "first-week streams": closest["first_week_streams"].map(lambda v: f"{v:,.0f}"),
        }
    )


def render(pack: PitchPack, fmt: str) -> bytes:
    """The one-page pack as PDF or PNG bytes."""
    if fmt not in FORMATS:
        raise ValueError(f"pitch pack format {fmt!r}: use one of {', '.join(FORMATS)}")
    figure = Figure(figsize=PAGE_INCHES, layout="constrained")
    figure.suptitle(f"{pack.heading}: pre-save pitch", fontsize=16, fontweight="bold", x=0.02, ha="left")
    rows: Any = figure.subfigures(2, 1, height_ratios=[1, 4.2])
    _headline(rows[0], pack)
    grid: Any = rows[1].subplots(2, 2)
    _presaves(grid[0][0], pack)
    _countries(grid[0][1], pack)
    _followers(grid[1][0], pack)
    _comparables(grid[1][1], pack)
    buffer = io.BytesIO()
    metadata = {"Title": f"{pack.heading}: pre-save pitch", "Creator": "presave"}
    with matplotlib.rc_context({"pdf.fonttype": 42}):  # TrueType fonts embedded whole, not Type 3
        figure.savefig(
            buffer,
            format=fmt,
            dpi=PNG_DPI,
            metadata=metadata if fmt == "pdf" else {"Title": metadata["Title"]},
        )
    return buffer.getvalue()


def _headline(area: Figure, pack: PitchPack) -> None:
    width = 1 / max(len(pack.figures), 1)
    for index, (label, value, detail) in enumerate(pack.figures):
        x = index * width + 0.01
        area.text(x, 0.78, label, fontsize=9, color=GREY)
        area.text(x, 0.42, value, fontsize=15 if len(value) < 18 else 11, fontweight="bold")
        if detail:
            area.text(x, 0.26, textwrap.fill(detail, 46), fontsize=8, color=GREY, va="top")
    if pack.failed_checks:
        said = [_shorten(text.replace("`", ""), 150) for text in pack.failed_checks[:2]]
        more = len(pack.failed_checks) - len(said)
        area.text(
            0.01,
            -0.02,
            "\n".join(said) + (f"\n… and {more} more" if more > 0 else ""),
            fontsize=7,
            color=RED,
            va="top",
        )
    area.text(
        0.99,
        0.0,
        f"Prepared {pack.prepared:%Y-%m-%d %H:%M} UTC · intervals are 95%",
        fontsize=7,
        color=GREY,
        ha="right",
    )


def _presaves(axes: Axes, pack: PitchPack) -> None:
    axes.set_title("Pre-saves per day and to date (all services)", loc="left", fontsize=10)
    if pack.daily.empty:
        _empty(axes, "No pre-saves yet")
        return
    axes.bar(
        pack.daily["days_to_release"], pack.daily["presaves"], color=ALL_SERVICES, alpha=0.45, label="per day"
    )
    axes.set_xlabel("days before release (D0 = release day)")
    axes.set_ylabel("pre-saves per day")
    total = axes.twinx()
    total.plot(
        pack.daily["days_to_release"], pack.daily["cumulative"], color="#222", linewidth=2, label="to date"
    )
    if pack.forecast:
        point, low, high = pack.forecast["point"], pack.forecast["low"], pack.forecast["high"]
        total.errorbar(
            [0],
            [point],
            yerr=[[point - low], [high - point]],
            fmt="D",
            color=HIGHLIGHT,
            capsize=5,
            label=f"forecast D0: {point:,.0f} ({low:,.0f} to {high:,.0f})",
        )
    total.set_ylabel("pre-saves to date")
    total.set_ylim(bottom=0)
    handles = [*axes.get_legend_handles_labels()[0], *total.get_legend_handles_labels()[0]]
    total.legend(handles=handles, loc="upper left", fontsize=8)


def _countries(axes: Axes, pack: PitchPack) -> None:
    axes.set_title("Top countries (pre-saves, all services)", loc="left", fontsize=10)
    if pack.countries.empty:
        _empty(axes, "No country known yet")
        return
    shown = pack.countries.iloc[::-1]
    axes.barh(shown["country"], shown["presaves"], color=ALL_SERVICES)
    axes.set_xlabel("pre-saves")


def _followers(axes: Axes, pack: PitchPack) -> None:
    axes.set_title("Follower growth", loc="left", fontsize=10)
    if pack.followers.empty:
        _empty(axes, "No follower series for this artist yet")
        return
    for origin, rows in pack.followers.groupby("origin"):
        service = str(rows["service"].iloc[0]) if "service" in rows else ""
        axes.plot(
            pd.to_datetime(rows["date"]),
            rows["followers"],
            label=f"{origin}: {_last(rows['followers'])}",
            color=SERVICE_COLOURS.get(service, GREY),
            linestyle=":" if "API" in str(origin) else "-",
            linewidth=2,
            marker="o",
            markersize=3,
        )
    axes.set_ylabel("followers")
    axes.legend(fontsize=8, handlelength=3)
    axes.tick_params(axis="x", labelsize=7, rotation=30)


def _comparables(axes: Axes, pack: PitchPack) -> None:
    axes.set_title("Comparable campaigns (closest in pre-saves)", loc="left", fontsize=10)
    axes.axis("off")
    if pack.comparables.empty:
        axes.text(0.5, 0.5, "No released campaign with a measured first week yet", ha="center", color=GREY)
        return
    cells = [[_shorten(str(v), 30) for v in row] for row in pack.comparables.itertuples(index=False)]
    table = axes.table(
        cellText=cells,
        colLabels=list(pack.comparables.columns),
        colWidths=COMPARABLE_WIDTHS,
        cellLoc="right",
        loc="upper center",
    )
    table.auto_set_font_size(False)
    table.set_fontsize(8)
    table.scale(1, 1.4)
    for (row, column), cell in table.get_celld().items():
        if column == 0:  # the campaign's name, from the left of a column wide enough for 30 characters
            cell.set_text_props(ha="left")
            cell.PAD = 0.02
        if row == 0:
            cell.set_text_props(fontweight="bold")


def _empty(axes: Axes, text: str) -> None:
    axes.axis("off")
    axes.text(0.5, 0.5, text, ha="center", va="center", color=GREY)


def _by_service(row: dict[str, Any]) -> str:
    return "all services: " + " · ".join(
        f"{SERVICE_NAMES[s]} {int(row.get(f'{s}_presaves') or 0):,}" for s in ("spotify", "apple", "deezer")
    )


def _last(values: pd.Series) -> str:
    known_values = values.dropna()
    return f"{int(known_values.iloc[-1]):,} now" if not known_values.empty else "not available"


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _kinds(kinds: pd.DataFrame) -> list[tuple[str, str, str | None]]:
    """Reminder pre-saves beside the direct ones, each labelled, when the campaign has any."""
    every = kinds[kinds["service"] == "all"] if not kinds.empty else kinds
    if every.empty or not int(every.iloc[0]["reminders"]):
        return []
    row = every.iloc[0]
    clicks = (
        f"; {int(row['reminder_clicks']):,} followed their release-day link" if row["reminder_clicks"] else ""
    )
    return [
        (
            "Reminder sign-ups",
            f"{int(row['reminders']):,}",
            presave_kinds(int(row["direct"]), int(row["reminders"])) + clicks,
        )
    ]


def _optional(reader: queries.WarehouseReader, sql: str, *params: object) -> pd.DataFrame:
    """A mart an older warehouse may lack reads as empty: the pack says so on its panel."""
    try:
        return reader.query(sql, list(params))
    except (duckdb.CatalogException, duckdb.BinderException):
        return pd.DataFrame()
