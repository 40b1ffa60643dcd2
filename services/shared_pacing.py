"""Where each app's pacing lives so that every process using the label's credentials sees one pause: the
landing workers, the executor's shard processes, the Celery workers' steps, the snapshot collectors, on
one machine or several.

- `RedisPacing` when `PRESAVE_REDIS_URL` is set: one hash per app; a change is WATCH / MULTI / EXEC,
  retried when another process wrote in between.
- `StorePacing` otherwise: the `app_pacing` table of the operational store (SQLite or PostgreSQL), one row
  per app; a change is an UPDATE guarded by the row's `version`, retried the same way.

Both read the state before every call (never a cache: a Retry-After seen by one process must stop the
others before their next call) and apply the one rule of `services.pacing.after_throttle`, so two processes
that see the same 429 lower the rate once. When the backend does not answer, a read or a change raises
`services.errors.PacingUnavailable` (a pause nobody can see the end of): no call is made, and every caller
leaves its work owed, as for a pause. `pacing_url(settings)` says where the deployment keeps it;
`share_pacing(apps, url)` hands each app its shared state (what `services.apps_from_settings`, the landing
app, the shard processes and the Dagster resources all call).
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from sqlalchemy import Engine, insert, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from campaigns.models import AppPacing
from campaigns.settings import Settings
from campaigns.store import is_store_outage, make_engine, migrate
from services.errors import PacingUnavailable
from services.pacing import UNLIMITED, Pacing, PacingPolicy, PacingState

ATTEMPTS = 50  # compare-and-set retries before giving up (only under a storm of concurrent 429s)


class ChangeConflict(RuntimeError):
    """Another process kept changing the pacing state; the change was not applied."""


class PacingBackend(Protocol):
    def state(self, app: str) -> PacingState:
        """The shared state of `app` (its `pacing_key`)."""
        ...

    def close(self) -> None: ...


# Redis -----------------------------------------------------------------------------------------------
class RedisPacing:
    """Every app's pacing in Redis, under `<prefix>:pacing:<app>`."""

    def __init__(self, url: str, *, prefix: str = "presave") -> None:
        import redis

        self.prefix = prefix
        self.client = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)

    def state(self, app: str) -> RedisPacingState:
        return RedisPacingState(self.client, f"{self.prefix}:pacing:{app}")

    def close(self) -> None:
        self.client.close()


_FIELDS = ("rate", "set_at", "pause_until", "quota_until")


class RedisPacingState:
    def __init__(self, client: Any, key: str) -> None:
        self.client = client
        self.key = key
        self.app = key.split(":pacing:", 1)[-1]

    def read(self) -> Pacing:
        import redis

        try:
            return _from_redis(self.client.hmget(self.key, _FIELDS))
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise PacingUnavailable(self.app, "Redis", exc) from None

    def update(self, change: Callable[[Pacing], Pacing]) -> Pacing:
        import redis

        try:
            return self._update(change)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise PacingUnavailable(self.app, "Redis", exc) from None

    def _update(self, change: Callable[[Pacing], Pacing]) -> Pacing:
        import redis

        with self.client.pipeline() as pipe:
            for _ in range(ATTEMPTS):
                try:
                    pipe.watch(self.key)
                    current = _from_redis(pipe.hmget(self.key, _FIELDS))
                    new = change(current)
                    pipe.multi()
                    pipe.hset(
                        self.key, mapping={f: repr(float(v)) for f, v in zip(_FIELDS, new, strict=True)}
                    )
                    pipe.execute()
                    return new
                except redis.WatchError:
                    continue
        raise ChangeConflict(f"pacing {self.key}: {ATTEMPTS} concurrent changes in a row")


def _from_redis(values: list[bytes | None]) -> Pacing:
    if values[0] is None:
        return Pacing()
    return Pacing(*(float(v) if v is not None else 0.0 for v in values))


# the operational store -------------------------------------------------------------------------------------
class StorePacing:
    """Every app's pacing in the operational store's `app_pacing` table, over an engine of its own (a
    read is one primary-key SELECT on a pooled connection)."""

    def __init__(self, url: str, *, upgrade: bool = True) -> None:
        # no ping before each checkout (it doubles a read's cost on PostgreSQL): a dropped connection is
        # retried once instead
        self.engine: Engine = make_engine(url, pool_pre_ping=False)
        if upgrade:
            migrate(self.engine)

    def state(self, app: str) -> StorePacingState:
        return StorePacingState(self.engine, app)

    def close(self) -> None:
        self.engine.dispose()


