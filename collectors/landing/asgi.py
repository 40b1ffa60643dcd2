"""The landing app for an ASGI server that runs several worker processes:

    uvicorn collectors.landing.asgi:app --factory --workers 2 --no-proxy-headers

`--no-proxy-headers`: the app reads `X-Forwarded-For` itself, from `PRESAVE_TRUSTED_PROXIES` only.

Each worker reads the configuration from the environment once, at start.
"""

from __future__ import annotations

from fastapi import FastAPI

from campaigns.settings import load_settings
from collectors.landing.app import create_app


def app() -> FastAPI:
    return create_app(load_settings())
