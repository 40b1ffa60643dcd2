"""A scratch operational store on a PostgreSQL server: the tests and the benchmarks each get a new, empty
database, dropped afterwards (the server's other databases are left alone, so runs may overlap)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


@contextmanager
def fresh_database(server_url: str, *, purpose: str = "test", template: str | None = None) -> Iterator[str]:
    """A new PostgreSQL database on `server_url` (its SQLAlchemy URL), empty or a copy of the database
    `template`, dropped afterwards."""
    name = f"presave_{purpose}_{uuid.uuid4().hex[:12]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"{copy}'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
