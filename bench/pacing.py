"""What the shared pacing costs each call, per backend (`services/shared_pacing.py`): this process's memory,
the operational store on SQLite and on PostgreSQL, and Redis. `make bench BENCH=pacing`.

- read: the gate's check before every service call (`PacingState.read`, never cached);
- write: what a 429 does (`RateController.on_throttled`: a compare-and-set of the four numbers).

One process, one thread, one app key; latencies p50/p99, operations a second and this process's CPU per
operation. PostgreSQL is a fresh database on `PRESAVE_TEST_POSTGRES_URL` (dropped afterwards), Redis
`PRESAVE_BENCH_REDIS_URL` (default: a spare database index on the local server; only this run's keys are
touched, and deleted afterwards). A backend that cannot be reached is reported as such, not measured.
"""

from __future__ import annotations

import contextlib
import os
import resource
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from bench.landing import _percentiles
from campaigns.scratch_store import fresh_database
from services.pacing import LocalPacingState, PacingPolicy, PacingState, RateController
from services.shared_pacing import RedisPacing, StorePacing

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS = "redis://127.0.0.1:6379/13"
SECONDS = 3.0  # per measurement (reads, then writes), at most…
OPERATIONS = 20_000  # …or this many, whichever comes first
BACKENDS = ("memory", "SQLite store", "PostgreSQL store", "Redis")
console = Console(width=150)


@dataclass(frozen=True)
class Sizes:
    seconds: float = SECONDS
    operations: int = OPERATIONS


@dataclass
class Timing:
    """One operation repeated: each call's latency, the wall time and this process's CPU time."""

    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0
    cpu_s: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0


@dataclass
class Measured:
    backend: str
    read: Timing | None = None
    write: Timing | None = None
    problem: str | None = None  # why it was not measured


def _repeat(operation: Callable[[], object], sizes: Sizes, advance: Callable[[], None]) -> Timing:
    timing = Timing()
    cpu, started = time.process_time(), time.perf_counter()
    stop = started + sizes.seconds
    while len(timing.latencies) < sizes.operations:
        before = time.perf_counter()
        operation()
        after = time.perf_counter()
        timing.latencies.append(after - before)
        if len(timing.latencies) % 500 == 0:
            advance()
        if after >= stop:
            break
    timing.seconds = time.perf_counter() - started
    timing.cpu_s = time.process_time() - cpu
    return timing


def measure_state(
    backend: str, state: PacingState, sizes: Sizes, progress: Progress | None = None
) -> Measured:
    """The gate's read, then a 429's write, on `state` (an app's shared pacing)."""
    # a Retry-After of 0: each write is a full compare-and-set, and no pause holds the reads back
    pacer = RateController(PacingPolicy(), state)
    task = progress.add_task(backend, total=None) if progress is not None else None

    def advance() -> None:
        if progress is not None and task is not None:
            progress.advance(task, 500)

    state.read()  # first connection, first statement prepared
    pacer.on_throttled(0.0)
    read = _repeat(state.read, sizes, advance)
    write = _repeat(lambda: pacer.on_throttled(0.0), sizes, advance)
    if progress is not None and task is not None:
        progress.update(task, total=len(read.latencies) + len(write.latencies), completed=True)
    return Measured(backend, read, write)


@contextlib.contextmanager
def _backend_state(backend: str, folder: Path, postgres: str, redis_url: str) -> Iterator[PacingState]:
    """`backend`'s state of one app key made for this run (a fresh store, or a key of this run's own)."""
    key = f"spotify:bench-{uuid.uuid4().hex[:8]}"
    if backend == "memory":
        yield LocalPacingState()
    elif backend == "SQLite store":
        store = StorePacing(f"sqlite:///{folder / 'pacing.db'}")
        try:
            yield store.state(key)
        finally:
            store.close()
    elif backend == "PostgreSQL store":
        with fresh_database(postgres, purpose="bench") as url:
            store = StorePacing(url)
            try:
                yield store.state(key)
            finally:
                store.close()
    else:
        prefix = f"presave-bench-{uuid.uuid4().hex[:8]}"
        redis = RedisPacing(redis_url, prefix=prefix)
        try:
            yield redis.state(key)
        finally:
            for stale in redis.client.scan_iter(f"{prefix}:*"):
                redis.client.delete(stale)
            redis.close()


def measure(
    backends: tuple[str, ...] = BACKENDS,
    sizes: Sizes | None = None,
    *,
    postgres: str | None = None,
    redis_url: str | None = None,
    progress: Progress | None = None,
) -> list[Measured]:
    """Each backend's read and write, one after the other."""
    sizes = sizes or Sizes()
    postgres = postgres or os.environ.get("PRESAVE_TEST_POSTGRES_URL", DEFAULT_POSTGRES)
    redis_url = redis_url or os.environ.get("PRESAVE_BENCH_REDIS_URL", DEFAULT_REDIS)
    results = []
    with tempfile.TemporaryDirectory(prefix="presave-bench-pacing-") as name:
        for backend in backends:
            try:
                with _backend_state(backend, Path(name), postgres, redis_url) as state:
                    results.append(measure_state(backend, state, sizes, progress))
            except Exception as exc:
                results.append(Measured(backend, problem=f"not measured: {type(exc).__name__}"))
    return results


def _us(value: float) -> str:
    return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


def pacing_table(results: list[Measured]) -> Table:
    table = Table(
        title="shared pacing per call, one process and one thread: read = the gate's check before every "
        "call, write = a 429's compare-and-set"
    )
    for column in ("backend", "operation", "ops", "ops/s", "p50 µs", "p99 µs", "max µs", "CPU µs/op"):
        table.add_column(column, justify="left" if column in ("backend", "operation") else "right")
    for result in results:
        if result.problem is not None:
            table.add_row(result.backend, result.problem, "", "", "", "", "", "", end_section=True)
            continue
        for label, timing in (("read (gate)", result.read), ("write (after a 429)", result.write)):
            assert timing is not None
            cuts = _percentiles(timing.latencies)  # milliseconds
            table.add_row(
                result.backend,
                label,
                f"{len(timing.latencies):,}",
                f"{timing.rate:,.0f}",
                _us(cuts["p50"] * 1e3),
                _us(cuts["p99"] * 1e3),
                _us(cuts["max"] * 1e3),
                _us(timing.cpu_s / max(len(timing.latencies), 1) * 1e6),
                end_section=label.startswith("write"),
            )
    return table


def run() -> None:
    with Progress(console=console, transient=True) as progress:
        results = measure(progress=progress)
    console.print(pacing_table(results))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    console.print(f"peak RSS of this process {peak:.0f} MB; load average {os.getloadavg()[0]:.1f} at the end")
