"""The dashboard keeps answering while a pipeline run writes: another process rebuilds every mart and
publishes the snapshot again and again while the pages are drawn from it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from streamlit.testing.v1 import AppTest

from campaigns.settings import Settings, snapshot_path
from dashboards.queries import WarehouseReader

REBUILDS = 3
WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from pipelines.marts.assets import MARTS
    from pipelines.marts.mart import rebuild
    from pipelines.warehouse import Warehouse
    warehouse = Warehouse(Path(sys.argv[1]))
    print("started", flush=True)
    for _ in range(int(sys.argv[2])):
        with warehouse.writer() as connection:
            for mart in MARTS:
                rebuild(connection, mart)
    """
)


def _page(snapshot: str, path: str) -> None:
    from pathlib import Path

    from dashboards import queries
    from dashboards.screens import PAGES

    next(p for p in PAGES if p.url_path == path).render(queries.WarehouseReader(Path(snapshot)))


def test_the_pages_answer_with_whole_figures_while_the_marts_are_rebuilt_and_published(
    dashboard_settings: Settings, tmp_path: Path
) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(dashboard_settings.warehouse_path, warehouse)
    shutil.copyfile(dashboard_settings.warehouse_snapshot_path, snapshot_path(warehouse))
    snapshot = snapshot_path(warehouse)
    presaves = int(
        WarehouseReader(snapshot)
        .query("SELECT presaves FROM campaign_overview WHERE campaign_slug = 'midnight-drive'")
        .iloc[0]["presaves"]
    )
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(warehouse), str(REBUILDS)], stdout=subprocess.PIPE, text=True
    )
    assert writer.stdout is not None
    assert writer.stdout.readline().strip() == "started"
    first_version, answers = snapshot.stat().st_mtime_ns, 0
    while writer.poll() is None:
        for path in ("campaign", "release-day"):
            app = AppTest.from_function(
                _page, kwargs={"snapshot": str(snapshot), "path": path}, default_timeout=120
            )
            app.query_params["campaign"] = "midnight-drive"
            app.run()
            assert not app.exception, [e.message for e in app.exception]
            assert app.metric[0].value == f"{presaves:,}"
            answers += 1
    assert writer.returncode == 0
    assert answers >= 2  # drawn while the writer held the warehouse
    assert snapshot.stat().st_mtime_ns != first_version  # and the writer did publish meanwhile
