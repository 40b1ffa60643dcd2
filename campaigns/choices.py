"""The fan's choices: one shape, versioned, kept as the grant's `choices` JSON.

The landing app writes it (at grant time, then when the fan completes the done page); the executor plans
release day from it. Version 1:

    {"v": 1,
     "artist": "spotify:artist:…" | "<deezer artist id>" | null,
     "follows": ["spotify:playlist:…", …],          # extra follows the fan kept ticked (done on completing)
     "declined_follows": ["spotify:user:…", …],     # offered, unticked: never followed
     "playlist": null | {"id": "<fan's playlist id>"} | {"new": "<name>"},
     "email_opt_in": false,
     "preadd": "<apple pre-order album id>" | null,  # added at grant time
     "completed_at": null | "2026-11-22T10:00:00+00:00"}

Reading is lenient: anything else in the document is ignored, and a malformed part counts as "no choice"
and is reported in `problems` (a document without `v` is read as version 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CHOICES_VERSION = 1
NEW_PLAYLIST_PREFIX = "new:"
PLAYLIST_MARKER = "[presave:{action_id}]"  # in a created playlist's description, to find it after a crash
NEW_PLAYLIST_NAME_MAX = 100


@dataclass(frozen=True)
class FanChoices:
    follows: tuple[str, ...] = ()
    playlist_id: str | None = None  # an existing playlist of the fan's to add the release to
    new_playlist: str | None = None  # the name of a playlist to create with the release in it
    artist: str | None = None  # the campaign artist on the grant's service, followed as the campaign says
    declined_follows: tuple[str, ...] = ()
    email_opt_in: bool = False
    preadd: str | None = None  # an Apple pre-order album added at grant time
    completed_at: str | None = None  # ISO time the fan completed the done page
    problems: tuple[str, ...] = field(default=(), compare=False)

    @property
    def playlist(self) -> dict[str, str] | None:
        if self.playlist_id:
            return {"id": self.playlist_id}
        if self.new_playlist:
            return {"new": self.new_playlist}
        return None

    @property
    def playlist_target(self) -> str | None:
        """The ledger target of the playlist action: the playlist id, or `new:<name>`."""
        if self.playlist_id:
            return self.playlist_id
        if self.new_playlist:
            return f"{NEW_PLAYLIST_PREFIX}{self.new_playlist}"
        return None

    def document(self) -> dict[str, Any]:
        """The JSON document stored in `Grant.choices`."""
        return {
            "v": CHOICES_VERSION,
            "artist": self.artist,
            "follows": list(self.follows),
            "declined_follows": list(self.declined_follows),
            "playlist": self.playlist,
            "email_opt_in": self.email_opt_in,
            "preadd": self.preadd,
            "completed_at": self.completed_at,
        }


def preadded(document: Any) -> bool:
    """Whether an Apple grant's pre-order album was pre-added at grant time."""
    return parse_choices(document).preadd is not None


def parse_choices(document: Any) -> FanChoices:
    """The fan's choices from `Grant.choices`; an empty or missing document means none were made."""
    if not document:
        return FanChoices()
    if not isinstance(document, dict):
        return FanChoices(problems=(f"choices: expected an object, got {type(document).__name__}",))
    problems: list[str] = []
    version = document.get("v", CHOICES_VERSION)
    if version != CHOICES_VERSION:
        problems.append(f"choices.v: version {version!r} is not {CHOICES_VERSION}; read as {CHOICES_VERSION}")
    follows = _uris(document, "follows", problems)
    declined = _uris(document, "declined_follows", problems)
    playlist = document.get("playlist")
    playlist_id = new_playlist = None
    if isinstance(playlist, dict) and isinstance(playlist.get("id"), str) and playlist["id"].strip():
        playlist_id = playlist["id"].strip()
    elif isinstance(playlist, dict) and isinstance(playlist.get("new"), str) and playlist["new"].strip():
        new_playlist = playlist["new"].strip()[:NEW_PLAYLIST_NAME_MAX]
    elif playlist is not None:
        problems.append('choices.playlist: expected {"id": …}, {"new": "Name"} or null')
    return FanChoices(
        follows=follows,
        playlist_id=playlist_id,
        new_playlist=new_playlist,
        artist=_text(document.get("artist")),
        declined_follows=declined,
        email_opt_in=document.get("email_opt_in") is True,
        preadd=_text(document.get("preadd")),
        completed_at=_text(document.get("completed_at")),
        problems=tuple(problems),
    )


def _uris(document: dict[str, Any], key: str, problems: list[str]) -> tuple[str, ...]:
    raw = document.get(key) or []
    found: list[str] = []
    if not isinstance(raw, list):
        problems.append(f"choices.{key}: expected a list of URIs")
        return ()
    for item in raw:
        if isinstance(item, str) and item:
            if item not in found:
                found.append(item)
        else:
            problems.append(f"choices.{key}: {item!r} is not a URI")
    return tuple(found)


def _text(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value if isinstance(value, str) and value else None
