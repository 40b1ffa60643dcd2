"""Shard processes: a run's work split by `grant_id % N` over N worker processes on this machine.

The coordinator (`run_release` with `ShardLauncher`) starts `python -m executor.shards` N times and hands
each its job on stdin (the store URL, the vault keys and the apps' credentials travel there, never on the
command line). Workers share each app's pacing with every other process using the label's credentials
(`services.shared_pacing`: the operational store, or Redis where the setup says so), report
progress as JSON lines, and die with their coordinator (Linux `PR_SET_PDEATHSIG`): a killed run leaves no
worker behind, and the next run's coordinator waits for the workers lock anyway.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from campaigns.ledger import Shard
from campaigns.store import Store, StoreTimeouts
from campaigns.vault import Secret, TokenVault
from executor.locks import worker_lock
from executor.release import ReleaseWork, ShardLauncherLike
from executor.retry import RetryPolicy
from executor.tally import Tally
from executor.worker import ShardJob, ShardWorker
from services import ServiceApp
from services.catalog import service_module
from services.model import Release
from services.shared_pacing import share_pacing
from services.spotify import quiet_spotipy


@dataclass(frozen=True)
class WorkerSetup:
    """How a shard process reconnects: the store, the vault's keys, the configured apps."""

    database_url: str
    secret_keys: tuple[Secret, ...]
    apps: Mapping[str, ServiceApp] = field(default_factory=dict)
    timeouts: StoreTimeouts = field(default_factory=StoreTimeouts)
    pacing_url: str | None = None  # where the apps' shared pacing lives; None: the operational store
    pseudonym_secret: Secret | None = None  # to give a grant stored before `/me` its account


def app_config(app: ServiceApp) -> dict[str, Any]:
    """The app's credentials and endpoints, for a shard process to build the same app."""
    to_config = getattr(app, "to_config", None)
    if to_config is None:
        raise TypeError(f"no configuration for {type(app).__name__}")
    config: dict[str, Any] = to_config()
    return config


def app_from_config(service: str, config: dict[str, Any]) -> ServiceApp:
    app: ServiceApp = service_module(service).app_from_config(config)
    return app


