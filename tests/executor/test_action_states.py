"""Release day's per-action state machine: every transition of `executor.perform.TRANSITIONS`, reached
from a scripted service's answers, goes where release day needs it to (the next step, or the outcome)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from campaigns.ledger import Claimed
from executor.perform import TRANSITIONS, Event, Move, Step, perform_action
from executor.retry import RetryPolicy
from services.errors import Failure, ServiceFailure, throttled
from services.model import Release
from services.pacing import PacingPolicy, RateController

NOW = datetime(2026, 12, 4, 0, 5, tzinfo=UTC)
RELEASE = Release("spotify", "spotify:album:x", ("spotify:track:1",), "upc:1")


def fail(
    kind: Failure, status: int | None, retry_after: float | None = None, *, app_wide: bool = True
) -> ServiceFailure:
    return ServiceFailure(
        kind, f"spotify test: {kind}", status=status, retry_after=retry_after, app_wide=app_wide
    )


PAUSE = "the app is paused for hours"  # an answer: the app's quota is spent before the call
S429 = fail(Failure.THROTTLED, 429, 1)
FAN_429 = fail(Failure.THROTTLED, 429, 1, app_wide=False)
FAN_LONG_429 = fail(Failure.THROTTLED, 429, 7200, app_wide=False)
GATE = throttled("spotify", "save", 1, sent=False)
S401, S403, S404, S502 = (
    fail(Failure.UNAUTHORIZED, 401),
    fail(Failure.FORBIDDEN, 403),
    fail(Failure.NOT_FOUND, 404),
    fail(Failure.TRANSIENT, 502),
)
S400 = fail(Failure.REFUSED, 400)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Fan:
    """A fan's service answering from scripts; `PAUSE` in a script spends the app's quota, then answers."""

    writes: list[object]
    checks: list[object]
    pacing: RateController
    unconfirmed_kinds: tuple[str, ...] = ()
    can_read_back: bool = True
    calls: list[str] = field(default_factory=list)

    def _answer(self, script: list[object]) -> object:
        answer = script.pop(0) if script else None
        while answer == PAUSE:
            self.pacing.on_throttled(36_000, quota=True)
            answer = script.pop(0) if script else None
        if isinstance(answer, Exception):
            raise answer
        return answer

    def perform(self, action: Claimed, release: Release | None, note: Callable[[str], None]) -> str | None:
        self.calls.append("perform")
        self._answer(self.writes)
        return RELEASE.album

    def verify(self, action: Claimed, release: Release | None) -> bool:
        self.calls.append("verify")
        return bool(self._answer(self.checks))

    def refresh(self) -> None:
        self.calls.append("refresh")

    def checkable(self, action: Claimed) -> bool:
        return self.can_read_back

    def unconfirmed(self, action: Claimed) -> bool:
        return action.kind in self.unconfirmed_kinds


@dataclass(frozen=True)
class Case:
    """Reach `event` at `step` with `answers` (the answers of that step's calls), expect `then`."""

    step: Step
    event: Event
    then: Step | str  # the next step, or the action's outcome
    answers: tuple[object, ...] = ()
    kind: str = "save_release"
    overdue: bool = False  # due long ago: past the window a missing release is waited for
    policy: dict[str, int] = field(default_factory=dict)
    can_read_back: bool = True


def _everywhere(step: Step, then_here: Step | None = None) -> list[Case]:
    """The failures every step meets alike; `then_here` where the step stays (its own by default)."""
    here = then_here or step
    return [
        Case(step, Event.PAUSED, "queued", (PAUSE,)),
        Case(step, Event.NOT_SENT, step, (GATE,)),
        Case(step, Event.THROTTLED, step, (S429,)),
        Case(step, Event.THROTTLED_AGAIN, "queued", (S429,), policy={"max_throttled": 1}),
        Case(step, Event.FAN_THROTTLED, step, (FAN_429,)),
        Case(step, Event.FAN_PAUSED, "queued", (FAN_LONG_429,)),
        Case(step, Event.EXPIRED, step, (S401,)),
        Case(step, Event.UNAUTHORIZED, "undeliverable", (S401, S401)),
        Case(step, Event.TRANSIENT, here, (S502,)),
        Case(step, Event.GAVE_UP, "failed", (S502,), policy={"max_transient": 0}),
        Case(step, Event.NOT_LIVE, "queued", (S404,)),
        Case(step, Event.NOT_THERE, "pending_source", (S404,), overdue=True),
        Case(step, Event.REFUSED, "failed", (S400 if step is Step.SEND else S404,), kind="follow_artist"),
    ]


CASES = [
    Case(Step.SEND, Event.DONE, "delivered"),
    Case(Step.SEND, Event.UNPROVEN, Step.CONFIRM, kind="follow_artist"),
    Case(Step.SEND, Event.FORBIDDEN, "undeliverable", (S403,)),
    *_everywhere(Step.SEND, then_here=Step.CHECK),  # a lost answer: look before sending again
    Case(Step.CHECK, Event.FOUND, "delivered", (True,)),
    Case(Step.CHECK, Event.MISSING, Step.SEND, (False,)),
    Case(Step.CHECK, Event.UNCHECKABLE, Step.SEND, can_read_back=False),
    Case(Step.CHECK, Event.CANNOT_LOOK, Step.SEND, (S403,)),
    Case(Step.CHECK, Event.CANNOT_LOOK_AT_PLAYLIST, "undeliverable", (S403,), kind="add_to_playlist"),
    *_everywhere(Step.CHECK),
    Case(Step.CONFIRM, Event.FOUND, "delivered", (True,), kind="follow_artist"),
    Case(Step.CONFIRM, Event.MISSING, "ignored", (False,), kind="follow_artist"),
    Case(Step.CONFIRM, Event.CANNOT_LOOK, "delivered", (S403,), kind="follow_artist"),
    *_everywhere(Step.CONFIRM),
]


def _run(case: Case) -> tuple[list[tuple[Step, Event, Move]], str, Fan]:
    clock = Clock()
    pacing = RateController(PacingPolicy(), clock=clock, sleep=clock.sleep)
    answers = list(case.answers)
    before_confirming: list[object] = [None]
    if answers[:1] == [PAUSE]:  # the quota is spent before the step's call: at the start, or by the write
        answers.pop(0)
        if case.step is Step.CONFIRM:
            before_confirming = [PAUSE]
        else:
            pacing.on_throttled(36_000, quota=True)
    fan = Fan(
        writes=answers if case.step is Step.SEND else before_confirming,
        checks=answers if case.step is not Step.SEND else [],
        pacing=pacing,
        unconfirmed_kinds=(case.kind,) if case.step is Step.CONFIRM or case.then is Step.CONFIRM else (),
        can_read_back=case.can_read_back,
    )
    due = NOW - timedelta(hours=73) if case.overdue else NOW
    action = Claimed(1, 9, "spotify", case.kind, "spotify:artist:x", due, 0, None, case.step is Step.CHECK)
    trace: list[tuple[Step, Event, Move]] = []
    result = perform_action(
        fan,
        action,
        RELEASE,
        pacing,
        RetryPolicy(base_s=0.01, cap_s=0.02, **case.policy),  # type: ignore[arg-type]
        note=lambda _: None,
        now=lambda: NOW,
        sleep=clock.sleep,
        trace=lambda step, event, move: trace.append((step, event, move)),
    )
    return trace, str(result.outcome), fan


@pytest.mark.parametrize("case", CASES, ids=lambda case: f"{case.step}: {case.event} -> {case.then}")
def test_each_transition_goes_where_release_day_needs_it(case: Case) -> None:
    trace, outcome, _ = _run(case)
    seen = [(step, event) for step, event, _ in trace]
    assert (case.step, case.event) in seen, f"never reached; went {seen} -> {outcome}"
    at = seen.index((case.step, case.event))
    if isinstance(case.then, Step):
        assert trace[at + 1][0] is case.then
    else:
        assert at == len(trace) - 1
        assert outcome == case.then


def test_every_transition_of_the_table_is_tested_and_none_other_is_reachable() -> None:
    assert sorted({(case.step, case.event) for case in CASES}) == sorted(TRANSITIONS)
    assert len(CASES) == len(TRANSITIONS)


@pytest.mark.parametrize(
    ("step", "event"),
    [(step, event) for (step, event), move in TRANSITIONS.items() if move.report.name == "SUCCESS"],
)
def test_only_answered_calls_count_as_successes_for_the_pacing(step: Step, event: Event) -> None:
    assert event in (Event.DONE, Event.UNPROVEN, Event.FOUND, Event.MISSING)


def test_a_lost_answer_is_looked_at_once_then_sent_once() -> None:
    trace, outcome, fan = _run(Case(Step.SEND, Event.TRANSIENT, Step.CHECK, (S502,)))
    assert outcome == "delivered"
    assert fan.calls == ["perform", "verify", "perform"]
    assert [(step, event) for step, event, _ in trace] == [
        (Step.SEND, Event.TRANSIENT),
        (Step.CHECK, Event.MISSING),
        (Step.SEND, Event.DONE),
    ]
