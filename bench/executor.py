"""Release-day executor: throughput, CPU per action, pacing under a rate limit, a plain spotipy loop beside
it, and peak memory at 100k and 1M grants.

The sandbox runs in its own process on loopback (`python -m sandbox --port 0`), the executor in others
(`python -m executor run`, with its shard processes), all on this machine. Grants are minted through the
sandbox's accounts flow (a pool of fans, reused across grants) and written to a temporary SQLite store.

(a) no rate limit: actions per second, executor CPU per action (coordinator and shards), sandbox CPU;
(b) the sandbox's rolling 30 s window on: achieved rate / allowed rate, share of calls answered 429;
(c) the same campaigns done by a plain loop over spotipy with its default retries;
(d) peak resident memory of planning and of running, at 100k and 1M grants;
(e) an independent stand-in with a small budget, random 429s and 502s, 5-second access tokens: the
    share of the allowed rate the executor reaches.

`PRESAVE_BENCH_SCALE` (default 1) multiplies the campaign sizes, e.g. 0.1 for a quick look;
`python -m bench.executor faults` runs (e) alone.
"""

from __future__ import annotations

import base64
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from cryptography.fernet import Fernet
from rich.console import Console
from rich.table import Table
from sqlalchemy import insert

ARTIST_ID = "4Z8W4fKeB5YxbusRsdQVPb"
REDIRECT_URI = "http://127.0.0.1:8000/oauth/spotify/callback"
SCOPES = "user-library-read user-library-modify user-follow-read user-follow-modify"
EXECUTOR_APP, LOOP_APP = "bench-executor", "bench-plain-loop"  # no rate limit
PACED_APP, PACED_LOOP_APP = "bench-executor-limited", "bench-plain-loop-limited"  # the rolling window on
APPS = (EXECUTOR_APP, LOOP_APP, PACED_APP, PACED_LOOP_APP)
FAULTS_APP = "bench-executor-faults"  # (e): its own sandbox, a rate limit, random 429s and 502s
FAULTS_BUDGET, FAULTS_FANS = 120, 100
APP_SECRETS = {app: f"sandbox-secret-{n}" for n, app in enumerate((*APPS, FAULTS_APP))}  # sandbox-only
WINDOW_S = 30.0
console = Console(width=150)


def _scale(n: int) -> int:
    return max(100, int(n * float(os.environ.get("PRESAVE_BENCH_SCALE", "1"))))


