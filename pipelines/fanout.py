"""Release day fanned out over Celery workers: one campaign's due actions split into shards
(`grant_id % N`), each shard a Celery task on the `presave-shards` queue, performed by whichever release
worker takes it (`celery -A pipelines.celery_app worker --queues=presave-shards`).

Only what the shard performs travels through the broker (`executor.shards.shard_document`: the campaign,
the releases found, the retry policy, the deadline). The worker reaches the store, the vault's keys, the
apps' credentials and the shared pacing from its own settings, so no secret is ever put on the broker;
every shard paces each app by the one shared state (PRESAVE_REDIS_URL, else the operational store), as
the shard processes of one machine do.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, replace
from typing import Any

from campaigns.settings import Settings, load_settings
from campaigns.store import Store
from executor.release import ReleaseWork, ShardLauncherLike
from executor.shards import every_s, merge_tallies, run_shard, shard_document, tally_of
from executor.tally import Tally
from services import apps_from_settings
from services.shared_pacing import pacing_url

SHARD_QUEUE = "presave-shards"
SHARD_TASK = "presave.release_shard"
PROGRESS = "PROGRESS"

log = logging.getLogger(__name__)


def register_shard_task(app: Any) -> Any:
    """The shard task on `app`; the worker builds everything else from its settings."""

    @app.task(name=SHARD_TASK, bind=True, acks_late=True)  # type: ignore[untyped-decorator]  # Celery ships no types
    def release_shard(task: Any, job: dict[str, Any]) -> dict[str, Any]:
        def report(tally: Tally) -> None:
            task.update_state(state=PROGRESS, meta=asdict(tally))

        tally = perform_shard(load_settings(), job, every_s(1.0, report))
        return {"tally": asdict(tally), "worker": task.request.hostname}

    return release_shard


def perform_shard(settings: Settings, job: Mapping[str, Any], progress: Callable[[Tally], None]) -> Tally:
    """One shard with this worker's store, vault, apps and pacing."""
    store = Store.connect(settings.resolved_database_url, upgrade=False, timeouts=settings.store_timeouts)
    apps = apps_from_settings(settings, upgrade=False)
    try:
        return run_shard(job, store, settings.vault(), apps, pacing_url(settings), progress)
    finally:
        store.dispose()
        for service_app in apps.values():
            service_app.close()


class CeleryShardLauncher(ShardLauncherLike):
    """Sends a run's shards to the release workers and waits for their tallies (`run_release`'s launcher).
    `workers` names, per shard, the worker that performed it once the run is done."""

    def __init__(
        self, app: Any, *, poll_s: float = 0.5, queue: str = SHARD_QUEUE, ask_s: float = 2.0
    ) -> None:
        self.app = app
        self.poll_s = poll_s
        self.queue = queue
        self.ask_s = ask_s  # how long the workers have to answer "which queues do you take?"
        self.workers: list[str] = []

    def live_workers(self) -> int:
        """The release workers that answer and take this queue's tasks."""
        answers = self.app.control.inspect(timeout=self.ask_s).active_queues() or {}
        return sum(1 for queues in answers.values() if any(q.get("name") == self.queue for q in queues))

    def sized(self, work: ReleaseWork) -> ReleaseWork:
        """As many shards as asked, but no more than the workers that answer (a shard more would wait for
        one of them and end last); at least one, which waits on the queue for a worker to start."""
        asked = work.options.shards
        live = self.live_workers()
        count = max(1, min(asked, live))
        if count != asked:
            log.warning(
                "campaign %s: %d shard(s) asked, %d worker(s) take %s: sending %d shard(s)",
                *(work.campaign_id, asked, live, self.queue, count),
            )
        return replace(work, options=replace(work.options, shards=count))

    def run(self, work: ReleaseWork, progress: Callable[[Tally], None]) -> Tally:
        work = self.sized(work)
        count = work.options.shards
        results = [
            self.app.send_task(SHARD_TASK, args=[shard_document(work, index)], queue=self.queue)
            for index in range(count)
        ]
        tallies = [Tally() for _ in results]
        while not all(result.ready() for result in results):
            for index, result in enumerate(results):
                if result.state == PROGRESS and isinstance(result.info, dict):
                    tallies[index] = tally_of(result.info)
            progress(merge_tallies(tallies))
            time.sleep(self.poll_s)
        failed = {index: repr(r.result) for index, r in enumerate(results) if not r.successful()}
        if failed:
            raise RuntimeError(f"shard(s) {sorted(failed)} of {count} failed on the workers: {failed}")
        done = [result.get() for result in results]
        self.workers = [answer["worker"] for answer in done]
        return merge_tallies([tally_of(answer["tally"]) for answer in done])


def shard_launcher(fan_out: str) -> ShardLauncherLike | None:
    """The launcher a release-day step uses: None (shard processes of its own machine) or the release
    workers' (`celery`), on the app the workers run (`pipelines.celery_app`)."""
    if fan_out != "celery":
        return None
    from pipelines import celery_app

    return CeleryShardLauncher(celery_app.app)
