"""What the fan chose on the done page, read from `Grant.choices` (written by the landing app).

The one place that knows the shape, so it is easy to follow the landing app if it changes:
`{"follows": ["spotify:artist:…", "spotify:playlist:…"], "playlist": {"id": "…"} | {"new": "Name"} | null}`.
Anything else in the document is ignored; a malformed part counts as "no choice" and is reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

NEW_PLAYLIST_PREFIX = "new:"
PLAYLIST_MARKER = "[presave:{action_id}]"  # in a created playlist's description, to find it after a crash


@dataclass(frozen=True)
class FanChoices:
    follows: tuple[str, ...] = ()
    playlist_id: str | None = None  # an existing playlist of the fan's to add the release to
    new_playlist: str | None = None  # the name of a playlist to create with the release in it
    problems: tuple[str, ...] = field(default=(), compare=False)

    @property
    def playlist_target(self) -> str | None:
        """The ledger target of the playlist action: the playlist id, or `new:<name>`."""
        if self.playlist_id:
            return self.playlist_id
        if self.new_playlist:
            return f"{NEW_PLAYLIST_PREFIX}{self.new_playlist}"
        return None


def preadded(document: Any) -> bool:
    """Whether an Apple grant's pre-order album was pre-added at grant time (`"preadd": "<album id>"`)."""
    return isinstance(document, dict) and bool(document.get("preadd"))


def parse_choices(document: Any) -> FanChoices:
    """The fan's choices from `Grant.choices`; an empty or missing document means none were made."""
    if not document:
        return FanChoices()
    if not isinstance(document, dict):
        return FanChoices(problems=(f"choices: expected an object, got {type(document).__name__}",))
    problems: list[str] = []
    raw_follows = document.get("follows") or []
    follows: list[str] = []
    if isinstance(raw_follows, list):
        for item in raw_follows:
            if isinstance(item, str) and item and item not in follows:
                follows.append(item)
            else:
                problems.append(f"choices.follows: {item!r} is not a URI")
    else:
        problems.append("choices.follows: expected a list of URIs")
    playlist = document.get("playlist")
    playlist_id = new_playlist = None
    if isinstance(playlist, dict) and isinstance(playlist.get("id"), str) and playlist["id"].strip():
        playlist_id = playlist["id"].strip()
    elif isinstance(playlist, dict) and isinstance(playlist.get("new"), str) and playlist["new"].strip():
        new_playlist = playlist["new"].strip()[:100]
    elif playlist is not None:
        problems.append('choices.playlist: expected {"id": …}, {"new": "Name"} or null')
    return FanChoices(tuple(follows), playlist_id, new_playlist, tuple(problems))
