from __future__ import annotations

from pathlib import Path

import pytest

from campaigns.settings import Settings
from tests.dashboards.warehouse import dashboard_warehouse


@pytest.fixture(scope="session")
def dashboard_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return dashboard_warehouse(tmp_path_factory.mktemp("dash") / "data")


@pytest.fixture(scope="session")
def snapshot(dashboard_settings: Settings) -> Path:
    return dashboard_settings.warehouse_snapshot_path
