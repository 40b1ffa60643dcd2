"""Release day for one campaign: plan, resolve the release on each service, perform what is due.

`run_release` is what `presave release run SLUG` and the Dagster asset call. It takes the campaign's run
lock, plans every grant's owed actions into the ledger (before any call), resolves the release where
actions need it (by id, UPC, or ISRC for singles; a release still missing `pending_window` after its
moment becomes `pending_source`), then runs the due actions on one or several shard workers.
"""

from __future__ import annotations

import os
import statistics
import time
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from campaigns import ledger
from campaigns.ledger import Shard
from campaigns.models import Campaign, Outcome, OwedAction
from campaigns.registry import campaign_spec, get_campaign
from campaigns.rules import LOCAL_LEAD, SERVICES
from campaigns.store import Store, retry_outages
from campaigns.vault import TokenVault
from executor.locks import CampaignBusy, run_lock, worker_lock
from executor.plan import RELEASE_KINDS, needs_planning, plan_campaign
from executor.retry import RetryPolicy
from executor.tally import Tally
from executor.worker import ShardJob, ShardWorker
from services import ServiceApp
from services.errors import Failure, PacingUnavailable, ServiceFailure
from services.model import Lookup, Release
from services.spotify import quiet_spotipy

EARLIEST_ZONE = ZoneInfo("Pacific/Kiritimati")  # the first place a local-midnight release goes live
PLANNING_HORIZON = timedelta(days=7)  # after this, a campaign's landing page no longer takes pre-saves


@dataclass
class ReleaseReport:
    slug: str
    releases: dict[str, str | None] = field(default_factory=dict)  # service -> album found (None: not yet)
    planned: int = 0  # owed actions added to the ledger by this run
    performed: int = 0  # actions this run called a service for
    calls: int = 0
    work_cpu_s: float = 0.0  # CPU the workers spent performing actions (start-up and planning excluded)
    outcomes: dict[str, int] = field(default_factory=dict)  # the whole campaign's ledger, by outcome
    waiting: dict[str, str] = field(default_factory=dict)  # service -> why its release-time actions wait
    set_aside: dict[str, int] = field(default_factory=dict)  # service -> actions made pending_source now
    due_left: int = 0  # due actions still queued that nothing legitimate waits for
    latency_s: dict[str, float] = field(default_factory=dict)  # release moment -> library: p50/p90/p99/max
    busy: bool = False  # another run holds the campaign: this one did nothing
    dry_run: bool = False
    # service -> when its app may call again, for a spent quota (or a Retry-After past the pacing's
    # `max_pause_s`): its actions stay queued until then, and the run does not wait for it
    paused_until: dict[str, datetime] = field(default_factory=dict)
    # service -> why its app's shared pacing could not be read (Redis or the store away): its actions stay
    # queued, due again shortly; `held_back` counts them
    pacing_away: dict[str, str] = field(default_factory=dict)
    held_back: dict[str, int] = field(default_factory=dict)

    @property
    def undone(self) -> int:
        """Due work that neither succeeded nor is legitimately waiting (actions held back because the
        pacing could not be read are not legitimately waiting): the exit status rests on this."""
        return self.outcomes.get(Outcome.FAILED, 0) + self.due_left + sum(self.held_back.values())


AUTO_SHARD_ABOVE = 5000  # due actions: below this, one worker in this process is quicker than starting more


def auto_shards(due: int, cpus: int | None = None) -> int:
    """How many worker processes for `due` actions: one for small runs, else one per core (at most 8)."""
    if due < AUTO_SHARD_ABOVE:
        return 1
    return max(1, min(8, cpus or os.cpu_count() or 1))


@dataclass(frozen=True)
class ReleaseOptions:
    shards: int = 1  # worker processes (1: threads in this process; 0: `auto_shards`)
    threads: int = 16  # per worker
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    wait_for_release: timedelta = timedelta(0)  # poll a not-yet-live release this long, with backoff
    poll_first_s: float = 2.0
    poll_max_s: float = 60.0
    time_limit: timedelta | None = None  # stop claiming after this long (the next run resumes)
    linger_s: float = 5.0


