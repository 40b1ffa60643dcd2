"""One shard's work: claim due actions grant by grant, perform them on a pool of threads, record outcomes.

Each worker thread keeps one HTTP session; each grant gets its own client (one client per fan). Claims
are committed before any call; outcomes go to the ledger in small batched transactions from one writer
thread; refreshed tokens are committed at once (a rotated refresh token must never be lost).

When the store is briefly away (locked, connections killed, a timeout), every store step is tried again
with backoff (`Store.retrying`); when it stays away, nothing is marked failed: an action whose outcome
cannot be written stays in flight (the next run checks it at the service before doing it again), the
grant's remaining actions go back to the queue, and a refreshed token that could not be saved is kept in
memory, used for that grant's later actions and saved again before the run ends. When the app's shared
pacing cannot be read (`PacingUnavailable`), the grant's remaining actions stay queued unsent, with why.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import traceback
from collections import defaultdict
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from campaigns import ledger
from campaigns.identity import identify, is_provisional
from campaigns.ledger import Claimed, Finished, Shard
from campaigns.models import ActionKind, Grant, GrantStatus, Outcome
from campaigns.rules import SERVICES
from campaigns.store import Store, StoreRetry, StoreUnavailable, is_store_outage
from campaigns.vault import TokenVault, VaultError
from campaigns.verification import end_uncounted, refused, verified
from executor.perform import held_back, perform_action
from executor.retry import RetryPolicy
from executor.tally import Tally
from services import ServiceApp
from services.catalog import fan_actions
from services.errors import GrantLost, PacingUnavailable
from services.model import Release, Tokens, open_tokens
from services.owed import FanActions

log = logging.getLogger(__name__)
LEDGER_RETRY = StoreRetry(attempts=8)  # about 20 s of a store that is away before giving up a batch
TOKENS_RETRY = StoreRetry(attempts=10)  # about 30 s for a rotated refresh token, and again at the end
STORE_AWAY_PAUSE = timedelta(seconds=30)  # actions sent back while the store was away wait this long

ORDER = {  # within one grant: whose it is, follows, then the save, the playlist last (it needs the release)
    ActionKind.IDENTIFY.value: -1,
    ActionKind.FOLLOW_ARTIST.value: 0,
    ActionKind.FOLLOW.value: 1,
    ActionKind.PREADD.value: 2,
    ActionKind.SAVE_RELEASE.value: 3,
    ActionKind.ADD_TO_PLAYLIST.value: 4,
}
UNKNOWN_WAIT = timedelta(minutes=1)  # a grant's actions wait this long for its `identify` to be done


@dataclass
class ShardJob:
    """Everything one worker needs to know about its share of a run."""

    campaign_id: int
    attempt_id: str
    shard: Shard = field(default_factory=Shard)
    releases: Mapping[str, Release] = field(default_factory=dict)  # services whose release is live
    unresolved: tuple[tuple[str, str], ...] = ()  # (service, kind) pairs that must wait
    threads: int = 16
    batch: int = 500
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    linger_s: float = 5.0  # wait this long for queued actions coming due soon (short retries)
    deadline: float | None = None  # time.monotonic() after which nothing new is claimed
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)


class LedgerWriter:
    """Outcomes, batched: flushed every `interval_s` or `size` results, in one transaction each."""

    def __init__(self, store: Store, attempt_id: str, *, size: int = 200, interval_s: float = 0.05) -> None:
        self.store = store
        self.attempt_id = attempt_id
        self.size = size
        self.interval_s = interval_s
        self._queue: queue.Queue[Finished | threading.Event | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="ledger-writer", daemon=True)
        self.error: BaseException | None = None
        self.written = 0
        self.unwritten = 0
        self._thread.start()

    def put(self, result: Finished) -> None:
        self._queue.put(result)

    def flush(self) -> None:
        """Wait until every result put so far is written."""
        written = threading.Event()
        self._queue.put(written)
        written.wait()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        if self.error is not None:
            raise StoreUnavailable(
                f"{self.unwritten} outcomes could not be recorded; those actions stay in flight and the "
                "next run checks them at the service"
            ) from self.error

    def _run(self) -> None:
        done = False
        while not done:
            batch: list[Finished] = []
            waiting: list[threading.Event] = []
            deadline: float | None = None
            while len(batch) < self.size:
                try:
                    timeout: float | None = (
                        None if deadline is None else max(0.0, deadline - time.monotonic())
                    )
                    item = self._queue.get(timeout=timeout)
                except queue.Empty:
                    break
                if item is None:
                    done = True
                    break
                if isinstance(item, threading.Event):
                    waiting.append(item)
                    break
                batch.append(item)
                deadline = deadline or time.monotonic() + self.interval_s
            if batch:
                self._write(batch)
            for event in waiting:
                event.set()

    def _write(self, batch: list[Finished]) -> None:
        # Repeating a batch whose commit landed changes nothing an outcome depends on (the where clause
        # names the attempt; a requeued action no longer carries it).
        try:
            self.store.retrying(
                lambda session: ledger.finish(session, self.attempt_id, batch),
                what="recording outcomes",
                retry=LEDGER_RETRY,
            )
            self.written += len(batch)
        except StoreUnavailable as exc:  # the actions stay in flight, safely: the next run checks them
            self.error = exc
            self.unwritten += len(batch)
            log.error("could not record %d outcomes: the store stayed away", len(batch))


@dataclass
class _GrantRow:
    id: int
    service: str
    status: str
    status_reason: str | None
    access_token: str
    refresh_token: str | None
    token_expires_at: datetime | None
    granted_at: datetime
    service_user_id: str = ""
    scopes: str = ""


class _Busy:
    """The grants being served on the pool, by their future: room is waited for on one condition, not by
    installing a waiter on every future in flight."""

    def __init__(self) -> None:
        self._grants: dict[Future[None], int] = {}
        self._changed = threading.Condition()
        self._errors: list[BaseException] = []

    def add(self, future: Future[None], grant_id: int) -> None:
        with self._changed:
            self._grants[future] = grant_id
        future.add_done_callback(self._done)

    def _done(self, future: Future[None]) -> None:
        error = future.exception()
        with self._changed:
            self._grants.pop(future, None)
            if error is not None:
                self._errors.append(error)
            self._changed.notify_all()

    def grants(self) -> list[int]:
        with self._changed:
            return list(self._grants.values())

    def wait_below(self, limit: int) -> None:
        """Until fewer than `limit` grants are served; a bug in serving one is raised here."""
        with self._changed:
            self._changed.wait_for(lambda: len(self._grants) < limit or bool(self._errors))
            if self._errors:
                raise self._errors.pop(0)

    def wait_idle(self) -> None:
        """Until every grant is served."""
        with self._changed:
            self._changed.wait_for(lambda: not self._grants)
            self._errors.clear()


class ShardWorker:
    def __init__(
        self,
        store: Store,
        vault: TokenVault,
        apps: Mapping[str, ServiceApp],
        job: ShardJob,
        *,
        progress: Callable[[Tally], None] | None = None,
    ) -> None:
        self.store = store
        self.vault = vault
        self.apps = apps  # each paces its calls through its own `pacer`, shared with every caller
        self.job = job
        self.progress = progress
        self.tally = Tally()
        self._tally_lock = threading.Lock()
        self.writer = LedgerWriter(store, job.attempt_id)
        self._unsaved: dict[int, Tokens] = {}  # grant id -> refreshed tokens not stored yet
        self._unsaved_lock = threading.Lock()

    # the loop ------------------------------------------------------------------------------------------
    def run(self) -> Tally:
        job = self.job
        unresolved = list(job.unresolved)
        for service in SERVICES:
            if service not in self.apps:  # not configured: its actions wait in the queue
                unresolved += [(service, kind.value) for kind in ActionKind]
        busy = _Busy()
        cpu = time.process_time()
        try:
            with ThreadPoolExecutor(job.threads, thread_name_prefix=f"shard{job.shard.index}") as pool:
                while True:
                    claimed_in_pass = self._one_pass(pool, busy, unresolved)
                    busy.wait_idle()
                    if self._stopping():
                        break
                    if claimed_in_pass:
                        continue
                    if not self._linger():
                        break
        finally:
            try:
                tokens_kept = self._save_unsaved_tokens()
                self.writer.close()
                if not tokens_kept:
                    raise StoreUnavailable(
                        f"{len(self._unsaved)} refreshed tokens could not be saved: the store stayed away"
                    )
            finally:
                for app in self.apps.values():
                    app.close()  # the pool threads' HTTP sessions
                self.tally.cpu_s = time.process_time() - cpu
        return self.tally

    def _one_pass(self, pool: ThreadPoolExecutor, busy: _Busy, unresolved: list[tuple[str, str]]) -> int:
        job = self.job
        cursor: int | None = 0
        claimed_total = 0
        while cursor is not None and not self._stopping():
            busy.wait_below(job.threads * 4)
            # A claim whose commit landed before its connection was lost is not claimed again by the
            # retry (it names this attempt): those actions stay in flight, checked by the next run.
            actions, cursor = self.store.retrying(
                partial(
                    ledger.claim,
                    campaign_id=job.campaign_id,
                    now=job.clock(),
                    attempt_id=job.attempt_id,
                    shard=job.shard,
                    after_grant=cursor,
                    limit=job.batch,
                    unresolved_kinds=unresolved,
                    busy_grants=busy.grants(),
                ),
                what="claiming actions",
            )
            if not actions:
                continue
            claimed_total += len(actions)
            by_grant: dict[int, list[Claimed]] = defaultdict(list)
            for action in actions:
                by_grant[action.grant_id].append(action)
            for grant in self._grants(list(by_grant)):
                mine = sorted(by_grant.pop(grant.id), key=lambda a: (ORDER.get(a.kind, 9), a.id))
                busy.add(pool.submit(self._serve, grant, mine), grant.id)
            for missing in by_grant.values():  # the grant was deleted meanwhile (a fan forgotten)
                for action in missing:
                    self._record(
                        Finished(
                            action.id,
                            Outcome.UNDELIVERABLE,
                            0,
                            reason="the grant no longer exists",
                            done_at=job.clock(),
                        )
                    )
        return claimed_total

    def _stopping(self) -> bool:
        return self.job.deadline is not None and time.monotonic() >= self.job.deadline

    def _linger(self) -> bool:
        """Wait for the next queued action coming due within `linger_s`; False if none will."""
        self.writer.flush()
        now = self.job.clock()
        try:
            upcoming = self.store.retrying(
                lambda session: ledger.next_due(session, self.job.campaign_id, now), what="looking ahead"
            )
        except StoreUnavailable:
            return False
        if upcoming is None:
            return False
        delay = (upcoming - now).total_seconds()
        if delay > self.job.linger_s:
            return False
        time.sleep(max(0.0, delay) + 0.01)
        return True

    def _grants(self, ids: list[int]) -> list[_GrantRow]:
        query = select(
            Grant.id,
            Grant.service,
            Grant.status,
            Grant.status_reason,
            Grant.access_token,
            Grant.refresh_token,
            Grant.token_expires_at,
            Grant.granted_at,
            Grant.service_user_id,
            Grant.scopes,
        ).where(Grant.id.in_(ids))
        rows = self.store.retrying(lambda session: session.execute(query).all(), what="reading grants")
        return [_GrantRow(**row._asdict()) for row in rows]

    # one grant, on a pool thread ---------------------------------------------------------------------
    def _serve(self, grant: _GrantRow, actions: list[Claimed]) -> None:
        fan = self._fan(grant, actions)
        if fan is None:
            return
        # stored before `/me` answered, or before the service accepted its token
        unknown = is_provisional(grant.service_user_id) or grant.status == GrantStatus.UNVERIFIED
        for index, action in enumerate(actions):
            if unknown and action.kind != ActionKind.IDENTIFY:
                # nothing else until the account is known: it may be a second grant of a fan whose first
                # grant owes (or did) the same follow and save
                self._give_back(actions[index:], "waits for the fan's account id (identify)", UNKNOWN_WAIT)
                return
            result = self._perform(grant, fan, actions[index:])
            if result is None:
                return
            self._record(result)
            if action.kind == ActionKind.IDENTIFY and result.outcome == Outcome.DELIVERED:
                unknown = not self._identified(grant, fan)
                if unknown:  # merged into the account's first grant: its actions moved there
                    self._give_back(actions[index + 1 :], "moved to the account's first grant", timedelta(0))
                    return

    def _fan(self, grant: _GrantRow, actions: list[Claimed]) -> FanActions | None:
        """The grant's fan session; None when its actions are settled without one (the grant ended, its
        tokens cannot be opened, a refreshed token of it cannot be saved yet)."""
        if grant.status not in (GrantStatus.ACTIVE, GrantStatus.UNVERIFIED):
            reason = f"grant {grant.status}" + (f": {grant.status_reason}" if grant.status_reason else "")
            self._give_up(actions, Outcome.UNDELIVERABLE, reason)
            return None
        try:
            tokens = open_tokens(
                self.vault, grant.access_token, grant.refresh_token, grant.token_expires_at, grant.scopes
            )
        except VaultError:
            self._give_up(
                actions, Outcome.FAILED, "the grant's tokens cannot be opened with the configured keys"
            )
            return None
        unsaved = self._unsaved.get(grant.id)
        if unsaved is not None:  # refreshed earlier in this run, the store still does not have them
            tokens.access_token, tokens.expires_at = unsaved.access_token, unsaved.expires_at
            tokens.refresh_token = unsaved.refresh_token or tokens.refresh_token
            if not self._save_unsaved_tokens(grant.id):
                self._send_back(actions, "the store was away; a refreshed token is not saved yet")
                return None
        return fan_actions(self.apps[grant.service], tokens, partial(self._store_tokens, grant.id))

    def _perform(self, grant: _GrantRow, fan: FanActions, actions: list[Claimed]) -> Finished | None:
        """The outcome of the first of `actions`; None when it and the rest are settled otherwise (the grant
        lost, the app's pacing or the store away)."""
        job, action = self.job, actions[0]
        try:
            return perform_action(
                fan,
                action,
                job.releases.get(action.service),
                self.apps[action.service].pacer,
                job.retry,
                note=partial(self._note, action),
                now=job.clock,
            )
        except GrantLost as lost:
            self._lose_grant(grant, lost)
            self._give_up(actions, Outcome.UNDELIVERABLE, str(lost))
        except PacingUnavailable as away:  # whether the app must wait is unknown: none is sent
            with self._tally_lock:
                self.tally.held_back[action.service] = str(away)
            for waiting in actions:
                self._record(held_back(waiting, away, job.clock()))
        except Exception as exc:
            if not is_store_outage(exc):
                return self._unexpected(action, exc)
            # this one may have reached the service: left in flight, checked next run
            log.warning("store away during action %d; the grant's other actions wait", action.id)
            self._send_back(actions[1:], "the store was away; tried again later")
        return None

    def _identified(self, grant: _GrantRow, fan: Any) -> bool:
        """Give the grant the account id its `identify` action read; False when it merged into the
        account's first grant of the campaign (so this grant is gone)."""
        profile = getattr(fan, "identified", None)
        if profile is None:
            return True
        self.writer.flush()  # the identify outcome first: the merge moves its row
        then = (lambda bind, _: verified(bind, grant.id)) if grant.status == GrantStatus.UNVERIFIED else None
        found = identify(
            self.store.session, self.vault, grant.id, profile.user_id, profile.country, then=then
        )
        return found is not None and not found.again

    def _give_back(self, actions: list[Claimed], reason: str, after: timedelta) -> None:
        """Back to the queue uncalled, due again `after` from now."""
        for action in actions:
            retry_at = self.job.clock() + after
            self._record(Finished(action.id, Outcome.QUEUED, 0, reason=reason, retry_at=retry_at))

    def _unexpected(self, action: Claimed, exc: Exception) -> Finished:
        """A bug must not stop the batch; logged without its message (it could hold a URL)."""
        frames = "".join(traceback.format_tb(exc.__traceback__))
        log.error("unexpected %s on action %d:\n%s", type(exc).__name__, action.id, frames)
        return Finished(
            action.id, Outcome.FAILED, 1, reason=f"unexpected {type(exc).__name__}", done_at=self.job.clock()
        )

    def _send_back(self, actions: list[Claimed], reason: str) -> None:
        """Back to the queue untried (no call was made for them), due again after a pause for the store."""
        self._give_back(actions, reason, STORE_AWAY_PAUSE)

    def _give_up(self, actions: list[Claimed], outcome: str, reason: str) -> None:
        for action in actions:
            self._record(Finished(action.id, outcome, 0, reason=reason, done_at=self.job.clock()))

    def _record(self, result: Finished) -> None:
        self.writer.put(result)
        with self._tally_lock:
            self.tally.count(result.outcome)
            self.tally.calls += result.attempts
            if result.attempts:
                self.tally.performed += 1
        if self.progress is not None:
            self.progress(self.tally)

    def _note(self, action: Claimed, resolved: str) -> None:
        self.store.retrying(
            lambda session: ledger.note_resolved_target(session, action.id, self.job.attempt_id, resolved),
            what="noting a created playlist",
        )

    # refreshed tokens: stored before any use, kept until the store has them ----------------------------
    def _store_tokens(self, grant_id: int, tokens: Tokens) -> None:
        """The token sink of every fan client: called right after a refresh, before the new access token
        is used. Raises StoreUnavailable (the action waits) if the store stays away; the tokens are kept."""
        with self._unsaved_lock:
            earlier = self._unsaved.get(grant_id)
            if earlier is not None and tokens.refresh_token is None:  # keep the rotated one not saved yet
                tokens = replace(tokens, refresh_token=earlier.refresh_token)
            self._unsaved[grant_id] = tokens
        if not self._save_unsaved_tokens(grant_id):
            raise StoreUnavailable("a refreshed token could not be saved yet; kept for a later try")

    def _save_unsaved_tokens(self, grant_id: int | None = None) -> bool:
        """Store the kept tokens (of one grant, or all); True when none of them is left unsaved."""
        with self._unsaved_lock:
            pending = [
                (gid, tokens) for gid, tokens in self._unsaved.items() if grant_id is None or gid == grant_id
            ]
        for gid, tokens in pending:
            values: dict[str, Any] = {
                "access_token": self.vault.seal(tokens.access_token),
                "token_expires_at": tokens.expires_at,
            }
            if tokens.refresh_token is not None:
                values["refresh_token"] = self.vault.seal(tokens.refresh_token)
            statement = (
                update(Grant)
                .where(Grant.id == gid)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            try:
                self.store.retrying(
                    partial(Session.execute, statement=statement),
                    what="saving a refreshed token",
                    retry=TOKENS_RETRY,
                )
            except StoreUnavailable:
                log.error("a refreshed token of grant %d is not saved yet: the store stayed away", gid)
                return False
            with self._unsaved_lock:
                if self._unsaved.get(gid) is tokens:  # not refreshed again meanwhile
                    del self._unsaved[gid]
        return True

    def _lose_grant(self, grant: _GrantRow, lost: GrantLost) -> None:
        """The grant's authorization is gone; one the service never accepted was never a pre-save."""
        grant_id = grant.id
        statement = (
            update(Grant)
            .where(Grant.id == grant_id)
            .values(status=lost.status, status_reason=lost.reason[:200])
            .execution_options(synchronize_session=False)
        )

        def end(session: Session) -> None:
            if grant.status == GrantStatus.UNVERIFIED:
                refused(session, grant_id, lost.reason)
            elif lost.status == GrantStatus.UNREGISTERED:
                end_uncounted(session, grant_id, GrantStatus.UNREGISTERED, lost.reason)
            else:
                session.execute(statement)

        try:
            self.store.retrying(end, what="ending a grant")
        except StoreUnavailable:  # its actions are still recorded; the next run finds the grant gone
            log.error("grant %d: its end could not be recorded, the store stayed away", grant_id)
