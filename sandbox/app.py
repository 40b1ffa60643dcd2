"""The sandbox as one ASGI app on one port: each service under its own prefix, behind its own gate.

| prefix | stands in for |
|---|---|
| `/spotify/accounts` | accounts.spotify.com (`/authorize`, `/api/token`) |
| `/spotify/v1` | api.spotify.com/v1 |
| `/apple/v1`, `/apple/musickit.js` | api.music.apple.com/v1, MusicKit JS |
| `/deezer/connect/oauth/auth.php`, `…/access_token.php` | connect.deezer.com |
| `/deezer/api/...` | api.deezer.com |
| `/sandbox` | admin and inspection JSON (not a real service) |
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from sandbox.admin import build_admin
from sandbox.apple.api import AppleAdapter, build_apple
from sandbox.config import SandboxConfig
from sandbox.deezer.api import DeezerAdapter, build_deezer_api
from sandbox.deezer.connect import ConnectAdapter, build_connect
from sandbox.gate import ServiceGate
from sandbox.spotify.oauth import AccountsAdapter, build_accounts
from sandbox.spotify.session import SpotifyApiAdapter
from sandbox.spotify.webapi import build_web_api
from sandbox.state import Sandbox


class SandboxApp(FastAPI):
    """A FastAPI app whose service prefixes go straight to their gates.

    The services are mounted like any sub-app too; dispatching them before FastAPI's own middleware
    keeps the per-call cost of the hot paths low and lets a gate close a connection itself.
    """

    services: tuple[tuple[str, Any], ...] = ()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            for prefix, gate in self.services:
                if path.startswith(prefix) and (len(path) == len(prefix) or path[len(prefix)] == "/"):
                    scope["root_path"] = scope.get("root_path", "") + prefix
                    await gate(scope, receive, send)
                    return
        await super().__call__(scope, receive, send)


def create_app(config: SandboxConfig | None = None) -> FastAPI:
    """A fresh sandbox with its state in memory; `app.state.sandbox` is the `Sandbox` behind it."""
    sandbox = Sandbox(config)
    app = SandboxApp(title="presave sandbox", openapi_url=None, docs_url=None, redoc_url=None)
    app.state.sandbox = sandbox
    services = (
        ("/spotify/v1", ServiceGate(build_web_api(sandbox), sandbox, SpotifyApiAdapter(sandbox))),
        ("/spotify/accounts", ServiceGate(build_accounts(sandbox), sandbox, AccountsAdapter(sandbox))),
        ("/apple", ServiceGate(build_apple(sandbox), sandbox, AppleAdapter(sandbox))),
        ("/deezer/api", ServiceGate(build_deezer_api(sandbox), sandbox, DeezerAdapter(sandbox))),
        ("/deezer/connect", ServiceGate(build_connect(sandbox), sandbox, ConnectAdapter(sandbox))),
    )
    app.services = services
    for prefix, gate in services:
        app.mount(prefix, gate)
    app.mount("/sandbox", build_admin(sandbox))

    @app.get("/")
    def index() -> dict[str, object]:
        return {
            "service": "presave sandbox",
            "spotify": {"accounts": "/spotify/accounts", "api": "/spotify/v1"},
            "apple": {"api": "/apple/v1", "musickit": "/apple/musickit.js"},
            "deezer": {"connect": "/deezer/connect", "api": "/deezer/api"},
            "admin": "/sandbox",
        }

    return app
