"""What one worker counts while it runs (`Tally`), for the run's progress and its report.

What the executor does for one grant is its service module's (`services.owed.FanActions`, built by
`services.catalog.fan_actions`); failures come as `services.errors.ServiceFailure` with a `Failure` kind
the worker decides on, or `GrantLost` when the fan's authorization is gone for good.
"""

from __future__ import annotations

from dataclasses import dataclass, field


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
