"""Files that hold fans' data or secrets are readable by their owner only (mode 0600)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE = 0o600


def make_private(path: Path, *, create: bool = False) -> None:
    """Create `path` empty with mode 0600 if asked and missing; tighten an existing file to 0600.

    A file created elsewhere (by SQLite, DuckDB, a copy) takes the process's umask, usually 0644: this
    closes it to other users. Files that belong to another user are left as they are.
    """
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE))
            return
        except FileExistsError:
            pass
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            os.chmod(path, mode & 0o700)
    except (FileNotFoundError, PermissionError):
        pass
