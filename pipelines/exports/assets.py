"""Artist exports dropped into the inbox, loaded into the warehouse."""

from pathlib import Path

import dagster as dg

from collectors.inbox import pending_files
from pipelines.exports.ingest import ingest_files
from pipelines.resources import InboxResource, WarehouseResource


@dg.asset(group_name="exports", kinds={"duckdb", "csv"})
def s4a_audience_timeline(
    context: dg.AssetExecutionContext, inbox: InboxResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """The artist's daily Spotify for Artists audience (listeners, streams, followers) per artist and
    day, merged from every export dropped into the inbox (the latest export of a day wins). Files
    already loaded (same content) change nothing; refused files move to quarantine with a reason."""
    inbox_dir = Path(inbox.inbox_dir)
    report = ingest_files(
        pending_files(inbox_dir),
        warehouse.warehouse(),
        Path(inbox.quarantine_dir),
        inbox_dir.parent / "loaded",
    )
    for name, reason in report.refused:
        context.log.warning(f"quarantined {name}: {reason}")
    return dg.MaterializeResult(
        metadata={
            "files_loaded": len(report.loaded),
            "rows_loaded": report.rows,
            "files_refused": len(report.refused),
            "files_already_loaded": len(report.duplicates),
        }
    )
