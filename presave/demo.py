"""`presave demo`: the whole system on the embedded default, against the sandbox, on loopback.

Sandbox and landing app run as child processes; fans go through the real HTTP flow; release day runs
through the Dagster schedule and job; a Spotify for Artists export lands in the inbox and is ingested;
the marts are built and the dashboard served.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import httpx
import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from campaigns.campaign_file import load_campaign_file
from campaigns.registry import create_campaign, summarise
from campaigns.settings import Settings, load_settings
from campaigns.store import Store
from campaigns.vault import TokenVault
from presave.processes import (
    ChildProcess,
    attach_sandbox,
    free_port,
    start_dashboard,
    start_landing,
    start_sandbox,
)
from sandbox.analytics import ReleaseInput, SongInput, simulate
from sandbox.exports import write_all, write_presave_fan_export
from sandbox.fans import plan_fans, register_fans, simulate_fans
from sandbox.history import write_campaign_history

console = Console()
DEMO_MARKER = ".demo"
ARTIST = "Nova Lane"
ARTIST_SPOTIFY_ID = "4Z8W4fKeB5YxbusRsdQVPb"
QUIET = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}  # Dagster's step events are DEBUG


@dataclass(frozen=True)
class DemoRelease:
    slug: str
    title: str
    upc: str
    days_ago: float  # negative: in the future
    presaves: int


# A campaign the label ran with another pre-save tool: only its fan export and the artist's exports know it.
ELSEWHERE = DemoRelease("old-flame", "Old Flame", "198880045500", 240, 380)
EARLIER = (
    DemoRelease("northern-lights", "Northern Lights", "198880045511", 150, 420),
    DemoRelease("glass-harbour", "Glass Harbour", "198880045522", 70, 530),
)


def run_demo(
    settings: Settings, *, fans: int, release_in: int, serve_dashboard: bool, sandbox_url: str | None = None
) -> int:
    data_dir = _prepare_data_dir(settings.data_dir)
    children: list[ChildProcess] = []
    try:
        sandbox = attach_sandbox(sandbox_url) if sandbox_url else start_sandbox(free_port(8900))
        children.append(sandbox)
        landing_port = free_port(8000)
        os.environ.update(
            {
                **sandbox.env,
                "PRESAVE_DATA_DIR": str(data_dir),
                "PRESAVE_PUBLIC_URL": f"http://127.0.0.1:{landing_port}",
                "PRESAVE_COUNTRY_HEADER": "CF-IPCountry",
                "PRESAVE_LANDING_RATE_LIMIT": "0",  # the simulated fans arrive faster than real ones
            }
        )
        for name in ("PRESAVE_DATABASE_URL", "PRESAVE_WAREHOUSE"):
            os.environ.pop(name, None)
        settings = load_settings()
        vault = TokenVault(settings.secret_keys())
        store = Store.connect(settings.resolved_database_url)
        landing = start_landing(landing_port, data_dir)
        children.append(landing)
        live_release_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=release_in)
        live = DemoRelease("midnight-drive", "Midnight Drive", "198880045560", 0, fans)
        deezer_artist = _seed_catalogue(sandbox.url, [ELSEWHERE, *EARLIER, live], live_release_at)
        _create_campaigns(store, vault, data_dir, live, live_release_at, deezer_artist)
        console.print(f"sandbox {sandbox.url} · landing {landing.url}/{live.slug}")
        granted = _simulate(sandbox.url, landing.url, live, fans, live_release_at - timedelta(seconds=2))
        _wait_for_release(live_release_at)
        (data_dir / "dagster").mkdir(parents=True, exist_ok=True)
        instance = dg.DagsterInstance.local_temp(str(data_dir / "dagster"))
        _release_day(settings, instance, live.slug)
        _drop_exports(settings, [ELSEWHERE, *EARLIER, live], live_release_at, granted)
        _warehouse(settings, instance)
        _print_summary(store, settings, live.slug)
        store.dispose()
        if serve_dashboard:
            dashboard = start_dashboard(settings, free_port(8501))
            children.append(dashboard)  # stopped with the others, Ctrl-C included
            console.print(f"[bold green]dashboard[/] {dashboard.url}  (Ctrl-C to stop)")
            assert dashboard.process is not None
            with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C ends the demo; the children stop below
                dashboard.process.wait()
        return 0
    finally:
        for child in reversed(children):
            child.stop()


def _prepare_data_dir(data_dir: Path) -> Path:
    """The demo owns a data dir it marked; it refuses to wipe one holding anything else."""
    data_dir = data_dir.resolve()
    marker = data_dir / DEMO_MARKER
    if data_dir.exists() and (data_dir / "presave.db").exists() and not marker.exists():
        raise SystemExit(
            f"presave: {data_dir} holds a store the demo did not create; set PRESAVE_DATA_DIR to another folder"
        )
    for name in (
        "presave.db",
        "presave.db-wal",
        "presave.db-shm",
        "warehouse.duckdb",
        "warehouse.snapshot.duckdb",
    ):
        (data_dir / name).unlink(missing_ok=True)
    for folder in ("inbox", "quarantine", "loaded", "dagster", "campaigns"):
        shutil.rmtree(data_dir / folder, ignore_errors=True)
    data_dir.mkdir(parents=True, exist_ok=True)
    marker.write_text("created by `presave demo`; the demo wipes this folder's demo files on each run\n")
    return data_dir


def _seed_catalogue(sandbox_url: str, releases: list[DemoRelease], live_release_at: datetime) -> str:
    """The artist and their releases on the services; returns the artist's Deezer id."""
    with httpx.Client(base_url=sandbox_url, timeout=30) as http:
        artist = http.post("/sandbox/artists", json={"name": ARTIST, "spotify_id": ARTIST_SPOTIFY_ID})
        _expect_ok(artist)
        for release in releases:
            release_at = _release_at(release, live_release_at)
            response = http.post(
                "/sandbox/releases",
                json={
                    "upc": release.upc,
                    "title": release.title,
                    "artist": {"name": ARTIST, "spotify_id": ARTIST_SPOTIFY_ID},
                    "release_at": release_at.isoformat(),
                    "tracks": [
                        {"title": title, "isrc": _isrc(release, n), "duration_ms": 180_000 + n * 7_000}
                        for n, title in ((1, release.title), (2, f"{release.title} (Night Version)"))
                    ],
                },
            )
            _expect_ok(response)
    return str(artist.json()["deezer"]["artist_id"])


