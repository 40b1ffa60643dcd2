"""Service calls per fan, from the grant to release day, counted where they arrive: at the sandbox, which
records every request. `make bench BENCH=calls`.

N fans grant through the landing app (capture first: the grant stored, then `/me` and the artist follow
through the shared pacing); the landing app stops; then release day as it finds the grants days later:
the campaign's release moment has passed and every access token has expired, and `python -m executor run`
resolves the release, refreshes each fan's token, saves the release and checks the unconfirmed follow.
Each call is put in a kind (identify, follow, save, verify, search/resolve, token refresh, …): per fan when
it is made with a fan's token, per campaign when made with the app's own. All on loopback, SQLite; the
sandbox without a rate limit (the pacing is measured by `BENCH=pacing` and the executor's bench).
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy import update

from bench.landing import (
    ARTIST,
    SLUG,
    Phase,
    Sizes,
    _cpu_seconds,
    _grants_burst,
    _start_sandbox,
    _stop,
    _wait_up,
    landing_settings,
    run_coroutine,
    seed_campaign,
    start_landing,
)
from campaigns.campaign_file import parse_campaign
from campaigns.models import Grant
from campaigns.registry import campaign_spec, get_campaign, update_campaign
from campaigns.store import Store
from presave.processes import free_port

FANS = 1000
AT_ONCE = 16
UPC = "198880045560"  # the campaign's (bench.landing.seed_campaign)
GRANT_TIME, RELEASE_DAY = "grant time (landing app)", "release day (executor)"
console = Console(width=170)


@dataclass(frozen=True)
class Kind:
    """What a call was for, and whether each fan costs one (a fan's token) or the campaign (the app's)."""

    name: str
    per_fan: bool


EXPECTED = (  # listed in each phase even when none was made: a zero is a finding too
    Kind("identify (GET /me)", True),
    Kind("follow (PUT /me/library)", True),
    Kind("verify follow (GET /me/library/contains)", True),
    Kind("save (PUT /me/library)", True),
    Kind("verify save (GET /me/library/contains)", True),
    Kind("token refresh", True),
    Kind("search / resolve (GET /search)", False),
)


def classify(call: dict[str, Any]) -> Kind:
    """The kind of one call of the sandbox's log (with its request body)."""
    route = call["route"]
    per_fan = call.get("user") is not None
    if call["service"] == "spotify_accounts":
        if route.endswith("/authorize"):
            return Kind("authorize (the fan's browser, not a call of ours)", True)
        grant_type = parse_qs(call.get("request_body") or "").get("grant_type", [""])[0]
        names = {
            "authorization_code": ("code exchange", True),
            "refresh_token": ("token refresh", True),
            "client_credentials": ("app token (client credentials)", False),
        }
        name, fan = names.get(grant_type, (f"token: {grant_type or 'other'}", per_fan))
        return Kind(name, fan)
    uris = unquote(call.get("query") or "")
    target = "follow" if ":artist:" in uris or "type=artist" in uris else "save"
    if route == "GET /me":
        return Kind("identify (GET /me)", per_fan)
    if route == "PUT /me/library":
        return Kind(f"{target} (PUT /me/library)", per_fan)
    if route == "GET /me/library/contains":
        return Kind(f"verify {target} (GET /me/library/contains)", per_fan)
    if route == "GET /search":
        return Kind("search / resolve (GET /search)", per_fan)
    if route.startswith("GET /albums") or route.startswith("GET /tracks"):
        return Kind(f"resolve ({route})", per_fan)
    return Kind(route, per_fan)


@dataclass
class Tally:
    """Calls of one phase by kind: how many, and how many answered other than 2xx/3xx."""

    calls: Counter[Kind] = field(default_factory=Counter)
    errors: Counter[Kind] = field(default_factory=Counter)

    def add(self, calls: list[dict[str, Any]]) -> None:
        for call in calls:
            kind = classify(call)
            self.calls[kind] += 1
            if not 200 <= call["status"] < 400:
                self.errors[kind] += 1


@dataclass
class ReleaseDay:
    """N fans from grant to release day: the calls of each phase, the grant phase's answers, what the
    executor reported, and the CPU and memory the landing app and the executor used."""

    fans: int
    tallies: dict[str, Tally]
    grants: Phase
    executor_lines: list[str]
    landing_cpu_s: float
    executor_cpu_s: float
    executor_peak_mb: float
    performed: int


def _calls(admin: httpx.Client, since: int) -> tuple[list[dict[str, Any]], int]:
    """The sandbox's Spotify calls (Web API and accounts, with bodies) after `since`; the last seq."""
    calls = admin.get("/sandbox/spotify/calls", params={"since": since, "bodies": "true"}).json()["calls"]
    return calls, max((c["seq"] for c in calls), default=since)


def _add_release(admin: httpx.Client) -> None:
    """The campaign's release, live on the sandbox since an hour ago (the search finds it by UPC)."""
    admin.post(
        "/sandbox/releases",
        json={
            "upc": UPC,
            "title": "Midnight Drive",
            "artist": {"name": "Nova Lane", "spotify_id": ARTIST},
            "release_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
            "tracks": [{"title": "Midnight Drive", "isrc": "QZWFV2600001", "duration_ms": 200000}],
        },
    ).raise_for_status()


