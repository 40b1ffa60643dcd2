import pandas as pd
import pytest

from dashboards.charts import presaves_by_day


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
