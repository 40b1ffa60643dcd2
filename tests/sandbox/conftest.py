"""A sandbox served on loopback for each test, with its traffic recorded for inspection."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from presave.servers import LoopbackServer
from sandbox.app import create_app
from sandbox.config import SandboxConfig
from tests.sandbox.helpers import SandboxServer


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(inspection={"record_bodies": True})


@pytest.fixture
def sandbox_server(sandbox_config: SandboxConfig) -> Iterator[SandboxServer]:
    app = create_app(sandbox_config)
    with LoopbackServer(app) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        yield SandboxServer(url=server.url, sandbox=app.state.sandbox, client=client)
