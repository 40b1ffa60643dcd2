"""What Spotify for Artists puts only in its file names: the artist, the song and the time window.

Accepted names (extension and a browser's ` (1)` duplicate suffix ignored; `-` or `_` between parts):
- `<Artist>-audience-timeline[-<window>].csv`
- `<Artist>-songs-<window>.csv`, e.g. `Nova Lane-songs-1year.csv`, `Nova Lane-songs-all.csv`
- `<Song>[-<window>]-timeline[-<window>].csv`, e.g. `Midnight Drive-timeline.csv`,
  `Midnight Drive-28days-timeline.csv`

Windows are given canonical names: `all` (all time, since launch), `<n>d` for days and weeks, `<n>m` for
months and years (`1year` → `12m`), `<n>h` for hours.
"""

from __future__ import annotations

import re
from pathlib import Path

_WINDOW = (
    r"(?:last[-_ ]?)?"
    r"(?:all(?:[-_ ]?time)?|since[-_ ]?launch|lifetime|"
    r"\d+[-_ ]?(?:days?|d|weeks?|w|months?|m|years?|y|hours?|h))"
)
_SEP = r"[-_]"
_PATTERNS = {
    "s4a_audience_timeline": re.compile(
        rf"^(?P<artist>.+?){_SEP}audience{_SEP}timeline(?:{_SEP}(?P<window>{_WINDOW}))?$", re.IGNORECASE
    ),
    "s4a_songs": re.compile(rf"^(?P<artist>.+?){_SEP}songs(?:{_SEP}(?P<window>{_WINDOW}))?$", re.IGNORECASE),
    "s4a_song_timeline": re.compile(
        rf"^(?P<song>.+?)(?:{_SEP}(?P<window>{_WINDOW}))?{_SEP}timeline(?:{_SEP}(?P<window_after>{_WINDOW}))?$",
        re.IGNORECASE,
    ),
}
_DUPLICATE_SUFFIX = re.compile(r"\s*\(\d+\)$")
_AMOUNT = re.compile(r"(\d+)[-_ ]?([a-z]+)")


def canonical_window(label: str) -> str:
    """`1year` → `12m`, `28days` → `28d`, `2-weeks` → `14d`, `since-launch` → `all`, `24h` → `24h`."""
    plain = re.sub(r"^last[-_ ]?", "", label.strip().lower())
    amount = _AMOUNT.fullmatch(plain)
    if amount is None:
        return "all"
    count, unit = int(amount.group(1)), amount.group(2)
    if unit.startswith("w"):
        return f"{count * 7}d"
    if unit.startswith("y"):
        return f"{count * 12}m"
    if unit.startswith("m"):
        return f"{count}m"
    if unit.startswith("h"):
        return f"{count}h"
    return f"{count}d"


def meta_from_name(kind: str, path: Path) -> dict[str, str]:
    """Artist, song and window read from the file name for the Spotify for Artists kinds; {} otherwise."""
    pattern = _PATTERNS.get(kind)
    if pattern is None:
        return {}
    stem = _DUPLICATE_SUFFIX.sub("", Path(path.name).stem).strip()
    found = pattern.match(stem)
    if found is None:
        return {}
    parts = {name: value.strip() for name, value in found.groupdict().items() if value}
    window = parts.pop("window", None) or parts.pop("window_after", None)
    parts.pop("window_after", None)
    if window:
        parts["window"] = canonical_window(window)
        parts["window_label"] = window
    return parts
