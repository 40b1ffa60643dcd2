"""How many fans each of the label's service apps can act for: a Spotify app in development mode admits
five accounts (its allowlist: `PRESAVE_SPOTIFY_DEV_USERS`, or learnt from the accounts it served and the
first 403 "User not registered in the Developer Dashboard", kept in the store as grants turned away).
Once its places are taken, the landing page offers a reminder pre-save instead of the Spotify button."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campaigns.identity import PROVISIONAL
from campaigns.models import Grant, GrantStatus

DEV_MODE_PLACES = 5  # Spotify's development-mode cap since March 2026 (reference H)


@dataclass(frozen=True)
class SpotifyPlaces:
    """The Spotify app's room for direct pre-saves: `mode` is `none` (no app here), `extended` or
    `development`; `places` the accounts it admits (None: no limit); `admitted` the accounts it served;
    `turned_away` the accounts it refused, the first at `refused_since`."""

    mode: str
    places: int | None
    admitted: int
    turned_away: int
    refused_since: datetime | None

    @property
    def full(self) -> bool:
        """No fan who is not on the app's allowlist can be saved for directly any more."""
        if self.mode == "none":
            return True
        if self.places is None:
            return False
        return self.admitted >= self.places or self.turned_away > 0

    @property
    def left(self) -> int | None:
        if self.places is None:
            return None
        return 0 if self.full else max(0, self.places - self.admitted)


def spotify_places(
    session: Session, *, configured: bool, mode: str, allowlist: Sequence[str]
) -> SpotifyPlaces:
    """The app's places now, from the store (accounts are counted across every campaign: one app). An app
    configured as `extended` that refused an account as not registered is in development mode: learnt."""
    if not configured:
        return SpotifyPlaces("none", 0, 0, 0, None)
    refused, since = session.execute(
        select(func.count(), func.min(Grant.granted_at)).where(
            Grant.service == "spotify", Grant.status == GrantStatus.UNREGISTERED.value
        )
    ).one()
    if mode != "development" and not refused:
        return SpotifyPlaces("extended", None, 0, 0, None)
    served = select(Grant.service_user_id).where(
        Grant.service == "spotify",
        Grant.status.in_((GrantStatus.ACTIVE.value, GrantStatus.EXPIRED.value, GrantStatus.REVOKED.value)),
        Grant.service_user_id.not_like(f"{PROVISIONAL}%"),
        Grant.tokens_deleted_at.is_(None),
    )
    if allowlist:
        served = served.where(Grant.service_user_id.in_(list(allowlist)))
    admitted = session.scalar(select(func.count()).select_from(served.distinct().subquery())) or 0
    places = len(allowlist) if allowlist else DEV_MODE_PLACES
    return SpotifyPlaces(
        "development", places, int(admitted), int(refused or 0), since.astimezone(UTC) if since else None
    )
