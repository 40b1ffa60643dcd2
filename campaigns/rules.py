"""Rules every part must apply the same way: the services, a Spotify refresh token's lifetime, a fan's
release moment. Written once here; the landing app, the executor, the collectors and the marts use these."""

from __future__ import annotations

import enum
from datetime import timedelta


class Service(enum.StrEnum):
    """The streaming services a campaign can offer, in the order pages and reports list them."""

    SPOTIFY = "spotify"
    APPLE = "apple"
    DEEZER = "deezer"


SERVICES: tuple[Service, ...] = tuple(Service)

# Spotify refresh tokens die six months (half a Julian year) after the fan's grant, whatever refreshing
# happens: the token-health check and the marts take this one figure.
REFRESH_TOKEN_LIFETIME = timedelta(seconds=15_778_800)
