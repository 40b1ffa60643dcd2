"""Many fans against the landing app in its own processes: the sandbox and the landing app served as an
operator serves them (`python -m sandbox`, `presave landing` or uvicorn's workers), fans as async HTTP
clients, each with a cookie jar of their own, going through the real OAuth flow and starting again from
the campaign page whenever a request of theirs fails (as a fan would)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlencode, urlsplit

import httpx
from cryptography.fernet import Fernet
from sqlalchemy import select

from campaigns.models import Grant, OwedAction
from campaigns.settings import Settings
from campaigns.store import Store
from presave.processes import free_port
from sandbox.config import SandboxConfig
from sandbox.env import sandbox_env
from tests.conftest import PSEUDONYM_KEY

ROOT = Path(__file__).resolve().parents[2]
ARTIST_ID = "4Z8W4fKeB5YxbusRsdQVPb"
ARTIST_URI = f"spotify:artist:{ARTIST_ID}"

T = TypeVar("T")


# processes -----------------------------------------------------------------------------------------------
def _child_env(env: dict[str, str]) -> dict[str, str]:
    """The machine's environment without any PRESAVE_* of its own (Redis, a database), plus `env`."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("PRESAVE_")}
    return {**inherited, **env}


def wait_until_up(url: str, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with status {process.returncode}")
        try:
            if httpx.get(url, timeout=2.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up within {timeout:.0f} s")


def stop(process: subprocess.Popen[bytes], *, group: bool = False) -> None:
    """SIGTERM (to its process group for uvicorn's workers), SIGKILL after 30 s."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM) if group else process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL) if group else process.kill()
            process.wait()


@contextlib.contextmanager
def sandbox_process(config: SandboxConfig, folder: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """`python -m sandbox` with `config`: its URL and the PRESAVE_* variables that point at it."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "sandbox.json"
    path.write_text(config.model_dump_json())
    port = free_port(0)
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--port", str(port), "--config", str(path)],
        stdout=subprocess.DEVNULL,
        env=_child_env({}),
        cwd=ROOT,
    )
    # The sandbox stands for services on machines of their own: ahead of the system under test for the
    # CPU, so the moment it stamps on a call is when the call arrived, not when two busy cores got to it.
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, process.pid, -10)
    try:
        wait_until_up(f"{url}/sandbox/spotify/fans", process)
        yield url, sandbox_env(url, config)
    finally:
        stop(process)


def deployment_env(
    folder: Path, database_url: str, sandbox: dict[str, str], public_url: str
) -> dict[str, str]:
    """The variables a landing app and a release run share: the store, the keys, the sandbox's
    endpoints; no per-address rate limit (one loopback address plays every fan)."""
    return {
        **sandbox,
        "PRESAVE_DATA_DIR": str(folder / "data"),
        "PRESAVE_DATABASE_URL": database_url,
        "PRESAVE_SECRET_KEY": Fernet.generate_key().decode(),
        "PRESAVE_PSEUDONYM_KEY": PSEUDONYM_KEY,
        "PRESAVE_PUBLIC_URL": public_url,
        "PRESAVE_LANDING_RATE_LIMIT": "0",
        "PRESAVE_COUNTRY_HEADER": "CF-IPCountry",
    }


def settings_of(env: dict[str, str]) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        **{k.removeprefix("PRESAVE_").lower(): v for k, v in env.items()},
    )


class LandingProcess:
    """The landing app in processes of its own on one port: `presave landing` (one process, as the command
    serves it) or uvicorn with `workers` worker processes; killed and started again on the same port."""

    def __init__(self, env: dict[str, str], port: int, *, workers: int = 0) -> None:
        self.env = env
        self.port = port
        self.workers = workers
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def _command(self) -> list[str]:
        if not self.workers:
            return [
                sys.executable,
                "-m",
                "presave",
                "landing",
                "--port",
                str(self.port),
                "--log-level",
                "error",
            ]
        return [
            sys.executable,
            "-m",
            "uvicorn",
            "collectors.landing.asgi:app",
            "--factory",
            "--workers",
            str(self.workers),
            "--port",
            str(self.port),
            "--no-proxy-headers",
            "--no-access-log",
            "--log-level",
            "error",
            "--backlog",
            "2048",
        ]

    def start(self) -> None:
        self.process = subprocess.Popen(
            self._command(),
            env=_child_env(self.env),
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            start_new_session=True,  # uvicorn's master and workers are killed together
        )
        self.starts += 1
        wait_until_up(f"{self.url}/healthz", self.process)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush, requests cut mid-way."""
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process, group=True)

    def __enter__(self) -> LandingProcess:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


# fans ----------------------------------------------------------------------------------------------------
@dataclass
class Journeys:
    """How the fans' tries went: every answer that made a fan start again, by what it was."""

    done: set[str] = field(default_factory=set)
    setbacks: Counter[str] = field(default_factory=Counter)
    tries: int = 0
    in_callback: int = 0  # callbacks sent and not yet answered, now

    def at(self, step: str) -> int:
        """Setbacks met at `step` (page, connect, consent, callback, done)."""
        return sum(n for what, n in self.setbacks.items() if what.startswith(f"{step}:"))


class Retry(Exception):
    """This try failed where the fan could see it; they start again from the campaign page."""


