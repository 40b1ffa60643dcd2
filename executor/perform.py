"""One owed action, done once: the retry rules the executor owns (spotipy's own retrying is off).

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

from campaigns.ledger import Claimed, Finished
from campaigns.models import ActionKind, Outcome
from executor.plan import RELEASE_KINDS
from executor.retry import RetryPolicy
from services.errors import Failure, PacingUnavailable, ServiceFailure
from services.model import Release
from services.owed import FanActions
from services.pacing import RateController

IGNORED_REASON = "ignored by the service: the call was answered, but the library check does not show it"


@dataclass
class Attempt:
    """What happened to one action in this run."""

    calls: int = 0
    throttled: int = 0
    transient: int = 0


def perform_action(
    fan: FanActions,
    action: Claimed,
    release: Release | None,
    pacing: RateController,
    policy: RetryPolicy,
    *,
    note: Callable[[str], None],
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    sleep: Callable[[float], None] = time.sleep,
) -> Finished:
    """Perform one claimed action with the executor's retry rules; GrantLost and PacingUnavailable
    propagate to the caller (`held_back` is the outcome of the latter)."""
    attempt = Attempt()
    uncertain = action.interrupted  # a crashed run may have done it: check before doing it again
    refreshed = False
    confirming: str | None = None  # performed, its answer proves nothing: what it resolved to, to check
    last: ServiceFailure | None = None

    def finished(outcome: str, reason: str | None = None, resolved: str | None = None) -> Finished:
        status = last.status if last is not None and outcome != Outcome.DELIVERED else None
        return Finished(
            action.id,
            outcome,
            attempt.calls,
            status=status if status is not None else (200 if outcome == Outcome.DELIVERED else None),
            reason=reason,
            done_at=now(),
            resolved_target=resolved,
        )

    def requeue(delay_s: float, reason: str) -> Finished:
        return Finished(
            action.id,
            Outcome.QUEUED,
            attempt.calls,
            status=last.status if last else None,
            reason=reason,
            retry_at=now() + timedelta(seconds=delay_s),
        )

    while True:
        checking = uncertain and fan.checkable(action)
        if not pacing.acquire():
            wait = max(1.0, pacing.paused_until() - pacing.clock())
            return requeue(wait, f"the service asked to wait {wait:.0f} s: {last or 'throttled'}")
        attempt.calls += 1
        try:
            if confirming is not None:
                kept = fan.verify(action, release)
                pacing.on_success()
                if kept:
                    return finished(Outcome.DELIVERED, resolved=confirming or None)
                return finished(Outcome.IGNORED, IGNORED_REASON)
            if checking:
                done = fan.verify(action, release)
                pacing.on_success()
                uncertain = False
                if done:
                    return finished(
                        Outcome.DELIVERED,
                        "found done at the service (an earlier attempt's answer was lost)",
                        release.label if release and action.kind in RELEASE_KINDS else action.target,
                    )
                continue
            resolved = fan.perform(action, release, note)
            pacing.on_success()
            if fan.unconfirmed(action):
                confirming = resolved or ""
                continue
            return finished(Outcome.DELIVERED, resolved=resolved)
        except ServiceFailure as failure:
            last = failure
            kind = failure.kind
            if failure.must_wait and failure.status is None:
                attempt.calls -= 1  # not sent: the app was told to wait meanwhile (by any process)
                continue  # the next acquire waits, or requeues
            if failure.must_wait:  # throttled, or the quota spent (its pause requeues at once)
                attempt.throttled += 1
                if failure.app_wide:
                    pacing.on_throttled(  # the next acquire waits, or requeues
                        failure.retry_after, quota=kind == Failure.QUOTA_SPENT
                    )
                else:
                    wait = failure.retry_after or pacing.policy.default_pause_s
                    if wait > pacing.policy.max_pause_s:
                        return requeue(wait, f"throttled: {failure}")
                    sleep(wait)
                if attempt.throttled >= policy.max_throttled:
                    return requeue(
                        pacing.policy.default_pause_s, f"throttled {attempt.throttled} times: {failure}"
                    )
                continue
            if kind == Failure.UNAUTHORIZED and not refreshed:
                refreshed = True
                fan.refresh()
                continue
            if kind == Failure.TRANSIENT:
                attempt.transient += 1
                uncertain = True  # the answer was lost: the write may have happened, check it first
                if attempt.transient > policy.max_transient:
                    return finished(Outcome.FAILED, f"failed after {attempt.calls} attempts: {failure}")
                sleep(policy.backoff(attempt.transient))
                continue
            if confirming is not None and kind in (Failure.FORBIDDEN, Failure.REFUSED):
                # Sent and answered, but the grant cannot look (no read scope): delivered, unchecked.
                return finished(
                    Outcome.DELIVERED, f"not checked at the service: {failure}", confirming or None
                )
            if checking and kind in (Failure.FORBIDDEN, Failure.REFUSED):
                # Cannot look (e.g. no read scope): re-sending an idempotent save is harmless, a
                # playlist add is not.
                if action.kind == ActionKind.ADD_TO_PLAYLIST:
                    return finished(Outcome.UNDELIVERABLE, f"cannot check the playlist: {failure}")
                uncertain = False
                continue
            if kind == Failure.NOT_FOUND and action.kind in RELEASE_KINDS:
                if now() - action.due_at >= policy.pending_window:
                    return finished(Outcome.PENDING_SOURCE, f"the release is still not there: {failure}")
                tries = action.attempts + attempt.calls
                return requeue(policy.not_live_delay(tries), f"not live for this fan yet: {failure}")
            if kind in (Failure.UNAUTHORIZED, Failure.FORBIDDEN):
                return finished(Outcome.UNDELIVERABLE, str(failure))
            return finished(Outcome.FAILED, str(failure))


def held_back(action: Claimed, away: PacingUnavailable, now: datetime) -> Finished:
    """An action not sent because whether the app must wait was unknown: queued, due again shortly."""
    return Finished(
        action.id,
        Outcome.QUEUED,
        0,
        reason=str(away),
        retry_at=now + timedelta(seconds=away.retry_after or 0.0),
    )
