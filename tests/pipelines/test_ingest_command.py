"""`presave ingest`: what it loaded, what it refused (and why), with a non-zero exit when it refused."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from presave.cli import app
from tests.collectors.exports_files import PRESAVE_FANS, S4A_AUDIENCE, write_rows, write_text


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)  # no stray .env
    return CliRunner(env={"PRESAVE_DATA_DIR": str(tmp_path / "data")})


def test_ingest_says_what_it_loaded_and_what_it_refused(runner: CliRunner, tmp_path: Path) -> None:
    good = write_rows(tmp_path / "Nova Lane-audience-timeline.csv", S4A_AUDIENCE, encoding="utf-8-sig")
    fans = write_rows(tmp_path / "midnight-drive__fans.csv", PRESAVE_FANS)
    bad = write_text(
        tmp_path / "Mara Ellis-audience-timeline.csv", "date,listeners,streams\n2025-02-30,1,2\n"
    )
    result = runner.invoke(app, ["ingest", str(good), str(fans), str(bad)])
    assert result.exit_code == 1
    assert "loaded Nova Lane-audience-timeline.csv (s4a_audience_timeline, 3 rows)" in result.stdout
    assert "loaded midnight-drive__fans.csv (presave_fans, 3 rows)" in result.stdout
    assert "refused Mara Ellis-audience-timeline.csv" in result.stderr
    assert "line 2: bad date '2025-02-30' in column date" in result.stderr
    assert (tmp_path / "data" / "quarantine" / "Mara Ellis-audience-timeline.csv.reason.txt").exists()
    assert good.exists()  # files named on the command line stay where they are

    again = runner.invoke(app, ["ingest", str(good)])
    assert again.exit_code == 0
    assert "already loaded Nova Lane-audience-timeline.csv (same content)" in again.stdout
    with duckdb.connect(str(tmp_path / "data" / "warehouse.duckdb"), read_only=True) as connection:
        keys = connection.execute("SELECT DISTINCT fan_key FROM presave_fans").fetchall()
    assert len(keys) == 2  # Ada twice (two services) and Bo: the store's keyed hash of each email
    assert all(len(k) == 32 for (k,) in keys)


def test_ingest_of_a_missing_file_fails_with_its_name(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["ingest", str(tmp_path / "nowhere.csv")])
    assert result.exit_code != 0
    assert "no such file" in result.stderr