def _days_later(store: Store) -> None:
    """Release day as it finds the grants: the release moment a minute ago, every access token expired."""
    now = datetime.now(UTC)
    with store.session() as session:
        campaign = get_campaign(session, SLUG)
        document = campaign_spec(campaign).to_document()
        moment = (now - timedelta(minutes=1)).astimezone(UTC).replace(tzinfo=None, microsecond=0)
        document |= {"release_at": moment.isoformat(), "timezone": "UTC"}
        update_campaign(session, parse_campaign(document), by="bench")
    with store.engine.begin() as connection:
        connection.execute(update(Grant).values(token_expires_at=now - timedelta(days=3)))


def _run_executor(env: dict[str, str]) -> tuple[list[str], float, float, int]:
    """`python -m executor run` once: its report lines, its CPU seconds and peak MB, actions performed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        [sys.executable, "-m", "executor", "run", SLUG, "--shards", "1", "--threads", "8"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"the executor failed ({done.returncode}): {done.stderr[-2000:]}")
    lines = done.stdout.strip().splitlines()
    performed = int(done.stdout.split("performed ", 1)[1].split(",", 1)[0])
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return lines, cpu, after.ru_maxrss / 1024, performed


def measure(fans: int = FANS, at_once: int = AT_ONCE) -> ReleaseDay:
    """`fans` fans granted through one landing worker, then release day; the sandbox's log of both."""
    with tempfile.TemporaryDirectory(prefix="presave-bench-calls-") as name:
        tmp = Path(name)
        sandbox, sandbox_env, sandbox_url = _start_sandbox(
            tmp, call_log_limit=max(20_000, fans * 40), record_bodies=True
        )
        admin = httpx.Client(base_url=sandbox_url, timeout=60)
        port = free_port(0)
        landing_url = f"http://127.0.0.1:{port}"
        env = landing_settings(tmp, sandbox_env, f"sqlite:///{tmp / 'presave.db'}", landing_url)
        store = Store.connect(env["PRESAVE_DATABASE_URL"])
        tallies = {GRANT_TIME: Tally(), RELEASE_DAY: Tally()}
        try:
            seed_campaign(store)
            _add_release(admin)
            landing = start_landing(env, port, workers=1)
            grants = Phase()
            try:
                _wait_up(landing_url, "/healthz", landing)
                cpu = _cpu_seconds(landing.pid)
                with console.status(f"{fans} fans granting through the landing app…"):
                    sizes = Sizes(burst_fans=fans, burst_at_once=at_once)
                    run_coroutine(_grants_burst(landing_url, sandbox_url, grants, [], sizes, prefix="fan"))
                landing_cpu = _cpu_seconds(landing.pid) - cpu
            finally:
                _stop(landing)
            calls, seq = _calls(admin, 0)
            tallies[GRANT_TIME].add(calls)
            _days_later(store)
            with console.status(f"release day: the executor performs what {fans} fans are owed…"):
                lines, executor_cpu, peak, performed = _run_executor(env)
            calls, _ = _calls(admin, seq)
            tallies[RELEASE_DAY].add(calls)
        finally:
            admin.close()
            store.dispose()
            sandbox.terminate()
            sandbox.wait(timeout=30)
    return ReleaseDay(fans, tallies, grants, lines, landing_cpu, executor_cpu, peak, performed)


def calls_table(day: ReleaseDay) -> Table:
    table = Table(
        title=f"Spotify calls counted at the sandbox: {day.fans} fans from the grant to release day "
        "(per fan: made with the fan's token; per campaign: with the app's own)"
    )
    for column in ("phase", "call", "per", "calls", "per fan", "not 2xx/3xx"):
        table.add_column(column, justify="left" if column in ("phase", "call", "per") else "right")
    for phase, tally in day.tallies.items():
        per_fan_total = 0
        others = sorted(set(tally.calls) - set(EXPECTED), key=lambda kind: (not kind.per_fan, kind.name))
        for kind in (*EXPECTED, *others):
            n = tally.calls[kind]
            ours = not kind.name.startswith("authorize")
            per_fan_total += n if kind.per_fan and ours else 0
            table.add_row(
                phase,
                kind.name,
                "fan" if kind.per_fan else "campaign",
                f"{n:,}",
                f"{n / max(day.fans, 1):.2f}" if kind.per_fan else "-",
                f"{tally.errors[kind]:,}",
            )
        table.add_row(
            phase,
            "all our calls made per fan",
            "fan",
            f"{per_fan_total:,}",
            f"{per_fan_total / max(day.fans, 1):.2f}",
            "",
            end_section=True,
        )
    return table


def summary_lines(day: ReleaseDay) -> list[str]:
    answers = ", ".join(f"{s}×{n}" for s, n in sorted(day.grants.statuses.items()))
    return [
        f"grants: {day.grants.done} of {day.fans} fans reached the done page (answers {answers}) in "
        f"{day.grants.seconds:.1f} s; landing CPU {day.landing_cpu_s / max(day.grants.done, 1) * 1e3:.1f} ms "
        "per grant",
        f"release day: {day.performed} actions performed; executor CPU "
        f"{day.executor_cpu_s / max(day.performed, 1) * 1e3:.1f} ms per action (start-up included), "
        f"peak RSS {day.executor_peak_mb:.0f} MB",
        *(f"  executor: {line}" for line in day.executor_lines),
    ]


def run() -> None:
    day = measure()
    console.print(calls_table(day))
    for line in summary_lines(day):
        console.print(line)
