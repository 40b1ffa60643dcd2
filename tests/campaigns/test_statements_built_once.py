"""Statements the grant path builds once, at import, must compile on both stores: a bind parameter named
like a column of the table an UPDATE or INSERT writes is refused at run time (CompileError), and the
landing app then leaves the fan's owed actions held (a Deezer fan's country update did, unseen by the
landing tests)."""

import importlib

import pytest
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import Executable

MODULES = ("campaigns.identity", "campaigns.ledger", "collectors.landing.attempts")


def built_once() -> list[tuple[str, Executable]]:
    found = []
    for name in MODULES:
        module = importlib.import_module(name)
        found += [
            (f"{name}.{attribute}", value)
            for attribute, value in vars(module).items()
            if attribute.isupper() and attribute.startswith("_") and isinstance(value, Executable)
        ]
    return found


def test_the_grant_path_builds_its_statements_once() -> None:
    assert len(built_once()) >= 8


@pytest.mark.parametrize(
    "dialect", [sqlite.dialect(), postgresql.psycopg.dialect()], ids=["sqlite", "postgres"]
)
@pytest.mark.parametrize(("name", "statement"), built_once(), ids=[name for name, _ in built_once()])
def test_every_statement_built_once_compiles(name: str, statement: Executable, dialect: object) -> None:
    # executed with its parameters, as the grant path runs it: the keys given are what the check sees
    keys = list(statement.compile().params)  # type: ignore[attr-defined]
    statement.compile(dialect=dialect, column_keys=keys)  # type: ignore[attr-defined]
