"""The dashboard's door: a password (argon2 or bcrypt hash) or OpenID Connect through `st.login`.

- `PRESAVE_DASHBOARD_PASSWORD_HASH` set: every session asks for the password first.
- An `[auth]` section in Streamlit's secrets: the identity provider signs people in (`st.login`).
- Neither: the dashboard opens only when Streamlit listens on loopback; on any other address it shows
  why it refuses and nothing else (`presave dashboard` already refuses to start that way).

Read at run time from the environment Streamlit was started with; nothing of ours is imported.
"""

from __future__ import annotations

import hmac
import ipaddress
import os

import streamlit as st

HASH_VARIABLE = "PRESAVE_DASHBOARD_PASSWORD_HASH"
_ADMITTED = "presave_admitted"


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


def _password_door(stored_hash: str) -> None:
    if st.session_state.get(_ADMITTED) == _fingerprint(stored_hash):
        return
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
    st.title("presave: sign in")
    if st.button("Sign in"):
        st.login()
    st.stop()
