"""`make bench BENCH=pacing` at a tiny size: the shared pacing's read and write measured on each backend
(this process's memory, SQLite, Redis; PostgreSQL on its own), one row per backend and operation."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from bench.pacing import Measured, Sizes, measure, pacing_table

TINY = Sizes(seconds=0.2, operations=50)
REDIS_URL = "redis://127.0.0.1:6379/13"


def _text(results: list[Measured]) -> str:
    out = io.StringIO()
    Console(file=out, width=200).print(pacing_table(results))
    return out.getvalue()


def _rows(results: list[Measured]) -> list[str]:
    return [line for line in _text(results).splitlines() if "read (gate)" in line or "write (after" in line]


def test_the_pacing_bench_measures_reads_and_writes_per_backend() -> None:
    results = measure(("memory", "SQLite store", "Redis"), TINY, redis_url=REDIS_URL)

    assert [r.problem for r in results] == [None, None, None]
    assert all(r.read is not None and len(r.read.latencies) > 0 for r in results)
    assert all(r.write is not None and len(r.write.latencies) > 0 for r in results)
    rows = _rows(results)
    for backend in ("memory", "SQLite store", "Redis"):
        assert sum(row.startswith(f"│ {backend} ") for row in rows) == 2, backend


@pytest.mark.postgres
def test_the_pacing_bench_measures_the_postgresql_store(postgres_server_url: str) -> None:
    results = measure(("PostgreSQL store",), TINY, postgres=postgres_server_url)

    assert results[0].problem is None
    assert len(_rows(results)) == 2


def test_an_unreachable_backend_is_reported_not_measured() -> None:
    results = measure(("Redis",), TINY, redis_url="redis://127.0.0.1:1/13")

    assert results[0].problem is not None
    assert results[0].read is None
    assert _rows(results) == []
    assert "not measured: ConnectionError" in _text(results)
