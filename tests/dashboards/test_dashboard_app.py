from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from pipelines.warehouse import Warehouse

APP = str(Path(__file__).resolve().parents[2] / "dashboards" / "app.py")


@pytest.fixture
def warehouse(tmp_path: Path) -> Warehouse:
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    release = datetime(2026, 11, 20, tzinfo=UTC)
    with warehouse.writer() as connection:
        warehouse.replace_rows(
            connection,
            "campaigns",
            [
                pd.DataFrame(
                    [
                        {
                            "slug": "midnight-drive",
                            "artist": "Nova Lane",
                            "title": "Midnight Drive",
                            "upc": "198880045560",
                            "release_at": release,
                            "timezone": "UTC",
                            "release_mode": "global",
                            "services": ["spotify"],
                        }
                    ]
                )
            ],
        )
        grants = pd.DataFrame(
            {
                "campaign_slug": "midnight-drive",
                "service": "spotify",
                "fan_key": [f"k{i}" for i in range(40)],
                "granted_at": [release - timedelta(days=1 + i % 5) for i in range(40)],
                "status": "active",
                "country": "GB",
            }
        )
        warehouse.replace_rows(connection, "grants", [grants])
        presaves = (
            grants.assign(date=grants.granted_at.dt.date).groupby("date").size().reset_index(name="presaves")
        )
        presaves["campaign_slug"] = "midnight-drive"
        presaves["service"] = "spotify"
        presaves["days_to_release"] = [(d - date(2026, 11, 20)).days for d in presaves["date"]]
        presaves["cumulative"] = presaves["presaves"].cumsum()
        warehouse.replace_rows(connection, "presaves_daily", [presaves])
        first_week = pd.DataFrame(
            {
                "campaign_slug": "midnight-drive",
                "artist": "Nova Lane",
                "release_date": date(2026, 11, 20),
                "day": range(7),
                "date": [date(2026, 11, 20) + timedelta(days=d) for d in range(7)],
                "streams": [4000, 3000, 2500, 2000, 1800, 1700, 1600],
                "listeners": [2000, 1500, 1200, 1000, 900, 850, 800],
                "presaves": 40,
                "streams_per_presaver": [s / 40 for s in [4000, 3000, 2500, 2000, 1800, 1700, 1600]],
            }
        )
        warehouse.replace_rows(connection, "first_week", [first_week])
    return warehouse


def test_the_overview_lists_each_campaign_with_its_presaves(warehouse: Warehouse, monkeypatch) -> None:
    monkeypatch.setattr("sys.argv", ["app.py", "--warehouse", str(warehouse.snapshot_path)])
    app = AppTest.from_file(APP, default_timeout=30).run()
    assert not app.exception
    assert app.title[0].value == "Campaigns"
    table = app.dataframe[0].value
    assert table.loc[0, "slug"] == "midnight-drive"
    assert table.loc[0, "presaves"] == 40
    assert table.loc[0, "first_week_streams"] == 16600


def _campaign_page(snapshot: str, slug: str) -> None:
    from pathlib import Path

    from dashboards import pages, queries

    reader = queries.WarehouseReader(Path(snapshot))
    frame = pages.campaigns_frame(snapshot, reader.version())
    pages.campaign_page(reader, frame.set_index("slug", drop=False).loc[slug].to_dict())


def test_a_campaign_page_charts_presaves_and_first_week(warehouse: Warehouse) -> None:
    app = AppTest.from_function(
        _campaign_page,
        kwargs={"snapshot": str(warehouse.snapshot_path), "slug": "midnight-drive"},
        default_timeout=30,
    ).run()
    assert not app.exception
    assert app.title[0].value == "Nova Lane — Midnight Drive"
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["pre-saves"] == "40"
    assert metrics["first-week streams"] == "16,600"
    assert metrics["streams per pre-saver (week one)"] == "415.0"
    charts = app.get("plotly_chart")
    assert len(charts) == 2


def test_without_a_snapshot_the_page_says_so(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("sys.argv", ["app.py", "--warehouse", str(tmp_path / "none.duckdb")])
    app = AppTest.from_file(APP, default_timeout=30).run()
    assert "run the pipeline first" in app.warning[0].value
