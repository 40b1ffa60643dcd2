"""Files holding fans' data or secrets are created readable by their owner only, and SQL errors hide
their parameters."""

from __future__ import annotations

import stat
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import text
from sqlalchemy.exc import StatementError

from campaigns.settings import Settings
from campaigns.store import Store, make_engine
from pipelines.warehouse import Warehouse


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_store_warehouse_snapshot_and_key_files_are_private(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path / "data")  # type: ignore[call-arg]
    settings.vault()
    store = Store.connect(settings.resolved_database_url)
    with store.session() as session:
        session.execute(text("SELECT 1"))
    warehouse = Warehouse(settings.warehouse_path)
    with warehouse.writer() as connection:
        connection.register("frame", pd.DataFrame({"a": [1]}))
    data = settings.data_dir
    private = [
        "presave.db",
        "presave.db-wal",
        "warehouse.duckdb",
        "warehouse.snapshot.duckdb",
        "secret.key",
        "pseudonym.key",
    ]
    assert {name: oct(_mode(data / name)) for name in private if (data / name).exists()} == {
        name: oct(0o600) for name in private if (data / name).exists()
    }
    assert (data / "presave.db").exists()
    assert (data / "warehouse.snapshot.duckdb").exists()
    store.dispose()


def test_an_existing_world_readable_store_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "presave.db"
    path.touch(mode=0o644)
    path.chmod(0o644)
    Store.connect(f"sqlite:///{path}").dispose()
    assert _mode(path) == 0o600


def test_a_failing_statement_does_not_quote_its_parameters(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(StatementError) as failure, engine.connect() as connection:
        connection.execute(text("INSERT INTO missing VALUES (:token)"), {"token": "BQ-secret-token"})
    assert "BQ-secret-token" not in str(failure.value)
    engine.dispose()