def run_release(
    store: Store,
    vault: TokenVault,
    apps: Mapping[str, ServiceApp],
    slug: str,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
    options: ReleaseOptions | None = None,
    launcher: ShardLauncherLike | None = None,
) -> ReleaseReport:
    """Perform the release-day actions of `slug` that are due now on every service in `apps` (by name;
    a service absent from it is not configured: its actions wait); see the module docstring.

    `now` pins the clock (tests); `progress(done, total)` is called as actions finish. With
    `options.shards > 1`, `launcher` starts the shard processes (see `executor.shards`).
    """
    options = options or ReleaseOptions()
    offset = (now - datetime.now(UTC)) if now is not None else timedelta(0)

    def clock() -> datetime:
        return datetime.now(UTC) + offset

    quiet_spotipy()
    with store.session() as session:
        campaign = get_campaign(session, slug)
    report = ReleaseReport(slug=slug, dry_run=dry_run)
    if dry_run:
        return _dry_run(store, campaign, apps, clock(), report)
    try:
        with run_lock(store.engine, campaign.id):
            report.planned = retry_outages(lambda: plan_campaign(store, campaign), what="planning")
            work = _due_work(store, campaign, apps, clock, options, report)
            tally = _work(store, vault, apps, work, launcher, progress)
            report.performed, report.calls, report.work_cpu_s = tally.performed, tally.calls, tally.cpu_s
            for service, why in tally.held_back.items():  # the pacing went away during the work
                report.pacing_away[service] = f"{why}; its actions stay queued, due again shortly"
            _defer_paused(store, campaign.id, apps, report)  # a quota spent during the work
    except CampaignBusy:
        report.busy = True
    _summarise(store, campaign, clock(), report)
    return report


def _due_work(
    store: Store,
    campaign: Campaign,
    apps: Mapping[str, ServiceApp],
    clock: Callable[[], datetime],
    options: ReleaseOptions,
    report: ReleaseReport,
) -> ReleaseWork:
    """The run's work once planned: the releases resolved, paused apps' actions deferred, the due counted."""
    releases, unresolved = _resolve(store, campaign, apps, clock, options, report)
    _defer_paused(store, campaign.id, apps, report)
    total = store.retrying(
        lambda session: ledger.queued_due(session, campaign.id, clock()), what="counting due work"
    )
    limit = options.time_limit
    return ReleaseWork(
        campaign_id=campaign.id,
        attempt=uuid.uuid4().hex[:12],
        releases=releases,
        unresolved=unresolved,
        options=options,
        clock=clock,
        deadline=time.monotonic() + limit.total_seconds() if limit else None,
        total=total,
    )


@dataclass(frozen=True)
class ReleaseWork:
    """What one run performs once planned and resolved: the campaign's due actions, the releases found
    per service, the (service, kind) pairs that must keep waiting, and when to stop claiming."""

    campaign_id: int
    attempt: str
    releases: Mapping[str, Release]
    unresolved: tuple[tuple[str, str], ...]
    options: ReleaseOptions
    clock: Callable[[], datetime]
    deadline: float | None  # time.monotonic() after which no new work is claimed
    total: int  # due actions at the start, for progress

    def remaining_s(self) -> float | None:
        return None if self.deadline is None else max(0.0, self.deadline - time.monotonic())

    def clock_offset_s(self) -> float:
        return (self.clock() - datetime.now(UTC)).total_seconds()

    def attempt_id(self, shard: Shard) -> str:
        """The ledger's name for one shard's attempt at this run."""
        return f"{self.attempt}:{shard.index}/{shard.count}"

    def shard_job(self, shard: Shard) -> ShardJob:
        """What the worker of `shard` performs of this run."""
        return ShardJob(
            campaign_id=self.campaign_id,
            attempt_id=self.attempt_id(shard),
            shard=shard,
            releases=self.releases,
            unresolved=self.unresolved,
            threads=self.options.threads,
            retry=self.options.retry,
            linger_s=self.options.linger_s,
            deadline=self.deadline,
            clock=self.clock,
        )


class ShardLauncherLike:  # the protocol `executor.shards.ShardLauncher` implements
    def run(self, work: ReleaseWork, progress: Callable[[Tally], None]) -> Tally:
        raise NotImplementedError


def _work(
    store: Store,
    vault: TokenVault,
    apps: Mapping[str, ServiceApp],
    work: ReleaseWork,
    launcher: ShardLauncherLike | None,
    progress: Callable[[int, int], None] | None,
) -> Tally:
    def report(tally: Tally) -> None:
        if progress is not None:
            progress(sum(tally.by_outcome.values()), work.total)

    options = work.options
    shards = options.shards or (auto_shards(work.total) if launcher is not None else 1)
    if shards > 1:
        if launcher is None:
            raise ValueError("shards > 1 needs a launcher (executor.shards.ShardLauncher) to start them")
        return launcher.run(replace(work, options=replace(options, shards=shards)), report)
    job = work.shard_job(Shard(0, 1))
    with worker_lock(store.engine, work.campaign_id):
        return ShardWorker(store, vault, apps, job, progress=report).run()


