"""Shared fixtures: settings on a temporary data dir, and the operational store on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from campaigns.scratch_store import fresh_database
from campaigns.settings import Settings
from campaigns.store import Store
from campaigns.vault import TokenVault

PSEUDONYM_KEY = "test-pseudonym-secret-0123456789abcdef"  # fixed: fan keys comparable across fixtures


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path / "data",
        secret_key=Fernet.generate_key().decode(),
        pseudonym_key=PSEUDONYM_KEY,
    )


@pytest.fixture
def vault(settings: Settings) -> TokenVault:
    return settings.vault()


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    """The machine's PostgreSQL; required (never skipped) when PRESAVE_REQUIRE_POSTGRES=1, as in CI."""
    url = os.environ.get("PRESAVE_TEST_POSTGRES_URL")
    required = os.environ.get("PRESAVE_REQUIRE_POSTGRES") == "1"
    if not url:
        if required:
            pytest.fail("PRESAVE_REQUIRE_POSTGRES=1 but PRESAVE_TEST_POSTGRES_URL is not set")
        pytest.skip("PRESAVE_TEST_POSTGRES_URL not set")
    try:
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text("select 1"))
        engine.dispose()
    except Exception as exc:
        if required:
            pytest.fail(f"PostgreSQL at {make_url(url).render_as_string()} is not reachable: {exc}")
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    return url


@pytest.fixture
def postgres_url(postgres_server_url: str) -> Iterator[str]:
    """A fresh, empty database for one test, dropped afterwards."""
    with fresh_database(postgres_server_url) as url:
        yield url


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite store migrated once per test process: each test's store starts as a copy of it (the
    migrations take a second or two per store; `Store.connect` then finds the schema at head)."""
    path = tmp_path_factory.mktemp("migrated") / "presave.db"
    Store.connect(f"sqlite:///{path}").dispose()
    return path


@pytest.fixture(scope="session")
def migrated_postgres(postgres_server_url: str) -> Iterator[str]:
    """A PostgreSQL database migrated once per test process, the template of each test's database."""
    with fresh_database(postgres_server_url, purpose="template") as url:
        Store.connect(url).dispose()
        yield make_url(url).database or ""


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A store of its own for one test, already migrated (a copy of the process's migrated one)."""
    if request.param == "sqlite":
        path = tmp_path / "presave.db"
        shutil.copy2(request.getfixturevalue("migrated_sqlite"), path)
        yield f"sqlite:///{path}"
        return
    server_url = request.getfixturevalue("postgres_server_url")
    with fresh_database(server_url, template=request.getfixturevalue("migrated_postgres")) as url:
        yield url


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    store = Store.connect(store_url)
    yield store
    store.dispose()


@pytest.fixture(scope="session")
def dashboard_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The dashboard's fixture warehouse (`tests/dashboards/warehouse.py`), built by the real warehouse job
    once per test process and shared by the dashboard and browser tests, which only read it."""
    from tests.dashboards.warehouse import dashboard_warehouse

    return dashboard_warehouse(tmp_path_factory.mktemp("dash") / "data")


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Debian's Chromium through Playwright, one per test session (Playwright's sync API allows one)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        if os.environ.get("PRESAVE_REQUIRE_BROWSER") == "1":  # CI: the browser tests must run
            pytest.fail("Debian's chromium is not installed (scripts/test-services installs it)")
        pytest.skip("Debian's chromium is not installed (scripts/test-services installs it)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
