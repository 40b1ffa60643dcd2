"""`presave demo`: the whole system on the embedded default, against the sandbox, on loopback.

A label's roster: three artists and the campaigns in `data/campaigns/*.yaml` (dated for a run on
`ROSTER_DAY`, moved by whole days to the day the demo runs). Campaigns released before today get a
backdated history (visitors, clicks, denials, abandonments, grants, the ledger); the upcoming one gets
three weeks of pre-saves behind it and more fans today; the live one releases a minute after the demo
starts, its fans coming through the real HTTP flow first. Sandbox and landing app run as child processes;
release day runs through the Dagster schedule and job; the artists' exports (up to yesterday: never a day
still to come) land in the inbox and are ingested; the marts are built and the dashboard served. What
every simulated fan did is written to `<data dir>/truth.json` (`sandbox.truth`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg
import httpx
import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from campaigns.campaign_file import CampaignSpec, load_campaign_file
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
from sandbox.truth import TRUTH_FILE, CampaignTruth, GroundTruth

console = Console()
DEMO_MARKER = ".demo"
ROSTER_DIR = Path(__file__).resolve().parents[1] / "data" / "campaigns"
ROSTER_DAY = date(2026, 12, 2)  # the day the roster's campaign files are dated for
LIVE_SLUG = "midnight-drive"
DAGSTER_HOME = "dagster"  # the demo's Dagster instance, under the data dir: `dagster dev` shows its runs
INSTANCE_YAML = """\
# The demo's Dagster instance (written by `presave demo`): runs, event logs and schedule state in SQLite
# files in this folder. See them with:  DAGSTER_HOME={home} uv run dagster dev -m pipelines.definitions
storage:
  sqlite:
    base_dir: {home}
telemetry:
  enabled: false
"""
SERVICE_SHARES = (
    ("spotify", 0.62),
    ("apple", 0.28),
    ("deezer", 0.10),
    ("tidal", 0.05),  # link-only services (reminder pre-saves), where a campaign offers them
    ("amazon_music", 0.05),
)
# Grants each campaign had before today (the live campaign's all come today, over HTTP).
HISTORY_PRESAVES = {
    "harbour-lights": 390,
    "paper-lanterns": 450,
    "northern-lights": 420,
    "glass-harbour": 530,
    "tidewater": 260,
    "paper-moons": 340,
    "salt-and-static": 410,
    "slow-orbit": 180,
    "first-light": 610,
    "static-bloom": 700,
    "low-tide": 520,
    "night-ferry": 680,
}
UPCOMING_FANS_TODAY = 30
# Each artist's audience before any release: daily listeners and followers.
AUDIENCES = {"Nova Lane": (110.0, 900), "Mara Ellis": (60.0, 450), "The Quiet Hours": (140.0, 1600)}


@dataclass(frozen=True)
class DemoCampaign:
    spec: CampaignSpec
    kind: str  # history, live, upcoming

    @property
    def slug(self) -> str:
        return self.spec.slug

    @property
    def release_at(self) -> datetime:
        return self.spec.release_at_utc


@dataclass(frozen=True)
class Elsewhere:
    """A campaign the label ran with another pre-save tool: only its fan export and the exports know it."""

    artist: str = "Nova Lane"
    slug: str = "old-flame"
    title: str = "Old Flame"
    upc: str = "198880045500"
    days_ago: int = 240
    fans: int = 380

    @property
    def release_date(self) -> date:
        return datetime.now(UTC).date() - timedelta(days=self.days_ago)


ELSEWHERE = Elsewhere()


def run_demo(
    settings: Settings,
    *,
    fans: int,
    release_in: int,
    serve_dashboard: bool,
    sandbox_url: str | None = None,
    verbose: bool = False,
) -> int:
    data_dir = _prepare_data_dir(settings.data_dir)
    children: list[ChildProcess] = []
    try:
        sandbox = attach_sandbox(sandbox_url) if sandbox_url else start_sandbox(free_port(8900))
        children.append(sandbox)
        landing_port = free_port(8000)
        _demo_environment(sandbox.env, data_dir, landing_port)
        settings = load_settings()
        vault = settings.vault()
        store = Store.connect(settings.resolved_database_url, timeouts=settings.store_timeouts)
        landing = start_landing(landing_port, data_dir)
        children.append(landing)
        live_release_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=release_in)
        roster = load_roster(ROSTER_DIR, live_release_at)
        truth = GroundTruth()
        _seed_catalogue(sandbox.url, roster)
        _create_campaigns(store, roster, truth)
        live = next(c for c in roster if c.kind == "live")
        upcoming = [c for c in roster if c.kind == "upcoming"]
        console.print(f"sandbox {sandbox.url} · landing {landing.url}/{live.slug}")
        # five places: the live campaign's other fans get reminders
        with _spotify_development_mode(sandbox.url):
            _simulate(
                sandbox.url, landing.url, live, fans, truth, deadline=live_release_at - timedelta(seconds=2)
            )
        _write_histories(store, vault, roster, truth)  # while the release moment comes
        for campaign in upcoming:
            _simulate(sandbox.url, landing.url, campaign, UPCOMING_FANS_TODAY, truth)
        _wait_for_release(live_release_at)
        _run_pipelines(settings, store, data_dir, roster, truth, live.slug, verbose=verbose)
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


def _demo_environment(sandbox_env: dict[str, str], data_dir: Path, landing_port: int) -> None:
    """The demo's settings, in the environment its children inherit."""
    os.environ.update(
        {
            **sandbox_env,
            "PRESAVE_DATA_DIR": str(data_dir),
            "PRESAVE_PUBLIC_URL": f"http://127.0.0.1:{landing_port}",
            "PRESAVE_COUNTRY_HEADER": "CF-IPCountry",
            "PRESAVE_TRUSTED_PROXIES": "127.0.0.1",  # the simulated fans' X-Forwarded-For
            "PRESAVE_LANDING_RATE_LIMIT": "0",  # the simulated fans arrive faster than real ones
        }
    )
    for name in ("PRESAVE_DATABASE_URL", "PRESAVE_WAREHOUSE"):
        os.environ.pop(name, None)


