"""The dashboard as a person sees it: `presave dashboard`'s Streamlit server over a warehouse the real
pipeline built (one warehouse and one server for the session), opened in Debian's Chromium at a desk
(1440 px) and on a phone (390 px). Every page draws every chart with data, shows no "nan" or "None", cuts
no text and overflows no screen; screenshots of every page at both sizes go to test-artefacts/dashboard/
(desk-<page>.png, phone-<page>.png), kept by CI."""

from __future__ import annotations

import re
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

pytestmark = pytest.mark.browser
ARTEFACTS = Path(__file__).resolve().parents[2] / "test-artefacts" / "dashboard"
CHART = ".js-plotly-plot .main-svg"
DESK = {"viewport": {"width": 1440, "height": 1000}}
# The charts each page draws for the campaign in its URL.
CHARTS = {"overview": 0, "roster": 1, "campaign": 5, "pitch": 4, "comparison": 3, "release-day": 2, "data": 0}
PASSWORD = "correct horse battery staple"
QUERY = {
    "campaign": "?campaign=night-swim",
    "release-day": f"?campaign={TROUBLED}",
    "comparison": f"?campaign={TROUBLED}",
}
MISSING = re.compile(r"\b(nan|NaN|None|NaT)\b")

# Text a person cannot read whole: an element on screen whose text overflows its box behind an ellipsis,
# or a figure, caption or verdict that ends in "…".
CUT_TEXT = """() => {
  const onScreen = e => { const r = e.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && r.left >= 0 && r.right <= innerWidth + 1 &&
      getComputedStyle(e).visibility !== 'hidden'; };
  const cut = [...document.querySelectorAll('[data-testid="stMain"] *')].filter(e =>
    e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).textOverflow === 'ellipsis' &&
    e.innerText && e.innerText.trim() && onScreen(e));
  const ellipsed = [...document.querySelectorAll(
    '[data-testid="stMetricValue"], [data-testid="stCaptionContainer"], [data-testid="stMarkdownContainer"] li')]
    .filter(e => e.innerText.trim().endsWith('…') && onScreen(e));
  return [...cut, ...ellipsed].map(e => e.innerText.trim().slice(0, 80));
}"""
# Charts drawn without a single point (a trace of no length draws nothing).
EMPTY_CHARTS = """() => [...document.querySelectorAll('.js-plotly-plot')]
  .filter(e => !(e._fullData || []).some(t => (t._length || 0) > 0))
  .map(e => e.closest('[data-testid="stElementContainer"]')?.previousElementSibling?.innerText || '?')"""
# What is wider than the screen (the page scrolls sideways: something is cut or overlaps).
OVERFLOW = """() => { const main = document.querySelector('[data-testid="stMain"]');
  return main.scrollWidth - main.clientWidth; }"""
# Drawn: no script running, no element still a grey placeholder.
SETTLED = """() => !document.querySelector(
  '[data-testid="stStatusWidget"], [data-testid="stSkeleton"], [data-testid="stAppSkeleton"], [data-testid="stSpinner"]')"""
HEIGHT = """() => document.querySelector('[data-testid="stMain"]')?.scrollHeight || 0"""
# Every text shown, the charts' SVG text included.
TEXT = """() => document.body.innerText + ' ' +
  [...document.querySelectorAll('svg text')].map(t => t.textContent).join(' ')"""


@pytest.fixture(scope="session")
def dashboard(dashboard_settings: Settings) -> Iterator[str]:
    """The session's one open dashboard server (loopback: no login)."""
    child = start_dashboard(dashboard_settings, free_port(0))
    try:
        yield child.url
    finally:
        child.stop()


@pytest.fixture(scope="module")
def guarded_dashboard(dashboard_settings: Settings) -> Iterator[str]:
    """The same warehouse behind a password (the one test of signing in)."""
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


def _settle(page: Any, heading: str, charts: int) -> None:
    page.get_by_role("heading", name=heading, exact=True).first.wait_for()
    if charts:
        page.locator(CHART).nth(charts - 1).wait_for()
    page.wait_for_load_state("networkidle")
    for _ in range(2):  # the script's run and the lazily drawn elements after it
        page.wait_for_function(SETTLED, polling=200)
        page.wait_for_timeout(400)


def _open(page: Any, url: str, heading: str, charts: int, name: str) -> None:
    """Open a page, wait for its heading and charts, and save what it showed (also when it did not)."""
    page.goto(url)
    try:
        _settle(page, heading, charts)
    finally:
        shoot(page, name)
    assert page.locator('[data-testid="stException"]').count() == 0


def shoot(page: Any, name: str) -> None:
    """The whole page (Streamlit scrolls inside its main block, so the window is grown to its height)."""
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    height = page.evaluate(HEIGHT)
    if height:
        page.set_viewport_size({"width": page.viewport_size["width"], "height": min(height, 12_000)})
        page.wait_for_timeout(300)
    page.screenshot(path=str(ARTEFACTS / f"{name}.png"), full_page=True)


def _heading(path: str) -> str:
    return next(p.heading for p in PAGES if p.url_path == path)


@pytest.mark.parametrize("path", list(CHARTS))
def test_every_page_draws_its_charts_with_data_and_shows_no_missing_or_cut_text(
    dashboard: str, screen: tuple[str, Any], path: str
) -> None:
    size, page = screen
    _open(page, f"{dashboard}/{path}{QUERY.get(path, '')}", _heading(path), CHARTS[path], f"{size}-{path}")
    assert page.locator(CHART).count() >= CHARTS[path]
    assert page.evaluate(EMPTY_CHARTS) == []
    assert MISSING.findall(page.evaluate(TEXT)) == []
    assert page.evaluate(CUT_TEXT) == []
    assert page.evaluate(OVERFLOW) <= 1
    assert "Page not found" not in page.evaluate(TEXT)


def test_the_overview_opens_at_the_root_and_at_its_own_address(
    dashboard: str, screen: tuple[str, Any]
) -> None:
    size, page = screen
    for address, name in (("", "root"), ("overview", "overview-address")):
        _open(page, f"{dashboard}/{address}", _heading("overview"), 0, f"{size}-{name}")
        assert "Page not found" not in page.evaluate(TEXT)
        assert page.locator('[data-testid="stMetric"]').count() >= 2  # figures, not only text


def test_the_campaign_chosen_on_one_page_is_the_one_the_next_pages_open_on(
    dashboard: str, chromium: Any
) -> None:
    context = chromium.new_context(**DESK)
    context.set_default_timeout(120_000)
    page = context.new_page()
    try:
        _open(page, f"{dashboard}/campaign", _heading("campaign"), 1, "desk-carried-from")
        page.locator('[data-testid="stSelectbox"]').first.click()  # chosen in its box, not in the address
        page.get_by_role("option", name=re.compile("^Midnight Drive")).click()
        _settle(page, _heading("campaign"), 1)
        for link, path in (("Pitch (managers)", "pitch"), ("Roster (labels)", "roster")):
            page.get_by_role("link", name=link).click()
            _settle(page, _heading(path), 1)
            shoot(page, f"desk-carried-to-{path}")
            assert f"campaign={TROUBLED}" in page.url
            assert page.get_by_text("Nova Lane — Midnight Drive").count() >= 1
    finally:
        context.close()


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
    page.get_by_role("heading", name=_heading("pitch"), exact=True).first.wait_for()
    page.wait_for_url(f"**/pitch?*campaign={TROUBLED}*")
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden")
    shoot(page, f"{size}-signed-in-shared")
    assert page.get_by_text("Nova Lane — Midnight Drive").count() >= 1
    assert page.locator('[data-testid="stException"]').count() == 0
