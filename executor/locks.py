"""Who may work on a campaign's ledger: one run at a time, its shard workers together.

Two locks per campaign, both released by the operating system or the database when their holder dies
(so a crash never leaves a stale lock):
- the *run* lock, exclusive: held by the coordinator of a run for its whole life;
- the *workers* lock, shared by the workers of a run. A new coordinator takes it exclusively for a moment
  before starting its own workers: that waits out any worker an earlier (crashed) run left behind, so
  no two processes ever hold claims on the same actions.

SQLite stores use `flock` on files beside the database; PostgreSQL uses session advisory locks.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from campaigns.store import is_store_outage

RUN, WORKERS = 0x70727331, 0x70727332  # advisory-lock namespaces ("prs1", "prs2")


class CampaignBusy(RuntimeError):
    """Another run holds the campaign."""


def _lock_dir(engine: Engine) -> Path:
    url = make_url(engine.url)
    database = url.database
    if database and database != ":memory:":
        folder = Path(database).resolve().parent / f".{Path(database).name}.locks"
    else:
        folder = Path(tempfile.gettempdir()) / "presave-locks"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class _FileLock:
    def __init__(self, path: Path) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)

    def take(self, mode: int, wait_s: float | None) -> bool:
        deadline = None if wait_s is None else time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(self.fd, mode | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if deadline is not None and time.monotonic() >= deadline:
                    return False
                time.sleep(0.05)

    def release(self) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_UN)

    def close(self) -> None:
        os.close(self.fd)


class _AdvisoryLock:
    def __init__(self, engine: Engine, namespace: int, key: int) -> None:
        self.connection = engine.connect()
        self.namespace, self.key = namespace, key

    def take(self, shared: bool, wait_s: float | None) -> bool:
        function = "pg_try_advisory_lock_shared" if shared else "pg_try_advisory_lock"
        deadline = None if wait_s is None else time.monotonic() + wait_s
        while True:
            got = self.connection.execute(
                text(f"SELECT {function}(:namespace, :key)"), {"namespace": self.namespace, "key": self.key}
            ).scalar()
            self.connection.commit()
            if got:
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    def release(self, shared: bool) -> None:
        function = "pg_advisory_unlock_shared" if shared else "pg_advisory_unlock"
        try:
            self.connection.execute(
                text(f"SELECT {function}(:namespace, :key)"), {"namespace": self.namespace, "key": self.key}
            )
            self.connection.commit()
        except Exception as error:  # a lost connection took its session's locks with it
            if not is_store_outage(error):
                raise

    def close(self) -> None:
        self.connection.close()


def _lock(engine: Engine, namespace: int, campaign_id: int) -> Any:
    if engine.dialect.name == "postgresql":
        return _AdvisoryLock(engine, namespace, campaign_id)
    name = "run" if namespace == RUN else "workers"
    return _FileLock(_lock_dir(engine) / f"campaign-{campaign_id}.{name}")


def _take(lock: Any, *, shared: bool, wait_s: float | None) -> bool:
    if isinstance(lock, _FileLock):
        return lock.take(fcntl.LOCK_SH if shared else fcntl.LOCK_EX, wait_s)
    return bool(lock.take(shared, wait_s))


def _release(lock: Any, *, shared: bool) -> None:
    if isinstance(lock, _FileLock):
        lock.release()
    else:
        lock.release(shared)


@contextmanager
def run_lock(
    engine: Engine, campaign_id: int, *, wait_s: float = 0.0, workers_wait_s: float = 120.0
) -> Iterator[None]:
    """Hold the campaign for one run; raises CampaignBusy if another run has it, or if workers of an
    earlier run are still alive after `workers_wait_s`."""
    run = _lock(engine, RUN, campaign_id)
    try:
        if not _take(run, shared=False, wait_s=wait_s):
            raise CampaignBusy(f"campaign {campaign_id} is being run by another process")
        try:
            workers = _lock(engine, WORKERS, campaign_id)
            try:
                if not _take(workers, shared=False, wait_s=workers_wait_s):
                    raise CampaignBusy(f"workers of an earlier run of campaign {campaign_id} are still alive")
                _release(workers, shared=False)
            finally:
                workers.close()
            yield
        finally:
            _release(run, shared=False)
    finally:
        run.close()


@contextmanager
def worker_lock(engine: Engine, campaign_id: int, *, wait_s: float = 60.0) -> Iterator[None]:
    """Held (shared) by every worker of a run while it holds claims."""
    workers = _lock(engine, WORKERS, campaign_id)
    try:
        if not _take(workers, shared=True, wait_s=wait_s):
            raise CampaignBusy(f"could not join the workers of campaign {campaign_id}")
        try:
            yield
        finally:
            _release(workers, shared=True)
    finally:
        workers.close()
