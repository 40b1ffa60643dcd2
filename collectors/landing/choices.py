"""The done page's form, checked against what was offered, and the grant's `choices` document it
updates (the one shape, versioned: `campaigns.choices.FanChoices`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from campaigns.campaign_file import CampaignSpec
from campaigns.choices import parse_choices
from campaigns.models import ActionKind

_PLAYLIST_ID = {
    "spotify": re.compile(r"^[A-Za-z0-9]{1,64}$"),
    "deezer": re.compile(r"^[0-9]{1,20}$"),
    "apple": re.compile(r"^[A-Za-z0-9.]{1,64}$"),
}
EMAIL_ADDRESS = re.compile(r"^[^@\s<>\"]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,250})\.[A-Za-z]{2,63}$")
_YES = {"on", "1", "yes", "true"}


class FormProblem(ValueError):
    """The done form cannot be taken as sent; names the field and why."""

    def __init__(self, field: str, why: str) -> None:
        self.field = field
        self.why = why
        super().__init__(f"{field}: {why}")


@dataclass(frozen=True)
class DoneOffer:
    """What the done page offers this grant."""

    service: str
    follows: tuple[str, ...]
    playlist_choice: bool
    new_playlist_name: str
    email_field: bool  # the fan types the address: Apple Music shares none


@dataclass(frozen=True)
class DoneChoices:
    follows: tuple[str, ...]
    declined: tuple[str, ...]
    playlist: dict[str, str] | None
    email_opt_in: bool
    email: str | None


def extra_follows(spec: CampaignSpec, service: str) -> tuple[str, ...]:
    """The entities beyond the artist a fan may follow: Spotify URIs only (Apple has no follows, and the
    campaign file names no Deezer extras)."""
    if service == "spotify" and spec.services.spotify:
        return tuple(spec.services.spotify.follow)
    return ()


def artist_target(spec: CampaignSpec, service: str) -> str | None:
    if service == "spotify" and spec.services.spotify:
        return spec.services.spotify.artist
    if service == "deezer" and spec.services.deezer:
        return spec.services.deezer.artist_id
    return None


def read_done_form(
    offer: DoneOffer,
    *,
    follows: list[str],
    playlist: str | None,
    email_opt_in: str | None,
    email: str | None,
) -> DoneChoices:
    """The fan's choices, checked against what was offered; a `FormProblem` names what is wrong."""
    for uri in follows:
        if uri not in offer.follows:
            raise FormProblem("follow", "names something this page did not offer")
    kept = tuple(uri for uri in offer.follows if uri in follows)
    declined = tuple(uri for uri in offer.follows if uri not in follows)
    chosen = _playlist(offer, (playlist or "").strip())
    opted_in = (email_opt_in or "").strip().lower() in _YES
    if email_opt_in is not None and not opted_in and email_opt_in.strip() != "":
        raise FormProblem("email_opt_in", "must be ticked or left empty")
    address = (email or "").strip() or None
    if opted_in and offer.email_field:
        if address is None:
            raise FormProblem("email", "is needed when you tick the email box")
        if len(address) > 254 or not EMAIL_ADDRESS.match(address):
            raise FormProblem("email", "is not an email address")
    return DoneChoices(kept, declined, chosen, opted_in, address if opted_in and offer.email_field else None)


def _playlist(offer: DoneOffer, value: str) -> dict[str, str] | None:
    if value in ("", "none"):
        return None
    if not offer.playlist_choice:
        raise FormProblem("playlist", "this campaign offers no playlist choice")
    if value == "new":
        return {"new": offer.new_playlist_name}
    if value.startswith("id:") and _PLAYLIST_ID[offer.service].match(value[3:]):
        return {"id": value[3:]}
    raise FormProblem("playlist", "must be none, new, or one of your playlists")


def initial_choices(
    spec: CampaignSpec, service: str, previous: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The document at grant time; a fan granting again keeps what they chose before."""
    apple = spec.services.apple if service == "apple" else None
    return replace(
        parse_choices(previous),
        artist=artist_target(spec, service),
        preadd=apple.album_id if apple and apple.album_id else None,
    ).document()


def completed_choices(previous: dict[str, Any], done: DoneChoices, now: datetime) -> dict[str, Any]:
    """The document after the fan completes (later choices replace earlier ones)."""
    playlist = done.playlist or {}
    return replace(
        parse_choices(previous),
        follows=done.follows,
        declined_follows=done.declined,
        playlist_id=playlist.get("id"),
        new_playlist=playlist.get("new"),
        email_opt_in=done.email_opt_in,
        completed_at=now.isoformat(),
    ).document()


def owed_at_release(service: str, choices: dict[str, Any]) -> list[tuple[str, str]]:
    """What release day owes a grant, read from its choices (the executor's plan, stated here so the
    document's meaning is tested): the release saved (unless Apple pre-added it), the artist followed on
    Deezer (Spotify follows at grant time), the release added to the chosen playlist."""
    read = parse_choices(choices)
    owed: list[tuple[str, str]] = []
    if not (service == "apple" and read.preadd):
        owed.append((ActionKind.SAVE_RELEASE.value, "release"))
    if service == "deezer" and read.artist:
        owed.append((ActionKind.FOLLOW_ARTIST.value, read.artist))
    if read.playlist_target:
        owed.append((ActionKind.ADD_TO_PLAYLIST.value, read.playlist_target))
    return owed
