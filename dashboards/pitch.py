"""The pitch pack: one self-contained HTML page (figures embedded, no network needed to open it) and a
CSV of the daily pre-saves, for a manager's editorial pitch."""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import UTC, datetime

import pandas as pd
import plotly.graph_objects as go


def pitch_html(
    title: str,
    headline: Sequence[tuple[str, str]],
    figures: Sequence[go.Figure],
    tables: Sequence[tuple[str, pd.DataFrame]],
) -> str:
    """`headline`: (label, value) pairs; figures in order; tables as (caption, frame)."""
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:1100px}"
        "dl{display:grid;grid-template-columns:max-content auto;gap:.3rem 1.5rem}dt{color:#666}"
        "table{border-collapse:collapse;margin:1rem 0}td,th{border-bottom:1px solid #ddd;padding:.3rem .8rem;"
        "text-align:right}th:first-child,td:first-child{text-align:left}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>Prepared {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. Intervals are 95%.</p><dl>",
    ]
    parts.extend(f"<dt>{html.escape(label)}</dt><dd>{html.escape(value)}</dd>" for label, value in headline)
    parts.append("</dl>")
    for index, figure in enumerate(figures):
        parts.append(figure.to_html(full_html=False, include_plotlyjs=index == 0))
    for caption, frame in tables:
        parts.append(f"<h2>{html.escape(caption)}</h2>")
        parts.append(frame.to_html(index=False, na_rep="—", float_format=lambda v: f"{v:,.3g}"))
    parts.append("</body></html>")
    return "".join(parts)


def daily_csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode("utf-8")
