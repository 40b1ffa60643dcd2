"""The figures' labels, help texts and number formats, as the warehouse's `figure_glossary` defines them.

The dashboard never names a headline figure itself: it asks the glossary for the label, the help text and
the display format, and reads the value from the mart column the glossary names, so a figure reads the
same on every page.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

NOT_YET = "—"


def presave_kinds(direct: int, reminders: int) -> str:
    """The two kinds of pre-save, each labelled, and both: one wording for every page and the pitch pack.
    Direct: the label's app saves the release for the fan; reminder: an email with a link on release day."""
    return f"{direct:,} direct pre-saves, {reminders:,} reminder sign-ups, {direct + reminders:,} in all"


def known(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return False
    return not (isinstance(value, float) and math.isnan(value))


@dataclass(frozen=True)
class Entry:
    figure: str
    label: str
    help: str
    display: str
    unit: str = ""
    column: str = ""
    series: str = ""  # the export series a streams figure is measured in (spotify_song…), else empty

    def format(self, value: object, low: object = None, high: object = None) -> str:
        """The value in the glossary's format, with its interval when both ends are known."""
        if not known(value):
            return NOT_YET
        text = _apply(self.display, value)
        if known(low) and known(high):
            text += f" ({_apply(self.display, low)} to {_apply(self.display, high)})"
        return text


def _apply(display: str, value: object) -> str:
    try:
        return display.format(value)
    except (ValueError, TypeError):
        return str(value)


class Glossary:
    def __init__(self, frame: pd.DataFrame) -> None:
        self._entries = {
            str(row["figure"]): Entry(
                str(row["figure"]),
                str(row["label"]),
                f"{row['definition']} {row['help']}".strip()
                + (f" Unit: {row['unit']}." if row["unit"] else ""),
                str(row["display"]),
                str(row["unit"]),
                str(row["column_name"]),
                str(row["series"]) if known(row.get("series")) else "",
            )
            for row in frame.to_dict("records")
        }

    def __getitem__(self, figure: str) -> Entry:
        """A figure the warehouse's glossary does not define yet keeps its name, unformatted beyond `{}`."""
        return self._entries.get(figure) or Entry(figure, figure.replace("_", " "), "", "{}", "", figure)

    def column(self, figure: str) -> str:
        """The mart column the figure lives in."""
        return self[figure].column

    def series(self, figure: str) -> str:
        return self[figure].series

    def value(self, figure: str, row: dict[str, Any]) -> str:
        """The figure as shown, from a row of its mart (with `<column>_low`/`_high` as its interval)."""
        return self[figure].format(row.get(self.column(figure)), *self._bounds(figure, row))

    def point(self, figure: str, row: dict[str, Any]) -> str:
        """The figure alone, without its interval (a metric's value: short enough for a phone)."""
        return self[figure].format(row.get(self.column(figure)))

    def interval(self, figure: str, row: dict[str, Any]) -> str | None:
        """`95% interval: low to high`, when the row gives both ends."""
        low, high = self._bounds(figure, row)
        if not (known(low) and known(high)):
            return None
        entry = self[figure]
        return f"95% interval {entry.format(low)} to {entry.format(high)}"

    def _bounds(self, figure: str, row: dict[str, Any]) -> tuple[object, object]:
        bounds = self.column(figure).removesuffix("_point")  # forecast_point's: forecast_low, forecast_high
        return row.get(f"{bounds}_low"), row.get(f"{bounds}_high")

    def figures(self) -> list[str]:
        return list(self._entries)

    def __contains__(self, figure: str) -> bool:
        return figure in self._entries
