"""How long to wait before trying again: bounded exponential backoff with full jitter, and the limits."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class RetryPolicy:
    max_transient: int = 5  # 5xx / timeouts / dropped connections per action before it fails
    base_s: float = 0.5
    cap_s: float = 30.0
    max_throttled: int = 100  # 429s for one action before it goes back to the queue for later
    not_live_base_s: float = 60.0  # a release the fan cannot see yet (404): first retry after this…
    not_live_cap_s: float = 3600.0  # …doubling up to this
    pending_window: timedelta = timedelta(hours=72)  # not found this long after release: pending source

    def backoff(self, failures: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after the `failures`-th consecutive failure (1-based): full jitter in
        [0, min(cap, base·2^(failures-1))]."""
        ceiling = min(self.cap_s, self.base_s * 2 ** max(0, failures - 1))
        return (rng or random).uniform(0, ceiling)

    def not_live_delay(self, attempts: int) -> float:
        return min(self.not_live_cap_s, self.not_live_base_s * 2.0 ** max(0, attempts - 1))
