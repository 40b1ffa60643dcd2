"""`python -m executor run SLUG [--shards N] [--threads N] [--dry-run]`: release day for one campaign.

The same work as `presave release run SLUG`, with the executor's own knobs (shards, threads); the
configuration comes from the environment (`PRESAVE_*`) as for every entry point.
"""

from __future__ import annotations

import argparse
import sys

from campaigns.registry import UnknownCampaign
from campaigns.settings import load_settings
from executor.entry import release_day, report_lines


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

    try:
        report = release_day(
            load_settings(),
            args.slug,
            dry_run=args.dry_run,
            shards=args.shards,
            threads=args.threads,
            wait_for_release=args.wait_for_release,
        )
    except UnknownCampaign as exc:
        print(str(exc), file=sys.stderr)
        return 2
    print("\n".join(report_lines(report)))
    if report.busy:
        print("another run holds this campaign; nothing done", file=sys.stderr)
    if report.undone:
        print(f"{report.undone} owed actions are left undone", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
