"""The app as `presave dashboard` serves it (on loopback: beyond it, the login refuses without a password),
over one pipeline-built warehouse shared by the session's page tests."""

from __future__ import annotations

import sys
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


MAIN = sys.modules["__main__"]


@pytest.fixture(autouse=True)
def main_module_kept() -> Iterator[None]:
    """Streamlit's AppTest runs its page as a new `__main__` and leaves it in `sys.modules`: a later test
    in the same worker that spawns processes (the pacing state's) then has each child re-run that page
    and die (NameError: '__args'). Put the worker's own back after each page test."""
    yield
    sys.modules["__main__"] = MAIN


@pytest.fixture(scope="session")
def snapshot(dashboard_settings: Settings) -> Path:
    return dashboard_settings.warehouse_snapshot_path


@pytest.fixture(scope="session")
def warehouse(dashboard_settings: Settings) -> Warehouse:
    """The whole warehouse the snapshot was published from (raw tables too), read under the writer lock."""
    return Warehouse(dashboard_settings.warehouse_path)
