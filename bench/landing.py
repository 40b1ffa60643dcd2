"""Landing app, with 1 and with 2 uvicorn workers: page views per second with latency percentiles,
grants per second through the OAuth callback against the sandbox (the capture-first callback: the grant,
the state's use and the owed actions in one transaction, then `/me` and the artist follow through the
shared pacing), the callback's p50/p99, CPU per view and per grant, and a burst of grants with every one
of them counted in the store. `make bench BENCH=landing`.

The landing app and the sandbox run in their own processes on loopback, on a fresh SQLite store in a
temporary directory per worker count (the pacing shared in its `app_pacing` table); the load comes from one asyncio process speaking plain HTTP/1.1
over keep-alive connections, so the client costs little of the machine's CPU. Figures are printed,
never asserted.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography.fernet import Fernet
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from campaigns.campaign_file import parse_campaign
from campaigns.models import Grant, LandingEvent, Outcome, OwedAction
from campaigns.registry import create_campaign
from campaigns.store import Store
from presave.processes import free_port

WORKERS = 2
WORKER_COUNTS = (1, 2)  # each measured on its own store and sandbox
SLUG = "midnight-drive"
ARTIST = "4Z8W4fKeB5YxbusRsdQVPb"
PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"
console = Console(width=170)


class Http:
    """One keep-alive HTTP/1.1 connection: GET only, bodies by Content-Length (all the landing app sends)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, target: str, headers: str = "") -> tuple[int, dict[str, str]]:
        for attempt in (1, 2):
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            try:
                return await self._exchange(target, headers)
            except (ConnectionError, asyncio.IncompleteReadError):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _exchange(self, target: str, headers: str) -> tuple[int, dict[str, str]]:
        assert self.reader is not None
        assert self.writer is not None
        self.writer.write(f"GET {target} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{headers}\r\n".encode())
        head = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        found = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            found[name.strip().lower()] = value.strip()
        await self.reader.readexactly(int(found.get("content-length", "0")))
        if found.get("connection", "").lower() == "close":
            self.close()
        return int(head[0].split(" ", 2)[1]), found

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


@dataclass(frozen=True)
class Sizes:
    """How long and how wide each phase is (the test runs them tiny)."""

    view_s: float = 8.0
    view_connections: int = 64
    grant_s: float = 8.0
    grant_fans_at_once: int = 32
    burst_fans: int = 600
    burst_at_once: int = 200
    warm_up_s: float = 1.0


def _percentiles(latencies: list[float]) -> dict[str, float]:
    if len(latencies) < 2:
        return {"p50": float("nan"), "p90": float("nan"), "p99": float("nan"), "max": float("nan")}
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return {"p50": cuts[49] * 1e3, "p90": cuts[89] * 1e3, "p99": cuts[98] * 1e3, "max": max(latencies) * 1e3}


@dataclass
class Phase:
    done: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    cpu_s: float = 0.0
    sandbox_cpu_s: float = 0.0

    @property
    def rate(self) -> float:
        return self.done / self.seconds if self.seconds else 0.0


