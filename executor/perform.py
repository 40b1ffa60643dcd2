"""One owed action, done once: the retry rules the executor owns (spotipy's own retrying is off), as a
state machine. An action is at one `Step` (the call it makes next); each turn makes that call (or none)
and comes to one `Event`; `TRANSITIONS[step, event]` says where it goes next (another step, or an outcome
that ends it) and what the app's pacing is told (`Report`: the executor alone reports its fan calls).

- 429: every worker of the app waits the `Retry-After`, the app's rate drops (AIMD), then again; a spent
  quota (or a wait past the pacing's `max_pause_s`) sends the action back to the queue at once.
- 5xx, timeouts, dropped connections: bounded exponential backoff with jitter; the outcome of the failed
  call is unknown, so the action is checked at the service before it is sent again.
- 401: the access token is refreshed once; `invalid_grant` ends the grant (never retried).
- 403: skipped with its reason (missing scope, not the fan's playlist, no subscription).
- 404 on the release: not live for this fan yet; back to the queue for later, `pending_source` after the window.
- An action a crashed run left in flight is first checked at the service.
- The app's shared pacing cannot be read (Redis or the store away): nothing more is sent; the action
  stays queued (`held_back`), due again after the `retry_after` of `PacingUnavailable`, with the reason.
- An action whose answer proves nothing (`FanActions.unconfirmed`: Spotify's 2026 artist follow through
  `PUT /me/library`, reference H) is checked at the service right after; one the service did not keep
  ends `ignored` ("ignored by the service"), never `delivered`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum, StrEnum
from typing import NamedTuple

from campaigns.ledger import Claimed, Finished
from campaigns.models import ActionKind, Outcome
from executor.plan import RELEASE_KINDS
from executor.retry import RetryPolicy
from services.errors import Failure, PacingUnavailable, ServiceFailure
from services.model import Release
from services.owed import FanActions, ResolvedNote
from services.pacing import RateController

IGNORED_REASON = "ignored by the service: the call was answered, but the library check does not show it"
FOUND_REASON = "found done at the service (an earlier attempt's answer was lost)"


class Step(StrEnum):
    """Where an action is: the call it makes next."""

    SEND = "send"  # do the action
    CHECK = "check"  # look first: an earlier attempt may have done it (a crash, a lost answer)
    CONFIRM = "confirm"  # done and answered, but the answer proves nothing: look whether it was kept


class Event(StrEnum):
    """What one turn came to: an answer, a failure of a kind, or no call at all."""

    DONE = "answered"  # SEND: answered, and the answer proves it
    UNPROVEN = "answered, proving nothing"  # SEND: answered; whether it was kept must be looked at
    FOUND = "found done"  # CHECK, CONFIRM: the service shows it
    MISSING = "not found"  # CHECK, CONFIRM: the service does not show it
    UNCHECKABLE = "cannot be read back"  # CHECK of an action the grant cannot read back (no call)
    PAUSED = "app paused"  # the pacing: a spent quota or a pause past `max_pause_s` (no call)
    NOT_SENT = "not sent"  # the client's gate: the app was told to wait meanwhile
    THROTTLED = "429"  # the whole app throttled: every worker waits the Retry-After
    THROTTLED_AGAIN = "429, too often"  # the action's `max_throttled`-th
    FAN_THROTTLED = "429 for this fan"  # this fan only (Deezer): waited here
    FAN_PAUSED = "429 for this fan, a long wait"  # past `max_pause_s`, or too often
    EXPIRED = "401"  # the access token refused, not refreshed yet: refreshed
    UNAUTHORIZED = "401 after a refresh"
    TRANSIENT = "5xx"  # 5xx, timeout, dropped connection: the outcome unknown; backed off
    GAVE_UP = "5xx, too often"  # past `max_transient`
    CANNOT_LOOK = "cannot look"  # CHECK, CONFIRM: 403 or refused (no read scope)
    CANNOT_LOOK_AT_PLAYLIST = "cannot look at the playlist"  # CHECK of a playlist add
    NOT_LIVE = "404 on the release"  # not live for this fan yet
    NOT_THERE = "404 on the release, past the window"
    FORBIDDEN = "403"
    REFUSED = "refused"  # anything else the service said no to


class Report(Enum):
    """What the app's pacing is told of a turn."""

    NOTHING = "nothing"
    SUCCESS = "a success"
    THROTTLED = "a 429"


class Move(NamedTuple):
    """A transition: the next step, or the outcome that ends the action (with its reason, a template of
    `failure`, `last`, `wait`, `calls`, `throttled`)."""

    to: Step | Outcome
    report: Report = Report.NOTHING
    reason: str = ""


