import pandas as pd
import pytest

from dashboards.charts import hour_step, presaves_by_day, roster, wait_label
from dashboards.screens.comparison import p_value


@pytest.mark.parametrize(
    ("days", "says_earlier_days_are_in_the_first_bar"),
    [([-28, -3, 0], True), ([-12, -3, 0], False)],
)
def test_the_presave_chart_says_when_its_first_bar_holds_earlier_days(
    days: list[int], says_earlier_days_are_in_the_first_bar: bool
) -> None:
    frame = pd.DataFrame({"days_to_release": days, "presaves": [65, 10, 4], "service": "spotify"})
    title = presaves_by_day(frame).layout.xaxis.title.text
    assert ("includes every earlier day" in title) is says_earlier_days_are_in_the_first_bar
    assert title.startswith("days before release")


@pytest.mark.parametrize(
    ("p", "shown"),
    [(3e-18, "< 0.001"), (0.0009999, "< 0.001"), (0.001, "0.001"), (0.0456, "0.046"), (float("nan"), "—")],
)
def test_a_p_value_reads_as_a_reader_takes_it_in(p: float, shown: str) -> None:
    assert p_value(p) == shown


@pytest.mark.parametrize(
    ("bucket", "label"),
    [(0.0, "1 s–1.8 s"), (1.0, "10 s–18 s"), (2.5, "5.3 min–9.4 min"), (4.0, "2.8 h–4.9 h")],
)
def test_a_time_to_library_bucket_reads_as_the_span_it_holds(bucket: float, label: str) -> None:
    assert wait_label(bucket) == label


@pytest.mark.parametrize(("span_hours", "step"), [(0, 1), (7, 1), (20, 3), (47, 6), (30 * 24, 168)])
def test_an_hourly_axis_ticks_on_whole_hours_about_eight_times(span_hours: int, step: int) -> None:
    hours = pd.Series(pd.date_range("2026-12-07 20:00", periods=2, freq=f"{max(span_hours, 1)}h"))
    assert hour_step(hours if span_hours else hours[:1]) == step


@pytest.mark.parametrize("series", ["Spotify, the song", "Spotify, all the artist's songs"])
def test_the_roster_chart_names_the_series_it_draws(series: str) -> None:
    frame = pd.DataFrame(
        {
            "campaign_slug": ["a", "b"],
            "artist": ["Nova Lane", "Mara Ellis"],
            "release_date": ["2026-10-01", "2026-11-01"],
            "presaves": [300, 500],
            "first_week_streams": [2_000.0, 4_000.0],
            "roster_ratio": [None, None],
            "roster_fitted": [None, None],
            "roster_ratio_low": [None, None],
            "roster_ratio_high": [None, None],
        }
    )
    figure = roster(frame, "a", series)
    assert figure.layout.yaxis.title.text == f"first-week streams ({series})"
    assert series in figure.layout.title.text
