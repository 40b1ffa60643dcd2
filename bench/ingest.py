"""Ingest throughput and peak memory: a 1M-row DistroKid bank TSV, 10M rows of Apple Music daily plays,
and a revised 10M-row export merged over the first (every day replaced).

Each load runs in a fresh process so its peak resident memory is its own; files are written first into
a temporary folder (latin-1, CR line ends and tabs for DistroKid, as DistroKid writes them).
`python -m bench ingest` (sizes can be scaled down with BENCH_INGEST_SCALE=0.1).
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute
import pyarrow.csv as pacsv
from rich.console import Console
from rich.table import Table

DISTROKID_ROWS = 1_000_000
DAILY_ROWS = 10_000_000
STORES = np.array(["Spotify", "Apple Music", "Deezer", "Amazon Music", "YouTube Music", "TIDAL"])
COUNTRIES = np.array(["US", "GB", "FR", "DE", "BR", "JP", "NL", "SE", "MX", "CA", "AU", "IT", "ES", "PL"])


def _scale() -> float:
    return float(os.environ.get("BENCH_INGEST_SCALE", "1"))


def write_distrokid(path: Path, rows: int, seed: int = 1) -> Path:
    """Distinct store × track × country × sale month lines, written as DistroKid does (latin-1, CR, tabs)."""
    rng = np.random.default_rng(seed)
    index = np.arange(rows)
    tracks = index // (len(STORES) * len(COUNTRIES) * 12)
    months = (index // (len(STORES) * len(COUNTRIES))) % 12
    header = (
        "Date Inserted\tReporting Date\tSale Month\tStore\tArtist\tTitle\tISRC\tUPC\tQuantity\tTeam Percentage\t"
        "Source Type\tCountry of Sale\tSongwriter Royalties Withheld (USD)\tEarnings (USD)\tRecoup (USD)\r"
    )
    quantity = rng.integers(-2, 5000, rows)
    with path.open("w", encoding="latin-1", newline="") as handle:
        handle.write(header)
        for start in range(0, rows, 100_000):
            stop = min(rows, start + 100_000)
            lines = [
                f"2026-03-25\t2026-03-25\t2025-{months[i] + 1:02d}\t{STORES[i % len(STORES)]}\tTést Ärtist\t"
                f"Néon Skyline {tracks[i]}\tQZWFV{tracks[i]:07d}\t{198880000000 + tracks[i]:013d}\t{quantity[i]}\t"
                f"100\tSong\t{COUNTRIES[(i // len(STORES)) % len(COUNTRIES)]}\t0\t{quantity[i] * 0.0031:.6f}\t\r"
                for i in range(start, stop)
            ]
            handle.write("".join(lines))
    return path


def write_daily_plays(path: Path, rows: int, *, seed: int = 2) -> Path:
    """Apple Music daily plays: songs × days (UTF-8, LF, comma), written by Arrow in blocks."""
    rng = np.random.default_rng(seed)
    days = 3650
    first = date(2016, 1, 1)
    dates = np.array([(first + timedelta(days=d)).isoformat() for d in range(days)])
    schema = pa.schema([("Date", pa.string()), ("Song", pa.string()), ("Plays", pa.int64())])
    with pacsv.CSVWriter(path, schema) as writer:
        for start in range(0, rows, 1_000_000):
            index = np.arange(start, min(rows, start + 1_000_000))
            songs = pa.compute.binary_join_element_wise(
                "Song ", pa.array(index // days).cast(pa.string()), ""
            )
            writer.write_table(
                pa.table(
                    {
                        "Date": dates[index % days],
                        "Song": songs,
                        "Plays": rng.integers(0, 10_000, len(index)),
                    },
                    schema=schema,
                )
            )
    return path


def _peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss it is not inherited across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _load(
    paths: list[str], warehouse: str, queue: multiprocessing.Queue[tuple[int, float, float, float, list[str]]]
) -> None:
    from pipelines.exports.ingest import ingest_files
    from pipelines.warehouse import Warehouse

    baseline = _peak_rss_mib()
    started = time.perf_counter()
    report = ingest_files([Path(p) for p in paths], Warehouse(Path(warehouse)), Path(warehouse).parent / "q")
    seconds = time.perf_counter() - started
    peak = _peak_rss_mib()
    queue.put((report.rows, seconds, baseline, peak, [r for _, r in report.refused]))


def measure(paths: list[Path], warehouse: Path) -> tuple[int, float, float, float]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_load, args=([str(p) for p in paths], str(warehouse), queue))
    process.start()
    rows, seconds, baseline, peak, refused = queue.get()
    process.join()
    if refused:
        raise RuntimeError(f"the benchmark files were refused: {refused}")
    return rows, seconds, baseline, peak


def run() -> None:
    console = Console(width=120)
    scale = _scale()
    distrokid_rows, daily_rows = int(DISTROKID_ROWS * scale), int(DAILY_ROWS * scale)
    table = Table(title=f"ingest ({os.cpu_count()} cores)")
    for column in ("load", "rows", "file MiB", "seconds", "rows/s", "peak RSS MiB", "above start MiB"):
        table.add_column(column, justify="right" if column != "load" else "left")
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as folder:
        root = Path(folder)
        with console.status("writing the benchmark files"):
            bank = write_distrokid(root / "bank.tsv", distrokid_rows)
            plays = write_daily_plays(root / "Nova Lane__daily-plays.csv", daily_rows)
            revised = write_daily_plays(root / "Nova Lane__daily-plays-revised.csv", daily_rows, seed=3)
        loads = [
            ("DistroKid bank TSV (latin-1, CR)", [bank], root / "w1" / "warehouse.duckdb"),
            ("Apple daily plays", [plays], root / "w2" / "warehouse.duckdb"),
            ("same days, revised export (merge)", [revised], root / "w2" / "warehouse.duckdb"),
        ]
        for name, paths, warehouse in loads:
            with console.status(f"loading: {name}"):
                rows, seconds, baseline, peak = measure(paths, warehouse)
            size = sum(p.stat().st_size for p in paths) / 2**20
            table.add_row(
                name,
                f"{rows:,}",
                f"{size:,.0f}",
                f"{seconds:.1f}",
                f"{rows / seconds:,.0f}",
                f"{peak:,.0f}",
                f"{peak - baseline:,.0f}",
            )
    console.print(table)
    console.print(
        "Each load runs in its own process: peak RSS includes the interpreter and its imports (the 'above "
        "start' column leaves them out) and DuckDB's buffers."
    )