def _failures(step: Step) -> dict[Event, Move]:
    """What every step does on a pause or a failure: most leave the action where it is."""
    return {
        Event.PAUSED: Move(Outcome.QUEUED, reason="the service asked to wait {wait:.0f} s: {last}"),
        Event.NOT_SENT: Move(step),
        Event.THROTTLED: Move(step, Report.THROTTLED),
        Event.THROTTLED_AGAIN: Move(
            Outcome.QUEUED, Report.THROTTLED, "throttled {throttled} times: {failure}"
        ),
        Event.FAN_THROTTLED: Move(step),
        Event.FAN_PAUSED: Move(Outcome.QUEUED, reason="throttled: {failure}"),
        Event.EXPIRED: Move(step),
        Event.UNAUTHORIZED: Move(Outcome.UNDELIVERABLE, reason="{failure}"),
        Event.TRANSIENT: Move(step),
        Event.GAVE_UP: Move(Outcome.FAILED, reason="failed after {calls} attempts: {failure}"),
        Event.NOT_LIVE: Move(Outcome.QUEUED, reason="not live for this fan yet: {failure}"),
        Event.NOT_THERE: Move(Outcome.PENDING_SOURCE, reason="the release is still not there: {failure}"),
        Event.REFUSED: Move(Outcome.FAILED, reason="{failure}"),
    }


TRANSITIONS: dict[tuple[Step, Event], Move] = {
    **{(step, event): move for step in Step for event, move in _failures(step).items()},
    (Step.SEND, Event.DONE): Move(Outcome.DELIVERED, Report.SUCCESS),
    (Step.SEND, Event.UNPROVEN): Move(Step.CONFIRM, Report.SUCCESS),
    (Step.SEND, Event.TRANSIENT): Move(Step.CHECK),  # the answer was lost: look before sending again
    (Step.SEND, Event.FORBIDDEN): Move(Outcome.UNDELIVERABLE, reason="{failure}"),
    (Step.CHECK, Event.FOUND): Move(Outcome.DELIVERED, Report.SUCCESS, FOUND_REASON),
    (Step.CHECK, Event.MISSING): Move(Step.SEND, Report.SUCCESS),
    (Step.CHECK, Event.UNCHECKABLE): Move(Step.SEND),  # sent again: the service takes it as a no-op
    (Step.CHECK, Event.CANNOT_LOOK): Move(Step.SEND),  # an idempotent save sent again is harmless…
    (Step.CHECK, Event.CANNOT_LOOK_AT_PLAYLIST): Move(  # …a playlist add is not
        Outcome.UNDELIVERABLE, reason="cannot check the playlist: {failure}"
    ),
    (Step.CONFIRM, Event.FOUND): Move(Outcome.DELIVERED, Report.SUCCESS),
    (Step.CONFIRM, Event.MISSING): Move(Outcome.IGNORED, Report.SUCCESS, IGNORED_REASON),
    (Step.CONFIRM, Event.CANNOT_LOOK): Move(  # sent and answered, the grant cannot look: unchecked
        Outcome.DELIVERED, reason="not checked at the service: {failure}"
    ),
}


class Turn(NamedTuple):
    event: Event
    failure: ServiceFailure | None = None
    wait: float = 0.0  # seconds: waited here (a backoff, a fan's 429), or until the action is due again


Trace = Callable[[Step, Event, Move], None]


@dataclass
class Attempt:
    """What happened to one action in this run."""

    action: Claimed
    step: Step
    calls: int = 0
    throttled: int = 0
    transient: int = 0
    refreshed: bool = False
    resolved: str | None = None  # what the target resolved to (album URI, playlist id)
    last: ServiceFailure | None = None

    def finish(self, move: Move, turn: Turn, at: datetime) -> Finished:
        outcome = Outcome(move.to)
        reason = move.reason.format(
            failure=turn.failure,
            last=self.last or "throttled",
            wait=turn.wait,
            calls=self.calls,
            throttled=self.throttled,
        )
        status = self.last.status if self.last is not None else None
        if outcome == Outcome.QUEUED:
            retry_at = at + timedelta(seconds=turn.wait)
            return Finished(
                self.action.id, outcome, self.calls, status=status, reason=reason, retry_at=retry_at
            )
        delivered = outcome == Outcome.DELIVERED
        return Finished(
            self.action.id,
            outcome,
            self.calls,
            status=200 if delivered else status,
            reason=reason or None,
            done_at=at,
            resolved_target=(self.resolved or None) if delivered else None,
        )


def perform_action(
    fan: FanActions,
    action: Claimed,
    release: Release | None,
    pacing: RateController,
    policy: RetryPolicy,
    *,
    note: ResolvedNote,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    sleep: Callable[[float], None] = time.sleep,
    trace: Trace | None = None,
) -> Finished:
    """Perform one claimed action with the executor's retry rules; GrantLost and PacingUnavailable
    propagate to the caller (`held_back` is the outcome of the latter). `trace` sees every transition."""
    attempt = Attempt(action, Step.CHECK if action.interrupted else Step.SEND)
    while True:
        turn = _turn(attempt, fan, release, pacing, policy, note, now)
        move = TRANSITIONS[attempt.step, turn.event]
        if trace is not None:
            trace(attempt.step, turn.event, move)
        _report(pacing, move.report, turn.failure)
        _carry_out(attempt, turn, fan, sleep)
        if not isinstance(move.to, Step):
            return attempt.finish(move, turn, now())
        attempt.step = move.to


