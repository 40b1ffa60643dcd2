"""Connecting to the operational store (SQLite with WAL by default, PostgreSQL in production)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, Row, Select, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import QueryableAttribute, Session, sessionmaker

from campaigns.private_files import make_private

MIGRATIONS = Path(__file__).with_name("migrations")


def make_engine(url: str, **kwargs: Any) -> Engine:
    # A statement's parameters (tokens, emails) never appear in an error's text or a log line.
    kwargs.setdefault("hide_parameters", True)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            make_private(Path(parsed.database), create=True)  # SQLite gives its WAL files the same mode
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the landing app and the executor write while readers read; NORMAL is safe under WAL.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent)."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


class Store:
    """The operational store: one engine and a session factory, shared by a process."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def connect(cls, url: str, *, upgrade: bool = True) -> Store:
        store = cls(make_engine(url))
        if upgrade:
            migrate(store.engine)
        return store

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed when the block ends, rolled back if it raises."""
        with self._sessions.begin() as session:
            yield session

    def chunks(
        self, query: Select[*tuple[Any, ...]], by: QueryableAttribute[int], size: int
    ) -> Iterator[Sequence[Row[*tuple[Any, ...]]]]:
        """The rows of `query` in chunks of `size`, in the order of `by` (a unique integer column the query
        selects), each chunk read in a session of its own: memory stays bounded whatever the table's size,
        and no transaction stays open while the caller works on a chunk (it may write the rows it got)."""
        after = 0
        while True:
            with self.session() as session:
                rows = session.execute(query.where(by > after).order_by(by).limit(size)).all()
            if not rows:
                return
            yield rows
            after = rows[-1]._mapping[by]

    def dispose(self) -> None:
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"Store({self.engine.url.render_as_string(hide_password=True)})"
