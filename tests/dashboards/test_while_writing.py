"""The dashboard keeps answering while a pipeline run writes: another process takes a new pre-save and
rebuilds every mart, round after round. While a round holds the warehouse (written, not yet published)
the pages answer with the last published figures; once it publishes they show the new ones: always the
figures of one whole publish, never a round half written."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from streamlit.testing.v1 import AppTest

from campaigns.settings import Settings, snapshot_path
from dashboards.queries import WarehouseReader

ROUNDS = 2
WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from pipelines.marts.assets import MARTS
    from pipelines.marts.mart import rebuild
    from pipelines.warehouse import Warehouse
    warehouse = Warehouse(Path(sys.argv[1]))
    for round in range(int(sys.argv[2])):
        with warehouse.writer() as connection:
            connection.execute(
                "INSERT INTO grants SELECT slug, 'spotify', 'late-fan-' || ?, release_at - INTERVAL 1 DAY, "
                "'active', 'GB' FROM campaigns WHERE slug = 'midnight-drive'",
                [round],
            )
            for mart in MARTS:
                rebuild(connection, mart)
            print("written", flush=True)
            sys.stdin.readline()  # the warehouse stays held (written, not published) until the test says
        print("published", flush=True)
    """
)


def _page(snapshot: str, path: str) -> None:
    from pathlib import Path

    from dashboards import queries
    from dashboards.screens import PAGES

    next(p for p in PAGES if p.url_path == path).render(queries.WarehouseReader(Path(snapshot)))


def _presaves_shown(snapshot: Path) -> set[str]:
    """The pre-save count the campaign and release-day pages show for the campaign being written."""
    shown = set()
    for path in ("campaign", "release-day"):
        app = AppTest.from_function(
            _page, kwargs={"snapshot": str(snapshot), "path": path}, default_timeout=120
        )
        app.query_params["campaign"] = "midnight-drive"
        app.run()
        assert not app.exception, [e.message for e in app.exception]
        shown.add(app.metric[0].value)
    return shown


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
        [sys.executable, "-c", WRITER, str(warehouse), str(ROUNDS)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdin is not None
    assert writer.stdout is not None
    try:
        for round in range(ROUNDS):
            assert writer.stdout.readline().strip() == "written"
            assert _presaves_shown(snapshot) == {f"{presaves + round:,}"}  # drawn while the write is held
            writer.stdin.write("go on\n")
            writer.stdin.flush()
            assert writer.stdout.readline().strip() == "published"
            assert _presaves_shown(snapshot) == {f"{presaves + round + 1:,}"}
    finally:
        writer.stdin.close()
        writer.wait(timeout=120)
    assert writer.returncode == 0