def _turn(
    attempt: Attempt,
    fan: FanActions,
    release: Release | None,
    pacing: RateController,
    policy: RetryPolicy,
    note: ResolvedNote,
    now: Callable[[], datetime],
) -> Turn:
    """One turn at the action's step: its call, unless the step needs none or the app must wait."""
    if attempt.step is Step.CHECK and not fan.checkable(attempt.action):
        return Turn(Event.UNCHECKABLE)
    if not pacing.acquire():
        return Turn(Event.PAUSED, wait=max(1.0, pacing.paused_until() - pacing.clock()))
    attempt.calls += 1
    try:
        return Turn(_call(attempt, fan, release, note))
    except ServiceFailure as failure:
        attempt.last = failure
        return _failed(attempt, failure, pacing, policy, now)


def _call(attempt: Attempt, fan: FanActions, release: Release | None, note: ResolvedNote) -> Event:
    action = attempt.action
    if attempt.step is Step.SEND:
        attempt.resolved = fan.perform(action, release, note)
        return Event.UNPROVEN if fan.unconfirmed(action) else Event.DONE
    if not fan.verify(action, release):
        return Event.MISSING
    if attempt.step is Step.CHECK:
        attempt.resolved = release.label if release and action.kind in RELEASE_KINDS else action.target
    return Event.FOUND


def _failed(
    attempt: Attempt,
    failure: ServiceFailure,
    pacing: RateController,
    policy: RetryPolicy,
    now: Callable[[], datetime],
) -> Turn:
    """The event a failed call comes to, at the action's step."""
    kind, action = failure.kind, attempt.action
    if failure.must_wait:
        return _throttled(attempt, failure, pacing, policy)
    if kind == Failure.UNAUTHORIZED:
        return Turn(Event.UNAUTHORIZED if attempt.refreshed else Event.EXPIRED, failure)
    if kind == Failure.TRANSIENT:
        failures = attempt.transient + 1
        gave_up = failures > policy.max_transient
        return Turn(Event.GAVE_UP if gave_up else Event.TRANSIENT, failure, policy.backoff(failures))
    if kind in (Failure.FORBIDDEN, Failure.REFUSED) and attempt.step is not Step.SEND:
        playlist = attempt.step is Step.CHECK and action.kind == ActionKind.ADD_TO_PLAYLIST
        return Turn(Event.CANNOT_LOOK_AT_PLAYLIST if playlist else Event.CANNOT_LOOK, failure)
    if kind == Failure.NOT_FOUND and action.kind in RELEASE_KINDS:
        if now() - action.due_at >= policy.pending_window:
            return Turn(Event.NOT_THERE, failure)
        return Turn(Event.NOT_LIVE, failure, policy.not_live_delay(action.attempts + attempt.calls))
    return Turn(Event.FORBIDDEN if kind == Failure.FORBIDDEN else Event.REFUSED, failure)


def _throttled(
    attempt: Attempt, failure: ServiceFailure, pacing: RateController, policy: RetryPolicy
) -> Turn:
    """A 429 or a spent quota: not sent (the gate), the whole app's, or this fan's alone."""
    if failure.status is None:
        return Turn(Event.NOT_SENT, failure)
    too_often = attempt.throttled + 1 >= policy.max_throttled
    if failure.app_wide:
        if too_often:
            return Turn(Event.THROTTLED_AGAIN, failure, pacing.policy.default_pause_s)
        return Turn(Event.THROTTLED, failure)
    wait = failure.retry_after or pacing.policy.default_pause_s
    if too_often or wait > pacing.policy.max_pause_s:
        return Turn(Event.FAN_PAUSED, failure, wait)
    return Turn(Event.FAN_THROTTLED, failure, wait)


def _report(pacing: RateController, report: Report, failure: ServiceFailure | None) -> None:
    if report is Report.SUCCESS:
        pacing.on_success()
    elif report is Report.THROTTLED and failure is not None:
        pacing.on_throttled(failure.retry_after, quota=failure.kind == Failure.QUOTA_SPENT)


def _carry_out(attempt: Attempt, turn: Turn, fan: FanActions, sleep: Callable[[float], None]) -> None:
    """What a turn's event asks of this worker besides the move: counts, a refresh, a wait here."""
    event = turn.event
    if event is Event.NOT_SENT:
        attempt.calls -= 1  # not sent: the app was told to wait meanwhile (by any process)
    elif event in (Event.THROTTLED, Event.THROTTLED_AGAIN, Event.FAN_THROTTLED, Event.FAN_PAUSED):
        attempt.throttled += 1
    elif event in (Event.TRANSIENT, Event.GAVE_UP):
        attempt.transient += 1
    elif event is Event.EXPIRED:
        attempt.refreshed = True
        fan.refresh()
    if event in (Event.FAN_THROTTLED, Event.TRANSIENT):
        sleep(turn.wait)


def held_back(action: Claimed, away: PacingUnavailable, now: datetime) -> Finished:
    """An action not sent because whether the app must wait was unknown: queued, due again shortly."""
    return Finished(
        action.id,
        Outcome.QUEUED,
        0,
        reason=str(away),
        retry_at=now + timedelta(seconds=away.retry_after or 0.0),
    )
