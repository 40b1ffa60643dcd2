from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pandas as pd

from dashboards.queries import WarehouseReader
from pipelines.warehouse import Warehouse

WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import pandas as pd
    from pipelines.warehouse import Warehouse, insert_rows
    warehouse = Warehouse(Path(sys.argv[1]))
    with warehouse.writer() as connection:
        insert_rows(connection, "loaded_files", pd.DataFrame(
            [{"content_hash": "h2", "file_name": "second.csv", "kind": "x", "rows": 2,
              "loaded_at": pd.Timestamp.now(tz="UTC")}]))
        print("writing", flush=True)
        time.sleep(3)
    print("published", flush=True)
    """
)


def _one_file(warehouse: Warehouse) -> None:
    with warehouse.writer() as connection:
        frame = pd.DataFrame(
            [
                {
                    "content_hash": "h1",
                    "file_name": "first.csv",
                    "kind": "x",
                    "rows": 1,
                    "loaded_at": pd.Timestamp.now(tz="UTC"),
                }
            ]
        )
        warehouse.replace_rows(connection, "loaded_files", [frame])


def test_the_dashboard_keeps_answering_while_another_process_writes(tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    _one_file(warehouse)
    reader = WarehouseReader(warehouse.snapshot_path)
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(warehouse.path)], stdout=subprocess.PIPE, text=True
    )
    assert writer.stdout is not None
    assert writer.stdout.readline().strip() == "writing"
    answers = []
    while writer.poll() is None:
        answers.append(len(reader.query("SELECT * FROM loaded_files")))
        time.sleep(0.05)
    assert writer.returncode == 0
    assert len(answers) > 10
    assert set(answers) <= {1, 2}
    assert answers[0] == 1  # the writer's open transaction is invisible to the dashboard
    assert len(reader.query("SELECT * FROM loaded_files")) == 2  # and its publish is seen at once


def test_a_second_writer_waits_for_the_first(tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    _one_file(warehouse)
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(warehouse.path)], stdout=subprocess.PIPE, text=True
    )
    assert writer.stdout is not None
    assert writer.stdout.readline().strip() == "writing"
    with warehouse.writer() as connection:  # blocks on the lock instead of failing on DuckDB's file lock
        assert connection.execute("SELECT count(*) FROM loaded_files").fetchone() == (2,)
    writer.wait()


def test_a_failed_write_leaves_the_published_snapshot_alone(tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    _one_file(warehouse)
    try:
        with warehouse.writer() as connection:
            connection.execute("DELETE FROM loaded_files")
            raise RuntimeError("the asset failed half-way")
    except RuntimeError:
        pass
    with duckdb.connect(str(warehouse.snapshot_path), read_only=True) as connection:
        assert connection.execute("SELECT count(*) FROM loaded_files").fetchone() == (1,)
