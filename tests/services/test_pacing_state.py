"""The app-wide pacing's state: the one rule for a 429 (pure), and its shared homes tested for real, the
operational store (SQLite, PostgreSQL) and Redis, as several processes see them."""

from __future__ import annotations

import multiprocessing
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from campaigns.store import Store
from services.errors import Failure, ServiceFailure
from services.pacing import (
    UNLIMITED,
    LocalPacingState,
    Pacing,
    PacingPolicy,
    PacingState,
    RateController,
    after_throttle,
)
from services.shared_pacing import RedisPacing, StorePacing, pacing_backend

REDIS_URL = "redis://127.0.0.1:6379/0"
NOW = 1_800_000_000.0  # wall-clock seconds: every process and machine agrees on them


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# the one rule, pure ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("current", "now", "until", "quota", "expected"),
    [
        # the first 429: the rate drops to the proposal, growing again from the pause's end
        (Pacing(), NOW, NOW + 2, False, Pacing(10.0, NOW + 2, NOW + 2, 0.0)),
        # a second 429 of the same episode (a call in flight, in any process): the pause may grow, the rate
        # is not lowered again
        (Pacing(10.0, NOW + 2, NOW + 2, 0.0), NOW + 0.5, NOW + 3, False, Pacing(10.0, NOW + 2, NOW + 3, 0.0)),
        # a shorter Retry-After never shortens a pause already announced
        (Pacing(10.0, NOW + 5, NOW + 5, 0.0), NOW + 1, NOW + 2, False, Pacing(10.0, NOW + 5, NOW + 5, 0.0)),
        # after the pause, a new 429 is a new episode: the rate drops again
        (Pacing(20.0, NOW, NOW, 0.0), NOW + 1, NOW + 2, False, Pacing(10.0, NOW + 2, NOW + 2, 0.0)),
        # a spent quota marks its end apart, so callers that may wait reschedule instead
        (Pacing(), NOW, NOW + 36000, True, Pacing(10.0, NOW + 36000, NOW + 36000, NOW + 36000)),
    ],
    ids=["first-429", "same-episode", "never-shortened", "new-episode", "quota"],
)
def test_a_429_pauses_every_caller_and_lowers_the_rate_once_per_pause(
    current: Pacing, now: float, until: float, quota: bool, expected: Pacing
) -> None:
    assert after_throttle(current, now, until, 10.0, quota=quota) == expected


@pytest.mark.parametrize(
    ("retry_after", "quota", "acquires"),
    [(2.0, False, True), (600.0, False, False), (3.0, True, False), (None, True, False)],
    ids=[
        "short-retry-after-is-waited",
        "long-retry-after-reschedules",
        "spent-quota-reschedules",
        "spent-quota-without-retry-after",
    ],
)
def test_a_caller_that_may_wait_waits_a_short_pause_and_reschedules_a_long_one_or_a_spent_quota(
    retry_after: float | None, quota: bool, acquires: bool
) -> None:
    clock = Clock()
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.now += seconds

    controller = RateController(PacingPolicy(), clock=clock, sleep=sleep)
    end = controller.on_throttled(retry_after, quota=quota)
    assert controller.acquire() is acquires
    if acquires:
        assert clock.now >= end
    else:
        assert slept == []  # told at once, nothing slept


@pytest.mark.parametrize("quota", [False, True])
def test_the_gate_refuses_a_call_while_the_app_is_told_to_wait_without_sending_it(quota: bool) -> None:
    from campaigns.vault import Secret
    from services.spotify import SpotifyApp

    app = SpotifyApp("id", Secret("secret"), "http://127.0.0.1:9", "http://127.0.0.1:9/v1")
    app.pacer.on_throttled(2.0, quota=quota)
    with pytest.raises(ServiceFailure) as refused:
        app.gate("search")
    assert refused.value.kind == (Failure.QUOTA_SPENT if quota else Failure.THROTTLED)
    assert refused.value.status is None  # nothing was sent
    assert refused.value.must_wait


