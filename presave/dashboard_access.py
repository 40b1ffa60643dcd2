"""Whether `presave dashboard` may listen where it is asked to: loopback is open, anything else needs a
login (a password hash in PRESAVE_DASHBOARD_PASSWORD_HASH, or OpenID Connect in Streamlit's secrets)."""

from __future__ import annotations

import ipaddress
import tomllib
from pathlib import Path

from campaigns.settings import Settings

HASH_PREFIXES = ("$argon2id$", "$argon2i$", "$argon2d$", "$2a$", "$2b$", "$2y$")


class AccessError(RuntimeError):
    """The dashboard would be open to the network without a login; the message says what to set."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def oidc_configured(places: tuple[Path, ...] | None = None) -> bool:
    """An `[auth]` section in Streamlit's secrets (the project's `.streamlit/` or the user's)."""
    for place in places or (Path(".streamlit/secrets.toml"), Path.home() / ".streamlit/secrets.toml"):
        try:
            if "auth" in tomllib.loads(place.read_text()):
                return True
        except (OSError, tomllib.TOMLDecodeError):
            continue
    return False


def check_access(settings: Settings, host: str) -> None:
    stored = (
        settings.dashboard_password_hash.get_secret_value().strip()
        if settings.dashboard_password_hash
        else ""
    )
    if stored and not stored.startswith(HASH_PREFIXES):
        raise AccessError("PRESAVE_DASHBOARD_PASSWORD_HASH is not an argon2 or bcrypt hash")
    if is_loopback(host) or stored or oidc_configured():
        return
    raise AccessError(
        f"the dashboard would listen on {host} without a login: set PRESAVE_DASHBOARD_PASSWORD_HASH "
        "(an argon2 or bcrypt hash) or configure OpenID Connect in .streamlit/secrets.toml"
    )
