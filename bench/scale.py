"""The landing app beyond one process: grants per second and the callback's p99 with 1, 2 and 4 uvicorn
workers on PostgreSQL, then a launch spike of ten times a campaign's steady arrival rate for up to 60 s,
every fan who arrived looked up in the store afterwards.

Loopback only, bounded in fans and seconds; the landing app and the sandbox run in their own processes.
PostgreSQL is the one `PRESAVE_TEST_POSTGRES_URL` names (the Makefile's default); a fresh database is
made for each configuration and dropped afterwards. Figures are printed, never asserted.
`make bench BENCH=scale`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from bench.landing import (
    Http,
    Phase,
    _admin_artist,
    _one_grant,
    _percentiles,
    _start_sandbox,
    _stop,
    _wait_up,
    landing_settings,
    run_coroutine,
    seed_campaign,
    start_landing,
)
from campaigns.models import Grant
from campaigns.scratch_store import fresh_database
from campaigns.store import Store
from presave.processes import free_port

WORKER_COUNTS = (1, 2, 4)
STEADY_SECONDS = 8.0
FANS_AT_ONCE = 32
CAMPAIGN_RATE = 5.0  # fans a second arriving on an ordinary campaign day (the spike is ten times this)
SPIKE_FACTOR = 10
SPIKE_SECONDS = 60.0
SPIKE_WORKERS = 2
IN_FLIGHT = 1000  # fans the load generator keeps open at once (file descriptors), far above the app's need
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
console = Console(width=150)


@dataclass
class Cluster:
    landing_url: str
    sandbox_url: str
    store: Store
    landing_pid: int


@dataclass
class Spike:
    """An open-loop arrival of fans: how many started, how the landing app answered them, and how many
    grants the store holds afterwards. Every fan who arrives should leave with a grant."""

    rate: float
    seconds: float
    started: int = 0
    fans: Phase = field(default_factory=Phase)  # answers, and the whole flow's latency of granted fans
    callbacks: list[float] = field(default_factory=list)
    stored: int = 0
    elapsed_s: float = 0.0

    @property
    def lost(self) -> int:
        return self.started - self.stored


@contextlib.contextmanager
def landing_on_postgres(workers: int, server_url: str) -> Iterator[Cluster]:
    """The sandbox and `workers` uvicorn workers of the landing app on a fresh PostgreSQL database."""
    with (
        tempfile.TemporaryDirectory(prefix="presave-bench-scale-") as name,
        fresh_database(server_url, purpose="bench") as url,
    ):
        tmp = Path(name)
        sandbox, sandbox_env, sandbox_url = _start_sandbox(tmp)
        port = free_port(0)
        landing_url = f"http://127.0.0.1:{port}"
        env = landing_settings(tmp, sandbox_env, url, landing_url)
        store = Store.connect(url)
        seed_campaign(store)
        run_coroutine(_admin_artist(sandbox_url))
        landing = start_landing(env, port, workers=workers, proxy_headers=True)
        try:
            _wait_up(landing_url, "/healthz", landing)
            yield Cluster(landing_url, sandbox_url, store, landing.pid)
        finally:
            _stop(landing)
            sandbox.terminate()
            sandbox.wait(timeout=30)
            store.dispose()


def stored_grants(store: Store, prefix: str) -> int:
    with store.session() as session:
        return session.scalar(select(func.count()).where(Grant.service_user_id.like(f"{prefix}-%"))) or 0


async def _closed_loop(
    cluster: Cluster, seconds: float, at_once: int, prefix: str
) -> tuple[Phase, list[float]]:
    phase = Phase()
    callbacks: list[float] = []
    counter = iter(range(10**9))
    stop = time.perf_counter() + seconds

    async def fan_stream() -> None:
        landing, sandbox = Http(cluster.landing_url), Http(cluster.sandbox_url)
        while time.perf_counter() < stop:
            await _one_grant(landing, sandbox, f"{prefix}-{next(counter)}", phase, callbacks)
        landing.close()
        sandbox.close()

    started = time.perf_counter()
    await asyncio.gather(*(fan_stream() for _ in range(at_once)))
    phase.seconds = time.perf_counter() - started
    return phase, callbacks


def steady(
    cluster: Cluster, seconds: float = STEADY_SECONDS, at_once: int = FANS_AT_ONCE
) -> tuple[Phase, list[float], int]:
    """As many grants as `at_once` fans, each starting again when done, make in `seconds`: the phase,
    the callbacks' latencies, and how many of these fans' grants the store holds afterwards."""
    prefix = f"steady{uuid.uuid4().hex[:6]}"
    phase, callbacks = run_coroutine(_closed_loop(cluster, seconds, at_once, prefix))
    return phase, callbacks, stored_grants(cluster.store, prefix)


async def _open_loop(cluster: Cluster, spike: Spike, prefix: str) -> None:
    slots = asyncio.Semaphore(IN_FLIGHT)
    tasks = []

    async def fan(n: int) -> None:
        async with slots:
            landing, sandbox = Http(cluster.landing_url), Http(cluster.sandbox_url)
            try:
                await _one_grant(landing, sandbox, f"{prefix}-{n}", spike.fans, spike.callbacks)
            except (ConnectionError, asyncio.IncompleteReadError):
                spike.fans.statuses[0] += 1  # the connection died: the fan saw no page
            finally:
                landing.close()
                sandbox.close()

    begin = time.perf_counter()
    n = 0
    while (now := time.perf_counter()) - begin < spike.seconds:
        due = int((now - begin) * spike.rate) + 1
        while n < due:
            tasks.append(asyncio.create_task(fan(n)))
            n += 1
        await asyncio.sleep(min(0.01, 1 / spike.rate))
    spike.started = n
    await asyncio.gather(*tasks)
    spike.elapsed_s = time.perf_counter() - begin


def spike(cluster: Cluster, rate: float, seconds: float) -> Spike:
    """Fans arriving at `rate` a second for `seconds` (open loop: arrivals do not wait for answers); the
    store is counted once every fan has finished."""
    found = Spike(rate=rate, seconds=seconds)
    prefix = f"spike{uuid.uuid4().hex[:6]}"
    run_coroutine(_open_loop(cluster, found, prefix))
    found.stored = stored_grants(cluster.store, prefix)
    return found


def run() -> None:
    server = os.environ.get("PRESAVE_TEST_POSTGRES_URL", DEFAULT_POSTGRES)
    one, five, _ = os.getloadavg()
    console.print(f"machine: {os.cpu_count()} cores, load average {one:.1f} (1 min), {five:.1f} (5 min)")
    table = Table(title=f"grants on PostgreSQL, {FANS_AT_ONCE} fans at once for {STEADY_SECONDS:.0f} s")
    for column in (
        "uvicorn workers",
        "grants",
        "grants/s",
        "flow p50 ms",
        "flow p99 ms",
        "callback p99 ms",
        "stored",
        "other answers",
    ):
        table.add_column(column, justify="right")
    for workers in WORKER_COUNTS:
        with console.status(f"{workers} worker(s)…"), landing_on_postgres(workers, server) as cluster:
            steady(cluster, seconds=1.0, at_once=4)  # warm-up: imports, pools, connections
            phase, callbacks, stored = steady(cluster)
            flow, back = _percentiles(phase.latencies), _percentiles(callbacks)
            others = ", ".join(f"{s}×{n}" for s, n in sorted(phase.statuses.items()) if s != 303) or "none"
            table.add_row(
                f"{workers}",
                f"{phase.done}",
                f"{phase.rate:,.1f}",
                f"{flow['p50']:.0f}",
                f"{flow['p99']:.0f}",
                f"{back['p99']:.0f}",
                f"{stored}",
                others,
            )
    console.print(table)
    rate = CAMPAIGN_RATE * SPIKE_FACTOR
    with (
        console.status(f"a launch spike: {rate:.0f} fans/s for {SPIKE_SECONDS:.0f} s…"),
        landing_on_postgres(SPIKE_WORKERS, server) as cluster,
    ):
        steady(cluster, seconds=1.0, at_once=4)
        found = spike(cluster, rate, SPIKE_SECONDS)
    flow, back = _percentiles(found.fans.latencies), _percentiles(found.callbacks)
    answers = ", ".join(f"{s}×{n}" for s, n in sorted(found.fans.statuses.items()))
    console.print(
        f"launch spike ({SPIKE_WORKERS} workers): {found.started} fans at {rate:.0f}/s "
        f"({SPIKE_FACTOR}× a steady {CAMPAIGN_RATE:.0f}/s) over {found.seconds:.0f} s, all answered after "
        f"{found.elapsed_s:.1f} s; grants stored {found.stored}, fans without one {found.lost}; "
        f"flow p50 {flow['p50']:.0f} ms p99 {flow['p99']:.0f} ms, callback p99 {back['p99']:.0f} ms; answers {answers}"
    )
