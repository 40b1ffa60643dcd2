"""The retry rules for one action, against a scripted service (answers given in order)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from campaigns.ledger import Claimed
from executor.perform import perform_action
from executor.retry import RetryPolicy
from services.errors import Failure, GrantLost, ServiceFailure, throttled
from services.model import Release
from services.pacing import PacingPolicy, RateController

NOW = datetime(2026, 12, 4, 0, 5, tzinfo=UTC)
RELEASE = Release("spotify", "spotify:album:x", ("spotify:track:1",), "upc:1")


def fail(kind: Failure, status: int | None = None, retry_after: float | None = None) -> ServiceFailure:
    return ServiceFailure(kind, f"spotify test: {kind}", status=status, retry_after=retry_after)


@dataclass
class ScriptedFan:
    """A fan's service that answers `perform` and `verify` calls from scripts (an exception or a value)."""

    writes: list[object] = field(default_factory=list)
    checks: list[object] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    refreshes: int = 0
    refresh_error: Exception | None = None
    uncertain_kinds: tuple[str, ...] = ()  # actions whose answer proves nothing: checked right after

    @staticmethod
    def _next(script: list[object]) -> object:
        answer = script.pop(0) if script else None
        if isinstance(answer, Exception):
            raise answer
        return answer

    def perform(self, action: Claimed, release: Release | None, note: object) -> str | None:
        self.calls.append("perform")
        self._next(self.writes)
        return release.label if release else action.target

    def verify(self, action: Claimed, release: Release | None) -> bool:
        self.calls.append("verify")
        return bool(self._next(self.checks))

    def checkable(self, action: Claimed) -> bool:
        return True

    def unconfirmed(self, action: Claimed) -> bool:
        return action.kind in self.uncertain_kinds

    def refresh(self) -> None:
        self.calls.append("refresh")
        self.refreshes += 1
        if self.refresh_error:
            raise self.refresh_error


class Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _action(kind: str = "save_release", *, interrupted: bool = False, due: datetime = NOW) -> Claimed:
    return Claimed(1, 9, "spotify", kind, "release", due, 0, None, interrupted)


def _run(fan: ScriptedFan, action: Claimed | None = None, policy: RetryPolicy | None = None) -> tuple:
    clock = Clock()
    pacing = RateController(PacingPolicy(), clock=clock, sleep=clock.sleep)
    result = perform_action(
        fan,
        action or _action(),
        RELEASE,
        pacing,
        policy or RetryPolicy(base_s=0.5, cap_s=4.0, max_transient=3),
        note=lambda _: None,
        now=lambda: NOW,
        sleep=clock.sleep,
    )
    return result, clock, pacing


def test_a_plain_save_is_one_call() -> None:
    fan = ScriptedFan()
    result, _, _ = _run(fan)
    assert (result.outcome, result.attempts, result.resolved_target) == ("delivered", 1, "spotify:album:x")
    assert fan.calls == ["perform"]


def test_a_429_waits_its_retry_after_then_succeeds() -> None:
    fan = ScriptedFan(writes=[fail(Failure.THROTTLED, 429, retry_after=5)])
    result, clock, pacing = _run(fan)
    assert result.outcome == "delivered"
    assert fan.calls == ["perform", "perform"]
    assert sum(clock.slept) >= 5  # every worker of the app waits until the pause ends
    assert pacing.throttled == 1


def test_a_server_error_backs_off_and_checks_before_sending_again() -> None:
    fan = ScriptedFan(writes=[fail(Failure.TRANSIENT, 503), None], checks=[False])
    result, clock, _ = _run(fan)
    assert result.outcome == "delivered"
    assert fan.calls == ["perform", "verify", "perform"]
    assert 0 <= clock.slept[0] <= 0.5


def test_a_lost_answer_to_a_done_write_is_found_done_and_not_sent_again() -> None:
    fan = ScriptedFan(writes=[fail(Failure.TRANSIENT)], checks=[True])
    result, _, _ = _run(fan)
    assert result.outcome == "delivered"
    assert "found done" in (result.reason or "")
    assert fan.calls == ["perform", "verify"]


def test_an_action_a_crash_left_in_flight_is_checked_first() -> None:
    fan = ScriptedFan(checks=[True])
    result, _, _ = _run(fan, _action(interrupted=True))
    assert result.outcome == "delivered"
    assert fan.calls == ["verify"]
    fan = ScriptedFan(checks=[False])
    result, _, _ = _run(fan, _action(interrupted=True))
    assert fan.calls == ["verify", "perform"]


def test_server_errors_give_up_after_the_bound() -> None:
    fan = ScriptedFan(writes=[fail(Failure.TRANSIENT, 502)], checks=[fail(Failure.TRANSIENT, 502)] * 10)
    result, clock, _ = _run(fan)
    assert result.outcome == "failed"
    assert "failed after" in (result.reason or "")
    assert result.status == 502
    assert len(clock.slept) == 3
    assert max(clock.slept) <= 4.0  # bounded by the cap


