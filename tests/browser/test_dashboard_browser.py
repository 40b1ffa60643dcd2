"""The dashboard as a person sees it: `presave dashboard`'s Streamlit server over a warehouse the real
pipeline built, opened in Debian's Chromium at a desk and on a phone. Every page draws its charts without
an exception; screenshots go to test-artefacts/dashboard/ (desk-<page>.png, phone-<page>.png)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from pydantic import SecretStr

from campaigns.settings import Settings
from dashboards.screens import PAGES
from presave.processes import free_port, start_dashboard
from tests.browser.conftest import PHONE
from tests.dashboards.warehouse import TROUBLED

ARTEFACTS = Path(__file__).resolve().parents[2] / "test-artefacts" / "dashboard"
CHART = ".js-plotly-plot .main-svg"
DESK = {"viewport": {"width": 1400, "height": 1000}}
# The charts each page draws for the campaign in its URL (the upcoming one: it has a forecast).
CHARTS = {"overview": 0, "roster": 1, "campaign": 5, "pitch": 4, "comparison": 2, "release-day": 2, "data": 0}
PASSWORD = "correct horse battery staple"
QUERY = {
    "campaign": "?campaign=night-swim",
    "release-day": f"?campaign={TROUBLED}",
    "comparison": f"?campaign={TROUBLED}",
}


@pytest.fixture(scope="module")
def dashboard(dashboard_settings: Settings) -> Iterator[str]:
    child = start_dashboard(dashboard_settings, free_port(0))
    try:
        yield child.url
    finally:
        child.stop()


@pytest.fixture(scope="module")
def guarded_dashboard(dashboard_settings: Settings) -> Iterator[str]:
    guarded = dashboard_settings.model_copy(
        update={"dashboard_password_hash": SecretStr(PasswordHasher().hash(PASSWORD))}
    )
    child = start_dashboard(guarded, free_port(0))
    try:
        yield child.url
    finally:
        child.stop()


@pytest.fixture(params=["desk", "phone"])
def screen(request: pytest.FixtureRequest, chromium: Any) -> Iterator[tuple[str, Any]]:
    context = chromium.new_context(**(DESK if request.param == "desk" else PHONE))
    context.set_default_timeout(120_000)
    yield request.param, context.new_page()
    context.close()


def _open(page: Any, url: str, heading: str, charts: int, name: str) -> None:
    """Open a page, wait for its heading and charts, and save what it showed (also when it did not)."""
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    page.goto(url)
    try:
        page.get_by_role("heading", name=heading, exact=True).first.wait_for()
        if charts:
            page.locator(CHART).nth(charts - 1).wait_for()
        page.wait_for_load_state("networkidle")
        page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden")
    finally:
        page.screenshot(path=str(ARTEFACTS / f"{name}.png"), full_page=True)
    assert page.locator('[data-testid="stException"]').count() == 0


@pytest.mark.parametrize("path", list(CHARTS))
def test_every_page_draws_its_charts_without_an_exception(
    dashboard: str, screen: tuple[str, Any], path: str
) -> None:
    size, page = screen
    heading = next(p.heading for p in PAGES if p.url_path == path)
    address = "" if path == PAGES[0].url_path else path  # the default page lives at the root
    _open(page, f"{dashboard}/{address}{QUERY.get(path, '')}", heading, CHARTS[path], f"{size}-{path}")
    assert page.locator(CHART).count() >= CHARTS[path]


def test_a_shared_address_opens_the_same_view(dashboard: str, screen: tuple[str, Any]) -> None:
    size, page = screen
    _open(page, f"{dashboard}/campaign?campaign={TROUBLED}&source=instagram", "Campaign", 3, f"{size}-shared")
    assert "source=instagram" in page.url
    assert page.get_by_text("Nova Lane — Midnight Drive").count() >= 1


def test_signing_in_from_a_shared_address_lands_on_its_page_with_its_filters(
    guarded_dashboard: str, screen: tuple[str, Any]
) -> None:
    size, page = screen
    page.goto(f"{guarded_dashboard}/pitch?campaign={TROUBLED}")
    page.get_by_role("heading", name="presave: sign in").wait_for()
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    heading = next(p.heading for p in PAGES if p.url_path == "pitch")
    page.get_by_role("heading", name=heading, exact=True).first.wait_for()
    page.wait_for_url(f"**/pitch?*campaign={TROUBLED}*")
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden")
    page.screenshot(path=str(ARTEFACTS / f"{size}-signed-in-shared.png"), full_page=True)
    assert page.get_by_text("Nova Lane — Midnight Drive").count() >= 1
    assert page.locator('[data-testid="stException"]').count() == 0
