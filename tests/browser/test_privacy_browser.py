"""The dashboard behind its login, in Debian's Chromium; and a run of the pipeline whose logs, warehouse,
snapshot and served dashboard pages are scanned for every token, secret, email and raw IP it handled."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from pydantic import SecretStr
from sqlalchemy import select

from campaigns.models import AuthorizationAttempt, Grant
from dashboards.screens import PAGES
from presave.processes import free_port, start_dashboard
from tests.conftest import PSEUDONYM_KEY
from tests.integration.conftest import System
from tests.integration.test_privacy_pipeline import (
    EMAIL,
    FAN_ADDRESS,
    TAGGED,
    _run,
    _two_fans_from_tagged_links,
)
from tests.pipelines.scenario import built_warehouse

ARTEFACTS = Path(__file__).resolve().parents[2] / "test-artefacts" / "dashboard"
PASSWORD = "correct horse battery staple"


def _dashboard(settings: Any) -> Any:
    with_login = settings.model_copy(
        update={"dashboard_password_hash": SecretStr(PasswordHasher().hash(PASSWORD))}
    )
    return start_dashboard(with_login, free_port(0))


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    child = _dashboard(built_warehouse(tmp_path_factory.mktemp("guarded") / "data"))
    try:
        yield child.url
    finally:
        child.stop()


@pytest.fixture
def desk(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(30_000)
    yield context.new_page()
    context.close()


def _sign_in(page: Any, password: str) -> None:
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_the_dashboard_asks_for_the_password_refuses_a_wrong_one_and_admits_the_right_one(
    guarded: str, desk: Any
) -> None:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    desk.goto(guarded)
    desk.get_by_role("heading", name="presave: sign in").wait_for()
    assert desk.get_by_role("heading", name="Campaigns").count() == 0
    _sign_in(desk, "hunter2")
    desk.get_by_text("Wrong password.").wait_for()
    desk.screenshot(path=str(ARTEFACTS / "login-refused.png"), full_page=True)
    assert desk.get_by_role("heading", name="Campaigns").count() == 0
    _sign_in(desk, PASSWORD)
    desk.get_by_role("heading", name="Campaigns").first.wait_for()
    desk.get_by_text("Wrong password.").wait_for(state="detached")  # the admitted run replaced the form
    desk.screenshot(path=str(ARTEFACTS / "login-admitted.png"), full_page=True)
    assert desk.get_by_label("Password", exact=True).count() == 0


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'presave.db'}"


def _secrets_of_the_run(system: System) -> set[str]:
    """Every plaintext token, verifier, email and key the run handled, and the fans' raw address."""
    vault = system.settings.vault()
    found = {EMAIL, TAGGED["utm_source"], "fan-em", "fan-quiet", "fan-stays", PSEUDONYM_KEY, FAN_ADDRESS}
    found |= set(system.settings.secret_keys())
    with system.store.session() as session:
        for grant in session.scalars(select(Grant)):
            for sealed in (grant.access_token, grant.refresh_token, grant.email):
                if sealed:
                    found.add(vault.open(sealed).reveal())
            found.add(grant.service_user_id)
        for (sealed,) in session.execute(select(AuthorizationAttempt.code_verifier)):
            if sealed:
                found.add(vault.open(sealed).reveal())
    return {s for s in found if s and len(s) >= 6}


def test_nothing_secret_of_a_run_reaches_logs_warehouse_snapshot_or_dashboard(
    system: System,
    chromium: Any,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    monkeypatch.chdir(tmp_path)
    for name, value in {
        "PRESAVE_DATABASE_URL": system.settings.resolved_database_url,
        "PRESAVE_SECRET_KEY": system.settings.secret_keys()[0],
        "PRESAVE_PSEUDONYM_KEY": PSEUDONYM_KEY,
    }.items():
        monkeypatch.setenv(name, value)
    caplog.set_level(logging.DEBUG)
    _two_fans_from_tagged_links(system)
    secrets = _secrets_of_the_run(system)
    assert len(secrets) >= 10
    assert _run(system, "warehouse_job").success

    child = _dashboard(system.settings)
    texts = []
    try:
        page = chromium.new_page()
        page.set_default_timeout(30_000)
        page.goto(child.url)
        _sign_in(page, PASSWORD)
        for entry in PAGES:  # every page, within the signed-in session
            page.locator('[data-testid="stSidebarNav"]').get_by_text(entry.title, exact=True).click()
            page.get_by_role("heading", name=entry.heading).first.wait_for()
            page.wait_for_load_state("networkidle")
            page.wait_for_timeout(1500)  # Streamlit draws after the socket's first messages
            texts.append(page.inner_text("body"))
        page.close()
    finally:
        child.stop()
    assert any("Midnight Drive" in t for t in texts), f"the pages were drawn: {[t[:300] for t in texts]}"

    warehouse = system.settings.warehouse_path
    snapshot = system.settings.warehouse_snapshot_path
    logs = capfd.readouterr()
    places = {
        "log output": logs.out + logs.err,
        # httpx and httpcore log the test's own side (the fans' browsers), not the server's
        "log records": "\n".join(
            r.getMessage() for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))
        ),
        "warehouse": warehouse.read_bytes().decode("latin-1"),
        "snapshot": snapshot.read_bytes().decode("latin-1"),
        "dashboard": "\n".join(texts),
    }
    leaks = {(place, s[:6] + "…") for place, content in places.items() for s in secrets if s in content}
    leaking_loggers = {r.name for r in caplog.records for s in secrets if s in r.getMessage()}
    assert leaks == set(), f"leaked by loggers {sorted(leaking_loggers)}"