def test_a_401_refreshes_once() -> None:
    fan = ScriptedFan(writes=[fail(Failure.UNAUTHORIZED, 401), None])
    result, _, _ = _run(fan)
    assert result.outcome == "delivered"
    assert fan.calls == ["perform", "refresh", "perform"]
    fan = ScriptedFan(writes=[fail(Failure.UNAUTHORIZED, 401), fail(Failure.UNAUTHORIZED, 401)])
    result, _, _ = _run(fan)
    assert result.outcome == "undeliverable"
    assert fan.refreshes == 1


def test_invalid_grant_on_refresh_reaches_the_caller() -> None:
    fan = ScriptedFan(
        writes=[fail(Failure.UNAUTHORIZED, 401)], refresh_error=GrantLost("expired", "invalid_grant")
    )
    with pytest.raises(GrantLost):
        _run(fan)


@pytest.mark.parametrize(
    ("failure", "outcome"),
    [
        (fail(Failure.FORBIDDEN, 403), "undeliverable"),
        (fail(Failure.REFUSED, 400), "failed"),
    ],
)
def test_refusals_are_not_retried(failure: ServiceFailure, outcome: str) -> None:
    fan = ScriptedFan(writes=[failure])
    result, _, _ = _run(fan)
    assert result.outcome == outcome
    assert fan.calls == ["perform"]


def test_a_release_the_fan_cannot_see_yet_goes_back_to_the_queue_then_to_pending_source() -> None:
    result, _, _ = _run(ScriptedFan(writes=[fail(Failure.NOT_FOUND, 404)]))
    assert result.outcome == "queued"
    assert result.retry_at == NOW + timedelta(seconds=60)
    late = _action(due=NOW - timedelta(hours=73))
    result, _, _ = _run(ScriptedFan(writes=[fail(Failure.NOT_FOUND, 404)]), late)
    assert result.outcome == "pending_source"


def test_a_playlist_that_cannot_be_checked_is_not_added_blindly() -> None:
    fan = ScriptedFan(checks=[fail(Failure.FORBIDDEN, 403)])
    result, _, _ = _run(fan, _action("add_to_playlist", interrupted=True))
    assert result.outcome == "undeliverable"
    assert fan.calls == ["verify"]
    fan = ScriptedFan(checks=[fail(Failure.FORBIDDEN, 403)])
    result, _, _ = _run(fan, _action("save_release", interrupted=True))
    assert fan.calls == ["verify", "perform"]  # a save is idempotent: sent after all


@dataclass
class ScriptedApp:
    """A service's catalogue that answers lookups from a script."""

    answers: list[object]
    name: str = "spotify"
    lookups: int = 0

    def resolve(self, lookup: object) -> Release | None:
        self.lookups += 1
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer  # type: ignore[return-value]


def test_a_throttled_lookup_is_retried_and_not_taken_for_a_release_not_live_yet() -> None:
    from executor.release import ReleaseOptions, ReleaseReport, _poll

    app = ScriptedApp([fail(Failure.THROTTLED, 429, retry_after=0.01), fail(Failure.TRANSIENT, 503), RELEASE])
    report = ReleaseReport("x")
    options = ReleaseOptions(retry=RetryPolicy(base_s=0.01, cap_s=0.02))
    assert _poll(app, None, options, report) == RELEASE  # type: ignore[arg-type]
    assert app.lookups == 3
    assert report.waiting == {}
    refused = ScriptedApp([fail(Failure.REFUSED, 400)])
    assert _poll(refused, None, options, report) is None  # type: ignore[arg-type]
    assert "cannot look the release up" in report.waiting["spotify"]


def test_a_lookup_with_the_quota_spent_is_not_retried_and_says_until_when_it_waits() -> None:
    from executor.release import ReleaseOptions, ReleaseReport, _poll

    app = ScriptedApp([throttled("spotify", "search", 36_000.0, quota=True), RELEASE])
    report = ReleaseReport("x")
    assert _poll(app, None, ReleaseOptions(), report) is None  # type: ignore[arg-type]
    assert app.lookups == 1  # not called again while told to wait ten hours
    assert "quota spent, retry after 36000 s" in report.waiting["spotify"]


def test_a_spent_quota_puts_the_action_back_in_the_queue_at_once_without_a_second_call() -> None:
    fan = ScriptedFan(writes=[throttled("spotify", "save", 36_000.0, quota=True)])
    result, clock, _ = _run(fan)
    assert result.outcome == "queued"  # not failed: the schedule picks it up after the quota returns
    assert result.retry_at is not None
    assert result.retry_at >= NOW + timedelta(seconds=35_999)
    assert clock.slept == []
    assert fan.calls == ["perform"]


def test_a_retry_after_longer_than_the_run_should_wait_puts_the_action_back_in_the_queue() -> None:
    fan = ScriptedFan(writes=[fail(Failure.THROTTLED, 429, retry_after=7200)])
    result, clock, pacing = _run(fan)
    assert result.outcome == "queued"
    assert result.retry_at is not None
    assert result.retry_at >= NOW + timedelta(seconds=7199)
    assert clock.slept == []  # nobody waits two hours
    assert fan.calls == ["perform"]
    later = ScriptedFan()
    again = perform_action(
        later,
        _action(),
        RELEASE,
        pacing,
        RetryPolicy(),
        note=lambda _: None,
        now=lambda: NOW,
        sleep=clock.sleep,
    )
    assert again.outcome == "queued"  # another action of the same app does not call during the pause
    assert later.calls == []
