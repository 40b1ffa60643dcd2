"""The `PRESAVE_*` variables that point the project at a sandbox served at a given base URL."""

from __future__ import annotations

from sandbox.config import SandboxConfig


def sandbox_env(base_url: str, config: SandboxConfig) -> dict[str, str]:
    base = base_url.rstrip("/")
    spotify_app = config.spotify.apps[0]
    return {
        "PRESAVE_SPOTIFY_CLIENT_ID": spotify_app.client_id,
        "PRESAVE_SPOTIFY_CLIENT_SECRET": spotify_app.client_secret,
        "PRESAVE_SPOTIFY_ACCOUNTS_URL": f"{base}/spotify/accounts",
        "PRESAVE_SPOTIFY_API_URL": f"{base}/spotify/v1",
    }
