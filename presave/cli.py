"""The `presave` command: wires settings, stores, landing app, executor, pipelines and dashboard."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from cryptography.fernet import Fernet
from rich.console import Console
from rich.markup import escape
from sqlalchemy.orm import Session

from campaigns.campaign_file import CampaignFileError, CampaignSpec, load_campaign_file
from campaigns.registry import (
    CampaignExists,
    CampaignSummary,
    UnknownCampaign,
    campaign_spec,
    create_campaign,
    get_campaign,
    list_campaigns,
    summarise,
    update_campaign,
)
from campaigns.settings import Settings, SettingsError, load_settings
from campaigns.store import Store, StoreUnavailable

app = typer.Typer(
    help="Pre-save campaigns: landing page, release day, warehouse and dashboard.", no_args_is_help=True
)
campaign_app = typer.Typer(help="Create, correct and inspect campaigns.", no_args_is_help=True)
release_app = typer.Typer(help="Release-day actions.", no_args_is_help=True)
fans_app = typer.Typer(help="Fans who pre-saved.", no_args_is_help=True)
keys_app = typer.Typer(help="The secret keys: re-seal with the newest key.", no_args_is_help=True)
app.add_typer(campaign_app, name="campaign")
app.add_typer(keys_app, name="keys")
app.add_typer(release_app, name="release")
app.add_typer(fans_app, name="fans")

out = Console()
err = Console(stderr=True)


def fail(reason: str, code: int = 1) -> NoReturn:
    """Exit non-zero with a one-line reason on stderr."""
    print(f"presave: {reason}", file=sys.stderr)
    raise typer.Exit(code)


def _settings() -> Settings:
    try:
        return load_settings()
    except Exception as exc:  # pydantic's ValidationError names the variable and the problem
        fail(f"configuration: {str(exc).splitlines()[0] if isinstance(exc, SettingsError) else exc}")


def _store(settings: Settings) -> Store:
    return Store.connect(settings.resolved_database_url, timeouts=settings.store_timeouts)


@contextmanager
def _operational_session(settings: Settings) -> Iterator[Session]:
    """One transaction on the operational store; the connection is closed afterwards."""
    store = _store(settings)
    try:
        with store.session() as session:
            yield session
    finally:
        store.dispose()


@app.command()
def keygen(
    pseudonym: Annotated[
        bool, typer.Option("--pseudonym", help="A secret for PRESAVE_PSEUDONYM_KEY instead.")
    ] = False,
) -> None:
    """Print a new secret key for PRESAVE_SECRET_KEY (prepend it to rotate: new,old)."""
    import secrets

    print(secrets.token_urlsafe(32) if pseudonym else Fernet.generate_key().decode())


@keys_app.command("rotate")
def keys_rotate(
    batch_size: Annotated[int, typer.Option(min=1, help="Rows per transaction.")] = 500,
    pause: Annotated[
        float, typer.Option(min=0, help="Seconds to rest between batches (a busy store).")
    ] = 0.0,
) -> None:
    """Re-seal every sealed column (tokens, emails, PKCE verifiers) with the newest key.

    Safe to stop and run again: values already sealed with the newest key are skipped. When it reports
    every value current, the older keys can be removed from PRESAVE_SECRET_KEY.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from campaigns.rotation import rotate_keys, rows_to_examine
    from campaigns.vault import TokenVault, VaultError

    settings = _settings()
    try:
        vault = TokenVault(settings.secret_keys())
    except (SettingsError, VaultError) as exc:
        fail(f"configuration: {exc}")
    store = _store(settings)
    columns = (TextColumn("re-sealing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    try:
        with Progress(*columns, console=err) as progress:
            task = progress.add_task("rows", total=rows_to_examine(store))
            report = rotate_keys(
                store,
                vault,
                batch_size=batch_size,
                pause_s=pause,
                on_batch=lambda rows: progress.advance(task, rows),
            )
    finally:
        store.dispose()
    out.print(report.describe(), markup=False, soft_wrap=True)
    if not report.complete:
        fail("some values open with no configured key: keep every key until they are dealt with")
    if len(settings.secret_keys()) > 1:
        out.print("every sealed value is current: the older keys can now be removed from PRESAVE_SECRET_KEY")


def _operator() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in some containers
        return "unknown"


CampaignFile = Annotated[Path, typer.Argument(help="The campaign file (YAML).")]


def _campaign_file(file: Path) -> CampaignSpec:
    try:
        return load_campaign_file(file)
    except CampaignFileError as exc:
        fail(str(exc), 2)


ChangedBy = Annotated[str | None, typer.Option("--by", help="Who made the change (default: login name).")]


@campaign_app.command("create")
def campaign_create(file: CampaignFile, by: ChangedBy = None) -> None:
    """Create a campaign from its file."""
    spec = _campaign_file(file)
    try:
        with _operational_session(_settings()) as session:
            campaign = create_campaign(session, spec, by or _operator())
            release = campaign.release_at.isoformat()
    except CampaignExists as exc:
        fail(str(exc))
    out.print(
        f"created campaign [bold]{escape(spec.slug)}[/]: {escape(spec.artist)} — {escape(spec.title)}, "
        f"release {release}"
    )


@campaign_app.command("update")
def campaign_update(file: CampaignFile, by: ChangedBy = None) -> None:
    """Correct an existing campaign from a new version of its file (the old versions are kept).

    A new UPC, ISRC or service album id has the release looked up again from now: fans' saves set
    aside as `pending_source` go back in the queue at the next release run."""
    spec = _campaign_file(file)
    try:
        with _operational_session(_settings()) as session:
            update = update_campaign(session, spec, by or _operator())
    except UnknownCampaign as exc:
        fail(f"{exc}: create it with `presave campaign create`")
    if update.version is None:
        out.print(f"campaign [bold]{escape(spec.slug)}[/] unchanged")
        return
    lookup = "; the release is looked up again from now" if update.lookup_changed else ""
    out.print(
        f"updated campaign [bold]{escape(spec.slug)}[/] to version {update.version}{escape(lookup)}",
        soft_wrap=True,
    )


@campaign_app.command("list")
def campaign_list() -> None:
    """List campaigns, soonest release first."""
    with _operational_session(_settings()) as session:
        rows = [
            (c.slug, c.artist, c.title, c.release_at.isoformat(), c.release_mode)
            for c in list_campaigns(session)
        ]
    for slug, artist, title, release_at, mode in rows:
        print(f"{slug}\t{artist}\t{title}\t{release_at}\t{mode}")


@campaign_app.command("show")
def campaign_show(
    slug: str, as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False
) -> None:
    """Show a campaign with its grants by service and owed actions by outcome."""
    try:
        with _operational_session(_settings()) as session:
            summary = summarise(session, slug)
    except UnknownCampaign as exc:
        fail(str(exc))
    if as_json:
        print(json.dumps(summary.as_json(), indent=2, default=str))
        return
    campaign = summary.campaign
    out.print(
        f"[bold]{escape(campaign['slug'])}[/]: {escape(campaign['artist'])} — {escape(campaign['title'])}"
    )
    out.print(escape(f"release {campaign['release_at']} {campaign['timezone']} ({campaign['release_mode']})"))
    kinds = summary.presaves
    out.print(
        escape(
            f"pre-saves: {kinds['total']} in total = {kinds['direct']} direct + {kinds['reminder']} reminders"
        )
    )
    out.print(escape("direct (grants): " + ", ".join(f"{k} {v}" for k, v in summary.grants.items())))
    if summary.reminders:
        out.print(escape("reminders: " + ", ".join(f"{k} {v}" for k, v in summary.reminders.items())))
    out.print(escape("owed actions: " + ", ".join(f"{k} {v}" for k, v in summary.outcomes.items())))
    for line in cap_warnings(summary):
        out.print(f"[yellow]warning:[/] {escape(line)}", soft_wrap=True)


def cap_warnings(summary: CampaignSummary) -> list[str]:
    """Fans turned to reminders by a development-mode Spotify app: how many, since when."""
    spotify_reminders = summary.reminders.get("spotify", 0)
    if not (summary.turned_away or spotify_reminders) or summary.capped_since is None:
        return []
    return [
        f"the Spotify app's development-mode places are taken: since {summary.capped_since:%Y-%m-%d %H:%M} UTC "
        f"{summary.turned_away} fans were turned away after authorizing and {spotify_reminders} took a "
        "reminder instead (`presave services` says what each service can do)"
    ]


@app.command("services")
def services_command(
    slug: Annotated[str | None, typer.Argument(help="One campaign; all campaigns when left out.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Say per campaign what each service can do with the label's apps, and for how many fans: direct
    saves, direct saves up to Spotify's development-mode cap then reminders, or reminders only."""
    from campaigns.capabilities import capabilities
    from campaigns.capacity import spotify_places

    settings = _settings()
    configured = settings.enabled_services()
    with _operational_session(settings) as session:
        places = spotify_places(
            session,
            configured="spotify" in configured,
            mode=settings.spotify_mode,
            allowlist=settings.spotify_allowlist,
        )
        try:
            campaigns = [get_campaign(session, slug)] if slug else list_campaigns(session)
        except UnknownCampaign as exc:
            fail(str(exc))
        found = {
            c.slug: capabilities(
                campaign_spec(c), configured=configured, places=places, apple_key_id=settings.apple_key_id
            )
            for c in campaigns
        }
    if as_json:
        print(json.dumps({s: [c.as_json() for c in caps] for s, caps in found.items()}, indent=2))
        return
    for campaign_slug, caps in found.items():
        out.print(f"[bold]{escape(campaign_slug)}[/]")
        for capability in caps:
            out.print(f"  {escape(capability.text)}", soft_wrap=True)


@fans_app.command("export")
def fans_export(
    slug: str,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the CSV here instead of to stdout.")
    ] = None,
) -> None:
    """The campaign's fan CSV: pseudonymous fans, with the email only where a live consent covers it."""
    from campaigns.vault import TokenVault  # opening emails needs no pseudonym key
    from collectors.landing.fans import export_fans

    settings = _settings()
    try:
        with _operational_session(settings) as session:
            if output is None:
                count = export_fans(session, TokenVault(settings.secret_keys()), slug, sys.stdout)
            else:
                with output.open("w", encoding="utf-8", newline="") as handle:
                    count = export_fans(session, TokenVault(settings.secret_keys()), slug, handle)
    except UnknownCampaign as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror}")
    err.print(f"{count} fans exported", markup=False)


@app.command()
def forget(
    service: Annotated[str, typer.Option(help="spotify, apple or deezer.")],
    user: Annotated[str, typer.Option(help="The fan's user id on the service, or their fan_key.")],
) -> None:
    """Erase a fan's grants and personal data (tokens, email, choices, consents); their events go anonymous."""
    from collectors.landing.fans import forget_fan

    if service not in ("spotify", "apple", "deezer"):
        fail(f"--service must be spotify, apple or deezer, not {service!r}", 2)
    settings = _settings()
    try:
        fan_key = settings.vault().pseudonym(service, user)  # finds grants retention made anonymous
    except SettingsError as exc:
        fail(f"configuration: {exc}")
    with _operational_session(settings) as session:
        erasure = forget_fan(session, service, user, fan_key)
    out.print(erasure.describe(), markup=False, soft_wrap=True)


@release_app.command("run")
def release_run(
    slug: str,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Plan and resolve, perform nothing.")] = False,
    shards: Annotated[int, typer.Option(help="Worker processes (0: by the work due).")] = 0,
    threads: Annotated[int, typer.Option(help="Threads per worker.")] = 16,
) -> None:
    """Perform the release-day actions that are due now (what the schedule does)."""
    from executor.entry import release_day, report_lines

    settings = _settings()
    if not settings.enabled_services():
        fail("no service is configured (PRESAVE_SPOTIFY_*, PRESAVE_APPLE_*, PRESAVE_DEEZER_*)")
    try:
        report = release_day(settings, slug, dry_run=dry_run, shards=shards, threads=threads)
    except UnknownCampaign as exc:
        fail(str(exc))
    except StoreUnavailable as exc:  # nothing was marked failed: the next run resumes
        fail(f"{exc}; the owed actions stay queued (or in flight, checked first) for the next run")
    print("\n".join(report_lines(report)))
    if report.busy:
        fail("another run holds this campaign; nothing was done")
    if report.undone:
        fail(f"{report.undone} owed actions are left undone")


@app.command()
def ingest(paths: Annotated[list[Path], typer.Argument(help="Export files to load.")]) -> None:
    """Load export files into the warehouse; bad files are quarantined with a reason."""
    from pipelines.exports.ingest import ingest_files
    from pipelines.warehouse import Warehouse

    settings = _settings()
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        fail(f"no such file: {', '.join(missing)}")
    from rich.progress import Progress

    pseudonym = settings.vault().pseudonym  # fans in fan exports get the store's fan keys
    with Progress(console=err, transient=True) as progress:
        task = progress.add_task("loading", total=None)
        report = ingest_files(
            paths,
            Warehouse(settings.warehouse_path),
            settings.quarantine_dir,
            on_file=lambda path: progress.update(task, description=f"loading {escape(path.name)}"),
            on_rows=lambda path, rows: progress.update(
                task, description=f"loading {escape(path.name)}: {rows:,} rows"
            ),
            pseudonym=pseudonym,
        )
    for name, kind, rows in report.loaded:
        out.print(f"loaded {name} ({kind}, {rows} rows)", markup=False)
    for name in report.duplicates:
        out.print(f"already loaded {name} (same content)", markup=False)
    for name, kind in report.waiting:
        out.print(f"not loaded {name}: no loader for {kind} yet", markup=False)
    for name, reason in report.refused:
        err.print(f"refused {name}: {reason}", markup=False)
    for name, problem in report.failed:
        err.print(f"could not load {name}: {problem}", markup=False)
    if report.refused or report.failed:
        raise typer.Exit(1)


@app.command()
def sandbox(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8900,
) -> None:
    """Serve the Spotify / Apple Music / Deezer stand-ins on loopback and print the PRESAVE_* lines."""
    from sandbox.serve import main as serve_sandbox

    serve_sandbox(host=host, port=port)


@app.command()
def landing(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    log_level: Annotated[str, typer.Option(help="uvicorn's log level.")] = "info",
) -> None:
    """Serve the fan-facing landing app."""
    import uvicorn

    from collectors.landing.app import create_app

    settings = _settings()
    # proxy_headers off: the app itself reads X-Forwarded-For, from PRESAVE_TRUSTED_PROXIES only
    uvicorn.run(
        create_app(settings), host=host, port=port, log_level=log_level, access_log=False, proxy_headers=False
    )


@app.command()
def dashboard(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8501,
    host: Annotated[
        str, typer.Option(help="Interface to listen on; beyond loopback only with a login configured.")
    ] = "127.0.0.1",
) -> None:
    """Serve the Streamlit dashboard over the warehouse snapshot."""
    from presave.dashboard_access import AccessError, check_access
    from presave.processes import run_dashboard

    settings = _settings()
    try:
        check_access(settings, host)
    except AccessError as exc:
        fail(str(exc), 2)
    raise typer.Exit(run_dashboard(settings, port=port, host=host).wait())


@app.command()
def pitch(
    slug: Annotated[str, typer.Argument(help="The campaign's slug.")],
    out_file: Annotated[
        Path, typer.Option("--out", help="Where to write the pack: FILE.pdf or FILE.png (by its suffix).")
    ],
) -> None:
    """Write the campaign's one-page editorial pitch pack (PDF or PNG), made offline from the warehouse."""
    from dashboards import pitch as pitch_pack
    from dashboards.queries import WarehouseReader

    fmt = out_file.suffix.lower().lstrip(".")
    if fmt not in pitch_pack.FORMATS:
        fail(f"--out {out_file}: the file must end in .pdf or .png", 2)
    settings = _settings()
    reader = WarehouseReader(settings.warehouse_snapshot_path)
    if not reader.available():
        fail(
            f"no warehouse snapshot at {reader.snapshot}: run the pipeline first (presave ingest, presave demo)"
        )
    try:
        pack = pitch_pack.gather(reader, slug)
    except pitch_pack.UnknownCampaign as exc:
        fail(str(exc))
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_bytes(pitch_pack.render(pack, fmt))
    out.print(f"wrote the pitch pack of [bold]{slug}[/] to {out_file}")


@app.command()
def demo(
    no_dashboard: Annotated[
        bool, typer.Option("--no-dashboard", help="End when the pipeline is done.")
    ] = False,
    fans: Annotated[int, typer.Option(help="Simulated fans who pre-save the live campaign.")] = 600,
    release_in: Annotated[int, typer.Option(help="Seconds from start to the live campaign's release.")] = 60,
    sandbox_url: Annotated[
        str | None, typer.Option(help="Use a sandbox already running there instead of starting one.")
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", help="Print Dagster's log lines of every run.")
    ] = False,
) -> None:
    """The whole system on the embedded default: sandbox, landing, fans, release day, exports, dashboard."""
    from presave.demo import run_demo

    raise typer.Exit(
        run_demo(
            _settings(),
            fans=fans,
            release_in=release_in,
            serve_dashboard=not no_dashboard,
            sandbox_url=sandbox_url,
            verbose=verbose,
        )
    )


def main() -> None:
    app()
