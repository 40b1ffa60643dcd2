"""One item in a simulated library (a save, a follow, a pre-add): when it first came, how often asked."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Entry:
    uri: str  # the service's own name for the item (a Spotify URI, "albums:<id>", …)
    added_at: float
    requests: int = 1