class StorePacingState:
    def __init__(self, engine: Engine, app: str) -> None:
        self.engine = engine
        self.app = app
        self._postgres = engine.dialect.name == "postgresql"
        self._read = select(
            AppPacing.rate, AppPacing.set_at, AppPacing.pause_until, AppPacing.quota_until, AppPacing.version
        ).where(AppPacing.app == app)

    def _versioned(self) -> tuple[Pacing, int | None]:
        try:
            row = self._row()
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
            row = self._row()  # the pool dropped a dead connection: once more on a new one
        if row is None:
            return Pacing(), None
        rate, set_at, pause_until, quota_until, version = row
        return Pacing(UNLIMITED if rate is None else rate, set_at, pause_until, quota_until), version

    def _row(self) -> Any:
        with self.engine.connect() as connection:
            return connection.execute(self._read).first()

    def read(self) -> Pacing:
        return self._answered(lambda: self._versioned()[0])

    def update(self, change: Callable[[Pacing], Pacing]) -> Pacing:
        return self._answered(lambda: self._update(change))

    def _answered(self, work: Callable[[], Pacing]) -> Pacing:
        """`work`, with a store that does not answer (`is_store_outage`) reported as PacingUnavailable."""
        try:
            return work()
        except Exception as exc:
            if not is_store_outage(exc):
                raise
            raise PacingUnavailable(self.app, "the operational store", exc) from None

    def _update(self, change: Callable[[Pacing], Pacing]) -> Pacing:
        for _ in range(ATTEMPTS):
            current, version = self._versioned()
            new = change(current)
            values = {
                "rate": None if math.isinf(new.rate) else new.rate,
                "set_at": new.set_at,
                "pause_until": new.pause_until,
                "quota_until": new.quota_until,
            }
            if version is None:
                try:
                    self._write(insert(AppPacing).values(app=self.app, version=1, **values))
                    return new
                except IntegrityError:  # another process made the row first: read it and retry
                    continue
            written = self._write(
                update(AppPacing)
                .where(AppPacing.app == self.app, AppPacing.version == version)
                .values(version=version + 1, **values)
            )
            if written == 1:
                return new
        raise ChangeConflict(f"pacing of {self.app}: {ATTEMPTS} concurrent changes in a row")

    def _write(self, statement: Any) -> int:
        """One change in a transaction of its own; the rows it wrote."""
        with self.engine.begin() as connection:
            if self._postgres:  # ephemeral state: visible at once, not worth waiting for the disk
                connection.execute(text("SET LOCAL synchronous_commit TO OFF"))
            return int(connection.execute(statement).rowcount)


# the one factory ----------------------------------------------------------------------------------------------
_backends: dict[tuple[int, str, str], PacingBackend] = {}
_backends_lock = threading.Lock()


def pacing_backend(url: str, *, upgrade: bool = True, prefix: str = "presave") -> PacingBackend:
    """Redis for a `redis://` or `rediss://` URL, else the operational store at this SQLAlchemy URL
    (`upgrade`: bring its schema to the newest migration first). One per URL and process."""
    key = (os.getpid(), url, prefix)  # a forked worker makes its own connections
    with _backends_lock:
        backend = _backends.get(key)
        if backend is None:
            if url.startswith(("redis://", "rediss://", "unix://")):
                backend = RedisPacing(url, prefix=prefix)
            else:
                backend = StorePacing(url, upgrade=upgrade)
            _backends[key] = backend
        return backend


def pacing_url(settings: Settings) -> str:
    """Where the deployment keeps its pacing: `PRESAVE_REDIS_URL` when set, else the operational store."""
    return settings.redis_url or settings.resolved_database_url


def pacing_from_settings(settings: Settings, *, upgrade: bool = True) -> PacingBackend:
    """The one factory: the deployment's pacing backend, from its settings."""
    return pacing_backend(pacing_url(settings), upgrade=upgrade)


class Paced(Protocol):
    """An app with a shared pacing (every `services.ServiceApp`)."""

    @property
    def pacing_key(self) -> str: ...

    def use_pacing(
        self, policy: PacingPolicy | None = None, state: PacingState | None = None, *, share: float = 1.0
    ) -> None: ...


def share_pacing(apps: Iterable[Paced], url: str, *, share: float = 1.0, upgrade: bool = True) -> None:
    """Pace each app by its shared state at `url` (with `share` of the app's rate for this process)."""
    backend = pacing_backend(url, upgrade=upgrade)
    for app in apps:
        app.use_pacing(state=backend.state(app.pacing_key), share=share)
