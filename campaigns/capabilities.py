"""What each service can do for a campaign's fans with the label's apps, said in one line per service:
direct saves (the label's app holds write access), reminders (the fan is emailed a link on release day),
or direct saves up to a development-mode cap and reminders after (`presave services`)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from campaigns.campaign_file import CampaignSpec
from campaigns.capacity import SpotifyPlaces
from campaigns.rules import SERVICE_NAMES


@dataclass(frozen=True)
class Capability:
    service: str
    mode: str  # `direct`, `direct_then_reminders`, `reminders`
    text: str

    def as_json(self) -> dict[str, str]:
        return {"service": self.service, "mode": self.mode, "text": self.text}


def _spotify(configured: bool, places: SpotifyPlaces) -> Capability:
    name = "spotify"
    if not configured:
        return Capability(name, "reminders", "Spotify: no app configured here: reminder pre-saves only")
    if places.mode == "extended":
        return Capability(name, "direct", "Spotify: extended quota: direct saves for every fan")
    if places.full:
        since = f" since {places.refused_since:%Y-%m-%d %H:%M} UTC" if places.refused_since else ""
        return Capability(
            name,
            "reminders",
            f"Spotify: development mode, all {places.places} places taken{since}: reminder pre-saves for "
            f"every other fan ({places.turned_away} turned away after authorizing)",
        )
    return Capability(
        name,
        "direct_then_reminders",
        f"Spotify: development mode, {places.left} of {places.places} places left, then reminders",
    )


def capabilities(
    spec: CampaignSpec, *, configured: Collection[str], places: SpotifyPlaces, apple_key_id: str | None = None
) -> list[Capability]:
    """One line per service the campaign offers, in the one order: direct services, then link-only."""
    found: list[Capability] = []
    offered = spec.services.offered()
    if "spotify" in offered:
        found.append(_spotify("spotify" in configured, places))
    if "apple" in offered:
        found.append(
            Capability("apple", "direct", f"Apple Music: direct saves (MusicKit key {apple_key_id})")
            if "apple" in configured
            else Capability(
                "apple", "reminders", "Apple Music: no MusicKit key configured: reminder pre-saves only"
            )
        )
    if "deezer" in offered:
        found.append(
            Capability("deezer", "direct", "Deezer: direct saves with the label's existing app")
            if "deezer" in configured
            else Capability(
                "deezer",
                "reminders",
                "Deezer: no app (Deezer accepts no new applications): reminder pre-saves only",
            )
        )
    for service in spec.services.link_only():
        name, link = SERVICE_NAMES[service], spec.services.link(service)
        found.append(
            Capability(service, "reminders", f"{name}: link-only: reminder pre-saves, the fan sent to {link}")
            if link
            else Capability(
                service,
                "reminders",
                f"{name}: link-only, but the campaign file gives no link and {name} has no public lookup: "
                "add `link:`, or reminders wait unsent",
            )
        )
    return found
