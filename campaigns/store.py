"""Connecting to the operational store (SQLite with WAL by default, PostgreSQL in production), its
timeouts, and the one rule for a store that is briefly away: try the unit of work again, bounded.

Timeouts (`StoreTimeouts`, from `PRESAVE_STORE_*` settings): SQLite waits `busy_s` for another writer's
lock, then fails; PostgreSQL gives up connecting after `connect_s` and cancels a statement running longer
than `statement_s`. A caller never hangs on a store that does not answer; it gets an error it can retry.
"""

from __future__ import annotations

import logging
import math
import random
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, Row, Select, create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import QueryableAttribute, Session, sessionmaker

from campaigns.private_files import make_private

MIGRATIONS = Path(__file__).with_name("migrations")
log = logging.getLogger(__name__)
SQLITE_OUTAGE_SIGNS = ("locked", "busy", "disk i/o", "unable to open")
T = TypeVar("T")


@dataclass(frozen=True)
class StoreTimeouts:
    """How long the operational store may keep a caller waiting (seconds)."""

    connect_s: float = 10.0  # PostgreSQL: establishing a connection (libpq counts whole seconds, >= 2)
    statement_s: float = 30.0  # PostgreSQL: one statement (statement_timeout); 0 turns it off
    busy_s: float = 10.0  # SQLite: waiting for another connection's write lock (busy_timeout)

    def postgres_connect_args(self) -> dict[str, Any]:
        args: dict[str, Any] = {"connect_timeout": max(2, math.ceil(self.connect_s))}
        if self.statement_s > 0:
            args["options"] = f"-c statement_timeout={int(self.statement_s * 1000)}"
        return args


@dataclass(frozen=True)
class StoreRetry:
    """Trying a unit of work again while the store is away: `attempts` in all, exponential backoff with
    jitter from `first_s`, each wait at most `cap_s`. Only for work that is safe to repeat."""

    attempts: int = 6
    first_s: float = 0.2
    cap_s: float = 5.0

    def wait_s(self, failures: int) -> float:
        ceiling = min(self.cap_s, self.first_s * 2 ** max(0, failures - 1))
        return random.uniform(ceiling / 2, ceiling)


class StoreUnavailable(RuntimeError):
    """The operational store did not answer (or refused) after every retry; nothing was recorded."""


def is_store_outage(error: BaseException) -> bool:
    """A failure of the store itself (locked, connection lost or refused, statement cancelled by its
    timeout), as opposed to a bug or a constraint violation: worth trying the work again."""
    if isinstance(error, StoreUnavailable):
        return True
    if isinstance(error, sa_exc.DBAPIError):
        if error.connection_invalidated:
            return True
        if isinstance(error.orig, sqlite3.Error):  # SQLite says "operational" of a missing table too
            return isinstance(error, sa_exc.OperationalError) and any(
                sign in str(error.orig).lower() for sign in SQLITE_OUTAGE_SIGNS
            )
        return isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError)
    return isinstance(error, sa_exc.TimeoutError | sa_exc.DisconnectionError)


