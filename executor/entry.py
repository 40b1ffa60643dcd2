"""Release day for one campaign from the settings: what `presave release run` and `python -m executor run`
both do, and the lines they print."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from campaigns.models import Outcome
from campaigns.settings import Settings
from campaigns.store import Store
from campaigns.vault import Secret, TokenVault
from executor.release import ReleaseOptions, ReleaseReport, ShardLauncherLike, run_release
from executor.shards import ShardLauncher, WorkerSetup
from services import ServiceApp, apps_from_settings
from services.shared_pacing import pacing_url


def run_release_day(
    store: Store,
    secret_keys: list[str],
    apps: Mapping[str, ServiceApp],
    slug: str,
    *,
    options: ReleaseOptions,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
    pacing_url: str | None = None,
    pseudonym_secret: str | None = None,
    now: datetime | None = None,
    launcher: ShardLauncherLike | None = None,
) -> ReleaseReport:
    """Release day for `slug` on every service in `apps`, shard processes started as the work needs:
    the one entry of `presave release run`, `python -m executor run` and the Dagster asset. The shards
    pace each app by the shared state at `pacing_url` (None: the operational store), as `apps` should.
    `pseudonym_secret` lets the run give a grant stored before `/me` answered its account (identify);
    `now` pins the run's clock (tests); `launcher` runs the shards elsewhere than in processes of this
    machine (`pipelines.fanout.CeleryShardLauncher`)."""
    setup = WorkerSetup(
        database_url=store.engine.url.render_as_string(hide_password=False),
        secret_keys=tuple(Secret(k) for k in secret_keys),
        apps=apps,
        timeouts=store.timeouts,
        pacing_url=pacing_url,
        pseudonym_secret=Secret(pseudonym_secret) if pseudonym_secret else None,
    )
    return run_release(
        store,
        TokenVault.of(secret_keys, pseudonym_secret),
        apps,
        slug,
        now=now,
        dry_run=dry_run,
        options=options,
        launcher=launcher or ShardLauncher(setup),
        progress=progress,
    )


def release_day(
    settings: Settings,
    slug: str,
    *,
    dry_run: bool = False,
    shards: int = 0,
    threads: int = 16,
    wait_for_release: float = 0.0,
) -> ReleaseReport:
    """`run_release_day` with the store and the apps from the settings (raises UnknownCampaign)."""
    apps = apps_from_settings(settings)
    store = Store.connect(settings.resolved_database_url, timeouts=settings.store_timeouts)
    try:
        return run_release_day(
            store,
            settings.secret_keys(),
            apps,
            slug,
            dry_run=dry_run,
            options=ReleaseOptions(
                shards=shards, threads=threads, wait_for_release=timedelta(seconds=wait_for_release)
            ),
            pacing_url=pacing_url(settings),
            pseudonym_secret=settings.configured_pseudonym_secret(),
        )
    finally:
        store.dispose()
        for app in apps.values():
            app.close()


def report_lines(report: ReleaseReport) -> list[str]:
    """What a person reads after a run: the release per service, what waits and why, the outcomes."""
    lines = [
        f"{report.slug}: planned {report.planned}, performed {report.performed}, calls {report.calls}, "
        f"worker CPU {report.work_cpu_s:.2f} s"
    ]
    lines += [
        f"release on {service}: {found or 'not live yet'}" for service, found in report.releases.items()
    ]
    lines += [f"waiting on {service}: {why}" for service, why in report.waiting.items()]
    lines += [
        f"{service} told the app to wait until {until.strftime('%Y-%m-%d %H:%M:%S')} UTC "
        "(quota spent or a long Retry-After): its actions stay queued for the schedule to run after"
        for service, until in report.paused_until.items()
    ]
    lines += [f"not sent on {service}: {why}" for service, why in report.pacing_away.items()]
    if report.latency_s:
        lines.append(
            "release to library: " + ", ".join(f"{k} {v:.1f} s" for k, v in report.latency_s.items())
        )
    lines += [f"{outcome}\t{count}" for outcome, count in report.outcomes.items()]
    ignored = report.outcomes.get(Outcome.IGNORED, 0)
    if ignored:
        lines.append(
            f"ignored by the service: {ignored} follows were answered but not kept (checked with "
            "GET /me/library/contains); not counted as delivered"
        )
    return lines
