"""The `PRESAVE_*` variables that point the project at a sandbox served at a given base URL."""

from __future__ import annotations

from sandbox.apple.keys import write_private_key
from sandbox.config import SandboxConfig


def sandbox_env(base_url: str, config: SandboxConfig) -> dict[str, str]:
    """Also writes the MusicKit private key the sandbox trusts (a .p8 file) and names its path."""
    base = base_url.rstrip("/")
    spotify_app = config.spotify.apps[0]
    return {
        "PRESAVE_SPOTIFY_CLIENT_ID": spotify_app.client_id,
        "PRESAVE_SPOTIFY_CLIENT_SECRET": spotify_app.client_secret,
        "PRESAVE_SPOTIFY_ACCOUNTS_URL": f"{base}/spotify/accounts",
        "PRESAVE_SPOTIFY_API_URL": f"{base}/spotify/v1",
        "PRESAVE_APPLE_TEAM_ID": config.apple.team_id,
        "PRESAVE_APPLE_KEY_ID": config.apple.key_id,
        "PRESAVE_APPLE_PRIVATE_KEY": str(write_private_key(config.apple)),
        "PRESAVE_APPLE_API_URL": f"{base}/apple",
        "PRESAVE_MUSICKIT_JS_URL": f"{base}/apple/musickit.js",
        "PRESAVE_DEEZER_APP_ID": config.deezer.app_id,
        "PRESAVE_DEEZER_SECRET": config.deezer.secret,
        "PRESAVE_DEEZER_CONNECT_URL": f"{base}/deezer/connect",
        "PRESAVE_DEEZER_API_URL": f"{base}/deezer/api",
    }
