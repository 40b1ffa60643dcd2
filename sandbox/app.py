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

from fastapi import FastAPI

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


def create_app(config: SandboxConfig | None = None) -> FastAPI:
    """A fresh sandbox with its state in memory; `app.state.sandbox` is the `Sandbox` behind it."""
    sandbox = Sandbox(config)
    app = FastAPI(title="presave sandbox", openapi_url=None, docs_url=None, redoc_url=None)
    app.state.sandbox = sandbox
    app.mount("/spotify/accounts", ServiceGate(build_accounts(sandbox), sandbox, AccountsAdapter(sandbox)))
    app.mount("/spotify/v1", ServiceGate(build_web_api(sandbox), sandbox, SpotifyApiAdapter(sandbox)))
    app.mount("/apple", ServiceGate(build_apple(sandbox), sandbox, AppleAdapter(sandbox)))
    app.mount("/deezer/connect", ServiceGate(build_connect(sandbox), sandbox, ConnectAdapter(sandbox)))
    app.mount("/deezer/api", ServiceGate(build_deezer_api(sandbox), sandbox, DeezerAdapter(sandbox)))
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
