"""The app as `presave dashboard` serves it (on loopback: beyond it, the login refuses without a password),
over one pipeline-built warehouse shared by the session's page tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit import config

from campaigns.settings import Settings
from pipelines.warehouse import Warehouse


@pytest.fixture(autouse=True)
def served_on_loopback() -> Iterator[None]:
    before = config.get_option("server.address")
    config.set_option("server.address", "127.0.0.1")
    yield
    config.set_option("server.address", before)


@pytest.fixture(scope="session")
def snapshot(dashboard_settings: Settings) -> Path:
    return dashboard_settings.warehouse_snapshot_path


@pytest.fixture(scope="session")
def warehouse(dashboard_settings: Settings) -> Warehouse:
    """The whole warehouse the snapshot was published from (raw tables too), read under the writer lock."""
    return Warehouse(dashboard_settings.warehouse_path)
