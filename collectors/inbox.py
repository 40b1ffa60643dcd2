"""The inbox: export files waiting to be loaded, fingerprinted by content, refused ones quarantined."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

REASON_SUFFIX = ".reason.txt"


def content_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def pending_files(inbox: Path) -> list[Path]:
    """Files waiting in the inbox or its folders (an unpacked export archive), oldest first.

    Hidden files and folders (a browser's partial download, `.DS_Store`) are left alone.
    """
    if not inbox.is_dir():
        return []
    files = [
        p
        for p in inbox.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(inbox).parts)
    ]
    return sorted(files, key=lambda p: (p.stat().st_mtime, p.name))


def quarantine(path: Path, quarantine_dir: Path, reason: str) -> Path:
    """Move a refused file aside, with a reason file beside it naming the file, line and problem."""
    quarantine_dir.mkdir(parents=True, exist_ok=True)
    target = _free_name(quarantine_dir / path.name)
    shutil.move(str(path), target)
    target.with_name(target.name + REASON_SUFFIX).write_text(reason.rstrip() + "\n", encoding="utf-8")
    return target


def settle(path: Path, loaded_dir: Path) -> Path:
    """Move a loaded file out of the inbox so the inbox shows only what still waits."""
    loaded_dir.mkdir(parents=True, exist_ok=True)
    target = _free_name(loaded_dir / path.name)
    shutil.move(str(path), target)
    return target


def _free_name(target: Path) -> Path:
    candidate, counter = target, 1
    while candidate.exists():
        candidate = target.with_name(f"{target.stem}.{counter}{target.suffix}")
        counter += 1
    return candidate


def remove_empty_folders(inbox: Path) -> None:
    """Folders left empty once their files were loaded or quarantined (the inbox itself stays)."""
    if not inbox.is_dir():
        return
    for folder in sorted(
        (p for p in inbox.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True
    ):
        if not any(folder.iterdir()):
            folder.rmdir()