def _isrc(release: DemoRelease, track: int) -> str:
    return f"QZWFV26{release.upc[-4:]}{track}"


def _expect_ok(response: httpx.Response) -> None:
    if response.is_error:
        raise RuntimeError(
            f"sandbox refused {response.request.url.path}: {response.status_code} {response.text[:300]}"
        )


def _release_at(release: DemoRelease, live_release_at: datetime) -> datetime:
    if release.days_ago <= 0:
        return live_release_at
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight - timedelta(days=release.days_ago)


def _create_campaigns(
    store: Store,
    vault: TokenVault,
    data_dir: Path,
    live: DemoRelease,
    live_release_at: datetime,
    deezer_artist: str,
) -> None:
    """Campaign files for the earlier releases (Spotify only) and the live one (every service)."""
    folder = data_dir / "campaigns"
    folder.mkdir(parents=True, exist_ok=True)
    for release in [*EARLIER, live]:
        release_at = _release_at(release, live_release_at)
        document = {
            "slug": release.slug,
            "artist": ARTIST,
            "title": release.title,
            "upc": release.upc,
            "release_at": release_at.isoformat(timespec="seconds"),
            "timezone": "UTC",
            "services": {"spotify": {"artist": f"spotify:artist:{ARTIST_SPOTIFY_ID}"}}
            if release is not live
            else {
                "spotify": {"artist": f"spotify:artist:{ARTIST_SPOTIFY_ID}"},
                "apple": {},
                "deezer": {"artist_id": deezer_artist},
            },
        }
        path = folder / f"{release.slug}.yaml"
        path.write_text(yaml.safe_dump(document, sort_keys=False))
        with store.session() as session:
            create_campaign(session, load_campaign_file(path))
    for number, release in enumerate(EARLIER):
        write_campaign_history(store, vault, release.slug, release.presaves, seed=11 + number)


def _simulate(sandbox_url: str, landing_url: str, live: DemoRelease, fans: int, deadline: datetime) -> int:
    plans = plan_fans(
        fans,
        seed=7,
        reading_s=(1.5, 4.0),
        services=(("spotify", 0.62), ("apple", 0.28), ("deezer", 0.10)),
        decline_rates={"spotify": 0.05, "apple": 0.14, "deezer": 0.08},
    )
    register_fans(sandbox_url, plans)
    with _progress() as progress:
        task = progress.add_task(f"fans pre-saving {live.slug}", total=len(plans))
        report = simulate_fans(
            landing_url,
            live.slug,
            plans,
            sandbox_url=sandbox_url,
            deadline=deadline,
            concurrency=64,
            on_fan=lambda _outcome: progress.advance(task),
        )
    summary = ", ".join(f"{k} {v}" for k, v in sorted(report.outcomes.items()))
    console.print(f"simulated {len(plans)} visitors: {summary}")
    unexpected = {
        k: v for k, v in report.outcomes.items() if k not in {"granted", "visited", "declined", "late"}
    }
    if unexpected:
        raise RuntimeError(f"the landing flow failed for some fans: {unexpected}")
    if report.outcomes["late"]:
        console.print(
            f"[yellow]{report.outcomes['late']} fans arrived too late to pre-save: "
            "the machine is slow for this --release-in; give it more seconds[/]"
        )
    return report.grants


