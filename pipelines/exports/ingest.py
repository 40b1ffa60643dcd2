"""Loading export files into the warehouse: dedup by content hash, merge per day, quarantine the bad."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd

from collectors.exports import ExportError, ExportTable, read_export
from collectors.inbox import content_hash, quarantine, settle
from pipelines.warehouse import Warehouse, insert_rows


@dataclass
class IngestReport:
    loaded: list[tuple[str, str, int]] = field(default_factory=list)  # file, kind, rows
    duplicates: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # file, reason
    waiting: list[tuple[str, str]] = field(default_factory=list)  # file, kind without a loader yet

    @property
    def rows(self) -> int:
        return sum(rows for _, _, rows in self.loaded)


def _merge_audience_timeline(connection: duckdb.DuckDBPyConnection, table: ExportTable) -> int:
    """Per artist and day, the latest export wins: its days replace what earlier exports said."""
    artist = table.meta.get("artist") or table.source.stem.removesuffix("-audience-timeline")
    frame = table.frame[["date", "listeners", "streams", "followers"]].copy()
    frame["date"] = pd.to_datetime(frame["date"]).dt.date
    frame.insert(0, "artist", artist)
    frame["source_file"] = table.source.name
    connection.register("incoming_days", frame)
    try:
        connection.execute(
            "DELETE FROM s4a_audience_timeline t USING incoming_days i "
            "WHERE t.artist = i.artist AND t.date = i.date"
        )
    finally:
        connection.unregister("incoming_days")
    return insert_rows(connection, "s4a_audience_timeline", frame)


LOADERS: dict[str, Callable[[duckdb.DuckDBPyConnection, ExportTable], int]] = {
    "s4a_audience_timeline": _merge_audience_timeline,
}


def ingest_files(
    paths: Iterable[Path],
    warehouse: Warehouse,
    quarantine_dir: Path,
    loaded_dir: Path | None = None,
    *,
    on_file: Callable[[Path], None] | None = None,
) -> IngestReport:
    """Load each file once (by content); refused files move to quarantine with their reason."""
    report = IngestReport()
    with warehouse.writer() as connection:
        for path in paths:
            if on_file:
                on_file(path)
            _ingest_one(connection, path, quarantine_dir, loaded_dir, report)
    return report


def _ingest_one(
    connection: duckdb.DuckDBPyConnection,
    path: Path,
    quarantine_dir: Path,
    loaded_dir: Path | None,
    report: IngestReport,
) -> None:
    digest = content_hash(path)
    if connection.execute("SELECT 1 FROM loaded_files WHERE content_hash = ?", [digest]).fetchone():
        report.duplicates.append(path.name)
        if loaded_dir:
            settle(path, loaded_dir)
        return
    try:
        table = read_export(path)
    except ExportError as exc:
        quarantine(path, quarantine_dir, str(exc))
        report.refused.append((path.name, str(exc)))
        return
    loader = LOADERS.get(table.kind)
    if loader is None:
        report.waiting.append((path.name, table.kind))
        return
    connection.execute("BEGIN")
    try:
        rows = loader(connection, table)
        connection.execute(
            "INSERT INTO loaded_files VALUES (?, ?, ?, ?, ?)",
            [digest, path.name, table.kind, rows, datetime.now(UTC)],
        )
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    report.loaded.append((path.name, table.kind, rows))
    if loaded_dir:
        settle(path, loaded_dir)
