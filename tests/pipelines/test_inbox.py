"""The inbox: the sensor asks for one run per set of dropped files; the ingest asset loads them."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
import pytest

from campaigns.settings import Settings
from pipelines.exports.assets import inbox_exports, inbox_sensor
from pipelines.resources import InboxResource, OperationalStore, WarehouseResource
from pipelines.warehouse import Warehouse
from tests.collectors.exports_files import DISTROKID_LEGACY, S4A_AUDIENCE, write_rows, write_text
from tests.conftest import PSEUDONYM_KEY


@pytest.fixture
def inbox(settings: Settings) -> InboxResource:
    settings.inbox_dir.mkdir(parents=True)
    return InboxResource(inbox_dir=str(settings.inbox_dir), quarantine_dir=str(settings.quarantine_dir))


def evaluate(inbox: InboxResource) -> dg.SensorResult:
    with dg.build_sensor_context(
        instance=dg.DagsterInstance.ephemeral(), resources={"inbox": inbox}
    ) as context:
        return inbox_sensor(context)  # type: ignore[return-value]


def test_an_empty_inbox_asks_for_nothing(inbox: InboxResource) -> None:
    result = evaluate(inbox)
    assert not result.run_requests
    assert result.skip_reason is not None


def test_dropped_files_ask_for_one_run_keyed_by_their_content(inbox: InboxResource) -> None:
    folder = Path(inbox.inbox_dir)
    audience = write_rows(folder / "Nova Lane-audience-timeline.csv", S4A_AUDIENCE)
    write_rows(folder / "bank.tsv", DISTROKID_LEGACY, delimiter="\t")
    first = evaluate(inbox).run_requests
    assert first is not None
    assert len(first) == 1
    again = evaluate(inbox).run_requests
    assert again is not None
    assert again[0].run_key == first[0].run_key
    write_rows(audience, S4A_AUDIENCE[:2])
    os.utime(audience, ns=(1, 1))
    changed = evaluate(inbox).run_requests
    assert changed is not None
    assert changed[0].run_key != first[0].run_key


def test_the_sensor_asks_for_the_exports_and_the_marts_that_read_them(settings: Settings) -> None:
    from pipelines.definitions import build_definitions

    definitions = build_definitions(settings)
    graph = definitions.resolve_asset_graph()
    sensor = definitions.resolve_sensor_def("inbox_sensor")
    selected = {key.to_user_string() for key in sensor.asset_selection.resolve(graph)}  # type: ignore[union-attr]
    assert {
        "s4a_audience_timeline",
        "distrokid_bank",
        "presave_fans",
        "first_week",
        "campaign_lift",
    } <= selected
    assert "grants" not in selected
    assert "release_day_actions" not in selected


def test_the_ingest_asset_loads_the_inbox_and_quarantines_the_bad(
    inbox: InboxResource, settings: Settings, tmp_path: Path
) -> None:
    folder = Path(inbox.inbox_dir)
    write_rows(folder / "Nova Lane-audience-timeline.csv", S4A_AUDIENCE, encoding="utf-8-sig")
    write_text(folder / "broken.csv", "date,listeners,streams\n2025-03-01,1\n")
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    resources = {
        "inbox": inbox,
        "warehouse": WarehouseResource(path=str(warehouse.path)),
        "operational_store": OperationalStore(
            database_url=f"sqlite:///{tmp_path / 'presave.db'}",
            secret_key=settings.secret_key.get_secret_value(),  # type: ignore[union-attr]
            pseudonym_key=PSEUDONYM_KEY,
        ),
    }
    result = dg.materialize([inbox_exports], resources=resources)
    assert result.success
    metadata = {
        m.asset_key.to_user_string(): m.metadata
        for m in result.asset_materializations_for_node("inbox_exports")
    }
    assert metadata["s4a_audience_timeline"]["dagster/row_count"].value == 3
    assert metadata["s4a_audience_timeline"]["files_refused"].value == 1
    assert metadata["distrokid_bank"]["dagster/row_count"].value == 0
    assert list(folder.iterdir()) == []
    assert (
        (settings.quarantine_dir / "broken.csv.reason.txt")
        .read_text()
        .startswith("file: broken.csv\nline: 2\n")
    )
    assert not evaluate(inbox).run_requests  # nothing left waiting
