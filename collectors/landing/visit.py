"""What a landing request tells about the visit: UTM tags, referrer, device, in-app browser, country.

Pure functions of request data, so they are tested without a server. No raw IP address is ever kept:
it becomes a hash salted with the day, which counts bursts within a day but cannot be joined across days.
Every value is cleaned and bounded here, so what reaches the store always fits its column.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import asdict, dataclass
from datetime import date
from functools import lru_cache
from typing import TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from collectors.landing.scrub import kind_of, scrub

IN_APP_BROWSERS = ("instagram", "facebook", "tiktok", "snapchat", "twitter", "linkedin")
_IN_APP = (
    ("instagram", re.compile(r"Instagram", re.I)),
    ("facebook", re.compile(r"FBAN|FBAV|FB_IAB", re.I)),
    ("tiktok", re.compile(r"musical_ly|TikTok|BytedanceWebview|trill_", re.I)),
    ("snapchat", re.compile(r"Snapchat", re.I)),
    ("twitter", re.compile(r"Twitter", re.I)),
    ("linkedin", re.compile(r"LinkedInApp", re.I)),
)
T = TypeVar("T")
_BOT = re.compile(r"bot|crawl|spider|slurp|facebookexternalhit|preview", re.I)
# each reading of a user agent: the first pattern that matches names it, in this order
_DEVICE_CLASSES = (
    (_BOT, "bot"),
    (re.compile(r"iPad|Tablet|Android(?!.*Mobile)", re.I), "tablet"),
    (re.compile(r"Mobi|iPhone|iPod|Android.*Mobile|Windows Phone", re.I), "mobile"),
)
_IN_APP_BROWSERS: tuple[tuple[re.Pattern[str], str | None], ...] = (
    (_BOT, None),
    *((pattern, name) for name, pattern in _IN_APP),
)
_PLATFORMS = ((re.compile(r"Android", re.I), "android"), (re.compile(r"iPhone|iPad|iPod", re.I), "ios"))
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_HOST = re.compile(r"^[a-z0-9](?:[a-z0-9.-]{0,253}[a-z0-9])?$")
_VISITOR_ID = re.compile(r"^[A-Za-z0-9_-]{16,40}$")
_ZONE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_+-]*(?:/[A-Za-z0-9_+-]+){0,2}$")


@dataclass(frozen=True)
class Visit:
    """The attribution of one request, as landing events store it (`timezone` is the grant's, not an event's)."""

    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None
    referrer_domain: str | None = None
    device_class: str | None = None
    in_app_browser: str | None = None
    country: str | None = None
    ip_hash: str | None = None
    visitor_id: str | None = None
    timezone: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return asdict(self)


def clean_tag(value: str | None, limit: int = 100) -> str | None:
    """A UTM value as stored: control characters dropped, trimmed, lower-cased, bounded; empty is None."""
    if value is None:
        return None
    value = (scrub(_CONTROL.sub("", value).strip()) or "").lower()[:limit].strip()
    return value or None


def referrer_domain(referrer: str | None, own_host: str | None = None) -> str | None:
    if not referrer:
        return None
    try:
        host = (urlsplit(referrer).hostname or "").lower().removeprefix("www.")
    except ValueError:  # e.g. an unbalanced IPv6 bracket
        return None
    if not host or host == (own_host or "").lower():
        return None
    return clean_domain(host)


def clean_domain(value: str | None) -> str | None:
    """A host name as a referrer domain, or None when it is not one."""
    if not value:
        return None
    marker = kind_of(value)
    if marker:
        return marker
    value = value.strip().lower().removeprefix("www.")
    return value if len(value) <= 255 and _HOST.match(value) else None


@lru_cache(maxsize=4096)  # a campaign's visitors share a few hundred agents
def device_class(user_agent: str | None) -> str:
    return _first_match(user_agent, _DEVICE_CLASSES, "desktop")


@lru_cache(maxsize=4096)
def in_app_browser(user_agent: str | None) -> str | None:
    return _first_match(user_agent, _IN_APP_BROWSERS, None)


def platform(user_agent: str | None) -> str:
    """`android`, `ios` or `other`: decides how the page asks an in-app browser to open the system one."""
    return _first_match(user_agent, _PLATFORMS, "other")


def _first_match(user_agent: str | None, readings: tuple[tuple[re.Pattern[str], T], ...], default: T) -> T:
    agent = user_agent or ""
    return next((name for pattern, name in readings if pattern.search(agent)), default)


def country_code(value: str | None) -> str | None:
    """ISO 3166 alpha-2 from a proxy header; Cloudflare's XX/T1 (unknown, Tor) count as unknown."""
    if not value:
        return None
    value = value.strip().upper()
    if not re.fullmatch(r"[A-Z]{2}", value) or value in {"XX", "T1"}:
        return None
    return value


def visitor_id(value: str | None) -> str | None:
    """The visitor cookie's value when it is one we could have set."""
    return value if value and _VISITOR_ID.match(value) else None


@lru_cache(maxsize=1024)
def time_zone(value: str | None) -> str | None:
    """An IANA zone name the browser reported, or None when it is not one."""
    if not value or len(value) > 64 or not _ZONE_NAME.match(value):
        return None
    try:
        ZoneInfo(value)
    except Exception:  # not found, a directory, a malformed file: all mean "not a zone"
        return None
    return value


def ip_hash(ip: str | None, key: bytes, day: date) -> str | None:
    if not ip:
        return None
    message = f"{day.isoformat()}|{ip}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]
