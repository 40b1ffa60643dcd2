"""The dashboard over a warehouse the real pipeline built: each page answers its question with the marts'
numbers and their intervals (Streamlit's AppTest, no browser)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboards import pitch
from dashboards.queries import WarehouseReader
from tests.pipelines.scenario import built_warehouse

APP = str(Path(__file__).resolve().parents[2] / "dashboards" / "app.py")


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return built_warehouse(tmp_path_factory.mktemp("dash") / "data").warehouse_snapshot_path


def run_page(snapshot: Path, page: str, **selections: str) -> AppTest:
    """Run one page function of `dashboards.pages`; `selections` set select boxes by key, in order."""

    def script(snapshot: str, page: str) -> None:
        from pathlib import Path

        from dashboards import pages, queries

        getattr(pages, page)(queries.WarehouseReader(Path(snapshot)))

    app = AppTest.from_function(
        script, kwargs={"snapshot": str(snapshot), "page": page}, default_timeout=60
    ).run()
    for key, value in selections.items():
        app = app.selectbox(key=key).set_value(value).run()
    assert not app.exception, app.exception
    return app


def one(snapshot: Path, sql: str, *params: object) -> dict:
    return WarehouseReader(snapshot).query(sql, list(params)).iloc[0].to_dict()


def test_the_overview_lists_each_campaign_with_its_figures(
    snapshot: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.argv", ["app.py", "--warehouse", str(snapshot)])
    app = AppTest.from_file(APP, default_timeout=60).run()
    assert not app.exception
    assert app.title[0].value == "Campaigns"
    table = app.dataframe[0].value.set_index("slug")
    assert set(table.index) == {
        "northern-lights",
        "glass-harbour",
        "midnight-drive",
        "night-swim",
        "old-flame",
    }
    assert table.loc["night-swim", "presaves"] == 90
    assert table.loc["old-flame", "origin"] == "imported"
    expected = one(snapshot, "SELECT presaves FROM campaign_overview WHERE campaign_slug = 'midnight-drive'")
    assert table.loc["midnight-drive", "presaves"] == expected["presaves"]


def test_a_campaign_page_shows_presaves_first_week_delivery_and_authenticity(snapshot: Path) -> None:
    def script(snapshot: str) -> None:
        from pathlib import Path

        from dashboards import pages, queries

        reader = queries.WarehouseReader(Path(snapshot))
        frame = pages.campaigns_frame(snapshot, reader.version())
        pages.campaign_page(reader, frame.set_index("slug", drop=False).loc["midnight-drive"].to_dict())

    app = AppTest.from_function(script, kwargs={"snapshot": str(snapshot)}, default_timeout=60).run()
    assert not app.exception
    metrics = {m.label: m.value for m in app.metric}
    overview = one(snapshot, "SELECT * FROM campaign_overview WHERE campaign_slug = 'midnight-drive'")
    streams = one(
        snapshot, "SELECT sum(streams) AS s FROM first_week WHERE campaign_slug = 'midnight-drive'"
    )["s"]
    assert metrics["pre-saves"] == str(overview["presaves"])
    assert metrics["first-week streams"] == f"{int(streams):,}"
    assert metrics["authenticity score (1 = no warning sign)"] == f"{overview['authenticity_score']:.2f}"
    assert len(app.get("plotly_chart")) == 2
    assert app.subheader[0].value == "Release day"


def test_the_lift_page_gives_the_lift_against_the_artist_and_the_roster_with_intervals(
    snapshot: Path,
) -> None:
    app = run_page(snapshot, "lift_page", **{"lift-campaign": "midnight-drive"})
    lift = one(
        snapshot,
        "SELECT * FROM campaign_lift WHERE campaign_slug = 'midnight-drive' AND series = 'spotify_song'",
    )
    assert app.radio[0].value == "spotify_song"  # the song's own streams first, when exported
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["against the artist's earlier releases"] == (
        f"{lift['artist_lift']:.2f}× ({lift['artist_lift_low']:.2f}×–{lift['artist_lift_high']:.2f}×)"
    )
    assert metrics["against the roster's line"] == (
        f"{lift['roster_ratio']:.2f}× ({lift['roster_ratio_low']:.2f}×–{lift['roster_ratio_high']:.2f}×)"
    )
    assert len(app.get("plotly_chart")) == 2  # the roster fit and the artist's releases


def test_the_pitch_page_shows_the_forecast_with_its_interval_and_offers_the_pack(snapshot: Path) -> None:
    app = run_page(snapshot, "pitch_page", **{"pitch-campaign": "night-swim"})
    forecast = one(
        snapshot, "SELECT * FROM presave_forecast WHERE campaign_slug = 'night-swim' AND is_latest"
    )
    metrics = {m.label: m.value for m in app.metric}
    label = f"release-day forecast (as of D{forecast['as_of_day']})"
    assert metrics[label] == f"{forecast['point']:,.0f} ({forecast['low']:,.0f}–{forecast['high']:,.0f})"
    assert metrics["pre-saves"] == "90"
    details = {m.label: m.delta for m in app.metric}
    assert details["pre-saves"] == "Spotify 90 · Apple Music 0 · Deezer 0"
    gain = one(snapshot, "SELECT * FROM follower_gain WHERE campaign_slug = 'night-swim'")
    assert metrics["new followers (pre-save window)"] == f"{gain['total_gain']:+,.0f}"
    assert details["new followers (pre-save window)"] == f"{gain['presave_follows']:,} from pre-save follows"
    assert len(app.get("plotly_chart")) == 4  # by day, by country, forecast, followers
    assert len(app.get("download_button")) == 2


def test_the_pitch_pack_is_one_page_that_opens_without_a_network(snapshot: Path) -> None:
    import pandas as pd
    import plotly.graph_objects as go

    page = pitch.pitch_html(
        "Nova Lane — Night Swim",
        [("pre-saves", "90")],
        [go.Figure(), go.Figure()],
        [("Pre-saves by country", pd.DataFrame({"country": ["GB"], "presaves": [40]}))],
    )
    assert page.startswith("<!doctype html>")
    assert "<dt>pre-saves</dt><dd>90</dd>" in page
    assert page.count("Plotly.newPlot") == 2
    assert "<script src=" not in page  # plotly.js embedded once, not fetched from a CDN
    assert "<td>GB</td>" in page


def test_the_conversion_page_compares_services_with_intervals_and_p_values(snapshot: Path) -> None:
    app = run_page(snapshot, "conversion_page", **{"conversion-campaign": "midnight-drive"})
    rates, pairs = app.dataframe[0].value, app.dataframe[1].value
    apple = one(
        snapshot,
        "SELECT * FROM service_conversion WHERE campaign_slug = 'midnight-drive' AND source = '(all)' "
        "AND service = 'apple'",
    )
    row = rates.set_index("service").loc["apple"]
    assert (row["visitors"], row["grants"]) == (apple["visitors"], apple["grants"])
    assert row["interval"] == f"{apple['rate']:.1%} ({apple['low']:.1%}–{apple['high']:.1%})"
    test = one(
        snapshot,
        "SELECT * FROM service_comparison WHERE campaign_slug = 'midnight-drive' AND source = '(all)'",
    )
    assert pairs.iloc[0]["p_value"] == pytest.approx(test["p_value"])
    assert (pairs.iloc[0]["service_1"], pairs.iloc[0]["service_2"]) == ("apple", "spotify")


def test_without_a_snapshot_the_page_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.argv", ["app.py", "--warehouse", str(tmp_path / "none.duckdb")])
    app = AppTest.from_file(APP, default_timeout=30).run()
    assert "run the pipeline first" in app.warning[0].value


def test_the_lift_page_offers_only_campaigns_with_a_measured_first_week(snapshot: Path) -> None:
    app = run_page(snapshot, "lift_page")
    offered = app.selectbox(key="lift-campaign").options
    assert offered
    assert not any("Night Swim" in option for option in offered)  # not released yet: nothing to lift
    assert not app.info  # the first one offered has its lift
