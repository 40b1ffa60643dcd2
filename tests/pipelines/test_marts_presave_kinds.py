"""Direct saves and reminders apart, and what each kind achieved on release day, by hand; intervals
against statsmodels."""

from __future__ import annotations

import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from pipelines.warehouse import Warehouse
from tests.pipelines.marts_fixtures import build, campaign, put, table

NOW = pd.Timestamp.now(tz="UTC").floor("D")
KINDS = {  # campaign → service → (direct, delivered, reminders, followed the link)
    "released": {"spotify": (5, 4, 40, 13), "tidal": (0, 0, 12, 9)},
    "also-released": {"spotify": (20, 19, 0, 0), "apple": (8, 8, 2, 0)},
    "upcoming": {"spotify": (3, 0, 30, 0)},
}


@pytest.fixture(scope="module")
def release_day(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    warehouse = Warehouse(tmp_path_factory.mktemp("kinds") / "warehouse.duckdb")
    put(
        warehouse,
        "campaigns",
        [
            campaign("released", str(NOW - pd.Timedelta(days=3))),
            campaign("also-released", str(NOW - pd.Timedelta(days=40))),
            campaign("upcoming", str(NOW + pd.Timedelta(days=9))),
        ],
    )
    rows = [
        {
            "campaign_slug": slug,
            "service": service,
            "direct": direct,
            "reminders": reminders,
            "total": direct + reminders,
            "direct_delivered": delivered,
            "reminder_clicks": clicks,
            "turned_away": 0,
        }
        for slug, services in KINDS.items()
        for service, (direct, delivered, reminders, clicks) in services.items()
    ]
    put(warehouse, "presave_kinds", rows)
    build(warehouse, "release_day_kinds")
    return table(warehouse, "SELECT * FROM release_day_kinds").set_index(["campaign_slug", "service"])


def test_only_released_campaigns_are_compared_per_service_and_in_all(release_day: pd.DataFrame) -> None:
    assert sorted(release_day.index) == [
        ("(all)", "all"),
        ("(all)", "apple"),
        ("(all)", "spotify"),
        ("(all)", "tidal"),
        ("also-released", "all"),
        ("also-released", "apple"),
        ("also-released", "spotify"),
        ("released", "all"),
        ("released", "spotify"),
        ("released", "tidal"),
    ]


@pytest.mark.parametrize(
    ("scope", "direct", "delivered", "reminders", "clicks"),
    [
        (("released", "spotify"), 5, 4, 40, 13),
        (("released", "all"), 5, 4, 52, 22),
        (("(all)", "spotify"), 25, 23, 40, 13),  # the upcoming campaign's 30 reminders are not yet due
        (("(all)", "all"), 33, 31, 54, 22),
    ],
)
def test_delivered_saves_and_followed_links_are_counted_with_their_wilson_intervals(
    release_day: pd.DataFrame,
    scope: tuple[str, str],
    direct: int,
    delivered: int,
    reminders: int,
    clicks: int,
) -> None:
    row = release_day.loc[scope]
    assert (row.direct, row.direct_delivered, row.reminders, row.reminder_clicks) == (
        direct,
        delivered,
        reminders,
        clicks,
    )
    assert row.delivered_share == pytest.approx(delivered / direct)
    assert (row.delivered_low, row.delivered_high) == pytest.approx(
        proportion_confint(delivered, direct, method="wilson")
    )
    assert row.click_share == pytest.approx(clicks / reminders)
    assert (row.click_low, row.click_high) == pytest.approx(
        proportion_confint(clicks, reminders, method="wilson")
    )


def test_a_service_without_reminders_has_no_click_share_rather_than_zero(release_day: pd.DataFrame) -> None:
    row = release_day.loc[("also-released", "spotify")]
    assert row.reminders == 0
    assert pd.isna(row.click_share)
    assert pd.isna(row.click_low)
    assert row.delivered_share == pytest.approx(19 / 20)
