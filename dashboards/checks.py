"""Figures whose mart failed an asset check: which checks refute what a page (or the pitch pack) shows.

The pipeline writes every check's latest result to `mart_checks` with the mart it was built with, so the
snapshot never holds a figure without its checks. A failed check concerns the campaigns it names, or
every campaign when it names none (a broken key, an empty mart). Pure functions over the query's rows;
`view.mark_failed_checks` draws the mark on a page, `pitch.render` on the pack.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

MARK = "⚠"
# The marts behind `campaign_overview`'s headline figures (the glossary's), and the store copies they count.
HEADLINE_SOURCES = (
    "campaign_overview",
    "presaves",
    "presave_accumulation",
    "presave_forecast",
    "first_week_velocity",
    "campaign_lift",
    "authenticity_scores",
    "release_outcomes",
    "follower_gain",
    "grants",
    "owed_actions",
)


def refuting(failed: pd.DataFrame, marts: Iterable[str], campaign: str | None = None) -> pd.DataFrame:
    """The failed checks of these marts that concern `campaign` (None: any campaign)."""
    if failed.empty:
        return failed
    wanted = failed[failed["asset"].isin(list(marts))]
    if campaign is None or wanted.empty:
        return wanted
    concerns = wanted["campaigns"].map(lambda named: len(named) == 0 or campaign in list(named))
    return wanted[concerns]


def sentence(check: dict[str, Any]) -> str:
    """The check's own words: which figure's mart, the rule it broke, and what broke it."""
    detail = f" Found: {check['detail']}." if check.get("detail") else ""
    name = str(check["check_name"]).replace("_", " ")  # words wrap on a phone; the Data page lists the name
    return f"{MARK} `{check['asset']}` failed its check “{name}”: {check['description']}{detail}"


def sentences(failed: pd.DataFrame, marts: Iterable[str], campaign: str | None = None) -> list[str]:
    return [sentence(row) for row in refuting(failed, marts, campaign).to_dict("records")]
