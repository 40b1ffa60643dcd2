"""Seeded fault plans: per call, whether it is delayed, fails, drops its connection or answers too late."""

from __future__ import annotations

import math
import random
import threading
from dataclasses import dataclass

from sandbox.config import FaultConfig

Z_99 = 2.3263478740408408  # the standard normal's 99th percentile


@dataclass(slots=True)
class FaultPlan:
    latency_s: float = 0.0
    error_status: int | None = None
    drop: bool = False
    slow_s: float = 0.0
    after_processing: bool = False  # for drop and slow: the action is carried out before the fault
    revoke: bool = False
    throttle: bool = False  # answered 429 with a Retry-After, the call not carried out

    @property
    def label(self) -> str | None:
        parts = []
        if self.revoke:
            parts.append("revoke")
        if self.throttle:
            parts.append("throttled")
        if self.error_status is not None:
            parts.append(f"error_{self.error_status}")
        if self.drop:
            parts.append("drop_after" if self.after_processing else "drop")
        if self.slow_s:
            parts.append("slow_after" if self.after_processing else "slow")
        if self.latency_s:
            parts.append("latency")
        return "+".join(parts) or None


class FaultInjector:
    """Draws plans from one seeded generator (the same seed and call order give the same faults)."""

    def __init__(self, config: FaultConfig) -> None:
        self.config = config
        self._rng = random.Random(config.seed)
        self._lock = threading.Lock()
        self._quiet = (
            config.latency.median_ms == 0
            and config.error_share == 0
            and config.drop_share == 0
            and config.slow_share == 0
            and config.revoke_share == 0
            and config.throttle_share == 0
        )
        median = config.latency.median_ms / 1000
        p99 = max(config.latency.p99_ms / 1000, median)
        self._median = median
        self._sigma = math.log(p99 / median) / Z_99 if median > 0 and p99 > median else 0.0

    def plan(self, service: str, *, user_call: bool) -> FaultPlan | None:
        config = self.config
        if self._quiet or service not in config.services:
            return None
        with self._lock:
            rng = self._rng
            plan = FaultPlan()
            if self._median:
                plan.latency_s = self._median * math.exp(self._sigma * rng.gauss(0, 1))
            if user_call and config.revoke_share and rng.random() < config.revoke_share:
                plan.revoke = True
            draw = rng.random()
            if draw < config.error_share:
                plan.error_status = rng.choice(config.error_statuses)
            elif draw < config.error_share + config.drop_share:
                plan.drop = True
                plan.after_processing = rng.random() < config.after_processing_share
            elif draw < config.error_share + config.drop_share + config.slow_share:
                plan.slow_s = config.slow_s
                plan.after_processing = rng.random() < config.after_processing_share
            elif draw < config.error_share + config.drop_share + config.slow_share + config.throttle_share:
                plan.throttle = True
        return plan if plan.label else None
