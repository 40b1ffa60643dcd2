"""Browser fixtures: Debian's Chromium through Playwright (never a downloaded browser), and the system on
loopback (sandbox and landing app over real HTTP) on SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import system  # noqa: F401 - the loopback system, reused

ARTEFACTS = Path(__file__).resolve().parents[2] / "test-artefacts" / "landing"
ANDROID = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0 Mobile Safari/537.36"
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "user_agent": ANDROID,
}


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    """SQLite only: what the browser sees does not depend on the store (the integration tests cover both)."""
    return f"sqlite:///{tmp_path / 'presave.db'}"


@pytest.fixture
def phone(chromium: Any) -> Iterator[Any]:
    """A fresh phone-sized browser context (its own cookies)."""
    context = chromium.new_context(**PHONE)
    context.set_default_timeout(10_000)
    yield context
    context.close()


def screenshot(page: Any, name: str) -> Path:
    """Saved under test-artefacts/landing/ with a name a person can find."""
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTEFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
