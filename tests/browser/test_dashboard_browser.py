"""The dashboard as a person sees it: `presave dashboard`'s Streamlit server over a warehouse the real
pipeline built, opened in Debian's Chromium. Each page draws its charts without an error; screenshots go
to test-artefacts/dashboard/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from presave.processes import free_port, start_dashboard
from tests.pipelines.scenario import built_warehouse

ARTEFACTS = Path(__file__).resolve().parents[2] / "test-artefacts" / "dashboard"
CHART = ".js-plotly-plot .main-svg"


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = built_warehouse(tmp_path_factory.mktemp("dashboard") / "data")
    child = start_dashboard(settings, free_port(0))
    try:
        yield child.url
    finally:
        child.stop()


@pytest.fixture
def desk(chromium: Any) -> Iterator[Any]:
    """A laptop-sized page: the dashboard is read at a desk, not on a phone."""
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(30_000)
    page = context.new_page()
    yield page
    context.close()


def _open(page: Any, url: str, heading: str, charts: int, name: str) -> None:
    """Open a page, wait for its heading and charts, and save what it showed (also when it did not)."""
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    page.goto(url)
    try:
        page.get_by_role("heading", name=heading).first.wait_for()
        if charts:
            page.locator(CHART).nth(charts - 1).wait_for()
        page.wait_for_load_state("networkidle")
    finally:
        page.screenshot(path=str(ARTEFACTS / f"{name}.png"), full_page=True)
    assert page.locator('[data-testid="stException"]').count() == 0


def test_the_overview_and_the_navigation_list_every_campaign(dashboard: str, desk: Any) -> None:
    _open(desk, dashboard, "Campaigns", 0, "overview")
    navigation = desk.locator('[data-testid="stSidebarNav"]').inner_text()
    for page in ("Lift (labels)", "Pitch (managers)", "Conversion (analysts)", "Night Swim (Nova Lane)"):
        assert page in navigation


def test_a_campaign_page_shows_its_figures_and_draws_both_charts(dashboard: str, desk: Any) -> None:
    _open(desk, f"{dashboard}/midnight-drive", "Nova Lane — Midnight Drive", 2, "campaign-midnight-drive")
    metrics = desk.locator('[data-testid="stMetricValue"]').all_inner_texts()
    assert metrics[0].replace(",", "").isdigit()
    assert int(metrics[0].replace(",", "")) > 0  # pre-saves
    assert desk.locator(CHART).count() >= 2  # pre-saves by day, streams in the first week


@pytest.mark.parametrize(
    ("path", "heading", "name"),
    [
        ("lift", "Did the campaign lift the release?", "lift"),
        ("pitch", "Pitch", "pitch"),
        ("conversion", "Conversion by service", "conversion"),
    ],
)
def test_each_question_page_draws_its_chart(
    dashboard: str, desk: Any, path: str, heading: str, name: str
) -> None:
    _open(desk, f"{dashboard}/{path}", heading, 1, name)