def _run_pipelines(
    settings: Settings,
    store: Store,
    data_dir: Path,
    roster: list[DemoCampaign],
    truth: GroundTruth,
    live_slug: str,
    *,
    verbose: bool,
) -> None:
    """Release day, the exports dropped, the warehouse built; the summary; the store let go."""
    instance = demo_instance(data_dir)
    logs = _dagster_logs(verbose)
    runs = _release_day(settings, instance, live_slug, logs)
    _drop_exports(settings, roster, truth)
    truth.write(data_dir / TRUTH_FILE)
    runs += _warehouse(settings, instance, logs)
    _print_summary(store, settings, roster, truth, failed_checks(instance, runs))
    console.print(
        f"Dagster's runs: DAGSTER_HOME={instance.root_directory} PRESAVE_DATA_DIR={data_dir} "
        "uv run dagster dev -m pipelines.definitions",
        soft_wrap=True,
    )
    instance.dispose()
    store.dispose()


def load_roster(folder: Path, live_release_at: datetime, today: date | None = None) -> list[DemoCampaign]:
    """The campaign files, moved from `ROSTER_DAY` to today by whole days; the live one to its moment."""
    shift = timedelta(days=((today or datetime.now(UTC).date()) - ROSTER_DAY).days)
    roster = []
    for path in sorted(folder.glob("*.yaml")):
        spec = load_campaign_file(path)
        if spec.slug == LIVE_SLUG:
            local = live_release_at.astimezone(ZoneInfo(spec.timezone)).replace(tzinfo=None)
            roster.append(DemoCampaign(spec.model_copy(update={"release_at": local}), "live"))
            continue
        moved = spec.model_copy(update={"release_at": spec.release_at + shift})
        kind = "history" if moved.release_at_utc <= live_release_at else "upcoming"
        roster.append(DemoCampaign(moved, kind))
    if sum(c.kind == "live" for c in roster) != 1:
        raise RuntimeError(f"{folder} must hold the live campaign {LIVE_SLUG}.yaml")
    return roster


def isrc(upc: str, track: int) -> str:
    """A release's tracks' ISRCs (the first one is the campaign file's `isrcs`)."""
    return f"QZWFV2{5 + track}{upc[-5:]}"