def paused_apps(
    apps: Mapping[str, ServiceApp], unreadable: dict[str, PacingUnavailable] | None = None
) -> dict[str, datetime]:
    """The apps told to wait longer than a run waits (a spent quota, or a Retry-After past the pacing's
    `max_pause_s`), with when they may call again, as every process using their credentials sees it.
    An app whose shared pacing cannot be read goes into `unreadable` (when given) instead."""
    paused: dict[str, datetime] = {}
    for name, app in apps.items():
        pacer = app.pacer
        try:
            values = pacer.state.read()
        except PacingUnavailable as away:
            if unreadable is None:
                raise
            unreadable[name] = away
            continue
        if pacer.reschedules(values, pacer.clock()):
            paused[name] = datetime.fromtimestamp(max(values.pause_until, values.quota_until), UTC)
    return paused


def _defer_paused(
    store: Store, campaign_id: int, apps: Mapping[str, ServiceApp], report: ReleaseReport
) -> None:
    """Leave the queued actions of a paused app queued until its pause ends (no call, no failure): the
    schedule picks the campaign up again then. An app whose pacing cannot be read is treated as paused
    for a short while, and the report says why."""

    def defer(service: str, until: datetime) -> int:
        return store.retrying(
            lambda session: ledger.defer(session, campaign_id, service, until), what="deferring actions"
        )

    unreadable: dict[str, PacingUnavailable] = {}
    for service, until in paused_apps(apps, unreadable).items():
        report.paused_until[service] = until
        defer(service, until)
    for service, away in unreadable.items():
        until = datetime.now(UTC) + timedelta(seconds=away.retry_after or 0.0)
        report.pacing_away[service] = f"{away}; its actions stay queued, due again from {_utc(until)}"
        report.held_back[service] = defer(service, until)


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") + " UTC"


# resolving ------------------------------------------------------------------------------------------------
def _services_awaiting_release(session: Session, campaign_id: int, now: datetime) -> list[str]:
    return list(
        session.scalars(
            select(OwedAction.service)
            .distinct()
            .where(
                OwedAction.campaign_id == campaign_id,
                OwedAction.outcome == Outcome.QUEUED,
                OwedAction.kind.in_(RELEASE_KINDS),
                OwedAction.due_at <= now,
            )
        )
    )


def _resolve(
    store: Store,
    campaign: Campaign,
    apps: Mapping[str, ServiceApp],
    clock: Callable[[], datetime],
    options: ReleaseOptions,
    report: ReleaseReport,
) -> tuple[dict[str, Release], tuple[tuple[str, str], ...]]:
    """Releases found per service, and the (service, kind) pairs that must keep waiting."""
    spec = campaign_spec(campaign)
    with store.session() as session:
        ledger.requeue_pending_source(session, campaign.id, changed_since=campaign.updated_at)
        services = _services_awaiting_release(session, campaign.id, clock())
    releases: dict[str, Release] = {}
    unresolved: list[tuple[str, str]] = []
    for service in services:
        app = apps.get(service)
        lookup = Lookup.of(spec, service)
        found = None
        if app is None:
            report.waiting[service] = f"{service} is not configured"
        else:
            found = _poll(app, lookup, options, report)
        report.releases[service] = found.label if found else None
        if found is not None:
            releases[service] = found
            continue
        unresolved += [(service, kind) for kind in RELEASE_KINDS]
        if app is not None and service not in report.waiting:
            _not_found(store, campaign, service, lookup, clock(), options, report)
    # Never claim a release-time action without its release, even one that comes due during the run.
    unresolved += [
        (service, kind)
        for service in SERVICES
        if service not in releases
        for kind in RELEASE_KINDS
        if (service, kind) not in unresolved
    ]
    return releases, tuple(unresolved)


def _not_found(
    store: Store,
    campaign: Campaign,
    service: str,
    lookup: Lookup,
    now: datetime,
    options: ReleaseOptions,
    report: ReleaseReport,
) -> None:
    """A release not found on `service`: not live yet, or (past the pending window) its actions set aside."""
    window = options.retry.pending_window
    if now - max(campaign.release_at, campaign.updated_at) < window:
        report.waiting[service] = f"not live on {service} yet (looked up by {lookup.key})"
        return
    reason = (
        f"release not found on {service} by {lookup.key} within "
        f"{_hours(window)} of its release moment; correct the campaign"
    )
    with store.session() as session:
        report.set_aside[service] = ledger.set_aside(
            session,
            campaign.id,
            service=service,
            kinds=RELEASE_KINDS,
            outcome=Outcome.PENDING_SOURCE,
            reason=reason,
            now=datetime.now(UTC),
            due_before=now,
        )
    report.waiting[service] = reason


