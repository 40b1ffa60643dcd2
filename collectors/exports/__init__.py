"""Readers for artists' own exports: Spotify for Artists, Apple Music for Artists, DistroKid, pre-save fans.

See README.md in this folder for the layouts accepted and the normalised columns of each kind.
"""

from collectors.exports.errors import ExportError
from collectors.exports.layouts import KINDS
from collectors.exports.reader import DEFAULT_BATCH_ROWS, Pseudonym, detect_kind, iter_export, read_export
from collectors.exports.table import ExportTable

__all__ = [
    "DEFAULT_BATCH_ROWS",
    "KINDS",
    "ExportError",
    "ExportTable",
    "Pseudonym",
    "detect_kind",
    "iter_export",
    "read_export",
]