# the shared homes, for real -------------------------------------------------------------------------------------
def _redis_available() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(params=["local", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres), "redis"])
def home(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Where the state lives: a URL (`local` for this process's memory)."""
    if request.param == "local":
        yield "local"
    elif request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'presave.db'}"
        Store.connect(url).dispose()
        yield url
    elif request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
        Store.connect(url).dispose()
        yield url
    else:
        if not _redis_available() and os.environ.get("PRESAVE_REQUIRE_REDIS") != "1":
            pytest.skip("Redis is not listening on 127.0.0.1:6379")
        yield REDIS_URL


def _state(home: str, app: str, prefix: str) -> PacingState:
    if home == "local":
        return LocalPacingState()
    if home.startswith("redis"):
        return RedisPacing(home, prefix=prefix).state(app)
    return StorePacing(home, upgrade=False).state(app)


def test_a_new_app_is_not_paced_until_its_first_429(home: str) -> None:
    state = _state(home, f"spotify:{uuid.uuid4().hex}", f"test-{uuid.uuid4().hex}")
    assert state.read() == Pacing(UNLIMITED, 0.0, 0.0, 0.0)


def test_two_processes_see_one_pause_and_one_rate(home: str) -> None:
    if home == "local":
        pytest.skip("one process's memory is not shared")
    app, prefix = f"spotify:{uuid.uuid4().hex}", f"test-{uuid.uuid4().hex}"
    clock = Clock()
    one = RateController(PacingPolicy(), _state(home, app, prefix), share=0.5, clock=clock)
    two = RateController(PacingPolicy(), _state(home, app, prefix), share=0.5, clock=clock)
    for _ in range(300):
        one.on_success()
    end = one.on_throttled(retry_after_s=7)
    assert two.paused_until() == pytest.approx(end)
    assert two.reserve(clock.now) == pytest.approx(end)
    assert two.rate() == pytest.approx(one.rate())
    assert not two.reschedules(two.state.read(), clock.now)
    one.on_throttled(36000, quota=True)
    assert two.reschedules(two.state.read(), clock.now)


def _lower_at_the_same_429(home: str, app: str, prefix: str, ready: object, results: object) -> None:
    state = _state(home, app, prefix)
    controller = RateController(PacingPolicy(decrease=0.5), state, clock=Clock())
    for _ in range(300):
        controller.on_success(NOW - 1)
    ready.wait()  # type: ignore[attr-defined]
    controller.on_throttled(2.0)
    results.put(state.read())  # type: ignore[attr-defined]


def test_processes_seeing_the_same_429_lower_the_rate_once(home: str) -> None:
    if home == "local":
        pytest.skip("one process's memory is not shared")
    app, prefix = f"spotify:{uuid.uuid4().hex}", f"test-{uuid.uuid4().hex}"
    _state(home, app, prefix).update(lambda _: Pacing(40.0, NOW - 100, NOW - 100, 0.0))
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    results = context.Queue()
    workers = [
        context.Process(target=_lower_at_the_same_429, args=(home, app, prefix, ready, results))
        for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    ready.set()
    # four spawned interpreters import the stack before they act: minutes on two loaded cores
    seen = [results.get(timeout=240) for _ in workers]
    for worker in workers:
        worker.join(60)
    final = _state(home, app, prefix).read()
    # 300 successes over the 30 s window admitted 10 calls/s: halved once is 5, halved twice would be 2.5
    assert final.rate == pytest.approx(5.0)
    assert final.pause_until == pytest.approx(NOW + 2.0)
    assert {round(s.rate, 6) for s in seen} == {5.0}


def test_the_factory_picks_redis_for_a_redis_url_and_the_store_otherwise(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'presave.db'}"
    assert isinstance(pacing_backend(url), StorePacing)
    assert pacing_backend(url) is pacing_backend(url)  # one per process and URL
    assert isinstance(pacing_backend(REDIS_URL, prefix=f"test-{uuid.uuid4().hex}"), RedisPacing)
