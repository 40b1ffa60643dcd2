"""Artwork is served only from `<data dir>/artwork/`, whatever the campaign file names."""

from __future__ import annotations

from pathlib import Path

import pytest

from collectors.landing.artwork import artwork_file

PNG = b"\x89PNG\r\n\x1a\n" + b"0" * 16


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    (tmp_path / "data" / "artwork").mkdir(parents=True)
    (tmp_path / "data" / "artwork" / "cover.png").write_bytes(PNG)
    (tmp_path / "secret.png").write_bytes(PNG)
    (tmp_path / "data" / "artwork" / "escape.png").symlink_to(tmp_path / "secret.png")
    (tmp_path / "data" / "artwork" / "notes.txt").write_text("not an image")
    return tmp_path / "data"


@pytest.mark.parametrize("named", ["cover.png", "data/artwork/cover.png", "data/campaigns/cover.png"])
def test_an_image_in_the_artwork_folder_is_served_by_its_name(data_dir: Path, named: str) -> None:
    assert artwork_file(data_dir, named) == (data_dir / "artwork" / "cover.png").resolve()


@pytest.mark.parametrize(
    "named",
    [
        None,
        "https://cdn.example/cover.png",
        "../secret.png",
        "/etc/passwd",
        "escape.png",  # a symbolic link out of the folder
        "notes.txt",
        "missing.png",
        "..\\..\\secret.png",
    ],
)
def test_nothing_outside_the_artwork_folder_is_served(data_dir: Path, named: str | None) -> None:
    assert artwork_file(data_dir, named) is None
