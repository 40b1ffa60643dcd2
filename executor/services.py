"""What the executor needs from each streaming service: a fan session that performs owed actions.

The clients themselves live in `services/` (one per service: tokens, calls, errors, pacing);
`executor.fans` adapts each to a `FanSession` that maps the ledger's action kinds to its calls.
Failures come as `services.errors.ServiceFailure` with a `Failure` kind the worker decides on, or
`GrantLost` when the fan's authorization is gone for good.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from campaigns.ledger import Claimed
from services.errors import Failure, ServiceFailure
from services.model import Release

ResolvedNote = Callable[[str], None]


def resolved(release: Release | None, service: str) -> Release:
    """The release an action needs; until it is resolved on the service, NOT_FOUND (back to the queue)."""
    if release is None:
        raise ServiceFailure(
            Failure.NOT_FOUND, f"{service}: the release is not resolved yet", service=service
        )
    return release


class FanSession(Protocol):
    """Acting for one fan on one service (one client, one worker thread)."""

    def perform(self, action: Claimed, release: Release | None, note: ResolvedNote) -> str | None:
        """Do the action; returns what the target resolved to (album URI, playlist id) if anything.
        `note` records an intermediate result (a created playlist) before going on."""
        ...

    def verify(self, action: Claimed, release: Release | None) -> bool:
        """Whether the action is already done at the service (after a crash or an unclear failure)."""
        ...

    def refresh(self) -> None:
        """Get a new access token now (after a 401); raises GrantLost if the grant is gone."""
        ...

    def checkable(self, action: Claimed) -> bool:
        """Whether the grant can read back that the action is done (`verify`); where it cannot, or reading
        is pointless, an action that may have happened is sent again, which the service takes as a no-op."""
        ...

    def unconfirmed(self, action: Claimed) -> bool:
        """Whether the service's answer to this action proves nothing, so it is checked (`verify`) right
        after: a follow the service may accept and silently ignore."""
        ...


@dataclass
class Tally:
    """Counts one worker keeps while it runs (for progress and the report)."""

    performed: int = 0  # actions that needed a call this run
    calls: int = 0
    throttled: int = 0
    cpu_s: float = 0.0  # CPU the worker process spent performing (not starting up or planning)
    by_outcome: dict[str, int] = field(default_factory=dict)
    # service -> why some of its actions were not sent (the app's shared pacing could not be read)
    held_back: dict[str, str] = field(default_factory=dict)

    def count(self, outcome: str) -> None:
        self.by_outcome[outcome] = self.by_outcome.get(outcome, 0) + 1
