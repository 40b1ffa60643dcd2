"""The dashboard over a warehouse the real pipeline built, page by page (Streamlit's AppTest, no
browser): each page answers its question with the marts' numbers, keeps its filters in the URL, offers
every table as CSV, and says what is missing instead of failing."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from streamlit import config as streamlit_config
from streamlit.testing.v1 import AppTest

from dashboards.glossary import Glossary
from dashboards.queries import WarehouseReader
from dashboards.screens import PAGES
from dashboards.screens.headline import verdict_of
from pipelines.warehouse import Warehouse
from tests.dashboards.warehouse import (
    FAILED,
    IN_APP_CHOOSERS,
    REMINDER_CLICKS,
    REMINDERS,
    TROUBLED,
    TURNED_AWAY_AT,
    UNDELIVERABLE,
)

APP = str(Path(__file__).resolve().parents[2] / "dashboards" / "app.py")
CAMPAIGNS = ("northern-lights", "glass-harbour", "midnight-drive", "night-swim", "old-flame")
BY_PATH = {page.url_path: index for index, page in enumerate(PAGES)}


def run_page(snapshot: Path, path: str, **query: str) -> AppTest:
    """Run one page as its URL would (`?campaign=…&source=…`)."""

    def script(snapshot: str, index: int) -> None:
        from pathlib import Path

        from dashboards import queries
        from dashboards.screens import PAGES

        PAGES[index].render(queries.WarehouseReader(Path(snapshot)))

    app = AppTest.from_function(
        script, kwargs={"snapshot": str(snapshot), "index": BY_PATH[path]}, default_timeout=120
    )
    for key, value in query.items():
        app.query_params[key] = value
    app.run()
    assert not app.exception, [e.message for e in app.exception]
    return app


def mart(snapshot: Path, sql: str, *params: object) -> pd.DataFrame:
    return WarehouseReader(snapshot).query(sql, list(params))


def raw(warehouse: Warehouse, sql: str, *params: object) -> pd.DataFrame:
    """The pipeline's own tables, which the dashboard's snapshot leaves out: the truth to compare with."""
    with warehouse.reader() as connection:
        return connection.execute(sql, list(params)).df()


def metrics(app: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in app.metric}


def infos(app: AppTest) -> str:
    return "\n".join(str(i.value) for i in app.info)


@pytest.mark.parametrize("path", list(BY_PATH))
def test_every_page_draws_every_campaign_without_an_error(snapshot: Path, path: str) -> None:
    for slug in CAMPAIGNS:
        app = run_page(snapshot, path, campaign=slug)
        assert app.title[0].value == PAGES[BY_PATH[path]].heading
        tables = len(app.dataframe)
        assert len(app.get("download_button")) >= tables  # every table comes with its CSV


def test_the_app_lists_every_page_and_opens_on_the_overview(
    snapshot: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.argv", ["app.py", "--warehouse", str(snapshot)])
    address = streamlit_config.get_option("server.address")
    streamlit_config.set_option("server.address", "127.0.0.1")  # served on loopback: no login asked
    try:
        app = AppTest.from_file(APP, default_timeout=60).run()
    finally:
        streamlit_config.set_option("server.address", address)
    assert not app.exception
    assert app.title[0].value == "Campaigns"
    table = app.dataframe[0].value.set_index("campaign")
    assert set(table.index) == set(CAMPAIGNS)
    counts = mart(snapshot, "SELECT campaign_slug, presaves FROM campaign_overview").set_index(
        "campaign_slug"
    )
    label = Glossary(mart(snapshot, "SELECT * FROM figure_glossary"))["presaves"].label
    assert table.loc["night-swim", label] == counts.loc["night-swim", "presaves"] == 90


def test_the_same_figure_reads_the_same_on_every_page_and_as_the_glossary_formats_the_mart(
    snapshot: Path,
) -> None:
    glossary = Glossary(mart(snapshot, "SELECT * FROM figure_glossary"))
    by_label = {glossary[f].label: f for f in glossary.figures()}
    for slug in CAMPAIGNS:
        overview = mart(snapshot, "SELECT * FROM campaign_overview WHERE campaign_slug = ?", slug)
        row = overview.iloc[0].to_dict()
        seen: dict[str, dict[str, str]] = {}
        captions: dict[str, str] = {}
        for path in ("roster", "campaign", "pitch", "release-day"):
            app = run_page(snapshot, path, campaign=slug)
            captions[path] = "\n".join(str(c.value) for c in app.caption)
            for label, value in metrics(app).items():
                seen.setdefault(label, {})[path] = value
        shared = {label: pages for label, pages in seen.items() if label in by_label}
        assert glossary["presaves"].label in shared
        for label, pages in shared.items():
            assert len(set(pages.values())) == 1, (slug, label, pages)
            figure = by_label[label]
            if glossary.column(figure) in row:  # the value alone; its interval in full beneath it
                assert next(iter(pages.values())) == glossary.point(figure, row), (slug, label)
                beneath = verdict_of(figure, row) or glossary.interval(figure, row)
                for path in pages:
                    assert beneath is None or beneath in captions[path], (slug, label, path)
        assert seen[glossary["presaves"].label]["campaign"] == f"{int(row['presaves']):,}"


def test_the_roster_opens_on_the_latest_campaign_with_a_measured_first_week(snapshot: Path) -> None:
    app = run_page(snapshot, "roster")
    measured = mart(
        snapshot,
        "SELECT campaign_slug FROM campaign_overview WHERE first_week_streams IS NOT NULL "
        "ORDER BY release_at DESC, campaign_slug LIMIT 1",
    ).iloc[0]["campaign_slug"]
    assert app.selectbox(key="campaign").value == measured
    assert all("—" not in m.value for m in app.metric[:2])


def test_the_overview_shows_each_campaign_with_its_status_and_trend(snapshot: Path) -> None:
    app = run_page(snapshot, "overview")
    frame = mart(snapshot, "SELECT * FROM campaign_overview")
    label = Glossary(mart(snapshot, "SELECT * FROM figure_glossary"))["presaves"].label
    presaves = [m for m in app.metric if m.label == label]
    assert sorted(m.value for m in presaves) == sorted(f"{n:,}" for n in frame["presaves"])
    assert any(m.proto.chart_data for m in presaves)  # the small trend of pre-saves to date
    badges = " ".join(str(m.value) for m in app.markdown if "-badge[" in str(m.value))
    assert "collecting" in badges
    assert "released" in badges


def test_the_campaign_page_marks_the_follow_up_days_and_draws_the_forecast_band_before_release(
    snapshot: Path,
) -> None:
    app = run_page(snapshot, "campaign", campaign="night-swim")
    accumulation = app.get("plotly_chart")[0].proto.spec
    for day in ("D-7", "D-3", "D-1"):
        assert f'"text":"{day}"' in accumulation.replace(" ", "")
    forecast = mart(snapshot, "SELECT * FROM campaign_overview WHERE campaign_slug = 'night-swim'").iloc[0]
    if pd.notna(forecast["forecast_point"]):
        assert "forecast, 95% interval" in accumulation
    released = run_page(snapshot, "campaign", campaign="midnight-drive").get("plotly_chart")[0].proto.spec
    assert "forecast, 95% interval" not in released


def test_the_campaign_page_shows_the_visitors_lost_in_an_in_app_browser(
    snapshot: Path, warehouse: Warehouse
) -> None:
    app = run_page(snapshot, "campaign", campaign=TROUBLED, source="instagram")
    browsers = next(t.value for t in app.dataframe if "in_app_browser" in t.value.columns)
    instagram = browsers.set_index("in_app_browser").loc["instagram"]
    visitors = raw(
        warehouse,
        "SELECT visitor_key, arg_min(lower(utm_source), occurred_at) FILTER (WHERE utm_source <> '') AS source, "
        "arg_min(in_app_browser, occurred_at) FILTER (WHERE in_app_browser IS NOT NULL) AS browser, "
        "bool_or(kind IN ('click', 'authorize_start', 'grant', 'denial', 'error') AND service IS NOT NULL) AS chose, "
        "bool_or(kind = 'grant') AS granted FROM landing_events WHERE campaign_slug = ? GROUP BY visitor_key",
        TROUBLED,
    )
    lost = visitors[(visitors["source"] == "instagram") & (visitors["browser"] == "instagram")]
    assert (instagram["choosers"], instagram["grants"]) == (lost["chose"].sum(), lost["granted"].sum())
    assert instagram["choosers"] >= IN_APP_CHOOSERS  # the fixture's own in-app visitors are among them
    ordinary = browsers.set_index("in_app_browser").loc["(none)"]
    assert instagram["loss"] == pytest.approx(ordinary["rate"] - instagram["grants"] / instagram["choosers"])
    assert "instagram" in " ".join(str(m.value) for m in app.markdown)


def test_filters_come_from_the_url_and_go_back_into_it(snapshot: Path) -> None:
    app = run_page(
        snapshot, "campaign", campaign="midnight-drive", source="tiktok", days="2000-01-01..2100-01-01"
    )
    assert app.selectbox(key="campaign").value == "midnight-drive"
    assert app.selectbox(key="source").value == "tiktok"
    assert app.query_params["source"] == "tiktok"
    funnel = next(
        t.value for t in app.dataframe if "authorize_starts" in t.value.columns and "service" in t.value
    )
    expected = mart(
        snapshot,
        "SELECT sum(visits) AS v FROM funnel_sources WHERE campaign_slug = 'midnight-drive' AND source = 'tiktok'",
    ).iloc[0]["v"]
    assert funnel["visits"].sum() == expected
    unknown = run_page(snapshot, "campaign", campaign="no-such-campaign")
    assert unknown.selectbox(key="campaign").value == "night-swim"  # an unknown campaign: the latest
    assert unknown.query_params["campaign"] == "night-swim"
    nowhere = run_page(snapshot, "campaign", campaign="midnight-drive", source="nowhere")
    assert nowhere.selectbox(key="source").value == "(all)"


def test_the_comparison_page_states_its_verdict_in_words_with_intervals(snapshot: Path) -> None:
    app = run_page(snapshot, "comparison", campaign="midnight-drive")
    pairs = mart(
        snapshot,
        "SELECT * FROM service_comparison WHERE campaign_slug = 'midnight-drive' AND source = '(all)'",
    )
    shown = "\n".join(str(m.value) for m in app.markdown)
    for verdict in pairs["verdict"].dropna():
        assert verdict in shown
    rates = app.dataframe[0].value.set_index("service")
    apple = mart(
        snapshot,
        "SELECT * FROM service_conversion WHERE campaign_slug = 'midnight-drive' AND source = '(all)' "
        "AND service = 'apple'",
    ).iloc[0]
    assert rates.loc["apple", "grants"] == apple["grants"]
    assert (rates.loc["apple", "low"], rates.loc["apple", "high"]) == (apple["low"], apple["high"])
    assert "any" not in rates.index  # every visitor's rate has another denominator: said in words
    anyone = mart(
        snapshot,
        "SELECT * FROM service_conversion WHERE campaign_slug = 'midnight-drive' AND source = '(all)' "
        "AND service = 'any'",
    ).iloc[0]
    assert f"**{int(anyone['visitors']):,} visitors** (any service)" in shown
    differences = app.dataframe[1].value.set_index(["service_1", "service_2"])
    for pair in pairs.itertuples():
        row = differences.loc[(pair.service_1, pair.service_2)]
        assert row["difference_points"] == pytest.approx(pair.difference * 100)  # points, as the verdict
        assert row["p"] == ("< 0.001" if pair.p_value < 0.001 else f"{pair.p_value:.3f}")


def test_the_comparison_page_sets_reminder_fans_who_followed_their_link_beside_direct_saves_delivered(
    snapshot: Path,
) -> None:
    app = run_page(snapshot, "comparison", campaign=TROUBLED)
    shown = "\n".join(str(m.value) for m in app.markdown)
    every = mart(
        snapshot, "SELECT * FROM release_day_kinds WHERE campaign_slug = ? AND service = 'all'", TROUBLED
    ).iloc[0]
    direct, delivered = int(every["direct"]), int(every["direct_delivered"])
    assert (
        f"{direct:,} direct pre-saves, {REMINDERS} reminder sign-ups, {direct + REMINDERS:,} in all" in shown
    )
    assert f"**{delivered:,} of {direct:,}** ({delivered / direct:.1%}; 95% interval" in shown
    followed = f"**{REMINDER_CLICKS} of {REMINDERS}** ({REMINDER_CLICKS / REMINDERS:.1%}; 95% interval"
    assert followed in shown
    kinds = app.dataframe[-1].value.set_index("service")
    assert (kinds.loc["spotify", "reminders"], kinds.loc["spotify", "reminder_clicks"]) == (
        REMINDERS,
        REMINDER_CLICKS,
    )
    rates = app.dataframe[0].value.set_index("service")
    assert rates.loc["spotify", "reminders"] == REMINDERS  # beside the direct grants, never inside them
    assert rates.loc["spotify", "presaves"] == rates.loc["spotify", "grants"] + REMINDERS


def test_the_data_page_warns_that_the_spotify_cap_turned_fans_to_reminders_with_how_many_and_since_when(
    snapshot: Path,
) -> None:
    app = run_page(snapshot, "data")
    release = mart(
        snapshot, "SELECT release_at FROM campaign_overview WHERE campaign_slug = ?", TROUBLED
    ).iloc[0]
    since = (pd.Timestamp(release["release_at"]).tz_convert("UTC") - TURNED_AWAY_AT).strftime(
        "%Y-%m-%d %H:%M"
    )
    [warning] = [str(w.value) for w in app.warning if TROUBLED in str(w.value)]
    assert f"Since {since} UTC, 1 fan(s) were turned away after authorizing" in warning
    assert f"{REMINDERS} took a reminder pre-save instead" in warning


def test_release_day_lists_the_fans_not_delivered_pseudonymised_with_their_reasons(
    snapshot: Path, warehouse: Warehouse
) -> None:
    app = run_page(snapshot, "release-day", campaign=TROUBLED)
    reasons = next(
        t.value for t in app.dataframe if list(t.value.columns) == ["outcome", "reason", "actions"]
    )
    assert set(FAILED.values()) <= set(reasons["reason"])
    ledger = raw(
        warehouse,
        "SELECT outcome, count(*) AS n FROM owed_actions WHERE campaign_slug = ? "
        "AND outcome IN ('failed', 'undeliverable') GROUP BY outcome",
        TROUBLED,
    ).set_index("outcome")["n"]
    assert ledger["undeliverable"] >= UNDELIVERABLE
    assert reasons.groupby("outcome")["actions"].sum().to_dict() == ledger.to_dict()
    fans = next(t.value for t in app.dataframe if "fan" in t.value.columns)
    assert len(fans) == min(ledger.sum(), 1000)
    assert fans["fan"].str.len().max() <= 12  # a short keyed hash, never the fan's key or account
    assert len(app.get("plotly_chart")) == 2  # outcomes over time, time to library
    spotify = run_page(snapshot, "release-day", campaign=TROUBLED, service="spotify")
    fans = next(t.value for t in spotify.dataframe if "fan" in t.value.columns)
    assert set(fans["service"]) == {"spotify"}


def test_the_data_page_shows_the_quarantined_file_with_its_reason_and_each_source_freshness(
    snapshot: Path,
) -> None:
    app = run_page(snapshot, "data")
    quarantined = next(t.value for t in app.dataframe if "reason" in t.value.columns)
    assert "broken-audience.csv" in set(quarantined["file_name"])
    assert "bad date" in quarantined.iloc[0]["reason"]
    freshness = next(t.value for t in app.dataframe if "days_behind" in t.value.columns)
    assert {"landing events", "grants", "export: s4a_audience_timeline"} <= set(freshness["source"])


def test_every_page_of_an_empty_warehouse_says_what_is_missing(tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    with warehouse.writer():
        pass
    for path in BY_PATH:
        app = run_page(warehouse.snapshot_path, path)
        assert app.info, path