def retry_outages(
    work: Callable[[], T],
    *,
    what: str,
    retry: StoreRetry = StoreRetry(),
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run `work`; while the store is away (`is_store_outage`), again after a backoff, `retry.attempts`
    times in all; then StoreUnavailable (naming `what`, never the error's text: it may quote a statement)."""
    for failures in range(1, retry.attempts + 1):
        try:
            return work()
        except Exception as error:
            if not is_store_outage(error):
                raise
            if failures == retry.attempts:
                raise StoreUnavailable(
                    f"the operational store did not answer ({what}, {failures} tries: {type(error).__name__})"
                ) from None
            log.warning("store away while %s (%s); trying again", what, type(error).__name__)
            sleep(retry.wait_s(failures))
    raise AssertionError("unreachable")


def make_engine(url: str, timeouts: StoreTimeouts | None = None, **kwargs: Any) -> Engine:
    timeouts = timeouts or StoreTimeouts()
    # A statement's parameters (tokens, emails) never appear in an error's text or a log line.
    kwargs.setdefault("hide_parameters", True)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            make_private(Path(parsed.database), create=True)  # SQLite gives its WAL files the same mode
        engine = create_engine(url, connect_args={"timeout": timeouts.busy_s}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas(timeouts.busy_s))
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    if parsed.get_backend_name() == "postgresql":
        pooled = pooler_args(parsed.query)
        kwargs["connect_args"] = {
            **timeouts.postgres_connect_args(),
            **pooled,
            **kwargs.get("connect_args", {}),
        }
        if pooled:  # PgBouncer: the statement timeout is its connect_query's (deploy/k8s/pgbouncer.yaml)
            kwargs["connect_args"].pop("options", None)
            url = parsed.difference_update_query(["prepare_threshold"]).render_as_string(hide_password=False)
    return create_engine(url, **kwargs)


def pooler_args(query: Mapping[str, Any]) -> dict[str, Any]:
    """psycopg's arguments for a URL through a transaction pooler (PgBouncer): `?prepare_threshold=none`
    turns server-side prepared statements off, since the next transaction may run on another server
    connection that never saw them; a number sets how many runs of a query prepare it."""
    value = query.get("prepare_threshold")
    if value is None:
        return {}
    return {"prepare_threshold": None if str(value).lower() in {"none", ""} else int(value)}


def _sqlite_pragmas(busy_s: float) -> Callable[[Any, Any], None]:
    def pragmas(dbapi_connection: Any, _record: Any) -> None:
        # WAL lets the landing app and the executor write while readers read; NORMAL is safe under WAL.
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_s * 1000)}")
        cursor.close()

    return pragmas


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent)."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        if sqlite:  # SQLite rebuilds a table to alter it: its references must not act meanwhile
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()  # outside any transaction, or SQLite ignores it
        try:
            with connection.begin():
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
                if sqlite and connection.exec_driver_sql("PRAGMA foreign_key_check").first():
                    raise RuntimeError("a migration left rows pointing to rows that are gone")
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()


class Store:
    """The operational store: one engine and a session factory, shared by a process."""

    def __init__(self, engine: Engine, timeouts: StoreTimeouts | None = None) -> None:
        self.engine = engine
        self.timeouts = timeouts or StoreTimeouts()  # what the engine was made with
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def connect(cls, url: str, *, upgrade: bool = True, timeouts: StoreTimeouts | None = None) -> Store:
        store = cls(make_engine(url, timeouts), timeouts)
        if upgrade:
            migrate(store.engine)
        return store

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed when the block ends, rolled back if it raises."""
        with self._sessions.begin() as session:
            yield session

    def retrying(
        self,
        work: Callable[[Session], T],
        *,
        what: str,
        retry: StoreRetry = StoreRetry(),
        sleep: Callable[[float], None] = time.sleep,
    ) -> T:
        """Run `work` in its own transaction, again in a new one while the store is away (see
        `retry_outages`). The work must be safe to repeat (its commit may have landed before the
        connection was lost). Never call this inside a request: it sleeps."""

        def transaction() -> T:
            with self.session() as session:
                return work(session)

        return retry_outages(transaction, what=what, retry=retry, sleep=sleep)

    def chunks(
        self, query: Select[*tuple[Any, ...]], by: QueryableAttribute[int], size: int
    ) -> Iterator[Sequence[Row[*tuple[Any, ...]]]]:
        """The rows of `query` in chunks of `size`, in the order of `by` (a unique integer column the query
        selects; columns, not entities), each chunk read in a session of its own: memory stays bounded whatever the table's size,
        and no transaction stays open while the caller works on a chunk (it may write the rows it got)."""
        after = 0
        while True:
            with self.session() as session:
                # plain rows, no ORM on the way (a million grants are read this way)
                rows = session.connection().execute(query.where(by > after).order_by(by).limit(size)).all()
            if not rows:
                return
            yield rows
            after = rows[-1]._mapping[by.key]

    def dispose(self) -> None:
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"Store({self.engine.url.render_as_string(hide_password=True)})"