async def _step(client: httpx.AsyncClient, url: str, *statuses: int, step: str) -> httpx.Response:
    """One request of the flow; a cut connection or another answer than `statuses` is a `Retry` naming
    the step."""
    try:
        answer = await client.get(url)
    except httpx.TransportError as problem:
        raise Retry(f"{step}: {type(problem).__name__}") from problem
    if answer.status_code not in statuses:
        raise Retry(f"{step}: {answer.status_code}")
    return answer


async def presave_once(
    landing: httpx.AsyncClient,
    accounts: httpx.AsyncClient,
    slug: str,
    fan: str,
    public_url: str,
    journeys: Journeys,
) -> httpx.Response:
    """One try: the campaign page, the Spotify button, consent at the sandbox, the callback, the done page
    (its answer)."""
    await _step(landing, f"/{slug}", 200, step="page")
    connect = await _step(landing, f"/{slug}/connect/spotify", 302, step="connect")
    authorize = connect.headers["location"]
    separator = "&" if urlsplit(authorize).query else "?"
    consent = await _step(
        accounts, f"{authorize}{separator}{urlencode({'sandbox_fan': fan})}", 302, 303, step="consent"
    )
    journeys.in_callback += 1
    try:
        callback = await _step(
            landing, consent.headers["location"].removeprefix(public_url), 303, step="callback"
        )
    finally:
        journeys.in_callback -= 1
    if callback.headers["location"] != f"/{slug}/done":
        raise Retry(f"callback: to {callback.headers['location']}")
    return await _step(landing, callback.headers["location"], 200, step="done")


async def presave_until_done(
    landing_url: str, public_url: str, slug: str, fan: str, journeys: Journeys, *, give_up_at: float
) -> None:
    """Tries until the fan sees the done page (or `give_up_at`, monotonic): a failed request, a cut
    connection or an error page sends them back to the campaign page after a short pause."""
    async with (
        httpx.AsyncClient(base_url=landing_url, timeout=20, headers={"CF-IPCountry": "GB"}) as landing,
        httpx.AsyncClient(timeout=20) as accounts,
    ):
        while time.monotonic() < give_up_at:
            journeys.tries += 1
            try:
                await presave_once(landing, accounts, slug, fan, public_url, journeys)
            except Retry as problem:
                journeys.setbacks[str(problem)] += 1
            else:
                journeys.done.add(fan)
                return
            await asyncio.sleep(0.2)


def on_own_loop(work: Coroutine[Any, Any, T]) -> T:
    """Run `work` on an event loop of a thread of its own: the calling thread may run one already (the
    sync Playwright of browser tests sharing the pytest worker keeps one running)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, work).result()


async def crowd(
    landing_url: str,
    public_url: str,
    slug: str,
    fans: list[str],
    *,
    at_once: int,
    seconds: float,
    journeys: Journeys | None = None,
) -> Journeys:
    """`fans` pre-save, `at_once` of them in flight at any moment, each trying until done (noted in
    `journeys`, which another thread may watch)."""
    journeys = journeys if journeys is not None else Journeys()
    slots = asyncio.Semaphore(at_once)
    give_up_at = time.monotonic() + seconds

    async def one(fan: str) -> None:
        async with slots:
            await presave_until_done(landing_url, public_url, slug, fan, journeys, give_up_at=give_up_at)

    await asyncio.gather(*(one(fan) for fan in fans))
    return journeys


# what the sandbox and the store hold ----------------------------------------------------------------------
def sandbox_get(admin: httpx.Client, path: str, **params: Any) -> Any:
    answer = admin.get(path, params=params)
    answer.raise_for_status()
    return answer.json()


def authorized(admin: httpx.Client, fans: list[str], client_id: str) -> dict[str, int]:
    """Per fan, how many codes the sandbox exchanged for the label's app (a fan it never saw: 0)."""
    known = set(sandbox_get(admin, "/sandbox/spotify/fans"))
    counts = {}
    for fan in fans:
        record = sandbox_get(admin, f"/sandbox/spotify/fans/{fan}") if fan in known else {"grants": []}
        counts[fan] = sum(1 for grant in record["grants"] if grant["client_id"] == client_id)
    return counts


def library_writes(calls: list[dict[str, Any]]) -> Counter[tuple[str, str]]:
    """(user, URI) → how many `PUT /me/library` calls the sandbox carried out for it."""
    seen: Counter[tuple[str, str]] = Counter()
    for call in calls:
        if call["route"] == "PUT /me/library" and call["status"] == 200:
            for uri in unquote(call["query"]).removeprefix("uris=").split(","):
                seen[(call["user"], uri)] += 1
    return seen


def grants_by_account(store: Store, campaign_id: int) -> Counter[str]:
    with store.session() as session:
        return Counter(session.scalars(select(Grant.service_user_id).where(Grant.campaign_id == campaign_id)))


def ledger(store: Store, campaign_id: int) -> list[tuple[str, str, str, str | None, str | None]]:
    """(account, kind, outcome, reason, target) of every owed action of the campaign."""
    with store.session() as session:
        rows = session.execute(
            select(
                Grant.service_user_id,
                OwedAction.kind,
                OwedAction.outcome,
                OwedAction.reason,
                OwedAction.target,
            )
            .join(Grant, Grant.id == OwedAction.grant_id)
            .where(OwedAction.campaign_id == campaign_id)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


def dumps(value: Any) -> str:
    return json.dumps(value, default=str, sort_keys=True)
