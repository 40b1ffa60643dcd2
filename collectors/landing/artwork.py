"""Which file a campaign's `artwork:` names: only an image inside `<data dir>/artwork/`.

A campaign file is written by a person, and the landing app serves what it names to anyone: so only the
file name is taken from it, looked up in the artwork folder, and the resolved path (symbolic links
followed) must still be inside that folder and end with an image suffix.
"""

from __future__ import annotations

from pathlib import Path

from collectors.landing.page import ARTWORK_SUFFIXES


def artwork_dir(data_dir: Path) -> Path:
    return data_dir / "artwork"


def artwork_file(data_dir: Path, artwork: str | None) -> Path | None:
    """The image to serve for `artwork`, or None when it names nothing servable."""
    if not artwork or artwork.startswith("https://"):
        return None
    name = Path(artwork.replace("\\", "/")).name
    if not name or Path(name).suffix.lower() not in ARTWORK_SUFFIXES:
        return None
    folder = artwork_dir(data_dir).resolve()
    try:
        path = (folder / name).resolve(strict=True)
    except (OSError, RuntimeError):  # missing, or a symbolic link loop
        return None
    if not path.is_relative_to(folder) or path.suffix.lower() not in ARTWORK_SUFFIXES or not path.is_file():
        return None
    return path
