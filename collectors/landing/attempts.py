"""Authorization attempts: the signed, single-use, expiring `state` and the PKCE verifier bound to it.

The `state` sent to the service is a signed nonce; the attempt row behind it holds the sealed PKCE
verifier, what the authorization is for (a pre-save, the email opt-in of a grant, or a fan proving who
they are to be forgotten) and the visit it started from. Consuming it marks it used in the same
statement that checks it was unused, so a replayed callback fails even when two arrive at once.

The `state` is also bound to the browser that started it: it carries a digest of a random value kept in
that browser's `psv_auth` cookie, and a callback (or MusicKit POST) without the matching cookie is
refused before the state is used, so the fan who started it can still finish.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import Connection, Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from campaigns.models import AuthorizationAttempt
from campaigns.vault import TokenVault

STATE_LIFETIME = timedelta(minutes=15)
BROWSER_COOKIE = "psv_auth"
ATTEMPTS: Table = AuthorizationAttempt.__table__  # type: ignore[assignment]
_START = insert(ATTEMPTS)  # built once, as `_CHECK` and `_CLAIM`
_CHECK = select(
    ATTEMPTS.c.campaign_id,
    ATTEMPTS.c.purpose,
    ATTEMPTS.c.grant_id,
    ATTEMPTS.c.visit,
    ATTEMPTS.c.code_verifier,
    ATTEMPTS.c.used_at,
).where(ATTEMPTS.c.nonce == bindparam("nonce_"), ATTEMPTS.c.service == bindparam("service_"))
_CLAIM = (  # built once: marks the attempt used only if it was unused
    update(ATTEMPTS)
    .where(
        ATTEMPTS.c.nonce == bindparam("nonce_"),
        ATTEMPTS.c.service == bindparam("service_"),
        ATTEMPTS.c.used_at.is_(None),
    )
    .values(used_at=bindparam("now_"))
)
PURPOSES = ("presave", "email", "forget")


@dataclass(frozen=True)
class Attempt:
    """What an authorization was started for."""

    campaign_id: int | None
    purpose: str
    grant_id: int | None
    visit: dict[str, Any]
    nonce: str = ""
    service: str = ""


def slug_of(state: str | None) -> str | None:
    """The campaign a `state` was started from, read without its signature (only to say where to start
    again when the store cannot be asked); None when it names none."""
    try:
        payload = URLSafeTimedSerializer("-", salt="-").loads_unsafe(state or "")[1]
    except Exception:
        return None
    slug = payload[2] if isinstance(payload, list) and len(payload) == 3 else None
    return slug if isinstance(slug, str) and slug.replace("-", "").isalnum() and len(slug) <= 64 else None


class StateError(ValueError):
    """The `state` came back invalid, expired or already used; `reason` is one of those words."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"authorization state {reason}")


def browser_of(cookie: str | None) -> tuple[str, bool]:
    """The browser's binding value from its `psv_auth` cookie, or a new one (True: the response sets it)."""
    if cookie and 16 <= len(cookie) <= 64 and cookie.replace("-", "").replace("_", "").isalnum():
        return cookie, False
    return secrets.token_urlsafe(24), True


def _digest(browser: str) -> str:
    return hashlib.sha256(browser.encode()).hexdigest()[:32]


class AttemptBook:
    def __init__(self, signing_key: str, vault: TokenVault) -> None:
        self._signer = URLSafeTimedSerializer(signing_key, salt="presave.oauth-state")
        self._vault = vault

    def start(
        self,
        bind: Session | Connection,
        campaign_id: int | None,
        service: str,
        verifier: str | None,
        visit: dict[str, Any],
        *,
        browser: str,
        purpose: str = "presave",
        grant_id: int | None = None,
        slug: str | None = None,
    ) -> str:
        """Record the attempt and return its `state`, bound to `browser` (see `browser_of`)."""
        if purpose not in PURPOSES:
            raise ValueError(f"unknown purpose {purpose!r}")
        nonce = secrets.token_urlsafe(24)
        bind.execute(
            _START,
            [
                {
                    "nonce": nonce,
                    "campaign_id": campaign_id,
                    "service": service,
                    "code_verifier": self._vault.seal(verifier) if verifier else None,
                    "visit": visit,
                    "purpose": purpose,
                    "grant_id": grant_id,
                    "created_at": datetime.now(UTC),
                }
            ],
        )
        return self._signer.dumps([nonce, _digest(browser), *([slug] if slug else [])])

    def check(
        self,
        bind: Session | Connection,
        state: str,
        service: str,
        *,
        browser: str | None,
        campaign_id: int | None = None,
    ) -> tuple[Attempt, str | None]:
        """The attempt behind `state` and its verifier, without using it up (`claim` does, in the
        transaction that stores what the authorization brought). Refused: a state that is invalid,
        expired or used; one that comes back to another browser than the one that started it
        (`other_browser`); with `campaign_id`, one started for another campaign (it stays good where it
        belongs)."""
        if not state or len(state) > 512:
            raise StateError("invalid")
        try:
            payload = self._signer.loads(state, max_age=int(STATE_LIFETIME.total_seconds()))
        except SignatureExpired:
            raise StateError("expired") from None
        except BadSignature:
            raise StateError("invalid") from None
        if not (
            isinstance(payload, list) and len(payload) in (2, 3) and all(isinstance(p, str) for p in payload)
        ):
            raise StateError("invalid")
        nonce, bound_to = payload[0], payload[1]
        if browser is None or not secrets.compare_digest(bound_to, _digest(browser)):
            raise StateError("other_browser")
        row = bind.execute(_CHECK, {"nonce_": nonce, "service_": service}).first()
        if row is None:
            raise StateError("invalid")
        if campaign_id is not None and row.campaign_id != campaign_id:
            raise StateError("invalid")
        if row.used_at is not None:
            raise StateError("used")
        verifier = self._vault.open(row.code_verifier).reveal() if row.code_verifier else None
        attempt = Attempt(row.campaign_id, row.purpose, row.grant_id, dict(row.visit or {}), nonce, service)
        return attempt, verifier

    def claim(self, bind: Session | Connection, attempt: Attempt) -> None:
        """Use the attempt up, in the caller's transaction: StateError("used") if another request did
        first (a replayed callback fails even when two arrive at once)."""
        result = bind.execute(
            _CLAIM, {"nonce_": attempt.nonce, "service_": attempt.service, "now_": datetime.now(UTC)}
        )
        if (result.rowcount or 0) != 1:  # type: ignore[attr-defined]
            raise StateError("used")
