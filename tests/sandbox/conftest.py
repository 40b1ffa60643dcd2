"""A sandbox served on loopback for each test; at teardown, every Spotify answer it gave is checked
against Spotify's OpenAPI description.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from presave.servers import LoopbackServer
from sandbox.app import create_app
from sandbox.config import SandboxConfig
from tests.sandbox.helpers import SandboxServer
from tests.sandbox.openapi import assert_calls_match_spec


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(inspection={"record_bodies": True})


@pytest.fixture
def sandbox_server(sandbox_config: SandboxConfig) -> Iterator[SandboxServer]:
    app = create_app(sandbox_config)
    with LoopbackServer(app) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        served = SandboxServer(url=server.url, sandbox=app.state.sandbox, client=client)
        yield served
    calls = [c.as_json(bodies=True) for c in served.sandbox.calls.calls(services=("spotify",))]
    assert_calls_match_spec(calls, requests=False)
