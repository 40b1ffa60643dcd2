"""The Celery app the release-day workers run (`celery -A pipelines.celery_app worker`) and their probes
ask (`celery -A pipelines.celery_app inspect ping`): built from the settings when Celery first asks for
`app`, never at import (pipelines/deploy.py)."""

from __future__ import annotations

from functools import cache
from typing import Any

from campaigns.settings import load_settings
from pipelines.deploy import release_celery_app


@cache
def _app() -> Any:
    return release_celery_app(load_settings())


def __getattr__(name: str) -> Any:
    if name == "app":
        return _app()
    raise AttributeError(name)
