"""Release day for one campaign from the settings: what `presave release run` and `python -m executor run`
both do, and the lines they print."""

from __future__ import annotations

from datetime import timedelta

from campaigns.settings import Settings
from campaigns.store import Store
from campaigns.vault import Secret, TokenVault
from executor.release import ReleaseOptions, ReleaseReport, apps_from_settings, run_release
from executor.shards import ShardLauncher, WorkerSetup


def release_day(
    settings: Settings,
    slug: str,
    *,
    dry_run: bool = False,
    shards: int = 0,
    threads: int = 16,
    wait_for_release: float = 0.0,
) -> ReleaseReport:
    """Plan and perform what is due now for `slug` on every configured service (raises UnknownCampaign)."""
    keys = settings.secret_keys()
    apps = apps_from_settings(settings)
    store = Store.connect(settings.resolved_database_url)
    try:
        return run_release(
            store,
            TokenVault(keys),
            apps.get("spotify"),  # type: ignore[arg-type]
            slug,
            apple=apps.get("apple"),  # type: ignore[arg-type]
            deezer=apps.get("deezer"),  # type: ignore[arg-type]
            dry_run=dry_run,
            options=ReleaseOptions(
                shards=shards, threads=threads, wait_for_release=timedelta(seconds=wait_for_release)
            ),
            launcher=ShardLauncher(
                WorkerSetup(settings.resolved_database_url, tuple(Secret(k) for k in keys), apps)
            ),
        )
    finally:
        store.dispose()


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
    if report.latency_s:
        lines.append(
            "release to library: " + ", ".join(f"{k} {v:.1f} s" for k, v in report.latency_s.items())
        )
    lines += [f"{outcome}\t{count}" for outcome, count in report.outcomes.items()]
    return lines