def _wait_for_release(release_at: datetime) -> None:
    remaining = (release_at - datetime.now(UTC)).total_seconds()
    if remaining <= 0:
        return
    with _progress() as progress:
        task = progress.add_task("waiting for the release moment", total=int(remaining) + 1)
        while datetime.now(UTC) < release_at:
            time.sleep(0.5)
            progress.update(task, completed=int(remaining - (release_at - datetime.now(UTC)).total_seconds()))
    time.sleep(1)


def _release_day(settings: Settings, instance: dg.DagsterInstance, slug: str) -> None:
    """Evaluate the release-day schedule as the daemon would, and run what it asks for."""
    from pipelines.definitions import build_definitions
    from pipelines.release.assets import release_day_schedule

    definitions = build_definitions(settings)
    with dg.build_schedule_context(
        instance=instance,
        scheduled_execution_time=datetime.now(UTC),
        resources=definitions.resources,
        repository_def=definitions.get_repository_def(),
    ) as context:
        requests = release_day_schedule.evaluate_tick(context).run_requests or []
    if slug not in {r.partition_key for r in requests}:
        raise RuntimeError(f"the release-day schedule did not ask for {slug}")
    job = definitions.resolve_job_def("release_day_job")
    for request in requests:
        console.print(f"release day: running {job.name} for {request.partition_key}")
        result = job.execute_in_process(
            instance=instance, partition_key=request.partition_key, run_config=QUIET, raise_on_error=False
        )
        if not result.success:
            raise RuntimeError(f"release day failed for {request.partition_key}")


def _drop_exports(
    settings: Settings, releases: list[DemoRelease], live_release_at: datetime, live_presaves: int
) -> None:
    """Every export an artist's team would download, simulated, plus a campaign another tool ran."""
    inputs = [
        ReleaseInput(
            release_date=_release_at(r, live_release_at).date(),
            presaves=live_presaves if r.days_ago <= 0 else r.presaves,
            title=r.title,
            upc=r.upc,
            songs=(SongInput(r.title, _isrc(r, 1)), SongInput(f"{r.title} (Night Version)", _isrc(r, 2))),
        )
        for r in releases
    ]
    start = min(i.release_date for i in inputs) - timedelta(days=35)
    end: date = live_release_at.date() + timedelta(days=13)
    simulation = simulate(ARTIST, inputs, start, end, seed=3)
    paths = write_all(settings.inbox_dir, simulation, as_of=end)
    elsewhere = next(r for r in releases if r.slug == ELSEWHERE.slug)
    paths.append(
        write_presave_fan_export(
            settings.inbox_dir / "other-tools",
            campaign=elsewhere.title,
            release_date=_release_at(elsewhere, live_release_at).date(),
            fans=elsewhere.presaves,
            seed=5,
        )
    )
    console.print(f"simulated exports dropped in the inbox: {len(paths)} files")


def _warehouse(settings: Settings, instance: dg.DagsterInstance) -> None:
    from pipelines.definitions import build_definitions

    definitions = build_definitions(settings)
    for name, what in (
        ("artist_snapshots_job", "artist followers and popularity from the services"),
        ("warehouse_job", "operational copy, inbox, marts and their checks"),
    ):
        job = definitions.resolve_job_def(name)
        console.print(f"warehouse: running {job.name} ({what})")
        result = job.execute_in_process(instance=instance, run_config=QUIET, raise_on_error=False)
        if not result.success:
            raise RuntimeError(f"the {name} failed")


def _print_summary(store: Store, settings: Settings, slug: str) -> None:
    from pipelines.warehouse import Warehouse

    with store.session() as session:
        summary = summarise(session, slug)
    table = Table(title=f"{slug}")
    table.add_column("what")
    table.add_column("count", justify="right")
    for service, count in summary.grants.items():
        table.add_row(f"grants ({service})", str(count))
    for outcome, count in summary.outcomes.items():
        table.add_row(f"owed actions {outcome}", str(count))
    with Warehouse(settings.warehouse_path).reader() as connection:
        rows = connection.execute(
            "SELECT count(*) FROM first_week WHERE campaign_slug = ?", [slug]
        ).fetchone()
    table.add_row("first-week mart rows", str(rows[0] if rows else 0))
    console.print(table)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )
