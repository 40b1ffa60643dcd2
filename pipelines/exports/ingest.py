"""Loading export files into the warehouse: dedup by content hash, stage, merge, quarantine the bad.

Each file is read in bounded batches into a staging table; only when the whole file has read cleanly
(readers may refuse a file after yielding batches) is it merged into its table, in one transaction with
its `loaded_files` row. A refused file moves to the quarantine folder with a reason file (file, line,
problem) and leaves the warehouse as it was; the other files load. See `kinds.py` for how overlapping
exports merge.

An export describes days that have happened: a file holding a row dated after the moment it is loaded
is refused (`future_row`), so no day still to come ever counts as history. A calendar date is after the
load moment when that day has not begun anywhere on Earth yet (UTC+14), since exports date days in
their own zone; a time without a zone is read the same generous way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd

from collectors.exports import DEFAULT_BATCH_ROWS, ExportError, Pseudonym, detect_kind, iter_export
from collectors.exports.lines import line_of_row
from collectors.exports.sniff import inspect_source
from collectors.inbox import content_hash, quarantine, settle
from pipelines.exports.kinds import (
    KINDS,
    MISSING_CAMPAIGN,
    SUMMED,
    ExportKind,
    MissingCampaign,
    Repeats,
    name_tag,
)
from pipelines.warehouse import Warehouse

STAGE = "staged_export"
EARLIEST_OFFSET = timedelta(hours=14)  # UTC+14 (Line Islands): where a calendar day begins first
MEMORY_LIMIT = "512MB"  # DuckDB's share while loading; larger exports spill to <warehouse>.tmp


@dataclass
class IngestReport:
    loaded: list[tuple[str, str, int]] = field(default_factory=list)  # file, kind, rows read
    duplicates: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # file, reason
    waiting: list[tuple[str, str]] = field(default_factory=list)  # file, kind without a loader
    failed: list[tuple[str, str]] = field(default_factory=list)  # file, our own error (file left in place)
    tables: dict[str, int] = field(default_factory=dict)  # table → rows read into it

    @property
    def rows(self) -> int:
        return sum(rows for _, _, rows in self.loaded)


def ingest_files(
    paths: Iterable[Path],
    warehouse: Warehouse,
    quarantine_dir: Path,
    loaded_dir: Path | None = None,
    *,
    on_file: Callable[[Path], None] | None = None,
    on_rows: Callable[[Path, int], None] | None = None,
    pseudonym: Pseudonym | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    memory_limit: str = MEMORY_LIMIT,
    loaded_at: datetime | None = None,
) -> IngestReport:
    """Load each file once (by content); refused files move to quarantine with their reason.

    `pseudonym` (the vault's keyed hash) turns fans' emails and user ids in pre-save fan exports into
    fan keys; without it those fans load without a key. `on_rows(path, rows so far)` reports progress
    within a file. `memory_limit` bounds DuckDB's memory while loading (it spills beyond it).
    `loaded_at` is the load moment rows may not be dated after (default: now).
    """
    report = IngestReport()
    moment = (loaded_at or datetime.now(UTC)).astimezone(UTC)
    with warehouse.writer() as connection:
        connection.execute("SET enable_progress_bar = false")
        connection.execute(f"SET memory_limit = '{memory_limit}'")
        for path in paths:
            if on_file:
                on_file(path)
            _ingest_one(
                connection,
                Path(path),
                quarantine_dir,
                loaded_dir,
                report,
                _Reading(on_rows, pseudonym, batch_rows, moment),
            )
    return report


def _ingest_one(
    connection: duckdb.DuckDBPyConnection,
    path: Path,
    quarantine_dir: Path,
    loaded_dir: Path | None,
    report: IngestReport,
    reading: _Reading,
) -> None:
    digest = content_hash(path)
    if connection.execute("SELECT 1 FROM loaded_files WHERE content_hash = ?", [digest]).fetchone():
        report.duplicates.append(path.name)
        if loaded_dir:
            settle(path, loaded_dir)
        return
    try:
        detected = detect_kind(path)
        kind = KINDS.get(detected)
        if kind is None:
            report.waiting.append((path.name, detected))
            return
        staged = _stage(connection, path, kind, reading)
        _resolve_repeats(connection, path, kind)
        as_of = _as_of(connection, path, kind)
    except ExportError as exc:
        _drop_stage(connection)
        _refuse(connection, path, digest, quarantine_dir, exc)
        report.refused.append((path.name, str(exc)))
        return
    except Exception as exc:
        _drop_stage(connection)
        report.failed.append((path.name, f"{type(exc).__name__}: {exc}"))
        return
    connection.execute("BEGIN")
    try:
        _merge(connection, kind, path.name, digest, as_of)
        _record_loaded(connection, digest, path.name, kind.kind, staged, as_of)
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    finally:
        _drop_stage(connection)
    report.loaded.append((path.name, kind.kind, staged.rows))
    report.tables[kind.table.name] = report.tables.get(kind.table.name, 0) + staged.rows
    if loaded_dir:
        settle(path, loaded_dir)


def _refuse(
    connection: duckdb.DuckDBPyConnection, path: Path, digest: str, quarantine_dir: Path, exc: ExportError
) -> None:
    """The file to quarantine with its reason, and its content remembered as refused."""
    reason = _reason(path, exc)
    quarantine(path, quarantine_dir, reason)
    connection.execute(
        "INSERT INTO quarantined_files VALUES (?, ?, ?, ?)",
        [digest, path.name, reason, datetime.now(UTC)],
    )


def _record_loaded(
    connection: duckdb.DuckDBPyConnection,
    digest: str,
    file_name: str,
    kind: str,
    staged: _Staged,
    as_of: date | None,
) -> None:
    connection.execute(
        "INSERT INTO loaded_files BY NAME SELECT ? AS content_hash, ? AS file_name, ? AS kind, "
        "? AS rows, ? AS as_of, ? AS variant, ? AS encoding, ? AS loaded_at",
        [digest, file_name, kind, staged.rows, as_of, staged.variant, staged.encoding, datetime.now(UTC)],
    )


def _reason(path: Path, exc: ExportError) -> str:
    line = str(exc.line) if exc.line is not None else "(the whole file)"
    return f"file: {path.name}\nline: {line}\nproblem: {exc.problem}\n"


@dataclass(frozen=True)
class _Reading:
    on_rows: Callable[[Path, int], None] | None
    pseudonym: Pseudonym | None
    batch_rows: int
    loaded_at: datetime


@dataclass(frozen=True)
class _Staged:
    rows: int
    variant: str | None
    encoding: str | None


def _stage(
    connection: duckdb.DuckDBPyConnection,
    path: Path,
    kind: ExportKind,
    reading: _Reading,
) -> _Staged:
    """Read the whole file into a temporary table (typed as its warehouse table, plus its row number)."""
    _drop_stage(connection)
    types = {c.split()[0]: c.split()[1] for c in kind.table.columns}
    columns = ", ".join(f"{name} {types[name]}" for name in kind.staged_columns)
    connection.execute(f"CREATE TEMP TABLE {STAGE} ({columns}, _row BIGINT)")
    tag = name_tag(path)
    rows = 0
    meta: dict[str, str] = {}
    for batch in iter_export(path, reading.batch_rows, pseudonym=reading.pseudonym):
        meta = dict(batch.meta)
        try:
            frame = kind.prepare(batch, tag)
        except MissingCampaign as missing:
            raise ExportError(path, _line(path, rows + missing.row), MISSING_CAMPAIGN) from None
        _check_rules(path, kind, frame, rows)
        _check_not_future(path, kind, frame, rows, reading.loaded_at)
        frame["_row"] = pd.RangeIndex(rows, rows + len(frame))
        connection.register("incoming_batch", frame)
        try:
            connection.execute(f"INSERT INTO {STAGE} BY NAME SELECT * FROM incoming_batch")
        finally:
            connection.unregister("incoming_batch")
        rows += len(frame)
        if reading.on_rows:
            reading.on_rows(path, rows)
    return _Staged(rows, meta.get("variant"), meta.get("encoding"))


def _check_rules(path: Path, kind: ExportKind, frame: pd.DataFrame, offset: int) -> None:
    for rule in kind.rules:
        bad = rule.bad(frame).to_numpy()
        if bad.any():
            index = int(bad.argmax())
            raise ExportError(path, _line(path, offset + index), rule.problem(frame.iloc[index]))


def future_rows(frame: pd.DataFrame, columns: tuple[str, ...], loaded_at: datetime) -> pd.Series:
    """Rows with a date in `columns` after `loaded_at`: a day not yet begun anywhere, a time past it."""
    latest = (loaded_at.astimezone(UTC) + EARLIEST_OFFSET).replace(tzinfo=None)
    last_day = pd.Timestamp(latest.date())
    bad = pd.Series(False, index=frame.index)
    for column in columns:
        values = pd.to_datetime(frame[column], errors="coerce")
        if getattr(values.dt, "tz", None) is not None:
            values = values.dt.tz_convert("UTC").dt.tz_localize(None)
        is_day = (values == values.dt.normalize()).fillna(False).astype(bool)
        after = (values > pd.Timestamp(latest)) | (is_day & (values > last_day))
        bad |= after.fillna(False).astype(bool)
    return bad


def _check_not_future(
    path: Path, kind: ExportKind, frame: pd.DataFrame, offset: int, loaded_at: datetime
) -> None:
    columns = tuple(c for c in kind.dated_columns if c in frame.columns)
    if not columns:
        return
    bad = future_rows(frame, columns, loaded_at).to_numpy()
    if bad.any():
        index = int(bad.argmax())
        row = frame.iloc[index]
        dated = max(pd.Timestamp(row[c]) for c in columns if pd.notna(row[c]))
        shown = dated.date().isoformat() if dated == dated.normalize() else dated.isoformat(sep=" ")
        raise ExportError(
            path,
            _line(path, offset + index),
            f"row dated {shown}, after the moment this file was loaded "
            f"({loaded_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC): an export cannot report a day that has "
            "not happened yet (check the export's date column and the machine's clock)",
        )


def _line(path: Path, row: int) -> int | None:
    """The physical line of the `row`-th data row (a slow scan; only on the way to a refusal)."""
    return line_of_row(inspect_source(path), row)


def _key_match(key: tuple[str, ...], left: str, right: str) -> str:
    return " AND ".join(f"{left}.{k} IS NOT DISTINCT FROM {right}.{k}" for k in key)


def _resolve_repeats(connection: duckdb.DuckDBPyConnection, path: Path, kind: ExportKind) -> None:
    """Drop exact copies of rows; then refuse conflicting repeats, or add them up, as the kind says."""
    key = kind.merge_key if kind.repeats is not Repeats.KEEP else kind.staged_columns
    keys = ", ".join(key)
    repeated = connection.execute(
        f"SELECT 1 FROM {STAGE} GROUP BY {keys} HAVING count(*) > 1 LIMIT 1"
    ).fetchone()
    if repeated is None:
        return
    values = ", ".join(kind.staged_columns)
    connection.execute(
        f"DELETE FROM {STAGE} WHERE _row NOT IN (SELECT min(_row) FROM {STAGE} GROUP BY {values})"
    )
    if kind.repeats is Repeats.KEEP:
        return
    if kind.repeats is Repeats.SUM:
        _sum_repeats(connection, kind)
        return
    conflict = connection.execute(
        f"SELECT {keys}, list(_row ORDER BY _row)[2] FROM {STAGE} GROUP BY {keys} HAVING count(*) > 1 "
        "ORDER BY min(_row) LIMIT 1"
    ).fetchone()
    if conflict is not None:
        described = ", ".join(
            f"{name} {_show(value)}"
            for name, value in zip(key, conflict[:-1], strict=True)
            if value is not None
        )
        raise ExportError(
            path,
            _line(path, int(conflict[-1])),
            f"conflicting rows: {described} appears again with different values",
        )


def _show(value: object) -> str:
    return value.isoformat() if isinstance(value, date) else repr(value)


def _sum_repeats(connection: duckdb.DuckDBPyConnection, kind: ExportKind) -> None:
    keys = ", ".join(kind.merge_key)
    others = [c for c in kind.staged_columns if c not in kind.merge_key]
    aggregates = ", ".join(f"sum({c}) AS {c}" if c in SUMMED else f"any_value({c}) AS {c}" for c in others)
    connection.execute(
        f"CREATE TEMP TABLE {STAGE}_summed AS SELECT {keys}, {aggregates}, min(_row) AS _row "
        f"FROM {STAGE} GROUP BY {keys}"
    )
    connection.execute(f"DROP TABLE {STAGE}")
    connection.execute(f"ALTER TABLE {STAGE}_summed RENAME TO {STAGE}")


def _as_of(connection: duckdb.DuckDBPyConnection, path: Path, kind: ExportKind) -> date | None:
    """How recent the export is: its latest date, or (undated kinds) the day the file was written."""
    if kind.date_column is None:
        return datetime.fromtimestamp(path.stat().st_mtime, UTC).date()
    found = connection.execute(f"SELECT max({kind.date_column})::DATE FROM {STAGE}").fetchone()
    return found[0] if found else None


def _merge(
    connection: duckdb.DuckDBPyConnection, kind: ExportKind, file_name: str, digest: str, as_of: date | None
) -> None:
    """Older exports' rows for the incoming keys make way; rows a newer export already holds stay."""
    table, key = kind.table.name, kind.merge_key
    keys = ", ".join(key)
    connection.execute(f"CREATE TEMP TABLE {STAGE}_keys AS SELECT DISTINCT {keys} FROM {STAGE}")
    connection.execute(
        f"DELETE FROM {table} t USING {STAGE}_keys k, loaded_files f "
        f"WHERE {_key_match(key, 't', 'k')} AND f.content_hash = t.source_hash "
        "AND (f.as_of IS NULL OR f.as_of <= ?)",
        [as_of],
    )
    # Rows loaded before exports were tracked by content hash have no source: any export supersedes them.
    connection.execute(
        f"DELETE FROM {table} t USING {STAGE}_keys k WHERE {_key_match(key, 't', 'k')} AND t.source_hash IS NULL"
    )
    columns = ", ".join(f"s.{c}" for c in kind.staged_columns)
    stamped = ", ? AS as_of" if "as_of" in kind.table.column_names else ""
    connection.execute(
        f"INSERT INTO {table} BY NAME SELECT {columns}, ? AS source_file, ? AS source_hash{stamped} "
        f"FROM {STAGE} s WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE {_key_match(key, 't', 's')})",
        [file_name, digest, as_of] if stamped else [file_name, digest],
    )


def _drop_stage(connection: duckdb.DuckDBPyConnection) -> None:
    for name in (STAGE, f"{STAGE}_summed", f"{STAGE}_keys"):
        connection.execute(f"DROP TABLE IF EXISTS {name}")
