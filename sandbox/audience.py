"""Who the simulated fans are: one country mix, sources, devices and time zones, shared by the live fans,
the campaign histories, the streaming simulation and the other tools' fan exports, so their country
mixes agree."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import TypeVar

from sandbox.markets import MARKET_ZONES

T = TypeVar("T")

# The label's audience, by country (shares add up to 1).
COUNTRY_SHARES: Mapping[str, float] = {
    "US": 0.30,
    "GB": 0.22,
    "DE": 0.11,
    "FR": 0.09,
    "BR": 0.08,
    "JP": 0.06,
    "MX": 0.05,
    "CA": 0.04,
    "AU": 0.03,
    "NL": 0.02,
}
# Where a country spans several zones, its fans are spread over the main ones.
COUNTRY_ZONES: Mapping[str, tuple[tuple[str, float], ...]] = {
    "US": (("America/New_York", 0.47), ("America/Chicago", 0.29), ("America/Los_Angeles", 0.24)),
    "BR": (("America/Sao_Paulo", 0.9), ("America/Manaus", 0.1)),
    "CA": (("America/Toronto", 0.6), ("America/Vancouver", 0.4)),
    "AU": (("Australia/Sydney", 0.6), ("Australia/Perth", 0.4)),
    "MX": (("America/Mexico_City", 1.0),),
}
SOURCES: tuple[tuple[str | None, float], ...] = (
    ("instagram", 0.35),
    ("tiktok", 0.25),
    ("newsletter", 0.15),
    ("twitter", 0.10),
    (None, 0.15),
)
USER_AGENTS = {
    "iphone": "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "android": "Mozilla/5.0 (Linux; Android 15; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/140.0 Mobile Safari/537.36",
    "instagram": "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) Mobile/15E148 Instagram 350.0",
    "tiktok": "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) Mobile/15E148 musical_ly_35.1.0",
    "desktop": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140 Safari/537.36",
    "mac": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.0 Safari/605.1.15",
}
DEVICE_CLASS = {
    "iphone": "mobile",
    "android": "mobile",
    "instagram": "mobile",
    "tiktok": "mobile",
    "desktop": "desktop",
    "mac": "desktop",
}


def pick(rng: random.Random, weighted: tuple[tuple[T, float], ...]) -> T:
    values = [value for value, _ in weighted]
    return rng.choices(values, weights=[weight for _, weight in weighted], k=1)[0]


def pick_country(rng: random.Random) -> str:
    return pick(rng, tuple(COUNTRY_SHARES.items()))


def pick_zone(rng: random.Random, country: str) -> str:
    zones = COUNTRY_ZONES.get(country)
    return pick(rng, zones) if zones else MARKET_ZONES.get(country, "UTC")


def pick_agent(rng: random.Random, source: str | None) -> str:
    """The browser: the app's in-app browser for social links, else a phone or a computer."""
    if source in ("instagram", "tiktok") and rng.random() < 0.7:
        return source
    return pick(rng, (("iphone", 0.4), ("android", 0.3), ("desktop", 0.2), ("mac", 0.1)))
