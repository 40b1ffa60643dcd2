"""Pacing one app: as fast as allowed until a 429, then a shared pause and AIMD just under the budget."""

from __future__ import annotations

import heapq
import itertools
import random

import pytest

from executor.retry import RetryPolicy
from sandbox.ratelimit import RateLimiter
from services.pacing import UNLIMITED, LocalPacingState, PacedApp, Pacing, PacingPolicy, RateController


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_no_pacing_before_the_first_429() -> None:
    clock = FakeClock()
    controller = RateController(clock=clock)
    assert controller.rate() == UNLIMITED
    assert [controller.reserve(clock.now) for _ in range(100)] == [clock.now] * 100


def test_a_429_pauses_for_its_retry_after_and_drops_to_what_the_window_admitted() -> None:
    clock = FakeClock()
    controller = RateController(PacingPolicy(window_s=30.0, decrease=0.9), clock=clock)
    for _ in range(600):  # 600 successes in the last 30 s: the window admitted 20 calls/s
        clock.now += 0.01
        controller.on_success()
    pause_end = controller.on_throttled(retry_after_s=3)
    assert pause_end == pytest.approx(clock.now + 3)
    assert controller.reserve(clock.now) == pytest.approx(pause_end)
    assert controller.rate(pause_end) == pytest.approx(18.0)  # 0.9 × 20


def test_calls_in_flight_during_one_429_episode_lower_the_rate_once() -> None:
    clock = FakeClock()
    controller = RateController(PacingPolicy(decrease=0.5, min_rate=1.0), clock=clock)
    for _ in range(300):
        controller.on_success()
    controller.on_throttled(1)
    once = controller.rate(clock.now + 1)
    clock.now += 0.1
    controller.on_throttled(1)  # another answer of the same episode
    assert controller.rate(clock.now + 0.9) == pytest.approx(once)


def test_the_rate_rises_additively_between_429s() -> None:
    clock = FakeClock()
    policy = PacingPolicy(window_s=10.0, increase=2.0, increase_share=0.0)
    controller = RateController(policy, clock=clock)
    for _ in range(100):
        controller.on_success()
    end = controller.on_throttled(1)
    base = controller.rate(end)
    assert controller.rate(end + 5) == pytest.approx(base + 10)


def test_reservations_are_spaced_at_the_rate() -> None:
    clock = FakeClock()
    controller = RateController(PacingPolicy(window_s=1.0, decrease=1.0, burst_s=0.0), clock=clock)
    for _ in range(10):
        controller.on_success()
    end = controller.on_throttled(0)
    slots = [controller.reserve(end) for _ in range(5)]
    gaps = [b - a for a, b in itertools.pairwise(slots)]
    assert gaps == pytest.approx([0.1] * 4, rel=0.05)  # ten calls/s


def _simulate(budget: int, window_s: float, workers: int, seconds: float, seed: int) -> tuple[float, float]:
    """Workers pacing against the sandbox's own rolling window (simulated time): the achieved rate as a
    share of the allowed one (after the first window), and the share of calls answered 429."""
    rng = random.Random(seed)
    clock = FakeClock()
    start = clock.now
    controller = RateController(PacingPolicy(window_s=window_s), clock=clock)
    limiter = RateLimiter()
    events: list[tuple[float, int, str, int | None]] = []
    order = 0
    for _ in range(workers):
        heapq.heappush(events, (clock.now, order, "ready", None))
        order += 1
    ok = refused = counted_ok = 0
    while events:
        at, _, kind, retry_after = heapq.heappop(events)
        if at > start + seconds:
            break
        clock.now = at
        if kind == "ready":
            heapq.heappush(events, (controller.reserve(at), order, "send", None))
        elif kind == "send":
            if at < controller.paused_until():
                heapq.heappush(events, (controller.paused_until(), order, "ready", None))
            else:
                wait = limiter.hit("app", at, budget, window_s)
                heapq.heappush(events, (at + rng.uniform(0.002, 0.01), order, "answer", wait))
        else:
            if retry_after is None:
                ok += 1
                counted_ok += at >= start + window_s
                controller.on_success(at)
            else:
                refused += 1
                controller.on_throttled(retry_after, at)
            heapq.heappush(events, (at, order, "ready", None))
        order += 1
    achieved = counted_ok / (seconds - window_s) / (budget / window_s)
    return achieved, refused / (ok + refused)


@pytest.mark.parametrize(("budget", "workers"), [(1500, 8), (3000, 32), (15000, 64)])
def test_against_a_rolling_window_it_runs_close_to_the_budget_with_few_429s(
    budget: int, workers: int
) -> None:
    achieved, refused = _simulate(budget, 30.0, workers, seconds=240, seed=budget)
    assert achieved >= 0.95
    assert refused <= 0.01


@pytest.mark.parametrize(("failures", "ceiling"), [(1, 0.5), (2, 1.0), (4, 4.0), (10, 30.0)])
def test_backoff_is_bounded_exponential_with_full_jitter(failures: int, ceiling: float) -> None:
    policy = RetryPolicy(base_s=0.5, cap_s=30.0)
    waits = [policy.backoff(failures, random.Random(n)) for n in range(200)]
    assert all(0 <= w <= ceiling for w in waits)
    assert max(waits) > ceiling * 0.8  # jitter spreads over the whole range


class CountedState(LocalPacingState):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def read(self) -> Pacing:
        self.reads += 1
        return super().read()


class App(PacedApp):
    name = "spotify"

    def __init__(self, state: CountedState) -> None:
        self.pacing = PacingPolicy()
        self.use_pacing(state=state)


def test_a_paced_call_reads_the_apps_shared_pacing_once_and_a_gate_alone_reads_it_afresh() -> None:
    state = CountedState()
    app = App(state)
    assert app.pacer.acquire()
    app.gate("save")  # the call acquire granted: its read serves the client's gate
    assert state.reads == 1
    app.gate("save")  # a call nobody acquired (the landing app's): read afresh
    assert state.reads == 2