# the processes -----------------------------------------------------------------------------------------
def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children (uvicorn's master and workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for proc in [pid, *_children(pid)]:
        try:
            fields = Path(f"/proc/{proc}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _peak_rss_mb(pid: int) -> float:
    peak = 0
    for proc in _children(pid) or [pid]:
        try:
            for line in Path(f"/proc/{proc}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except OSError:
            continue
    return peak / 1024


def run_coroutine(coroutine: Any) -> Any:
    """`asyncio.run`, in a thread of its own when the calling thread already runs an event loop (a test
    runner's worker may, after another test left one)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _wait_up(url: str, path: str, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """Wait for a child server to answer; synchronous, so it works whether or not the caller's thread
    already runs an event loop (a test runner's may)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with status {process.returncode}")
        try:
            if httpx.get(f"{url}{path}", timeout=2.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up within {timeout:.0f} s")


def _start_sandbox(
    tmp: Path, *, call_log_limit: int = 10_000, record_bodies: bool = False
) -> tuple[subprocess.Popen[bytes], dict[str, str], str]:
    config = tmp / "sandbox.json"
    inspection = {"call_log_limit": call_log_limit, "record_bodies": record_bodies}
    # Spotify's real limit is per app and unpublished; here it must not be what is measured.
    config.write_text(json.dumps({"spotify": {"rate_budget": 10**9}, "inspection": inspection}))
    port = free_port(0)
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--port", str(port), "--config", str(config)],
        stdout=subprocess.PIPE,
    )
    assert process.stdout is not None
    env: dict[str, str] = {}
    while len(env) < 13:
        line = process.stdout.readline().decode().strip()
        if not line:
            raise RuntimeError("the sandbox printed no configuration")
        name, _, value = line.partition("=")
        env[name] = value
    url = f"http://127.0.0.1:{port}"
    _wait_up(url, "/sandbox/healthz", process)
    return process, env, url


def landing_settings(
    tmp: Path, sandbox_env: dict[str, str], database_url: str, landing_url: str
) -> dict[str, str]:
    """The landing app's environment for a run: the sandbox's endpoints, a data folder in `tmp`, a new
    secret key and pseudonym secret, and no per-address rate limit (one loopback address plays every fan)."""
    return {
        **sandbox_env,
        "PRESAVE_DATA_DIR": str(tmp / "data"),
        "PRESAVE_DATABASE_URL": database_url,
        "PRESAVE_SECRET_KEY": Fernet.generate_key().decode(),
        "PRESAVE_PUBLIC_URL": landing_url,
        "PRESAVE_PSEUDONYM_KEY": secrets.token_urlsafe(32),
        "PRESAVE_LANDING_RATE_LIMIT": "0",
    }


def seed_campaign(store: Store, **file_fields: Any) -> None:
    """The campaign the benchmark's fans pre-save (Spotify), with `file_fields` of its campaign file added."""
    spec = {
        "slug": SLUG,
        "artist": "Nova Lane",
        "title": "Midnight Drive",
        "upc": "198880045560",
        "release_at": "2030-12-04T00:00",
        "timezone": "Europe/London",
        "services": {"spotify": {"artist": f"spotify:artist:{ARTIST}"}},
    }
    with store.session() as session:
        create_campaign(session, parse_campaign(spec | file_fields))


def start_landing(
    env: dict[str, str], port: int, *, workers: int = WORKERS, proxy_headers: bool = False
) -> subprocess.Popen[bytes]:
    """`workers` uvicorn workers of the landing app on loopback `port`."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "collectors.landing.asgi:app",
            "--factory",
            "--workers",
            str(workers),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--proxy-headers" if proxy_headers else "--no-proxy-headers",
            "--log-level",
            "warning",
            "--backlog",
            "4096",
        ],
        env={**os.environ, **env},
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)  # graceful: each worker writes its queued events before it exits
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# the load ----------------------------------------------------------------------------------------------
async def _views(landing: str, seconds: float, phase: Phase, connections: int) -> None:
    target = f"/{SLUG}?utm_source=bench&utm_medium=load"
    headers = f"User-Agent: {PHONE}\r\nCF-IPCountry: GB\r\nReferer: https://l.instagram.com/\r\n"

    async def visitor() -> None:
        http = Http(landing)
        while time.perf_counter() < stop:
            started = time.perf_counter()
            status, _ = await http.get(target, headers)
            phase.latencies.append(time.perf_counter() - started)
            phase.statuses[status] += 1
            phase.done += status == 200
        http.close()

    stop = time.perf_counter() + seconds
    started = time.perf_counter()
    await asyncio.gather(*(visitor() for _ in range(connections)))
    phase.seconds = time.perf_counter() - started


async def _one_grant(
    landing: Http, sandbox: Http, fan: str, phase: Phase, callback: list[float], service: str = "spotify"
) -> None:
    """One fan through the connect button, the service's authorization (the sandbox's, as `fan`) and the
    callback; a 303 to the done page counts as done."""
    started = time.perf_counter()
    # the browser's binding cookie, as a browser sends it back (the state is bound to it)
    browser = f"User-Agent: {PHONE}\r\nCookie: psv_auth=bench-{fan:0>26}\r\n"
    status, headers = await landing.get(f"/{SLUG}/connect/{service}?utm_source=bench", browser)
    if status != 302:
        phase.statuses[status] += 1
        return
    authorize = urlsplit(headers["location"])
    status, headers = await sandbox.get(f"{authorize.path}?{authorize.query}&sandbox_fan={fan}")
    if status not in (302, 303):
        phase.statuses[1000 + status] += 1  # the sandbox's answer, told apart from the landing app's
        return
    back = urlsplit(headers["location"])
    call_started = time.perf_counter()
    status, _ = await landing.get(f"{back.path}?{back.query}", browser)
    now = time.perf_counter()
    phase.statuses[status] += 1
    if status == 303:
        phase.done += 1
        phase.latencies.append(now - started)
        callback.append(now - call_started)


async def _grants_steady(
    landing: str, sandbox: str, seconds: float, phase: Phase, callback: list[float], at_once: int
) -> None:
    counter = iter(range(10**9))

    async def fan_stream() -> None:
        landing_http, sandbox_http = Http(landing), Http(sandbox)
        while time.perf_counter() < stop:
            await _one_grant(landing_http, sandbox_http, f"steady-{next(counter)}", phase, callback)
        landing_http.close()
        sandbox_http.close()

    stop = time.perf_counter() + seconds
    started = time.perf_counter()
    await asyncio.gather(*(fan_stream() for _ in range(at_once)))
    phase.seconds = time.perf_counter() - started


async def _grants_burst(
    landing: str,
    sandbox: str,
    phase: Phase,
    callback: list[float],
    sizes: Sizes,
    prefix: str = "burst",
    service: str = "spotify",
) -> None:
    """`sizes.burst_fans` fans granting on `service`, `sizes.burst_at_once` at a time (fans `<prefix>-<n>`)."""
    pending = iter(range(sizes.burst_fans))

    async def lane() -> None:
        landing_http, sandbox_http = Http(landing), Http(sandbox)
        for n in pending:
            await _one_grant(landing_http, sandbox_http, f"{prefix}-{n}", phase, callback, service)
        landing_http.close()
        sandbox_http.close()

    started = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(sizes.burst_at_once)))
    phase.seconds = time.perf_counter() - started


def _measure(pid: int, phase: Phase, load: object, sandbox_pid: int | None = None) -> None:
    before = _cpu_seconds(pid)
    sandbox_before = _cpu_seconds(sandbox_pid) if sandbox_pid else 0.0
    run_coroutine(load)
    phase.cpu_s = _cpu_seconds(pid) - before
    phase.sandbox_cpu_s = (_cpu_seconds(sandbox_pid) - sandbox_before) if sandbox_pid else 0.0


# the report --------------------------------------------------------------------------------------------
def _counts(store: Store) -> dict[str, int]:
    """Events by kind, grants (all, of the steady and burst fans, still waiting for `/me`), and the
    grant-time actions the callbacks left owed to the executor."""
    with store.session() as session:
        kinds = dict(
            session.execute(select(LandingEvent.kind, func.count()).group_by(LandingEvent.kind)).all()
        )
        grants = session.scalar(select(func.count()).select_from(Grant)) or 0
        steady = session.scalar(select(func.count()).where(Grant.service_user_id.like("steady-%"))) or 0
        burst = session.scalar(select(func.count()).where(Grant.service_user_id.like("burst-%"))) or 0
        pending = session.scalar(select(func.count()).where(Grant.service_user_id.like("pending:%"))) or 0
        owed = (
            session.scalar(
                select(func.count()).select_from(OwedAction).where(OwedAction.outcome == Outcome.QUEUED)
            )
            or 0
        )
    return {**kinds, "grants": grants, "steady": steady, "burst": burst, "pending": pending, "owed": owed}


@dataclass
class Measured:
    """One configuration's figures: the three phases, the callbacks' own latencies, what the store holds
    after shutdown, and the peak resident memory of a landing worker."""

    workers: int
    sizes: Sizes
    views: Phase
    steady: Phase
    burst: Phase
    callbacks: dict[str, list[float]]
    counts: dict[str, int]
    rss_mb: float


def views_table(results: list[Measured]) -> Table:
    connections = results[0].sizes.view_connections if results else 0
    table = Table(title=f"landing page views ({connections} connections, {os.cpu_count()} cores)")
    for column in (
        "workers",
        "views",
        "views/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "CPU ms/view",
        "non-200",
        "visit events stored (with warm-up)",
    ):
        table.add_column(column, justify="right")
    for result in results:
        views, counts = result.views, result.counts
        cuts = _percentiles(views.latencies)
        table.add_row(
            f"{result.workers}",
            f"{views.done}",
            f"{views.rate:,.0f}",
            f"{cuts['p50']:.1f}",
            f"{cuts['p90']:.1f}",
            f"{cuts['p99']:.1f}",
            f"{cuts['max']:.1f}",
            f"{views.cpu_s / max(views.done, 1) * 1e3:.2f}",
            f"{sum(n for s, n in views.statuses.items() if s != 200)}",
            f"{counts.get('visit', 0)} of {counts['visits_served']}",
        )
    return table


def grants_table(results: list[Measured]) -> Table:
    table = Table(
        title="grants through the Spotify callback against the sandbox (capture first: the grant, the "
        "state's use and the owed actions in one transaction, then /me and the follow)"
    )
    for column in (
        "workers",
        "phase",
        "fans at once",
        "grants",
        "grants/s",
        "flow p50 ms",
        "flow p99 ms",
        "callback p50 ms",
        "callback p99 ms",
        "CPU ms/grant",
        "sandbox CPU ms/grant",
        "in the store",
        "lost",
        "other answers",
    ):
        table.add_column(column, justify="right")
    for result in results:
        sizes = result.sizes
        for name, phase, at_once in (
            ("steady", result.steady, sizes.grant_fans_at_once),
            ("burst", result.burst, sizes.burst_at_once),
        ):
            stored = result.counts[name]
            flow, back = _percentiles(phase.latencies), _percentiles(result.callbacks[name])
            others = ", ".join(f"{s}×{n}" for s, n in sorted(phase.statuses.items()) if s != 303) or "none"
            table.add_row(
                f"{result.workers}",
                name,
                f"{at_once}",
                f"{phase.done}",
                f"{phase.rate:,.0f}",
                f"{flow['p50']:.0f}",
                f"{flow['p99']:.0f}",
                f"{back['p50']:.0f}",
                f"{back['p99']:.0f}",
                f"{phase.cpu_s / max(phase.done, 1) * 1e3:.1f}",
                f"{phase.sandbox_cpu_s / max(phase.done, 1) * 1e3:.1f}",
                f"{stored}",
                f"{phase.done - stored}",
                others,
            )
    return table


def store_lines(results: list[Measured]) -> list[str]:
    """What each configuration's store holds after shutdown, and its workers' peak memory."""
    lines = []
    for result in results:
        counts = result.counts
        lines.append(
            f"{result.workers} worker(s), after shutdown: events visit {counts.get('visit', 0)}, "
            f"click {counts.get('click', 0)}, authorize_start {counts.get('authorize_start', 0)}, "
            f"grant {counts.get('grant', 0)}; grants stored {counts['grants']} "
            f"({counts['pending']} still waiting for /me), grant-time actions left owed {counts['owed']}; "
            f"peak RSS of a landing worker {result.rss_mb:.0f} MB"
        )
    return lines


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.1f} (1 min), {five:.1f} (5 min)"


def measure(workers: int, sizes: Sizes) -> Measured:
    """The landing app on `workers` uvicorn workers, SQLite and the sandbox, each in its own process:
    page views, then steady grants, then a burst; the store counted after a graceful shutdown."""
    with tempfile.TemporaryDirectory(prefix="presave-bench-landing-") as name:
        tmp = Path(name)
        sandbox, sandbox_env, sandbox_url = _start_sandbox(tmp)
        port = free_port(0)
        landing_url = f"http://127.0.0.1:{port}"
        env = landing_settings(tmp, sandbox_env, f"sqlite:///{tmp / 'presave.db'}", landing_url)
        env["PRESAVE_COUNTRY_HEADER"] = "CF-IPCountry"
        store = Store.connect(env["PRESAVE_DATABASE_URL"])
        seed_campaign(
            store,
            services={"spotify": {"artist": f"spotify:artist:{ARTIST}"}, "deezer": {"artist_id": "27"}},
            preorder_links={"itunes": "https://itunes.example/album/1"},
        )
        run_coroutine(_admin_artist(sandbox_url))
        landing = start_landing(env, port, workers=workers)
        try:
            _wait_up(landing_url, "/healthz", landing)
            warm_up = Phase()
            # imports, caches, connections
            run_coroutine(_views(landing_url, sizes.warm_up_s, warm_up, sizes.view_connections))
            views, steady, burst = Phase(), Phase(), Phase()
            callbacks: dict[str, list[float]] = {"steady": [], "burst": []}
            with console.status(f"{workers} worker(s): page views…"):
                _measure(landing.pid, views, _views(landing_url, sizes.view_s, views, sizes.view_connections))
            with console.status(f"{workers} worker(s): grants, steady…"):
                _measure(
                    landing.pid,
                    steady,
                    _grants_steady(
                        landing_url,
                        sandbox_url,
                        sizes.grant_s,
                        steady,
                        callbacks["steady"],
                        sizes.grant_fans_at_once,
                    ),
                    sandbox.pid,
                )
            with console.status(f"{workers} worker(s): a burst of {sizes.burst_fans} grants…"):
                _measure(
                    landing.pid,
                    burst,
                    _grants_burst(landing_url, sandbox_url, burst, callbacks["burst"], sizes),
                    sandbox.pid,
                )
            rss = _peak_rss_mb(landing.pid)
        finally:
            _stop(landing)
            sandbox.terminate()
            sandbox.wait(timeout=30)
        counts = _counts(store)
        store.dispose()
    counts["visits_served"] = warm_up.done + views.done
    return Measured(workers, sizes, views, steady, burst, callbacks, counts, rss)


def run() -> None:
    console.print(f"machine: {os.cpu_count()} cores, load average before the run {_load()}")
    sizes = Sizes()
    results = [measure(workers, sizes) for workers in WORKER_COUNTS]
    console.print(views_table(results))
    console.print(grants_table(results))
    for line in store_lines(results):
        console.print(line)
    console.print(f"load average after the run {_load()} (other processes share these cores)")


async def _admin_artist(sandbox_url: str) -> None:
    reader, writer = await asyncio.open_connection(*urlsplit(sandbox_url).netloc.split(":"))
    body = json.dumps({"name": "Nova Lane", "spotify_id": ARTIST}).encode()
    host = urlsplit(sandbox_url).netloc
    writer.write(
        f"POST /sandbox/artists HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body
    )
    await reader.read()
    writer.close()