def _poll(app: ServiceApp, lookup: Lookup, options: ReleaseOptions, report: ReleaseReport) -> Release | None:
    """Look the release up; while it is not live, again with exponential backoff, up to `wait_for_release`.
    A throttled or failing lookup is retried (its Retry-After waited out) whatever that wait: it says
    nothing about the release. A spent quota is not waited for: the lookup is left for a later run."""
    deadline = time.monotonic() + options.wait_for_release.total_seconds()
    delay = options.poll_first_s
    failures = 0
    while True:
        try:
            found = app.resolve(lookup)
        except PacingUnavailable as away:  # not a throttle to wait out: nobody can tell how long
            report.waiting[app.name] = f"cannot look the release up: {away}"
            return None
        except ServiceFailure as failure:
            failures += 1
            if (
                failure.kind not in (Failure.THROTTLED, Failure.TRANSIENT)
                or failures > options.retry.max_transient
            ):
                report.waiting[app.name] = f"cannot look the release up: {failure}"
                return None
            pause = (
                failure.retry_after if failure.retry_after is not None else options.retry.backoff(failures)
            )
            time.sleep(min(pause, options.retry.cap_s * 4))
            continue
        if found is not None:
            return found
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        time.sleep(min(delay, left))
        delay = min(delay * 2, options.poll_max_s)


def _hours(window: timedelta) -> str:
    hours = window.total_seconds() / 3600
    return f"{hours:g} h"


# reporting --------------------------------------------------------------------------------------------------
def _summarise(store: Store, campaign: Campaign, now: datetime, report: ReleaseReport) -> None:
    waiting_services = set(report.waiting)

    def read(session: Session) -> tuple[Any, Any, Any]:
        return (
            ledger.outcome_counts(session, campaign.id),
            ledger.queued_due_by_kind(session, campaign.id, now),
            ledger.delivery_latencies(session, campaign.id, RELEASE_KINDS),
        )

    report.outcomes, due, (delivered, longest, sample) = store.retrying(read, what="summing up the run")
    report.due_left = (
        0
        if report.busy
        else sum(
            count
            for (service, kind), count in due.items()
            if not (service in waiting_services and kind in RELEASE_KINDS)
            and service not in report.paused_until
        )
    )
    report.latency_s = latency_summary(sample, longest) if delivered else {}


def latency_summary(values: list[float], longest: float | None = None) -> dict[str, float]:
    """p50/p90/p99 (from a sample when the campaign is large), the mean, and the longest."""
    if not values:
        return {}
    ordered = sorted(values)

    def quantile(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {
        "p50": quantile(0.5),
        "p90": quantile(0.9),
        "p99": quantile(0.99),
        "max": longest if longest is not None else ordered[-1],
        "mean": statistics.fmean(ordered),
    }


def _dry_run(
    store: Store, campaign: Campaign, apps: Mapping[str, ServiceApp], now: datetime, report: ReleaseReport
) -> ReleaseReport:
    """Resolve and count, write nothing."""
    spec = campaign_spec(campaign)
    for service in spec.services.offered():
        app = apps.get(service)
        if app is None:
            report.waiting[service] = f"{service} is not configured"
            continue
        try:
            found = app.resolve(Lookup.of(spec, service))
        except ServiceFailure as failure:
            report.waiting[service] = f"cannot look the release up: {failure}"
            continue
        report.releases[service] = found.label if found else None
        if found is None:
            report.waiting[service] = f"not live on {service} yet"
    _summarise(store, campaign, now, report)
    report.due_left = 0
    return report


# the schedule -----------------------------------------------------------------------------------------------
def first_due_moment(campaign: Campaign) -> datetime:
    """The earliest moment any fan's release-time actions come due: the release moment, or for local
    mode the release's wall-clock time where the day starts first."""
    if campaign.release_mode != "local":
        return campaign.release_at
    wall = campaign.release_at.astimezone(ZoneInfo(campaign.timezone)).replace(tzinfo=None)
    return wall.replace(tzinfo=EARLIEST_ZONE).astimezone(UTC)


def campaigns_with_work_due(
    session: Session, now: datetime, services: Collection[str] = SERVICES
) -> list[str]:
    """Slugs with queued actions due now on one of `services` (the ones configured here: a run cannot
    perform the others, and would fail on them every minute), or whose first release moment has passed
    with grants not planned yet (new grants, or choices changed since)."""
    with_queued = set(
        session.scalars(
            select(OwedAction.campaign_id)
            .distinct()
            .where(
                OwedAction.outcome == Outcome.QUEUED,
                OwedAction.service.in_(services),
                OwedAction.due_at <= now,
                or_(OwedAction.retry_at.is_(None), OwedAction.retry_at <= now),
            )
        )
    )
    recent = Campaign.release_at.between(now - PLANNING_HORIZON, now + LOCAL_LEAD)
    candidates = session.scalars(
        select(Campaign)
        .where(or_(recent, Campaign.id.in_(with_queued)))
        .order_by(Campaign.release_at, Campaign.slug)
    )
    return [
        campaign.slug
        for campaign in candidates
        if campaign.id in with_queued
        or (
            first_due_moment(campaign) <= now
            and needs_planning(session, campaign.id, campaign_spec(campaign).services.offered())
        )
    ]