def _artist_ids(spec: CampaignSpec) -> dict[str, str]:
    ids = {"name": spec.artist}
    if spec.services.spotify:
        ids["spotify_id"] = spec.services.spotify.artist.rsplit(":", 1)[1]
    if spec.services.deezer and spec.services.deezer.artist_id:
        ids["deezer_id"] = str(spec.services.deezer.artist_id)
    return ids


def _seed_catalogue(sandbox_url: str, roster: list[DemoCampaign]) -> None:
    """The artists and their releases on the services (ids as the campaign files name them)."""
    with httpx.Client(base_url=sandbox_url, timeout=30) as http:
        artists = {c.spec.artist: _artist_ids(c.spec) for c in roster}
        for ids in artists.values():
            _expect_ok(http.post("/sandbox/artists", json=ids))
        releases = [(c.spec.artist, c.spec.title, c.spec.upc or "", c.release_at) for c in roster]
        releases.append(
            (
                ELSEWHERE.artist,
                ELSEWHERE.title,
                ELSEWHERE.upc,
                datetime.combine(ELSEWHERE.release_date, datetime.min.time(), UTC),
            )
        )
        for artist, title, upc, release_at in releases:
            response = http.post(
                "/sandbox/releases",
                json={
                    "upc": upc,
                    "title": title,
                    "artist": artists[artist],
                    "release_at": release_at.isoformat(),
                    "tracks": [
                        {"title": name, "isrc": isrc(upc, n), "duration_ms": 180_000 + n * 7_000}
                        for n, name in ((1, title), (2, f"{title} (Night Version)"))
                    ],
                },
            )
            _expect_ok(response)


def _create_campaigns(store: Store, roster: list[DemoCampaign], truth: GroundTruth) -> None:
    """Every campaign in the store, and in the ground truth."""
    for campaign in roster:
        with store.session() as session:
            create_campaign(session, campaign.spec)
        truth.add_campaign(
            CampaignTruth(
                campaign.slug,
                campaign.spec.artist,
                campaign.spec.title,
                campaign.spec.upc or "",
                campaign.release_at,
                campaign.kind,
                tuple(campaign.spec.services.offered()),
            )
        )
    truth.add_campaign(
        CampaignTruth(
            ELSEWHERE.slug,
            ELSEWHERE.artist,
            ELSEWHERE.title,
            ELSEWHERE.upc,
            datetime.combine(ELSEWHERE.release_date, datetime.min.time(), UTC),
            "elsewhere",
        )
    )


