"""Authorization attempts: the signed, single-use, expiring `state` and the PKCE verifier bound to it."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from campaigns.models import AuthorizationAttempt, Campaign
from campaigns.vault import TokenVault

STATE_LIFETIME = timedelta(minutes=15)


class StateError(ValueError):
    """The `state` came back invalid, expired or already used; `reason` is one of those words."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"authorization state {reason}")


class AttemptBook:
    def __init__(self, signing_key: str, vault: TokenVault) -> None:
        self._signer = URLSafeTimedSerializer(signing_key, salt="presave.oauth-state")
        self._vault = vault

    def start(
        self,
        session: Session,
        campaign: Campaign,
        service: str,
        verifier: str | None,
        visit: dict[str, object],
    ) -> str:
        nonce = secrets.token_urlsafe(24)
        session.add(
            AuthorizationAttempt(
                nonce=nonce,
                campaign_id=campaign.id,
                service=service,
                code_verifier=self._vault.seal(verifier) if verifier else None,
                visit=visit,
            )
        )
        return self._signer.dumps(nonce)

    def consume(self, session: Session, state: str, service: str) -> tuple[AuthorizationAttempt, str | None]:
        """The attempt behind `state` and its verifier; marks it used so a replay fails."""
        try:
            nonce = self._signer.loads(state, max_age=int(STATE_LIFETIME.total_seconds()))
        except SignatureExpired:
            raise StateError("expired") from None
        except BadSignature:
            raise StateError("invalid") from None
        attempt = session.scalar(select(AuthorizationAttempt).where(AuthorizationAttempt.nonce == nonce))
        if attempt is None or attempt.service != service:
            raise StateError("invalid")
        claimed = session.execute(
            update(AuthorizationAttempt)
            .where(AuthorizationAttempt.id == attempt.id, AuthorizationAttempt.used_at.is_(None))
            .values(used_at=datetime.now(UTC))
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            raise StateError("used")
        verifier = self._vault.open(attempt.code_verifier).reveal() if attempt.code_verifier else None
        return attempt, verifier
