"""What the campaign page shows, as pure functions of the campaign and the moment: the release moment
(globally, or at each visitor's local midnight), the flip to a smart link, listen and pre-order links,
and a text colour that stays readable on the campaign's accent colour.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote, quote_plus, urlencode, urlsplit

from campaigns import rules
from campaigns.campaign_file import CampaignSpec
from campaigns.rules import SERVICE_NAMES

PREORDER_NAMES = {"itunes": "Pre-order on iTunes", "amazon": "Pre-order on Amazon", "merch": "Merch"}
ARTWORK_SUFFIXES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp"}


def release_moment(spec: CampaignSpec, visitor_zone: str | None = None) -> datetime:
    """When the release is out for this visitor (the one rule: `campaigns.rules.release_moment`)."""
    return rules.release_moment(
        spec.release_at_utc, spec.timezone, spec.release_mode, fan_timezone=visitor_zone
    )


def is_released(spec: CampaignSpec, now: datetime, visitor_zone: str | None = None) -> bool:
    return now >= release_moment(spec, visitor_zone)


def release_label(spec: CampaignSpec) -> str:
    """The release moment as the page writes it without scripts."""
    wall = spec.release_at.replace(tzinfo=None)
    day = f"{wall.day} {wall:%B %Y}"
    if spec.release_mode == "local":
        return f"{day}, {wall:%H:%M} your time"
    return f"{day}, {wall:%H:%M} ({spec.timezone})"


def resolved_album(service: str, resolved: str | None) -> str | None:
    """The album id in what the executor recorded as the release on a service (`spotify:album:…`,
    `apple:albums:…`, `deezer:album:…`); None for a release found as tracks (a single) or not yet found."""
    prefix = {"spotify": "spotify:album:", "apple": "apple:albums:", "deezer": "deezer:album:"}.get(service)
    if not resolved or not prefix or not resolved.startswith(prefix):
        return None
    album = resolved.removeprefix(prefix)
    return album if album and "," not in album else None


def listen_url(spec: CampaignSpec, service: str, resolved: str | None = None) -> str:
    """Where the release plays on a service: the album the executor resolved there once known, else the
    album the campaign names, else a search for artist and title."""
    query = f"{spec.artist} {spec.title}"
    own = getattr(getattr(spec.services, service, None), "album_id", None)
    album = resolved_album(service, resolved) or own
    if service == "spotify":
        return (
            f"https://open.spotify.com/album/{quote(album)}"
            if album
            else f"https://open.spotify.com/search/{quote(query)}"
        )
    if service == "apple":
        if album:
            return f"https://music.apple.com/album/{quote(album)}"
        return f"https://music.apple.com/search?term={quote_plus(query)}"
    if service == "deezer":
        return (
            f"https://www.deezer.com/album/{quote(album)}"
            if album
            else f"https://www.deezer.com/search/{quote(query)}"
        )
    raise ValueError(f"unknown service {service!r}")


def preorder_label(name: str) -> str:
    return PREORDER_NAMES.get(name, name.replace("_", " ").replace("-", " ").capitalize())


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_ratio(first: str, second: str) -> float:
    """WCAG 2 contrast ratio of two `#rrggbb` colours (1 to 21)."""
    light, dark = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def text_on(accent: str) -> str:
    """Black or white, whichever reads better on the accent colour."""
    return "#000000" if contrast_ratio(accent, "#000000") >= contrast_ratio(accent, "#ffffff") else "#ffffff"


@dataclass(frozen=True)
class Link:
    key: str
    label: str
    href: str


@dataclass(frozen=True)
class CampaignView:
    """A campaign as the pages need it, built once and cached briefly."""

    id: int
    slug: str
    spec: CampaignSpec
    presave_services: tuple[str, ...]  # offered by the campaign and configured here
    listen: tuple[Link, ...]
    preorder: tuple[Link, ...]
    artwork_url: str | None
    page_url: str
    accent: str
    accent_text: str
    resolved: Mapping[str, str] = field(default_factory=dict)  # service -> the release the executor found
    # services where a fan may sign up for a reminder pre-save (the label cannot save there for them)
    reminder_services: tuple[str, ...] = ()
    spotify_full: bool = False  # the development-mode Spotify app's places are taken

    @property
    def title(self) -> str:
        return f"{self.spec.artist} — {self.spec.title}"

    def playlist_name(self) -> str:
        return self.spec.playlist_name or self.spec.title

    def offers_playlist_choice(self, service: str) -> bool:
        """The playlist choice is offered when the campaign names a playlist (or, for Apple, asks for one)."""
        if self.spec.playlist_name:
            return True
        return service == "apple" and bool(self.spec.services.apple and self.spec.services.apple.playlist)


def build_view(
    campaign_id: int,
    spec: CampaignSpec,
    configured: Collection[str],
    public_url: str,
    resolved: Mapping[str, str] | None = None,
    *,
    spotify_full: bool = False,
) -> CampaignView:
    offered = spec.services.offered()
    direct = tuple(s for s in offered if s in configured and not (s == "spotify" and spotify_full))
    artwork = spec.artwork
    if artwork and not artwork.startswith("https://"):
        artwork = f"{public_url}/{spec.slug}/artwork"
    return CampaignView(
        id=campaign_id,
        slug=spec.slug,
        spec=spec,
        presave_services=direct,
        reminder_services=tuple(s for s in offered if s not in direct) + tuple(spec.services.link_only()),
        spotify_full=spotify_full and "spotify" in offered,
        listen=tuple(Link(s, f"Listen on {SERVICE_NAMES[s]}", f"/{spec.slug}/listen/{s}") for s in offered),
        preorder=tuple(
            Link(name, preorder_label(name), f"/{spec.slug}/go/{quote(name, safe='')}")
            for name in spec.preorder_links
        ),
        artwork_url=artwork,
        page_url=f"{public_url}/{spec.slug}",
        accent=spec.accent_color,
        accent_text=text_on(spec.accent_color),
        resolved=dict(resolved or {}),
    )


def open_in_browser_url(public_url: str, slug: str, visit: dict[str, Any], in_app: str, platform: str) -> str:
    """The page again, marked `ib=<app>` so its visit in the system browser is counted as the fan
    following our advice; Android opens it through an intent, iOS through Safari's URL scheme."""
    query = {k: visit[k] for k in ("utm_source", "utm_medium", "utm_campaign") if visit.get(k)}
    query["ib"] = in_app
    url = f"{public_url}/{slug}?{urlencode(query)}"
    parts = urlsplit(url)
    if platform == "android":
        return f"intent://{parts.netloc}{parts.path}?{parts.query}#Intent;scheme={parts.scheme};end"
    if platform == "ios":
        return f"x-safari-{url}"
    return url
