"""What a landing request tells about the visit: UTM tags, referrer, device, in-app browser, country.

Pure functions of request data, so they are tested without a server. No raw IP address is ever kept:
it becomes a hash salted with the day, which counts bursts within a day but cannot be joined across days.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import asdict, dataclass
from datetime import date
from urllib.parse import urlsplit

UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign")
_IN_APP = (
    ("instagram", re.compile(r"Instagram", re.I)),
    ("facebook", re.compile(r"FBAN|FBAV|FB_IAB", re.I)),
    ("tiktok", re.compile(r"musical_ly|TikTok|BytedanceWebview|trill_", re.I)),
    ("snapchat", re.compile(r"Snapchat", re.I)),
    ("twitter", re.compile(r"Twitter", re.I)),
)
_TABLET = re.compile(r"iPad|Tablet|Android(?!.*Mobile)", re.I)
_MOBILE = re.compile(r"Mobi|iPhone|iPod|Android.*Mobile|Windows Phone", re.I)
_BOT = re.compile(r"bot|crawl|spider|slurp|facebookexternalhit|preview", re.I)


@dataclass(frozen=True)
class Visit:
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None
    referrer_domain: str | None = None
    device_class: str | None = None
    in_app_browser: str | None = None
    country: str | None = None
    ip_hash: str | None = None
    visitor_id: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return asdict(self)


def clean_tag(value: str | None, limit: int = 100) -> str | None:
    """A UTM value as stored: trimmed, lower-cased, bounded; empty becomes None."""
    if value is None:
        return None
    value = value.strip().lower()[:limit]
    return value or None


def referrer_domain(referrer: str | None, own_host: str | None = None) -> str | None:
    if not referrer:
        return None
    host = (urlsplit(referrer).hostname or "").lower().removeprefix("www.")
    if not host or host == (own_host or "").lower():
        return None
    return host[:255]


def device_class(user_agent: str | None) -> str:
    agent = user_agent or ""
    if _BOT.search(agent):
        return "bot"
    if _TABLET.search(agent):
        return "tablet"
    if _MOBILE.search(agent):
        return "mobile"
    return "desktop"


def in_app_browser(user_agent: str | None) -> str | None:
    agent = user_agent or ""
    if _BOT.search(agent):
        return None
    for name, pattern in _IN_APP:
        if pattern.search(agent):
            return name
    return None


def country_code(value: str | None) -> str | None:
    """ISO 3166 alpha-2 from a proxy header; Cloudflare's XX/T1 (unknown, Tor) count as unknown."""
    if not value:
        return None
    value = value.strip().upper()
    if not re.fullmatch(r"[A-Z]{2}", value) or value in {"XX", "T1"}:
        return None
    return value


def ip_hash(ip: str | None, key: bytes, day: date) -> str | None:
    if not ip:
        return None
    message = f"{day.isoformat()}|{ip}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]
