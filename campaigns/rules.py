"""Rules every part must apply the same way: the services, a Spotify refresh token's lifetime, a fan's
release moment. Written once here; the landing app, the executor, the collectors and the marts use these."""

from __future__ import annotations

import enum
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from campaigns.zones import fan_zone, zone_named


class Service(enum.StrEnum):
    """The streaming services a campaign can offer, in the order pages and reports list them."""

    SPOTIFY = "spotify"
    APPLE = "apple"
    DEEZER = "deezer"


SERVICES: tuple[Service, ...] = tuple(Service)
# services without a library API a label can write to: a campaign offers them as reminder pre-saves only
LINK_ONLY_SERVICES = ("amazon_music", "youtube_music", "tidal", "soundcloud")
SERVICE_NAMES = {
    "spotify": "Spotify",
    "apple": "Apple Music",
    "deezer": "Deezer",
    "amazon_music": "Amazon Music",
    "youtube_music": "YouTube Music",
    "tidal": "TIDAL",
    "soundcloud": "SoundCloud",
}

# Spotify refresh tokens die six months (half a Julian year) after the fan's grant, whatever refreshing
# happens: the token-health check and the marts take this one figure.
REFRESH_TOKEN_LIFETIME = timedelta(seconds=15_778_800)


def refresh_token_dies_at(granted_at: datetime) -> datetime:
    """When a Spotify grant's refresh token dies, whatever refreshing happened."""
    return granted_at + REFRESH_TOKEN_LIFETIME


def unservable_at(granted_at: datetime, moment: datetime) -> bool:
    """The token-health rule: a Spotify grant cannot be served at `moment` if its refresh token is dead
    by then. `unservable_sql` writes the same rule for the marts."""
    return refresh_token_dies_at(granted_at) <= moment


def refresh_token_dies_at_sql(granted_at: str) -> str:
    """`refresh_token_dies_at` over a DuckDB timestamp expression."""
    return f"{granted_at} + INTERVAL {int(REFRESH_TOKEN_LIFETIME.total_seconds())} SECOND"


def unservable_sql(granted_at: str, moment: str) -> str:
    """`unservable_at` as a DuckDB condition over two timestamp expressions."""
    return f"{refresh_token_dies_at_sql(granted_at)} <= {moment}"


# A local-midnight release reaches the earliest zone (UTC+14) up to 26 h before the campaign's own moment
# (as far west as UTC-12): how far ahead of the campaign's moment a fan's release moment can be.
LOCAL_LEAD = timedelta(hours=26)


def release_moment(
    release_at: datetime,
    campaign_zone: str,
    mode: str,
    *,
    fan_timezone: str | None = None,
    country: str | None = None,
) -> datetime:
    """When the release is out for one fan: the campaign's moment for everyone (`global`), or the
    release's wall-clock time (usually midnight) in the fan's zone (`local`). The fan's zone is the one
    their browser gave, else their country's main zone, else the campaign's: the page, the planner and
    the token-health check all ask here."""
    if mode != "local":
        return release_at.astimezone(UTC)
    home = zone_named(campaign_zone) or ZoneInfo("UTC")
    wall = release_at.astimezone(home).replace(tzinfo=None)
    return wall.replace(tzinfo=fan_zone(fan_timezone, country, home)).astimezone(UTC)
