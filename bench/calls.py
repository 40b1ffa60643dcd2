"""Service calls per fan, from the grant to release day, counted where they arrive: at the sandbox, which
records every request. `make bench BENCH=calls`.

N fans grant on Spotify and N on Deezer through the landing app (capture first: the grant stored, then
`/me` and Spotify's artist follow through the shared pacing); the landing app stops; then release day as
it finds the grants days later: the campaign's release moment has passed and every Spotify access token
has expired, and `python -m executor run` resolves the release, refreshes the tokens, saves the release
and follows the artist where that is still owed. Each call is put in a kind (identify, follow, save,
verify, search/resolve, token refresh, …): per fan when it is made with a fan's token, per campaign when
made with the app's own. All on loopback, SQLite; the sandbox without a rate limit (the pacing is
measured by `BENCH=pacing` and the executor's bench). Apple Music's grant is MusicKit JS in a browser and
is not driven here.
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
SERVICES = ("spotify", "deezer")  # Apple's grant is MusicKit JS in the browser: not driven here
DEEZER_ARTIST = "27"
UPC = "198880045560"  # the campaign's (bench.landing.seed_campaign)
GRANT_TIME, RELEASE_DAY = "grant time (landing app)", "release day (executor)"
console = Console(width=180)


@dataclass(frozen=True)
class Kind:
    """What a call was for, on which service and route, and whether each fan costs one (made with the
    fan's token) or the campaign (with the app's own)."""

    service: str
    name: str
    route: str
    per_fan: bool


BROWSER = "authorize (the fan's browser, not a call of ours)"
EXPECTED = {  # listed in each phase even when none was made: a zero is a finding too
    "spotify": (
        Kind("spotify", "identify", "GET /me", True),
        Kind("spotify", "follow", "PUT /me/library", True),
        Kind("spotify", "verify follow", "GET /me/library/contains", True),
        Kind("spotify", "save", "PUT /me/library", True),
        Kind("spotify", "verify save", "GET /me/library/contains", True),
        Kind("spotify", "token refresh", "POST /api/token", True),
        Kind("spotify", "search / resolve", "GET /search", False),
    ),
    "deezer": (  # no refresh tokens on Deezer: offline grants do not expire
        Kind("deezer", "identify", "GET /user/me", True),
        Kind("deezer", "follow", "POST /user/me/artists", True),
        Kind("deezer", "verify follow", "GET /user/me/artists", True),
        Kind("deezer", "save", "POST /user/me/albums", True),
        Kind("deezer", "verify save", "GET /user/me/albums", True),
        Kind("deezer", "search / resolve", "GET /album/{album_ref}", False),
    ),
}
_DEEZER = {
    "GET /user/me": "identify",
    "POST /user/me/artists": "follow",
    "GET /user/me/artists": "verify follow",
    "POST /user/me/albums": "save",
    "POST /user/me/tracks": "save",
    "GET /user/me/albums": "verify save",
    "GET /user/me/tracks": "verify save",
    "GET /album/{album_ref}": "search / resolve",
    "GET /track/{track_ref}": "search / resolve",
    "GET /oauth/auth.php": BROWSER,
    "GET /oauth/access_token.php": "code exchange",
}
_TOKENS = {
    "authorization_code": ("code exchange", True),
    "refresh_token": ("token refresh", True),
    "client_credentials": ("app token (client credentials)", False),
}


def classify(call: dict[str, Any]) -> Kind:
    """The kind of one call of the sandbox's log (with its request body)."""
    route, service = call["route"], call["service"]
    per_fan = call.get("user") is not None
    if service.startswith("deezer"):
        return Kind("deezer", _DEEZER.get(route, "other"), route, per_fan)
    if service == "spotify_accounts":
        if route.endswith("/authorize"):
            return Kind("spotify", BROWSER, route, True)
        grant_type = parse_qs(call.get("request_body") or "").get("grant_type", [""])[0]
        name, fan = _TOKENS.get(grant_type, (f"token: {grant_type or 'other'}", per_fan))
        return Kind("spotify", name, route, fan)
    uris = unquote(call.get("query") or "")
    target = "follow" if ":artist:" in uris or "type=artist" in uris else "save"
    names = {
        "GET /me": "identify",
        "PUT /me/library": target,
        "GET /me/library/contains": f"verify {target}",
        "GET /search": "search / resolve",
    }
    if route in names:
        return Kind("spotify", names[route], route, per_fan)
    if route.startswith(("GET /albums", "GET /tracks")):
        return Kind("spotify", "resolve", route, per_fan)
    return Kind("spotify", "other", route, per_fan)


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
    """The sandbox's calls on every service measured (APIs and authorization, with bodies) after `since`
    (the log's sequence is one for all services); the last seq."""
    calls = []
    for service in SERVICES:
        answer = admin.get(f"/sandbox/{service}/calls", params={"since": since, "bodies": "true"}).json()
        calls += answer["calls"]
    return calls, max((c["seq"] for c in calls), default=since)


