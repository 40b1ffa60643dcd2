"""How header labels and free-text values are compared: case, accents and punctuation do not matter."""

from __future__ import annotations

import re
import unicodedata

_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def normalise_label(label: str) -> str:
    """`"Moy. d'auditeurs journalière"` → `"moy d auditeurs journaliere"`; `"Recoup (USD)"` → `"recoup usd"`.

    Case, accents and punctuation are dropped; a byte-order mark left on the first label is removed.
    """
    decomposed = unicodedata.normalize("NFKD", label.strip().lstrip("\ufeff").casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NON_ALNUM.sub(" ", plain).strip()
