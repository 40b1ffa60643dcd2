"""The sandbox as one ASGI app on one port: each service under its own prefix, behind its own gate.

| prefix | stands in for |
|---|---|
| `/spotify/accounts` | accounts.spotify.com (`/authorize`, `/api/token`) |
| `/spotify/v1` | api.spotify.com/v1 |
| `/sandbox` | admin and inspection JSON (not a real service) |
"""

from __future__ import annotations

from fastapi import FastAPI

from sandbox.admin import build_admin
from sandbox.config import SandboxConfig
from sandbox.gate import ServiceGate
from sandbox.spotify.oauth import AccountsAdapter, build_accounts
from sandbox.spotify.session import SpotifyApiAdapter
from sandbox.spotify.webapi import build_web_api
from sandbox.state import Sandbox


def create_app(config: SandboxConfig | None = None) -> FastAPI:
    """A fresh sandbox with its state in memory; `app.state.sandbox` is the `Sandbox` behind it."""
    sandbox = Sandbox(config)
    app = FastAPI(title="presave sandbox", openapi_url=None, docs_url=None, redoc_url=None)
    app.state.sandbox = sandbox
    app.mount("/spotify/accounts", ServiceGate(build_accounts(sandbox), sandbox, AccountsAdapter(sandbox)))
    app.mount("/spotify/v1", ServiceGate(build_web_api(sandbox), sandbox, SpotifyApiAdapter(sandbox)))
    app.mount("/sandbox", build_admin(sandbox))

    @app.get("/")
    def index() -> dict[str, object]:
        return {
            "service": "presave sandbox",
            "spotify": {"accounts": "/spotify/accounts", "api": "/spotify/v1"},
            "admin": "/sandbox",
        }

    return app