def _write_histories(store: Store, vault: TokenVault, roster: list[DemoCampaign], truth: GroundTruth) -> None:
    """The past pre-saves of the released campaigns, and of the upcoming one up to today."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    with _progress() as progress:
        backdated = [c for c in roster if c.slug in HISTORY_PRESAVES]
        task = progress.add_task("writing the roster's past pre-saves", total=len(backdated))
        for number, campaign in enumerate(backdated):
            upcoming = campaign.kind == "upcoming"
            write_campaign_history(
                store,
                vault,
                campaign.slug,
                HISTORY_PRESAVES[campaign.slug],
                seed=11 + number,
                truth=truth,
                until=today if upcoming else None,
                window_days=31 if upcoming else 28,  # announced three weeks ago, ten days to go
            )
            progress.advance(task)


@contextlib.contextmanager
def _spotify_development_mode(sandbox_url: str) -> Iterator[None]:
    """The sandbox's Spotify app in development mode while the live campaign's fans come: it admits the
    first five who authorize and refuses the rest ("User not registered in the Developer Dashboard"), which
    the landing app learns and answers with reminder pre-saves. Back to extended quota after, so the
    exports and snapshots read as before."""
    with httpx.Client(base_url=sandbox_url, timeout=30) as http:
        _expect_ok(http.put("/sandbox/config", json={"spotify": {"dev_mode": True}}))
        try:
            yield
        finally:
            _expect_ok(http.put("/sandbox/config", json={"spotify": {"dev_mode": False}}))


def _simulate(
    sandbox_url: str,
    landing_url: str,
    campaign: DemoCampaign,
    grants: int,
    truth: GroundTruth,
    deadline: datetime | None = None,
) -> int:
    plans = plan_fans(
        grants,
        seed=7 if campaign.kind == "live" else 8,
        prefix=f"{campaign.slug[:6]}-",
        reading_s=(1.0, 3.0),
        services=tuple(
            (s, w)
            for s, w in SERVICE_SHARES
            if s in (*campaign.spec.services.offered(), *campaign.spec.services.link_only())
        ),
    )
    register_fans(sandbox_url, plans)
    with _progress() as progress:
        task = progress.add_task(f"fans visiting {campaign.slug}", total=len(plans))
        report = simulate_fans(
            landing_url,
            campaign.slug,
            plans,
            sandbox_url=sandbox_url,
            deadline=deadline,
            concurrency=64,
            on_fan=lambda _outcome: progress.advance(task),
            truth=truth,
        )
    summary = ", ".join(f"{k} {v}" for k, v in sorted(report.outcomes.items()))
    console.print(f"{campaign.slug}: {len(plans)} visitors, {summary}")
    _check_outcomes(report.outcomes)
    return report.grants


def _check_outcomes(outcomes: Counter[str]) -> None:
    """Fail on an outcome the flow should never give; warn about fans who failed or came late."""
    unexpected = {
        k: v
        for k, v in outcomes.items()
        if k
        not in {"granted", "visited", "declined", "abandoned", "failed", "late", "reminder", "turned_away"}
    }
    if unexpected:
        raise RuntimeError(f"the landing flow failed for some fans: {unexpected}")
    if outcomes["failed"]:
        console.print(
            f"[yellow]{outcomes['failed']} fans met a service failure and were asked to try again "
            "(no grant; the ground truth says so)[/]"
        )
    if outcomes["late"]:
        console.print(
            f"[yellow]{outcomes['late']} fans arrived too late to pre-save: "
            "the machine is slow for this --release-in; give it more seconds[/]"
        )


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
        TRUTH_FILE,
    ):
        (data_dir / name).unlink(missing_ok=True)
    for folder in ("inbox", "quarantine", "loaded", "dagster"):  # campaigns/ holds the committed files
        shutil.rmtree(data_dir / folder, ignore_errors=True)
    data_dir.mkdir(parents=True, exist_ok=True)
    marker.write_text("created by `presave demo`; the demo wipes this folder's demo files on each run\n")
    return data_dir


def _expect_ok(response: httpx.Response) -> None:
    if response.is_error:
        raise RuntimeError(
            f"sandbox refused {response.request.url.path}: {response.status_code} {response.text[:300]}"
        )


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


def demo_instance(data_dir: Path) -> dg.DagsterInstance:
    """The demo's Dagster instance, kept in `<data dir>/dagster` with its dagster.yaml."""
    home = (data_dir / DAGSTER_HOME).resolve()
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(INSTANCE_YAML.format(home=home))
    return dg.DagsterInstance.from_config(str(home))


def _dagster_logs(verbose: bool) -> dict[str, Any]:
    """Run config for the demo's runs: Dagster's own log lines only when asked for, else warnings only."""
    return {"loggers": {"console": {"config": {"log_level": "INFO" if verbose else "WARNING"}}}}


def _release_day(
    settings: Settings, instance: dg.DagsterInstance, slug: str, logs: dict[str, Any]
) -> list[str]:
    """Evaluate the release-day schedule as the daemon would, and run what it asks for; the runs' ids."""
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
    runs = []
    for request in requests:
        with console.status(f"release day: the schedule's run for {request.partition_key}"):
            result = job.execute_in_process(
                instance=instance, partition_key=request.partition_key, run_config=logs, raise_on_error=False
            )
        if not result.success:
            raise RuntimeError(f"release day failed for {request.partition_key}")
        runs.append(result.run_id)
    return runs


