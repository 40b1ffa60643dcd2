"""Pacing one app: as fast as allowed until a 429, then a shared pause and AIMD just under the budget."""

from __future__ import annotations

import heapq
import itertools
import random
from dataclasses import dataclass

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


def _sent_over(controller: RateController, clock: FakeClock, calls: int, seconds: float) -> None:
    for _ in range(calls):
        clock.now += seconds / calls
        controller.on_sent(clock.now)
        controller.on_success()


@pytest.mark.parametrize(
    ("calls", "seconds", "retry_after_s", "lowered"),
    [
        (300, 30.0, 1, True),  # a full window: room comes back as its oldest calls leave
        (50, 5.0, 2, False),  # the window's oldest call leaves in 25 s: not the window's 429
        (50, 5.0, 26, True),  # …unless the wait lasts until it leaves
    ],
)
def test_a_429_lowers_the_rate_only_when_the_window_can_be_what_refused(
    calls: int, seconds: float, retry_after_s: int, lowered: bool
) -> None:
    clock = FakeClock()
    controller = RateController(PacingPolicy(window_s=30.0), clock=clock)
    _sent_over(controller, clock, calls, seconds)
    pause_end = controller.on_throttled(retry_after_s)
    assert controller.reserve(clock.now) == pytest.approx(pause_end)  # the pause is honoured either way
    assert (controller.rate(pause_end) != UNLIMITED) is lowered


def test_a_429_with_fewer_calls_in_the_window_than_at_its_last_refusal_keeps_the_rate() -> None:
    clock = FakeClock()
    controller = RateController(PacingPolicy(window_s=30.0), clock=clock)
    _sent_over(controller, clock, 300, 30.0)
    controller.on_throttled(1)
    learned = controller.state.read()
    _sent_over(controller, clock, 100, 20.0)  # the window now holds 200 calls, not 300
    pause_end = controller.on_throttled(15)  # as long as a full window's wait could be
    assert pause_end == pytest.approx(clock.now + 15)
    assert controller.state.read()._replace(pause_until=0.0) == learned._replace(pause_until=0.0)


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


@pytest.mark.parametrize(
    ("sent_in_window", "gap_s"),
    [(100, 0.1), (50, 0.05)],  # a full window: the rate (ten calls/s); room in it: twice the rate
)
def test_reservations_are_spaced_at_the_rate_and_closer_while_the_window_has_room(
    sent_in_window: int, gap_s: float
) -> None:
    clock = FakeClock()
    controller = RateController(PacingPolicy(window_s=10.0, decrease=1.0, burst_s=0.0), clock=clock)
    for step in range(100):  # 100 successes over the 10 s window: it admitted ten calls/s
        clock.now += 0.1
        controller.on_success()
        if step % (100 // sent_in_window) == 0:
            controller.on_sent(clock.now)
    end = controller.on_throttled(1)
    slots = [controller.reserve(end) for _ in range(5)]
    gaps = [b - a for a, b in itertools.pairwise(slots)]
    assert gaps == pytest.approx([gap_s] * 4, rel=0.05)


@dataclass(frozen=True)
class Faults:
    """The service's answers whatever the budget: 429s with their Retry-After, and 502s."""

    throttled: float = 0.0
    retry_after_s: int = 2
    errors: float = 0.0


@dataclass
class Outcome:
    sent: int = 0
    succeeded_after_first_window: int = 0
    refused_by_window: int = 0  # 429s of the budget (not the random ones)


def _simulate(
    budget: int, window_s: float, workers: int, seconds: float, seed: int, faults: Faults = Faults()
) -> Outcome:
    """Workers pacing against the sandbox's own rolling window (simulated time), the service answering
    429 or 502 at random by `faults`, as the sandbox does (every call counts in the window)."""
    rng = random.Random(seed)
    clock = FakeClock()
    start = clock.now
    controller = RateController(PacingPolicy(window_s=window_s), clock=clock)
    limiter = RateLimiter()
    events: list[tuple[float, int, str, tuple[str, int | None]]] = []
    order = itertools.count()
    for _ in range(workers):
        heapq.heappush(events, (clock.now, next(order), "ready", ("", None)))
    outcome = Outcome()
    while events:
        at, _, kind, (answer, retry_after) = heapq.heappop(events)
        if at > start + seconds:
            break
        clock.now = at
        if kind == "ready":
            heapq.heappush(events, (controller.reserve(at), next(order), "send", ("", None)))
        elif kind == "send":
            if at < controller.paused_until():
                heapq.heappush(events, (controller.paused_until(), next(order), "ready", ("", None)))
                continue
            controller.on_sent(at)
            outcome.sent += 1
            wait = limiter.hit("app", at, budget, window_s)
            draw = rng.random()
            if wait is not None:
                reply: tuple[str, int | None] = ("window", wait)
            elif draw < faults.throttled:
                reply = ("throttled", faults.retry_after_s)
            else:
                reply = ("error" if draw < faults.throttled + faults.errors else "ok", None)
            heapq.heappush(events, (at + rng.uniform(0.002, 0.01), next(order), "answer", reply))
        else:
            then = at
            if answer == "ok":
                outcome.succeeded_after_first_window += at >= start + window_s
                controller.on_success(at)
            elif answer == "error":
                then += rng.uniform(0.0, 0.5)  # the worker's back-off before trying again
            else:
                outcome.refused_by_window += answer == "window"
                controller.on_throttled(retry_after, at)
            heapq.heappush(events, (then, next(order), "ready", ("", None)))
    return outcome


@pytest.mark.parametrize(("budget", "workers"), [(1500, 8), (3000, 32), (15000, 64)])
def test_against_a_rolling_window_it_runs_close_to_the_budget_with_few_429s(
    budget: int, workers: int
) -> None:
    seconds, window_s = 240.0, 30.0
    outcome = _simulate(budget, window_s, workers, seconds, seed=budget)
    achieved = outcome.succeeded_after_first_window / (seconds - window_s) / (budget / window_s)
    assert achieved >= 0.95
    assert outcome.refused_by_window / outcome.sent <= 0.01


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_random_429s_and_502s_pause_it_without_keeping_it_under_the_budget(seed: int) -> None:
    """A small budget (120 calls per 30 s), 5 % random 429s asking for 2 s and 5 % 502s: every call counts
    in the window, so the calls sent reach most of what the window allows, few of them refused by it."""
    seconds, budget, window_s = 150.0, 120, 30.0
    outcome = _simulate(budget, window_s, 16, seconds, seed, Faults(throttled=0.05, errors=0.05))
    assert outcome.sent / (seconds * budget / window_s) >= 0.85
    assert outcome.refused_by_window / outcome.sent <= 0.1


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
