"""A fan's time zone, for local-midnight releases: the one the landing app recorded, else their country's."""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Countries spanning several zones: the zone where most listeners live (zone.tab lists them in another order).
MAIN_ZONE = {
    "AR": "America/Argentina/Buenos_Aires",
    "AU": "Australia/Sydney",
    "BR": "America/Sao_Paulo",
    "CA": "America/Toronto",
    "CD": "Africa/Kinshasa",
    "CL": "America/Santiago",
    "CN": "Asia/Shanghai",
    "DE": "Europe/Berlin",
    "EC": "America/Guayaquil",
    "ES": "Europe/Madrid",
    "ID": "Asia/Jakarta",
    "KZ": "Asia/Almaty",
    "MN": "Asia/Ulaanbaatar",
    "MX": "America/Mexico_City",
    "MY": "Asia/Kuala_Lumpur",
    "NZ": "Pacific/Auckland",
    "PT": "Europe/Lisbon",
    "RU": "Europe/Moscow",
    "UA": "Europe/Kyiv",
    "US": "America/New_York",
}


@cache
def _zone_table() -> dict[str, str]:
    """ISO country code to the first zone listed for it in the tz database's zone.tab."""
    text = None
    try:
        text = resources.files("tzdata.zoneinfo").joinpath("zone.tab").read_text()
    except (ModuleNotFoundError, FileNotFoundError):
        system = Path("/usr/share/zoneinfo/zone.tab")
        text = system.read_text() if system.exists() else ""
    table: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) >= 3:
            table.setdefault(parts[0], parts[2])
    return table


@cache
def zone_named(name: str | None) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def country_zone(country: str | None) -> ZoneInfo | None:
    if not country:
        return None
    code = country.upper()
    return zone_named(MAIN_ZONE.get(code) or _zone_table().get(code))


def fan_zone(fan_timezone: str | None, country: str | None, fallback: ZoneInfo) -> ZoneInfo:
    """The fan's own zone if known and valid, else their country's main zone, else `fallback`."""
    return zone_named(fan_timezone) or country_zone(country) or fallback
