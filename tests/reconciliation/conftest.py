"""One simulated label, run once through the real warehouse job, for every reconciliation test."""

from __future__ import annotations

import pytest

from tests.reconciliation.world import World, build_world


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("reconciliation"))
