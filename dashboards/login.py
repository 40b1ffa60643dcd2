"""The dashboard's door: a password (argon2 or bcrypt hash) or OpenID Connect through `st.login`.

- `PRESAVE_DASHBOARD_PASSWORD_HASH` set: every session asks for the password first.
- An `[auth]` section in Streamlit's secrets: the identity provider signs people in (`st.login`).
- Neither: the dashboard opens only when Streamlit listens on loopback; on any other address it shows
  why it refuses and nothing else (`presave dashboard` already refuses to start that way).

The address a person opened (a shared view such as `/pitch?campaign=x`) is remembered while the door is
shown, and `requested_address` hands it back once, after sign-in, so the app can open that page with
its filters instead of the overview.

Read at run time from the environment Streamlit was started with; nothing of ours is imported.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from typing import NamedTuple
from urllib.parse import urlsplit

import streamlit as st

HASH_VARIABLE = "PRESAVE_DASHBOARD_PASSWORD_HASH"
_ADMITTED = "presave_admitted"
_REQUESTED = "presave_requested_address"


class Address(NamedTuple):
    """The page (its URL path, "" for the root) and the filters (query parameters) of an address."""

    path: str
    query: dict[str, list[str]]


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def password_matches(password: str, stored_hash: str) -> bool:
    """True when `password` matches the argon2 (`$argon2…`) or bcrypt (`$2a$`/`$2b$`/`$2y$`) hash."""
    if not password:
        return False
    if stored_hash.startswith("$argon2"):
        from argon2 import PasswordHasher
        from argon2.exceptions import InvalidHashError, VerificationError

        try:
            return PasswordHasher().verify(stored_hash, password)
        except (VerificationError, InvalidHashError):
            return False
    if stored_hash.startswith(("$2a$", "$2b$", "$2y$")):
        import bcrypt

        try:
            return bcrypt.checkpw(password.encode()[:72], stored_hash.encode())
        except ValueError:
            return False
    return False


def _oidc_configured() -> bool:
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all
        return False


def require_login() -> None:
    """Stop the script run here unless this session may see the dashboard."""
    stored_hash = os.environ.get(HASH_VARIABLE, "").strip()
    if stored_hash:
        _password_door(stored_hash)
    elif _oidc_configured():
        _oidc_door()
    elif not is_loopback(str(st.get_option("server.address") or "")):
        st.error(
            f"This dashboard listens beyond this machine without a login: set {HASH_VARIABLE} "
            "(or configure OpenID Connect) and start it again."
        )
        st.stop()


def requested_address() -> Address | None:
    """The address opened before signing in, once (None afterwards, or when no door was shown)."""
    requested: Address | None = st.session_state.pop(_REQUESTED, None)
    return requested


def _remember_address() -> None:
    """Kept from the first run only: by the time the form is sent the browser may show the root."""
    if _REQUESTED in st.session_state:
        return
    path = urlsplit(st.context.url or "").path.rstrip("/")
    page = path.rsplit("/", 1)[-1]
    base = str(st.get_option("server.baseUrlPath") or "").strip("/")
    query = {key: st.query_params.get_all(key) for key in st.query_params}
    st.session_state[_REQUESTED] = Address("" if page == base.rsplit("/", 1)[-1] else page, query)


def _password_door(stored_hash: str) -> None:
    if st.session_state.get(_ADMITTED) == _fingerprint(stored_hash):
        return
    _remember_address()
    st.title("presave: sign in")
    with st.form("login"):
        password = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Sign in")
    if submitted:
        if password_matches(password, stored_hash):
            st.session_state[_ADMITTED] = _fingerprint(stored_hash)
            st.rerun()
        st.error("Wrong password.")
    st.stop()


def _fingerprint(stored_hash: str) -> str:
    """Admission is tied to the hash in force: changing the password signs every session out."""
    return hmac.new(b"presave-dashboard", stored_hash.encode(), "sha256").hexdigest()


def _oidc_door() -> None:
    if st.user.is_logged_in:
        return
    _remember_address()
    st.title("presave: sign in")
    if st.button("Sign in"):
        st.login()
    st.stop()