def _drop_exports(settings: Settings, roster: list[DemoCampaign], truth: GroundTruth) -> None:
    """Every export each artist's team would download today (days up to yesterday), simulated from what
    the fans did, and the fan export of a campaign another tool ran."""
    as_of = datetime.now(UTC).date() - timedelta(days=1)
    paths = [
        write_presave_fan_export(
            settings.inbox_dir / "other-tools",
            campaign=ELSEWHERE.title,
            release_date=ELSEWHERE.release_date,
            fans=ELSEWHERE.fans,
            seed=5,
            truth=truth,
            slug=ELSEWHERE.slug,
        )
    ]
    fans = truth.fans_frame()
    granted = fans[fans.outcome == "granted"]
    for number, (artist, (listeners, followers)) in enumerate(AUDIENCES.items()):
        releases = [
            _release_input(c.slug, c.spec.title, c.spec.upc or "", c.release_at.date(), granted)
            for c in roster
            if c.spec.artist == artist
        ]
        if artist == ELSEWHERE.artist:  # its fans' follows are not in our ledger: spread over its window
            releases.append(
                _release_input(
                    ELSEWHERE.slug,
                    ELSEWHERE.title,
                    ELSEWHERE.upc,
                    ELSEWHERE.release_date,
                    granted,
                    follows_known=False,
                )
            )
        start = min(r.release_date for r in releases) - timedelta(days=35)
        simulation = simulate(
            artist,
            releases,
            start,
            as_of,
            seed=3 + number,
            baseline_listeners=listeners,
            baseline_followers=followers,
        )
        truth.add_exports(simulation, as_of)
        paths += write_all(settings.inbox_dir, simulation, as_of=as_of)
    console.print(f"simulated exports (up to {as_of}) dropped in the inbox: {len(paths)} files")


def _songs(title: str, upc: str) -> tuple[SongInput, ...]:
    return (SongInput(title, isrc(upc, 1)), SongInput(f"{title} (Night Version)", isrc(upc, 2)))


def _release_input(
    slug: str, title: str, upc: str, release_date: date, granted: pd.DataFrame, *, follows_known: bool = True
) -> ReleaseInput:
    """A release as the streaming simulation sees it: its Spotify pre-savers by country, its Apple ones,
    and the days its Spotify pre-savers followed the artist (the ledger's follows at grant time)."""
    own = granted[granted.campaign == slug]
    spotify = own[own.service == "spotify"]
    days = Counter(moment.astimezone(UTC).date() for moment in spotify.granted_at)
    return ReleaseInput(
        release_date=release_date,
        presaves=len(spotify),
        title=title,
        upc=upc,
        songs=_songs(title, upc),
        presaves_by_country=dict(Counter(spotify.country)),
        apple_preadds=int((own.service == "apple").sum()),
        follows_by_day=dict(days) if follows_known else None,
    )


@dataclass(frozen=True)
class FailedCheck:
    asset: str
    check: str
    description: str


def failed_checks(instance: dg.DagsterInstance, run_ids: list[str]) -> list[FailedCheck]:
    """The asset checks that failed in the demo's runs, from Dagster's own check evaluations: the one
    place the summary learns of them."""
    failed = []
    for run_id in run_ids:
        for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
            evaluation = record.dagster_event.event_specific_data if record.dagster_event else None
            if isinstance(evaluation, dg.AssetCheckEvaluation) and not evaluation.passed:
                failed.append(
                    FailedCheck(
                        evaluation.asset_key.to_user_string(),
                        evaluation.check_name,
                        _check_words(evaluation),
                    )
                )
    return failed


def _check_words(evaluation: dg.AssetCheckEvaluation) -> str:
    """A failed check's own description, else its metadata (what it found)."""
    if evaluation.description:
        return evaluation.description
    return ", ".join(f"{name} {value.value}" for name, value in evaluation.metadata.items())


def release_day_words(outcomes: dict[str, int], presaves: int, release_at: datetime, now: datetime) -> str:
    """What release day did for a campaign, in the words a label uses: before the release, its direct
    pre-saves wait for it (the executor plans their actions when the release window opens); after, the
    outcomes that happened."""
    if release_at > now:
        return f"{presaves} pre-saves wait for {release_at:%H:%M} UTC" if presaves else "nothing owed yet"
    done = [f"{count} {outcome.replace('_', ' ')}" for outcome, count in outcomes.items() if count]
    return ", ".join(done) or "nothing owed"


