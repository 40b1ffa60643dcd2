"""What a reader hands back: one normalised table (or one batch of it) and where it came from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd


@dataclass(frozen=True)
class ExportTable:
    """A normalised export (or one batch of it).

    `kind` names the layout (see `collectors/exports/README.md`), `frame` holds snake_case columns with real
    dtypes (dates as `datetime64[s]`, counts as `Int64`, amounts as `Float64`, text as `str`), `source` is
    the file read and `meta` carries what the file name and the header told us (artist, song, window,
    encoding, delimiter, layout variant).
    """

    kind: str
    frame: pd.DataFrame
    source: Path
    meta: Mapping[str, str] = field(default_factory=dict)