# the sandbox in its own process ------------------------------------------------------------------------
@dataclass
class SandboxProcess:
    process: subprocess.Popen[str]
    url: str
    env: dict[str, str]
    admin: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.admin = httpx.Client(base_url=self.url, timeout=60)

    def cpu_s(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def configure(self, patch: dict[str, Any]) -> None:
        self.admin.put("/sandbox/config", json=patch).raise_for_status()

    def summary(self, client_id: str) -> dict[str, Any]:
        summary: dict[str, Any] = self.admin.get(
            "/sandbox/spotify/calls/summary", params={"client_id": client_id}
        ).json()["api"]
        return summary


def bench_config(budget: int) -> dict[str, Any]:
    """Four apps: two without a rate limit, two with `budget` calls per rolling 30 s window each."""
    limited = (PACED_APP, PACED_LOOP_APP)
    return {
        "spotify": {
            "apps": [
                {"client_id": app, "client_secret": APP_SECRETS[app]}
                | ({"rate_budget": budget} if app in limited else {})
                for app in APPS
            ],
            "rate_budget": 100_000_000,
            "rate_window_s": WINDOW_S,
            "rotation": "never",
        },
        "inspection": {"call_log_limit": 2_000_000},
    }


def faults_config() -> dict[str, Any]:
    """An independent Spotify stand-in for (e): one app with `FAULTS_BUDGET` calls per rolling 30 s, random
    429s (Retry-After 2 s) and 502s, access tokens that live 5 s."""
    return {
        "seed": 7,
        "spotify": {
            "apps": [{"client_id": FAULTS_APP, "client_secret": APP_SECRETS[FAULTS_APP]}],
            "rate_budget": FAULTS_BUDGET,
            "rate_window_s": WINDOW_S,
            "access_token_lifetime_s": 5,
            "rotation": "never",
        },
        "faults": {
            "seed": 7,
            "services": ["spotify"],
            "throttle_share": 0.05,
            "throttle_retry_after_s": 2,
            "error_share": 0.05,
            "error_statuses": [502],
        },
    }


@contextmanager
def sandbox_process(folder: Path, config: dict[str, Any]) -> Iterator[SandboxProcess]:
    """The sandbox in a process of its own, configured by `config`."""
    path = folder / f"sandbox-{os.getpid()}-{len(list(folder.glob('sandbox-*.json')))}.json"
    path.write_text(json.dumps(config))
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--port", "0", "--config", str(path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    env: dict[str, str] = {}
    while "PRESAVE_DEEZER_API_URL" not in env:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError("the sandbox did not start")
        name, _, value = line.strip().partition("=")
        env[name] = value
    url = env["PRESAVE_SPOTIFY_API_URL"].removesuffix("/spotify/v1")
    served = SandboxProcess(process, url, env)
    for _ in range(100):
        try:
            served.admin.get("/sandbox/spotify/fans").raise_for_status()
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    try:
        yield served
    finally:
        served.admin.close()
        process.terminate()
        process.wait(timeout=10)


def mint_pool(sandbox: SandboxProcess, client_id: str, secret: str, fans: int) -> list[str]:
    """Access tokens of `fans` fans who authorized `client_id` (through the accounts flow)."""
    return [access for access, _ in mint_grants(sandbox, client_id, secret, fans)]


def mint_grants(sandbox: SandboxProcess, client_id: str, secret: str, fans: int) -> list[tuple[str, str]]:
    """Access and refresh tokens of `fans` fans who authorized `client_id` (through the accounts flow)."""
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    client = httpx.Client(base_url=sandbox.url, timeout=30, limits=httpx.Limits(max_connections=16))

    def one(number: int) -> tuple[str, str]:
        authorize = client.get(
            "/spotify/accounts/authorize",
            params={
                "client_id": client_id,
                "response_type": "code",
                "redirect_uri": REDIRECT_URI,
                "scope": SCOPES,
                "sandbox_fan": f"bench-fan-{number}",
            },
        )
        code = parse_qs(urlsplit(authorize.headers["location"]).query)["code"][0]
        answer = client.post(
            "/spotify/accounts/api/token",
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI},
            headers={"Authorization": f"Basic {basic}"},
        )
        answer.raise_for_status()
        return str(answer.json()["access_token"]), str(answer.json()["refresh_token"])

    with ThreadPoolExecutor(8) as pool:
        tokens = list(pool.map(one, range(fans)))
    client.close()
    return tokens