def _dashboard_campaigns(settings: Settings) -> list[tuple[str, str, datetime, int]]:
    """The campaigns as the dashboard lists them: the warehouse snapshot's overview."""
    from pipelines.warehouse import Warehouse

    with Warehouse(settings.warehouse_path).reader() as connection:
        rows = connection.execute(
            "SELECT campaign_slug, origin, release_at, presaves FROM campaign_overview "
            "ORDER BY release_at DESC, campaign_slug"
        ).fetchall()
    return [(slug, origin, release_at, int(presaves)) for slug, origin, release_at, presaves in rows]


def _print_summary(
    store: Store,
    settings: Settings,
    roster: list[DemoCampaign],
    truth: GroundTruth,
    failed: list[FailedCheck],
) -> None:
    now = datetime.now(UTC)
    native = {c.slug for c in roster}
    campaigns = _dashboard_campaigns(settings)
    table = Table(title=f"the dashboard's {len(campaigns)} campaigns", title_justify="left")
    for column in ("campaign", "release", "pre-saves", "release day"):
        table.add_column(column, justify="right" if column == "pre-saves" else "left")
    with store.session() as session:
        for slug, origin, release_at, presaves in campaigns:
            summary = summarise(session, slug) if slug in native else None
            words = (
                release_day_words(summary.outcomes, summary.presaves["direct"], release_at, now)
                if summary is not None
                else f"{origin}: run with another tool"
            )
            table.add_row(slug, f"{release_at:%Y-%m-%d}", f"{presaves:,}", words)
    console.print(table)
    live = next(c.slug for c in roster if c.kind == "live")
    with store.session() as session:
        live_summary = summarise(session, live)
    if live_summary.presaves["reminder"] or live_summary.turned_away:
        kinds = live_summary.presaves
        console.print(
            f"{live} pre-saves: {kinds['direct']} direct + {kinds['reminder']} reminders = {kinds['total']}"
            + (
                f"; {live_summary.turned_away} turned away by Spotify's development mode"
                if live_summary.turned_away
                else ""
            )
        )
    conversion = truth.conversion(live)
    visitors = conversion.pop("page")["visited"]
    console.print(f"{live}, the simulated fans' true conversion ({visitors:,} visitors):")
    for service, row in conversion.items():
        console.print(f"  {service}: {conversion_words(row)}")
    _print_failed_checks(failed)


def conversion_words(row: dict[str, int]) -> str:
    """One service's true conversion among the visitors who chose it: direct pre-saves and reminders apart,
    each with its share, then what the others did."""
    chose = row["chose"]
    kinds = [(row.get("granted", 0), "direct"), (row.get("reminder", 0), "reminders")]
    said = [f"{count}/{chose} {kind} ({count / chose:.1%})" for count, kind in kinds if count] or [
        f"0/{chose}"
    ]
    others = [
        (row.get(outcome, 0), outcome.replace("_", " "))
        for outcome in ("turned_away", "declined", "abandoned")
    ]
    rest = ", ".join(f"{count} {what}" for count, what in others if count)
    return ", ".join(said) + (f"; {rest}" if rest else "")


def _print_failed_checks(failed: list[FailedCheck]) -> None:
    if not failed:
        console.print("every asset check passed")
        return
    console.print(f"[bold yellow]{len(failed)} asset checks failed[/] (the figures they test are marked):")
    for check in failed:
        console.print(f"  {check.asset} · {check.check}: {check.description}")


def _warehouse(settings: Settings, instance: dg.DagsterInstance, logs: dict[str, Any]) -> list[str]:
    from pipelines.definitions import build_definitions

    definitions = build_definitions(settings)
    runs = []
    for name, what in (
        ("artist_snapshots_job", "the artists' followers and popularity"),
        ("warehouse_job", "the store's copy, the exports, the marts and their checks"),
    ):
        job = definitions.resolve_job_def(name)
        with console.status(f"warehouse: {what}"):
            result = job.execute_in_process(instance=instance, run_config=logs, raise_on_error=False)
        if not result.success:
            raise RuntimeError(f"the {name} failed (its run {result.run_id} in {instance.root_directory})")
        runs.append(result.run_id)
    return runs


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )
