"""The app as `presave dashboard` serves it: on loopback (beyond it, the login refuses without a password)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from streamlit import config


@pytest.fixture(autouse=True)
def served_on_loopback() -> Iterator[None]:
    before = config.get_option("server.address")
    config.set_option("server.address", "127.0.0.1")
    yield
    config.set_option("server.address", before)