# the store ------------------------------------------------------------------------------------------------
@dataclass
class Bench:
    folder: Path
    sandbox: SandboxProcess
    key: str
    database_url: str
    tokens: dict[str, list[str]]  # per app: the pool of fans' access tokens
    album_uri: str = ""
    refresh: dict[str, list[str]] = field(default_factory=dict)  # per app: their refresh tokens, if kept

    def env(self, client_id: str = EXECUTOR_APP) -> dict[str, str]:
        """The executor's environment: the sandbox's endpoints, this app, the temporary store."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PRESAVE_")}
        env |= {k: v for k, v in self.sandbox.env.items() if k.startswith("PRESAVE_SPOTIFY")}
        env |= {
            "PRESAVE_SPOTIFY_CLIENT_ID": client_id,
            "PRESAVE_SPOTIFY_CLIENT_SECRET": APP_SECRETS[client_id],
            "PRESAVE_DATABASE_URL": self.database_url,
            "PRESAVE_SECRET_KEY": self.key,
            "PRESAVE_DATA_DIR": str(self.folder / "data"),
        }
        return env


def create_campaign(
    bench: Bench, slug: str, grants: int, *, follows_done: bool = True, app: str = EXECUTOR_APP
) -> None:
    """A campaign released a minute ago with `grants` Spotify grants (tokens from the pool, sealed once).
    With `follows_done`, each grant's artist follow is in the ledger as delivered, as the landing app leaves
    it: release day then owes one save per fan."""
    from campaigns.campaign_file import parse_campaign
    from campaigns.models import Grant, OwedAction
    from campaigns.registry import create_campaign as create
    from campaigns.store import Store
    from campaigns.vault import TokenVault

    store = Store.connect(bench.database_url)
    vault = TokenVault([bench.key])
    release_at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    spec = parse_campaign(
        {
            "slug": slug,
            "artist": "Nova Lane",
            "title": "Bench",
            "upc": "198880049999",
            "release_at": release_at.replace(tzinfo=None).isoformat(),
            "timezone": "UTC",
            "services": {"spotify": {"artist": f"spotify:artist:{ARTIST_ID}"}},
        }
    )
    with store.session() as session:
        campaign_id = create(session, spec).id
    sealed = [vault.seal(token) for token in bench.tokens[app]]
    refresh = [vault.seal(token) for token in bench.refresh.get(app, [])]
    expires = datetime.now(UTC) + (timedelta(0) if refresh else timedelta(minutes=55))
    now = datetime.now(UTC)
    chunk = 20_000
    for start in range(0, grants, chunk):
        rows: list[dict[str, Any]] = [
            {
                "campaign_id": campaign_id,
                "service": "spotify",
                "service_user_id": f"{slug}-{n}",
                "fan_key": f"{n:032x}",
                "access_token": sealed[n % len(sealed)],
                "refresh_token": refresh[n % len(refresh)] if refresh else None,
                "token_expires_at": expires,
                "scopes": SCOPES,
                "granted_at": now,
                "status": "active",
                "choices": {},
                "created_at": now,
                "updated_at": now,
            }
            for n in range(start, min(grants, start + chunk))
        ]
        with store.engine.begin() as connection:
            ids = connection.execute(insert(Grant).returning(Grant.id), rows).scalars().all()
            if follows_done:
                connection.execute(
                    insert(OwedAction),
                    [
                        {
                            "campaign_id": campaign_id,
                            "grant_id": grant_id,
                            "service": "spotify",
                            "kind": "follow_artist",
                            "target": f"spotify:artist:{ARTIST_ID}",
                            "due_at": now,
                            "outcome": "delivered",
                            "attempts": 1,
                            "done_at": now,
                            "created_at": now,
                        }
                        for grant_id in ids
                    ],
                )
    store.dispose()


@dataclass
class Run:
    label: str
    actions: int
    wall_s: float
    work_s: float
    cpu_s: float
    sandbox_cpu_s: float
    calls: int
    throttled: int
    failed: int
    queued: int = 0
    peak_rss_mb: float = 0.0
    work_cpu_s: float | None = (
        None  # the executor's workers while performing (start-up and planning excluded)
    )

    @property
    def rate(self) -> float:
        return self.actions / self.work_s if self.work_s else 0.0


def _api_calls(bench: Bench, client_id: str, since: str) -> list[dict[str, Any]]:
    calls = bench.sandbox.admin.get(
        "/sandbox/spotify/calls", params={"client_id": client_id, "since": since}
    ).json()["calls"]
    return [c for c in calls if c["service"] == "spotify"]


def _times(calls: list[dict[str, Any]]) -> list[float]:
    return [datetime.fromisoformat(c["time"].replace("Z", "+00:00")).timestamp() for c in calls]


def run_executor(
    bench: Bench,
    slug: str,
    label: str,
    *,
    shards: int,
    threads: int,
    app: str = EXECUTOR_APP,
    undone_ok: bool = False,
) -> tuple[list[dict[str, Any]], Run]:
    since = datetime.now(UTC).isoformat()
    sandbox_cpu = bench.sandbox.cpu_s()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "executor", "run", slug, "--shards", str(shards), "--threads", str(threads)],
        env=bench.env(app),
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0 and not (undone_ok and "left undone" in done.stderr):
        raise RuntimeError(f"the executor failed: {done.stderr[-2000:]}")
    performed = int(done.stdout.split("performed ", 1)[1].split(",", 1)[0])
    work_cpu = float(done.stdout.split("worker CPU ", 1)[1].split(" s", 1)[0])
    outcomes = dict(line.split("\t") for line in done.stdout.splitlines() if "\t" in line)
    calls = _api_calls(bench, app, since)
    writes = [c for c in calls if c["method"] == "PUT"]
    times = _times(writes)
    return calls, Run(
        label,
        actions=performed,
        wall_s=wall,
        work_s=(max(times) - min(times)) if times else wall,
        cpu_s=(after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
        sandbox_cpu_s=bench.sandbox.cpu_s() - sandbox_cpu,
        calls=len(calls),
        throttled=sum(1 for c in calls if c["status"] == 429),
        failed=int(outcomes.get("failed", 0)),
        queued=int(outcomes.get("queued", 0)),
        peak_rss_mb=after.ru_maxrss / 1024,
        work_cpu_s=work_cpu,
    )


def run_plain_loop(
    bench: Bench, grants: int, label: str, app: str = LOOP_APP
) -> tuple[list[dict[str, Any]], Run]:
    """What a label would write without the executor: one loop, spotipy's defaults (3 retries that sleep
    the whole Retry-After), one save per fan (the follows were done when the fans granted)."""
    import logging

    import spotipy

    logging.getLogger("spotipy").setLevel(logging.CRITICAL)
    api = bench.sandbox.env["PRESAVE_SPOTIFY_API_URL"]
    since = datetime.now(UTC).isoformat()
    sandbox_cpu = bench.sandbox.cpu_s()
    cpu = time.process_time()
    started = time.perf_counter()
    delivered = failed = 0
    for n in range(grants):
        pool = bench.tokens[app]
        sp = spotipy.Spotify(auth=pool[n % len(pool)])
        sp.prefix = f"{api}/"
        try:
            sp.current_user_saved_albums_add([bench.album_uri])
            delivered += 1
        except (spotipy.SpotifyException, OSError, ValueError):
            failed += 1
    wall = time.perf_counter() - started
    calls = _api_calls(bench, app, since)
    times = _times(calls)
    return calls, Run(
        label,
        actions=delivered,
        wall_s=wall,
        work_s=(max(times) - min(times)) if times else wall,
        cpu_s=time.process_time() - cpu,
        sandbox_cpu_s=bench.sandbox.cpu_s() - sandbox_cpu,
        calls=len(calls),
        throttled=sum(1 for c in calls if c["status"] == 429),
        failed=failed,
    )


# (d) memory -------------------------------------------------------------------------------------------------
def _phase(bench: Bench, phase: str, slug: str, seconds: float = 0.0) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.executor", phase, slug, str(seconds)],
        env=bench.env(),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench phase {phase} failed: {done.stderr[-2000:]}")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def phase_main(phase: str, slug: str, seconds: float) -> None:
    """In a fresh process: plan the campaign, or run it for `seconds`; print the peak resident memory."""
    from campaigns.registry import get_campaign
    from campaigns.settings import load_settings
    from campaigns.store import Store
    from campaigns.vault import TokenVault
    from executor.plan import plan_campaign
    from executor.release import ReleaseOptions, run_release
    from services import apps_from_settings

    settings = load_settings()
    store = Store.connect(settings.resolved_database_url)
    started = time.perf_counter()
    result: dict[str, Any] = {}
    if phase == "plan":
        with store.session() as session:
            campaign = get_campaign(session, slug)
        result["planned"] = plan_campaign(store, campaign)
    else:
        apps = apps_from_settings(settings)
        report = run_release(
            store,
            TokenVault(settings.secret_keys()),
            apps,
            slug,
            options=ReleaseOptions(shards=1, threads=16, time_limit=timedelta(seconds=seconds)),
        )
        result["done"] = report.performed
    result["seconds"] = time.perf_counter() - started
    status = Path("/proc/self/status").read_text()
    result["peak_rss_mb"] = int(status.split("VmHWM:")[1].split()[0]) / 1024
    print(json.dumps(result))


# the report -------------------------------------------------------------------------------------------------
def _runs_table(title: str, runs: list[Run]) -> Table:
    table = Table(title=title)
    for column in (
        "how",
        "actions",
        "actions/s",
        "wall s",
        "CPU ms/action: all",
        "performing",
        "sandbox CPU ms/call",
        "calls",
        "429s",
        "failed",
    ):
        table.add_column(column, justify="left" if column == "how" else "right")
    for run in runs:
        table.add_row(
            run.label,
            f"{run.actions:,}",
            f"{run.rate:,.0f}",
            f"{run.wall_s:.1f}",
            f"{1000 * run.cpu_s / max(run.actions, 1):.2f}",
            f"{1000 * (run.work_cpu_s if run.work_cpu_s is not None else run.cpu_s) / max(run.actions, 1):.2f}",
            f"{1000 * run.sandbox_cpu_s / max(run.calls, 1):.2f}",
            f"{run.calls:,}",
            f"{run.throttled:,} ({run.throttled / max(run.calls, 1):.1%})",
            f"{run.failed:,}",
        )
    return table


def _limited_row(run: Run, calls: list[dict[str, Any]], budget: int) -> tuple[str, ...]:
    """Successful calls in windows 2 and 3 of the run (the first window starts empty, so anything may burst
    through it) against the 2 × budget a rolling window allows there; 429s over the whole run."""
    allowed = budget / WINDOW_S
    times = _times(calls)
    if not times:
        return (run.label, f"{allowed:.0f}", "-", "-", "-", "-")
    start = min(times)
    ok = _times([c for c in calls if c["status"] < 400])
    steady = sum(1 for t in ok if start + WINDOW_S <= t < start + 3 * WINDOW_S) / (2 * budget)
    first = sum(1 for t in ok if t < start + WINDOW_S) / budget
    return (
        run.label,
        f"{allowed:.0f}",
        f"{steady:.3f}",
        f"{first:.2f}",
        f"{run.throttled:,} of {run.calls:,} ({run.throttled / max(run.calls, 1):.2%})",
        f"{run.wall_s:.0f}",
    )


# (e) faults -------------------------------------------------------------------------------------------------
def run_faults(folder: Path) -> None:
    """(e) Release day at an independent stand-in's limit with random 429s and 502s and 5-second access
    tokens: `FAULTS_FANS` fans, each owing the artist follow (checked right after) and the save. The executor
    is run again while actions are left queued (as its schedule would); the share of the allowed rate is
    the Web API calls (every one counts in the window) over what the window allows in the runs' wall time."""
    folder = folder / "faults"
    folder.mkdir()
    with sandbox_process(folder, faults_config()) as sandbox:
        release = _bench_release(sandbox)
        with console.status("(e) minting fans' tokens"):
            grants = mint_grants(sandbox, FAULTS_APP, APP_SECRETS[FAULTS_APP], FAULTS_FANS)
        bench = Bench(
            folder,
            sandbox,
            Fernet.generate_key().decode(),
            f"sqlite:///{folder / 'presave.db'}",
            {FAULTS_APP: [access for access, _ in grants]},
            release["spotify"]["uri"],
            {FAULTS_APP: [refresh for _, refresh in grants]},
        )
        create_campaign(bench, "bench-faults", FAULTS_FANS, follows_done=False, app=FAULTS_APP)
        calls: list[dict[str, Any]] = []
        runs: list[Run] = []
        with console.status(f"(e) executor: {FAULTS_FANS} fans, {FAULTS_BUDGET} calls per 30 s, faults on"):
            while not runs or (runs[-1].queued and len(runs) < 20):
                more, one = run_executor(
                    bench, "bench-faults", "faults", shards=1, threads=16, app=FAULTS_APP, undone_ok=True
                )
                calls += [c for c in more if "/accounts/" not in c["path"]]
                runs.append(one)
        wall = sum(one.wall_s for one in runs)
        times = _times(calls)
        span = max(times) - min(times) if times else wall
        allowed = FAULTS_BUDGET / WINDOW_S
        statuses = [c["status"] for c in calls]
        saves = sum(1 for c in calls if c["method"] == "PUT" and c["status"] == 200)
        table = Table(
            title=f"(e) faults: {FAULTS_BUDGET} calls per {WINDOW_S:.0f} s, 5% random 429 (Retry-After 2 s), "
            f"5% 502, 5 s access tokens; {FAULTS_FANS} fans owing a follow and a save"
        )
        for column in (
            "runs",
            "calls",
            "wall s",
            "share of allowed rate (wall)",
            "(calls' span)",
            "429s",
            "of them the window's",
            "502s",
            "writes answered 200",
            "failed",
        ):
            table.add_column(column, justify="right")
        table.add_row(
            f"{len(runs)}",
            f"{len(calls):,}",
            f"{wall:.0f}",
            f"{len(calls) / (allowed * wall):.2f}",
            f"{len(calls) / (allowed * span):.2f}" if span else "-",
            f"{statuses.count(429)}",
            f"{sum(1 for c in calls if c['fault'] == 'rate_limited')}",
            f"{statuses.count(502)}",
            f"{saves}",
            f"{sum(one.failed for one in runs)}",
        )
        console.print(table)