def _add_release(admin: httpx.Client) -> None:
    """The campaign's release, live on the sandbox since an hour ago (the search finds it by UPC)."""
    admin.post(
        "/sandbox/releases",
        json={
            "upc": UPC,
            "title": "Midnight Drive",
            "artist": {"name": "Nova Lane", "spotify_id": ARTIST, "deezer_id": DEEZER_ARTIST},
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
        # Deezer's offline tokens do not expire (and cannot be refreshed)
        expired = now - timedelta(days=3)
        connection.execute(update(Grant).where(Grant.service == "spotify").values(token_expires_at=expired))


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
            seed_campaign(
                store,
                services={
                    "spotify": {"artist": f"spotify:artist:{ARTIST}"},
                    "deezer": {"artist_id": DEEZER_ARTIST},
                },
            )
            _add_release(admin)
            landing = start_landing(env, port, workers=1)
            grants = Phase()
            try:
                _wait_up(landing_url, "/healthz", landing)
                cpu = _cpu_seconds(landing.pid)
                with console.status(f"{fans} fans per service granting through the landing app…"):
                    sizes = Sizes(burst_fans=fans, burst_at_once=at_once)
                    for service in SERVICES:
                        load = _grants_burst(
                            landing_url,
                            sandbox_url,
                            grants,
                            [],
                            sizes,
                            prefix=f"{service}-fan",
                            service=service,
                        )
                        run_coroutine(load)
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
        title=f"service calls counted at the sandbox: {day.fans} fans per service from the grant to release "
        "day (per fan: made with the fan's token; per campaign: with the app's own)"
    )
    for column in ("phase", "service", "call", "route", "per", "calls", "per fan", "not 2xx/3xx"):
        table.add_column(column, justify="right" if column in ("calls", "per fan", "not 2xx/3xx") else "left")
    for phase, tally in day.tallies.items():
        for service in SERVICES:
            expected = EXPECTED[service]
            found = {kind for kind in tally.calls if kind.service == service}
            others = sorted(found - set(expected), key=lambda kind: (not kind.per_fan, kind.name, kind.route))
            ours = 0
            for kind in (*expected, *others):
                n = tally.calls[kind]
                ours += n if kind.per_fan and kind.name != BROWSER else 0
                table.add_row(
                    phase,
                    service,
                    kind.name,
                    kind.route,
                    "fan" if kind.per_fan else "campaign",
                    f"{n:,}",
                    f"{n / max(day.fans, 1):.2f}" if kind.per_fan else "-",
                    f"{tally.errors[kind]:,}",
                )
            table.add_row(
                phase,
                service,
                "all our calls made per fan",
                "",
                "fan",
                f"{ours:,}",
                f"{ours / max(day.fans, 1):.2f}",
                "",
                end_section=True,
            )
    return table


def summary_lines(day: ReleaseDay) -> list[str]:
    answers = ", ".join(f"{s}×{n}" for s, n in sorted(day.grants.statuses.items()))
    return [
        f"grants: {day.grants.done} of {day.fans * len(SERVICES)} fans reached the done page (answers {answers}) in "
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
