"""The sandbox's own tests use the shared fixtures (see `tests/sandbox/fixtures.py`)."""

from tests.sandbox.fixtures import sandbox_config, sandbox_server

__all__ = ["sandbox_config", "sandbox_server"]
