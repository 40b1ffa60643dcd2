"""What the privacy schedule deletes, as plain functions over the store and the data folder."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from collectors.exports import ExportError, detect_kind

FAN_EXPORT_KIND = "presave_fans"  # other pre-save tools' fan lists: emails and user ids, row by row


def delete_loaded_fan_exports(loaded_dir: Path) -> int:
    """Delete other tools' fan exports once they are loaded: the warehouse keeps their rows under fan
    keys, the file would keep the emails. Other exports (streams, plays) hold no person and stay."""
    if not loaded_dir.is_dir():
        return 0
    deleted = 0
    for path in sorted(p for p in loaded_dir.rglob("*") if p.is_file()):
        try:
            kind = detect_kind(path)
        except (ExportError, OSError, ValueError):
            continue
        if kind == FAN_EXPORT_KIND:
            path.unlink(missing_ok=True)
            deleted += 1
    return deleted


ATTEMPT_LIFETIME = timedelta(days=1)  # an authorization comes back within 15 minutes; a day is ample
