"""Artist exports dropped into the inbox, loaded into the warehouse; a sensor watches the inbox."""

import hashlib
from collections.abc import Iterator
from pathlib import Path

import dagster as dg

from collectors.inbox import content_hash, pending_files, remove_empty_folders
from pipelines.exports.ingest import ingest_files
from pipelines.exports.kinds import KINDS
from pipelines.privacy.housekeeping import delete_loaded_fan_exports
from pipelines.resources import InboxResource, OperationalStore, WarehouseResource

GROUP = "exports"

_DESCRIPTIONS = {
    "s4a_audience_timeline": "Spotify for Artists audience timeline: listeners, streams and followers per artist and day.",
    "s4a_songs": "Spotify for Artists songs: each song's listeners, streams and saves over a window, with its release date.",
    "s4a_song_timeline": "Spotify for Artists per-song timeline: streams per song and day (song from the file name).",
    "amfa_songs": "Apple Music for Artists songs performance: plays, listeners, Shazams, radio spins, purchases per song.",
    "amfa_daily_plays": "Apple Music for Artists daily plays per song and day.",
    "amfa_listeners": "Apple Music for Artists listeners per day.",
    "distrokid_bank": "DistroKid bank report: quantity and earnings per store, track, country, sale month and reporting date.",
    "presave_fans": "Pre-saves made with other tools (one fan, one service), per campaign, merged per day; fans under keyed hashes.",
}

INBOX_SPECS = [
    dg.AssetSpec(kind.table.name, description=_DESCRIPTIONS[name], group_name=GROUP, kinds={"duckdb", "csv"})
    for name, kind in KINDS.items()
]


@dg.multi_asset(specs=INBOX_SPECS, can_subset=False, name="inbox_exports")
def inbox_exports(
    context: dg.AssetExecutionContext,
    inbox: InboxResource,
    warehouse: WarehouseResource,
    operational_store: OperationalStore,
) -> Iterator[dg.MaterializeResult[None]]:
    """Every file waiting in the inbox, loaded into its table (oldest file first); files already loaded
    (same content) change nothing; refused files move to quarantine with a reason file."""
    inbox_dir = Path(inbox.inbox_dir)
    report = ingest_files(
        pending_files(inbox_dir),
        warehouse.warehouse(),
        Path(inbox.quarantine_dir),
        inbox_dir.parent / "loaded",
        on_file=lambda path: context.log.info(f"loading {path.name}"),
        pseudonym=operational_store.vault().pseudonym,
    )
    remove_empty_folders(inbox_dir)
    delete_loaded_fan_exports(inbox_dir.parent / "loaded")  # their rows are in, under fan keys
    for name, reason in report.refused:
        context.log.warning(f"quarantined {name}: {reason}")
    for name, problem in report.failed:
        context.log.error(f"could not load {name} (left in the inbox): {problem}")
    with warehouse.warehouse().reader() as connection:
        counts = {
            spec.key.to_user_string(): connection.execute(
                f"SELECT count(*) FROM {spec.key.to_user_string()}"
            ).fetchone()[0]  # type: ignore[index]
            for spec in INBOX_SPECS
        }
    for spec in INBOX_SPECS:
        table = spec.key.to_user_string()
        yield dg.MaterializeResult(
            asset_key=spec.key,
            metadata={
                "dagster/row_count": counts[table],
                "rows_read_this_run": report.tables.get(table, 0),
                "files_loaded": len(report.loaded),
                "files_refused": len(report.refused),
                "files_already_loaded": len(report.duplicates),
            },
        )
    if report.failed:
        raise dg.Failure(f"{len(report.failed)} file(s) could not be loaded and stay in the inbox")


def inbox_run_key(paths: list[Path]) -> str:
    """One key per set of waiting files: their content hashes, names and modification times.

    The same files waiting again ask for no second run; a file dropped again (even one whose content was
    loaded before, which the run then just moves out of the inbox) is a new drop and a new run.
    """
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(f"{content_hash(path)}\x1f{path.name}\x1f{path.stat().st_mtime_ns}\n".encode())
    return digest.hexdigest()[:32]


@dg.sensor(
    name="inbox_sensor",
    asset_selection=dg.AssetSelection.assets(inbox_exports).downstream(),
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Loads export files dropped into the inbox, then rebuilds the marts that read them.",
)
def inbox_sensor(context: dg.SensorEvaluationContext, inbox: InboxResource) -> dg.SensorResult:  # noqa: ARG001 - Dagster passes the sensor's context
    waiting = [p for p in pending_files(Path(inbox.inbox_dir)) if p.is_file()]
    if not waiting:
        return dg.SensorResult(skip_reason="the inbox is empty")
    names = ", ".join(p.name for p in waiting[:5]) + (" …" if len(waiting) > 5 else "")
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=inbox_run_key(waiting), tags={"inbox_files": str(len(waiting))})],
        cursor=names,
    )
