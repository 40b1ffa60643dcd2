"""Sandbox fixtures for any test package: import them into a conftest.py to use them there:

    from tests.sandbox.fixtures import sandbox_config, sandbox_server  # noqa: F401

`sandbox_server` serves a fresh sandbox on loopback (recording bodies) and, at teardown, checks every
Spotify answer it gave against Spotify's OpenAPI description. Override `sandbox_config` to change the
configuration; check your own client's requests with `tests.sandbox.openapi.assert_calls_match_spec`.
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
