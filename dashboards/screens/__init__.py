"""The dashboard's pages, one per question, each reading marts of the warehouse snapshot only.

- Overview: every campaign's headline figures.
- Roster (labels): every campaign as a point against the roster's line; did this campaign lift the release?
- Campaign: accumulation and forecast, the funnel and the in-app-browser loss, countries, first week.
- Pitch (managers): what to send an editor, and the one-page pitch pack.
- Service comparison (analysts): conversion per service and source with intervals, the verdict in words.
- Release day: outcomes over time, time to library, the fans not delivered and why, token health.
- Data: what was loaded, what was quarantined and why, how fresh each source is, the glossary.

Filters live in the URL (`?campaign=…&source=…`), so a view can be shared by its address.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dashboards.queries import WarehouseReader
from dashboards.screens import campaign, comparison, data, overview, pitch_page, release_day, roster


@dataclass(frozen=True)
class Page:
    render: Callable[[WarehouseReader], None]
    title: str
    url_path: str
    heading: str  # the page's st.title, which the browser test waits for


PAGES: tuple[Page, ...] = (
    Page(overview.render, "Overview", "overview", overview.HEADING),
    Page(roster.render, "Roster (labels)", "roster", roster.HEADING),
    Page(campaign.render, "Campaign", "campaign", campaign.HEADING),
    Page(pitch_page.render, "Pitch (managers)", "pitch", pitch_page.HEADING),
    Page(comparison.render, "Service comparison (analysts)", "comparison", comparison.HEADING),
    Page(release_day.render, "Release day", "release-day", release_day.HEADING),
    Page(data.render, "Data", "data", data.HEADING),
)
