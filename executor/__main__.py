"""`python -m executor run SLUG [--shards N] [--threads N] [--dry-run]`: release day for one campaign.

The same work as `presave release run SLUG`, with the executor's own knobs (shards, threads); the
configuration comes from the environment (`PRESAVE_*`) as for every entry point.
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta

from campaigns.registry import UnknownCampaign
from campaigns.settings import load_settings
from campaigns.store import Store
from campaigns.vault import Secret, TokenVault
from executor.release import ReleaseOptions, apps_from_settings, run_release
from executor.shards import ShardLauncher, WorkerSetup


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m executor", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="perform the release-day actions of a campaign that are due now")
    run.add_argument("slug")
    run.add_argument("--shards", type=int, default=0, help="worker processes (0: by the work due)")
    run.add_argument("--threads", type=int, default=16, help="threads per worker")
    run.add_argument("--wait-for-release", type=float, default=0.0, metavar="SECONDS")
    run.add_argument("--dry-run", action="store_true", help="resolve and count, perform nothing")
    args = parser.parse_args(argv)

    settings = load_settings()
    keys = settings.secret_keys()
    apps = apps_from_settings(settings)
    store = Store.connect(settings.resolved_database_url)
    try:
        report = run_release(
            store,
            TokenVault(keys),
            apps.get("spotify"),  # type: ignore[arg-type]
            args.slug,
            apple=apps.get("apple"),  # type: ignore[arg-type]
            deezer=apps.get("deezer"),  # type: ignore[arg-type]
            dry_run=args.dry_run,
            options=ReleaseOptions(
                shards=args.shards,
                threads=args.threads,
                wait_for_release=timedelta(seconds=args.wait_for_release),
            ),
            launcher=ShardLauncher(
                WorkerSetup(settings.resolved_database_url, tuple(Secret(k) for k in keys), apps)
            ),
        )
    except UnknownCampaign as exc:
        print(str(exc), file=sys.stderr)
        return 2
    finally:
        store.dispose()
    print(
        f"{args.slug}: planned {report.planned}, performed {report.performed}, calls {report.calls}, "
        f"worker CPU {report.work_cpu_s:.2f} s"
    )
    for service, found in report.releases.items():
        print(f"release on {service}: {found or 'not live yet'}")
    for service, why in report.waiting.items():
        print(f"waiting on {service}: {why}")
    for outcome, count in report.outcomes.items():
        print(f"{outcome}\t{count}")
    if report.busy:
        print("another run holds this campaign; nothing done", file=sys.stderr)
    if report.undone:
        print(f"{report.undone} owed actions are left undone", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