class ShardLauncher(ShardLauncherLike):
    def __init__(self, setup: WorkerSetup, *, python: str = sys.executable) -> None:
        self.setup = setup
        self.python = python

    def run(self, work: ReleaseWork, progress: Callable[[Tally], None]) -> Tally:
        count = work.options.shards
        base = setup_document(self.setup)
        processes = []
        for index in range(count):
            process = subprocess.Popen(
                [self.python, "-m", "executor.shards"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert process.stdin is not None
            job = {**base, **shard_document(work, index)}
            process.stdin.write(json.dumps(job))
            process.stdin.close()
            processes.append(process)
        tallies = [Tally() for _ in processes]
        lock = threading.Lock()

        def follow(index: int, process: subprocess.Popen[str]) -> None:
            assert process.stdout is not None
            for line in process.stdout:
                try:
                    tallies[index] = tally_of(json.loads(line))
                except (ValueError, TypeError, KeyError):
                    continue
                with lock:
                    progress(merge_tallies(tallies))

        readers = [threading.Thread(target=follow, args=(i, p), daemon=True) for i, p in enumerate(processes)]
        for reader in readers:
            reader.start()
        codes = [process.wait() for process in processes]
        for reader in readers:
            reader.join()
        failed = [i for i, code in enumerate(codes) if code != 0]
        if failed:
            raise RuntimeError(
                f"shard worker(s) {failed} of {count} exited with {[codes[i] for i in failed]}"
            )
        return merge_tallies(tallies)


def setup_document(setup: WorkerSetup) -> dict[str, Any]:
    """How a shard process reconnects, as its job on stdin carries it (secrets included)."""
    return {
        "database_url": setup.database_url,
        "store_timeouts": asdict(setup.timeouts),
        "secret_keys": [k.reveal() for k in setup.secret_keys],
        "pseudonym_secret": setup.pseudonym_secret.reveal() if setup.pseudonym_secret else None,
        "apps": {name: app_config(app) for name, app in setup.apps.items()},
        "pacing_url": setup.pacing_url or setup.database_url,
    }


def shard_document(work: ReleaseWork, index: int) -> dict[str, Any]:
    """What shard `index` of the run performs, as JSON: no store URL, key or credential in it."""
    options = work.options
    return {
        "campaign_id": work.campaign_id,
        "releases": {name: asdict(release) for name, release in work.releases.items()},
        "unresolved": [list(pair) for pair in work.unresolved],
        "threads": options.threads,
        "retry": _retry_config(options.retry),
        "linger_s": options.linger_s,
        "deadline_s": work.remaining_s(),
        "clock_offset_s": work.clock_offset_s(),
        "count": options.shards,
        "index": index,
        "attempt_id": work.attempt_id(Shard(index, options.shards)),
    }


def _retry_config(retry: RetryPolicy) -> dict[str, Any]:
    config = asdict(retry)
    config["pending_window"] = retry.pending_window.total_seconds()
    return config


def tally_of(document: dict[str, Any]) -> Tally:
    return Tally(
        performed=document["performed"],
        calls=document["calls"],
        throttled=document.get("throttled", 0),
        cpu_s=document.get("cpu_s", 0.0),
        by_outcome=dict(document["by_outcome"]),
        held_back=dict(document.get("held_back", {})),
    )


def merge_tallies(tallies: list[Tally]) -> Tally:
    merged = Tally()
    for tally in tallies:
        merged.performed += tally.performed
        merged.calls += tally.calls
        merged.throttled += tally.throttled
        merged.cpu_s += tally.cpu_s
        for outcome, count in tally.by_outcome.items():
            merged.by_outcome[outcome] = merged.by_outcome.get(outcome, 0) + count
        merged.held_back.update(tally.held_back)
    return merged


def _die_with_parent() -> None:
    """Linux: be killed (SIGKILL) when the coordinator dies, whatever kills it."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
        if os.getppid() == 1:  # the parent was already gone before prctl took effect
            os._exit(1)


def main() -> int:
    _die_with_parent()
    quiet_spotipy()
    job = json.loads(sys.stdin.read())
    store = Store.connect(
        job["database_url"], upgrade=False, timeouts=StoreTimeouts(**job.get("store_timeouts", {}))
    )
    vault = TokenVault.of(job["secret_keys"], job.get("pseudonym_secret"))
    apps = {name: app_from_config(name, config) for name, config in job["apps"].items()}
    try:
        tally = run_shard(job, store, vault, apps, job["pacing_url"], every_s(0.2, _emit))
    finally:
        store.dispose()
    _emit(tally)
    return 0


def run_shard(
    job: Mapping[str, Any],
    store: Store,
    vault: TokenVault,
    apps: Mapping[str, ServiceApp],
    pacing_url: str,
    progress: Callable[[Tally], None],
) -> Tally:
    """Perform one shard (`shard_document`) with the store, vault and apps of wherever it runs: a shard
    process of this machine, or a Celery worker (`pipelines.fanout`)."""
    count = job["count"]
    # the run's shards pace each app together, and with every other process using the label's credentials
    share_pacing(apps.values(), pacing_url, share=1.0 / count, upgrade=False)
    offset = timedelta(seconds=job["clock_offset_s"])
    retry = dict(job["retry"])
    retry["pending_window"] = timedelta(seconds=retry["pending_window"])
    deadline = None if job["deadline_s"] is None else time.monotonic() + job["deadline_s"]
    shard_job = ShardJob(
        campaign_id=job["campaign_id"],
        attempt_id=job["attempt_id"],
        shard=Shard(job["index"], count),
        releases={
            name: Release(**{**release, "tracks": tuple(release["tracks"])})
            for name, release in job["releases"].items()
        },
        unresolved=tuple((s, k) for s, k in job["unresolved"]),
        threads=job["threads"],
        retry=RetryPolicy(**retry),
        linger_s=job["linger_s"],
        deadline=deadline,
        clock=lambda: datetime.now(UTC) + offset,
    )
    with worker_lock(store.engine, shard_job.campaign_id):
        return ShardWorker(store, vault, apps, shard_job, progress=progress).run()


def every_s(seconds: float, send: Callable[[Tally], None]) -> Callable[[Tally], None]:
    """`send` at most once every `seconds`, never from two threads at once (the rest are dropped)."""
    last_sent = [0.0]
    sending = threading.Lock()

    def progress(tally: Tally) -> None:
        now = time.monotonic()
        if now - last_sent[0] >= seconds and sending.acquire(blocking=False):
            try:
                last_sent[0] = now
                send(tally)
            finally:
                sending.release()

    return progress


def _emit(tally: Tally) -> None:
    sys.stdout.write(json.dumps(asdict(tally)) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    raise SystemExit(main())