def _bench_release(sandbox: SandboxProcess) -> dict[str, Any]:
    answer = sandbox.admin.post(
        "/sandbox/releases",
        json={
            "upc": "198880049999",
            "title": "Bench",
            "artist": {"name": "Nova Lane", "spotify_id": ARTIST_ID},
            "release_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
            "tracks": [{"title": "One", "isrc": "QZWFV2699991", "duration_ms": 200000}],
        },
    )
    answer.raise_for_status()
    return dict(answer.json())


def run() -> None:
    budget = _scale(1500)  # calls per 30 s for the limited apps (50 calls/s)
    with tempfile.TemporaryDirectory(prefix="presave-bench-") as tmp:
        folder = Path(tmp)
        with sandbox_process(folder, bench_config(budget)) as sandbox:
            release = _bench_release(sandbox)
            pool = _scale(1000)
            with console.status("minting fans' tokens through the sandbox's accounts flow"):
                tokens = {app: mint_pool(sandbox, app, APP_SECRETS[app], pool) for app in APPS}
            bench = Bench(
                folder,
                sandbox,
                Fernet.generate_key().decode(),
                f"sqlite:///{folder / 'presave.db'}",
                tokens,
                release["spotify"]["uri"],
            )
            console.print(
                f"sandbox in its own process (pid {sandbox.process.pid}) on {sandbox.url}; "
                f"{pool:,} fans per app, reused across grants; {os.cpu_count()} cores; "
                f"load average {os.getloadavg()[0]:.1f} at start"
            )

            # (a) and (c): no rate limit --------------------------------------------------------------
            fast = _scale(12_000)
            create_campaign(bench, "bench-fast", fast)
            with console.status(f"(a) executor: {fast:,} grants, no rate limit"):
                _, inline = run_executor(
                    bench, "bench-fast", "executor, 1 process × 16 threads", shards=1, threads=16
                )
            create_campaign(bench, "bench-fast-2", fast)
            with console.status(f"(a) executor: {fast:,} grants, 2 shard processes"):
                _, sharded = run_executor(
                    bench, "bench-fast-2", "executor, 2 shard processes × 16 threads", shards=2, threads=16
                )
            with console.status(f"(c) plain spotipy loop: {fast:,} grants"):
                _, loop = run_plain_loop(bench, fast, "plain spotipy loop (default retries)")
            console.print(
                _runs_table(
                    f"(a)+(c) no rate limit: {fast:,} grants, one save each. actions/s over the calls' span; "
                    "CPU per action: all the executor's processes (start-up and planning included), "
                    "then the workers while performing",
                    [inline, sharded, loop],
                )
            )

            # (b) and (c): the rolling window ----------------------------------------------------------
            limited = max(300, int(budget * 3.4))  # more than three windows' worth: busy through window 3
            create_campaign(bench, "bench-limited", limited, app=PACED_APP)
            with console.status(f"(b) executor: {limited:,} grants, {budget:,} calls per {WINDOW_S:.0f} s"):
                paced_calls, paced = run_executor(
                    bench,
                    "bench-limited",
                    "executor (AIMD, shared pause)",
                    shards=1,
                    threads=16,
                    app=PACED_APP,
                )
            with console.status(f"(c) plain spotipy loop: {limited:,} grants, same limit"):
                plain_calls, plain = run_plain_loop(
                    bench, limited, "plain spotipy loop (default retries)", app=PACED_LOOP_APP
                )
            table = Table(
                title=f"(b)+(c) rolling window: {budget:,} calls per {WINDOW_S:.0f} s per app, "
                f"{limited:,} grants, one save each"
            )
            for column in (
                "how",
                "allowed calls/s",
                "achieved / allowed (windows 2-3)",
                "first window / budget",
                "429s (whole run)",
                "wall s",
            ):
                table.add_column(column, justify="left" if column == "how" else "right")
            table.add_row(*_limited_row(paced, paced_calls, budget))
            table.add_row(*_limited_row(plain, plain_calls, budget))
            console.print(table)
            run_faults(folder)

            # (d): memory ------------------------------------------------------------------------------
            memory = Table(
                title="(d) peak resident memory, a fresh process per phase (SQLite store; "
                "planning writes a save and an artist follow per grant)"
            )
            for column in (
                "grants",
                "plan: actions",
                "plan s",
                "plan peak MB",
                "run 20 s: actions",
                "run peak MB",
            ):
                memory.add_column(column, justify="right")
            for grants in (_scale(100_000), _scale(1_000_000)):
                slug = f"bench-memory-{grants}"
                with console.status(f"(d) {grants:,} grants: writing them"):
                    create_campaign(bench, slug, grants, follows_done=False)
                with console.status(f"(d) {grants:,} grants: planning"):
                    planned = _phase(bench, "plan", slug)
                with console.status(f"(d) {grants:,} grants: running for 20 s"):
                    ran = _phase(bench, "run", slug, 20.0)
                memory.add_row(
                    f"{grants:,}",
                    f"{planned['planned']:,}",
                    f"{planned['seconds']:.1f}",
                    f"{planned['peak_rss_mb']:.0f}",
                    f"{ran['done']:,}",
                    f"{ran['peak_rss_mb']:.0f}",
                )
            console.print(memory)


def run_faults_alone() -> None:
    with tempfile.TemporaryDirectory(prefix="presave-bench-") as tmp:
        run_faults(Path(tmp))


if __name__ == "__main__":
    if sys.argv[1:] == ["faults"]:
        run_faults_alone()
    else:
        phase_main(sys.argv[1], sys.argv[2], float(sys.argv[3]))
